"""The unit every task produces (`Example`), its cuttable parts, and the text helpers tasks share."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

#: The meta keys of every row (values are strings, "" where a key does not apply), so the JSON
#: columns load with one Arrow schema. See the package docstring for what each task puts there.
META_KEYS = ("answer_path", "expected", "path", "symbol")

#: Estimated chat-template tokens per message (ChatML: `<|im_start|>`, role, newline, `<|im_end|>`,
#: newline). Counted so that `max_tokens` can equal the trainer's `max_length` without truncation.
MESSAGE_OVERHEAD = 5


@dataclass(frozen=True, slots=True)
class Cut:
    """A part of a message that may be shortened at line boundaries to fit the token bound.

    `keep` says which end survives: "head" (documents, diffs) or "tail" (file context just
    before a definition, where the nearest lines matter most).
    """

    text: str
    keep: str = "head"


Part = str | Cut


@dataclass(slots=True)
class Example:
    """One question/answer pair before bounding and splitting.

    `source` is the record it is about (its id), `variant` tells apart several examples of one
    task from one record, `commit`/`time` date the knowledge it holds (the split key). `user`
    and `answer` are sequences of parts; at most one part of the pair is a `Cut`.
    """

    task: str
    source: str
    variant: str
    commit: str
    time: int
    user: Sequence[Part]
    answer: Sequence[Part]
    meta: dict[str, str] = field(default_factory=dict)
    id: str = field(init=False)  # the stable example id: sha1 of (task, source record id, variant)

    def __post_init__(self) -> None:
        self.id = example_id(self.task, self.source, self.variant)

    def user_text(self) -> str:
        """The user message as one string."""
        return join(self.user)

    def answer_text(self) -> str:
        """The assistant message as one string."""
        return join(self.answer)


def example_id(task: str, source: str, variant: str) -> str:
    """sha1 of the task, source record id and variant (20 hex digits)."""
    key = f"{task}\x1f{source}\x1f{variant}"
    return hashlib.sha1(key.encode("utf-8", "backslashreplace")).hexdigest()[:20]


def join(parts: Sequence[Part]) -> str:
    """Concatenate message parts."""
    return "".join(p.text if isinstance(p, Cut) else p for p in parts)


def make_meta(**values: str) -> dict[str, str]:
    """A meta dict with every key of `META_KEYS` (unknown keys are a bug)."""
    unknown = set(values) - set(META_KEYS)
    if unknown:
        raise ValueError(f"unknown meta keys: {sorted(unknown)}")
    return {key: values.get(key, "") for key in META_KEYS}


def pick(options: Sequence[str], seed: int, *key: str) -> str:
    """A phrasing chosen by `seed` and a stable key: varied across examples, fixed across runs."""
    # A digest, not `hash()`: independent of PYTHONHASHSEED, and 10x cheaper than seeding a Random.
    digest = hashlib.sha1("\x1f".join((str(seed), *key)).encode("utf-8", "backslashreplace")).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


_FENCE_LANG = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "jsx",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".php": "php",
    ".swift": "swift",
    ".scala": "scala",
    ".sh": "bash",
    ".md": "markdown",
    ".rst": "rst",
    ".toml": "toml",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".json": "json",
    ".sql": "sql",
    ".html": "html",
    ".css": "css",
}


def fence_lang(path: str) -> str:
    """The code-fence language for a path, by extension ("" when unknown)."""
    dot = path.rfind(".")
    return _FENCE_LANG.get(path[dot:].lower(), "") if dot > path.rfind("/") else ""


def fence(code: str, lang: str = "") -> str:
    """`code` in a Markdown code fence longer than any backtick run inside it (ends with a newline)."""
    return join(fenced(code, lang))


def fenced(code: str, lang: str = "", keep: str = "") -> list[Part]:
    """[opening fence, code, closing fence]; with `keep` the code is a `Cut` (the fences never are)."""
    longest = max((len(m) for m in _BACKTICKS.findall(code)), default=0) if "`" in code else 0
    ticks = "`" * max(3, longest + 1)
    body = code if code.endswith("\n") or not code else code + "\n"
    return [f"{ticks}{lang}\n", Cut(body, keep) if keep else body, f"{ticks}\n"]


_BACKTICKS = re.compile(r"`+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])")


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def first_sentence(text: str, limit: int = 300) -> str:
    """The first sentence of the first paragraph, whitespace collapsed, at most `limit` chars.

    Code-fence lines are skipped; in a list, the first item counts as the sentence.
    """
    if not text:
        return ""  # most symbols have no docstring
    lines = [line for line in text.strip().splitlines() if not _FENCE.match(line)]
    paragraph = _PARAGRAPH_BREAK.split("\n".join(lines).strip(), maxsplit=1)[0]
    if _LIST_ITEM.match(paragraph):
        paragraph = _LIST_ITEM.sub("", paragraph.splitlines()[0], count=1)
    flat = " ".join(paragraph.split())
    sentence = _SENTENCE_END.split(flat, maxsplit=1)[0]
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rsplit(" ", 1)[0] + "..."
    return sentence


def lines_label(start: int, end: int) -> str:
    """'line 4' or 'lines 4-9'."""
    return f"line {start}" if end <= start else f"lines {start}-{end}"


def plural(n: int, word: str, many: str = "") -> str:
    """'1 commit', '3 commits'."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
