"""The `symbol_body` task: from a definition's head (signature, docstring) and context to its body."""

from __future__ import annotations

import bisect
import functools
import re

from ctxeng.core.records import Record
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import Cut, Example, fence, fenced, first_sentence, make_meta, pick
from ctxeng.dataset.index import CALLABLE_KINDS, RecordIndex, is_test_path, qualname
from ctxeng.dataset.tasks_code import describe, language, signature

MIN_BODY_LINES = 2  # non-blank body lines; shorter bodies teach nothing about the code base
MAX_BODY_LINES = 80
MAX_BODY_CHARS = 6_000
MAX_IMPORT_LINES = 12  # context: the file's first import statements
MAX_PARENT_LINES = 6  # context: the enclosing class's header and docstring
MAX_SIBLINGS = 4  # context: signatures of the nearest earlier definitions in the same scope

INDENT_LANGUAGES = frozenset({"python"})
BRACE_LANGUAGES = frozenset(
    {
        "c",
        "cpp",
        "c_sharp",
        "csharp",
        "dart",
        "go",
        "java",
        "javascript",
        "jsx",
        "kotlin",
        "php",
        "rust",
        "scala",
        "swift",
        "tsx",
        "typescript",
    }
)
_PY_DEF = re.compile(r"^\s*(?:async\s+def|def|class)\b")
_PY_STRING = re.compile(r"""^\s*[rRuUbBfF]{0,2}(""" + '"""' + r"""|'''|"|')""")
_IMPORT_STATEMENT = re.compile(r"^\s*(import|from|use|using|require|include|#include|package)\b")


def split_definition(text: str, lang: str) -> tuple[str, str] | None:
    """Split a function's source into (head, body) at a line boundary, or None if it cannot.

    The head is the signature plus, in Python, the docstring; the body is every line after it
    (brace languages: up to and including the closing brace). One-line definitions give None.
    """
    lines = text.splitlines(keepends=True)
    if lang in INDENT_LANGUAGES:
        end = _python_head_end(lines)
    elif lang in BRACE_LANGUAGES:
        end = _brace_head_end(text)
    else:
        return None
    if end is None or end + 1 >= len(lines):
        return None
    return "".join(lines[: end + 1]), "".join(lines[end + 1 :])


def _scan(text: str, start: int, stop: str, line_comment: str, block_comments: bool) -> int:
    """Index of the first `stop` char at bracket depth 0 outside strings/comments, or -1."""
    depth, i, n = 0, start, len(text)
    search = _acted_on(stop, line_comment, block_comments).search
    while True:
        # Every character the loop below would only step over is skipped at C speed.
        found = search(text, i)
        if found is None:
            return -1
        i = found.start()
        ch = text[i]
        if text.startswith(line_comment, i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if block_comments and text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
            continue
        if ch in "\"'`":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            i = j + len(quote)
            continue
        if ch == stop and depth == 0:
            return i
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "{" and stop != "{":
            depth += 1
        elif ch == "}" and stop != "{":
            depth -= 1
        i += 1


@functools.lru_cache(maxsize=8)
def _acted_on(stop: str, line_comment: str, block_comments: bool) -> re.Pattern[str]:
    """The characters `_scan` acts on: a comment start, a quote, `stop`, a bracket it counts."""
    chars = "\"'`" + stop + "()[]" + ("" if stop == "{" else "{}")
    starts = [re.escape(line_comment), *([r"/\*"] if block_comments else []), f"[{re.escape(chars)}]"]
    return re.compile("|".join(starts))


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index)


def _python_head_end(lines: list[str]) -> int | None:
    start = next((i for i, line in enumerate(lines) if _PY_DEF.match(line)), None)
    if start is None:
        return None
    rest = "".join(lines[start:])
    colon = _scan(rest, 0, ":", "#", False)
    if colon < 0:
        return None
    after = rest[colon + 1 :].split("\n", 1)[0].strip()
    if after and not after.startswith("#"):
        return None  # `def f(): return x` has no body block
    end = start + _line_of(rest, colon)
    nxt = next((i for i in range(end + 1, len(lines)) if lines[i].strip()), None)
    if nxt is None:
        return None
    match = _PY_STRING.match(lines[nxt])
    if not match:
        return end
    quote = match.group(1)
    body = "".join(lines[nxt:])
    j = body.index(quote) + len(quote)
    while True:
        j = body.find(quote, j)
        if j < 0:
            return None
        escapes = len(body[:j]) - len(body[:j].rstrip("\\"))
        if escapes % 2 == 0:
            return nxt + _line_of(body, j)
        j += 1


def _brace_head_end(text: str) -> int | None:
    brace = _scan(text, 0, "{", "//", True)
    if brace < 0:
        return None
    after = text[brace + 1 :].split("\n", 1)[0].strip()
    if after and not after.startswith("//"):
        return None  # `{ return x; }` on the signature line
    return _line_of(text, brace)


def _context(rec: Record, index: RecordIndex) -> str:
    """Imports, the enclosing definition's head and the nearest earlier signatures in the same scope."""
    parts: list[str] = []
    file_rec = index.files.get(rec.path)
    imports = [str(i) for i in (file_rec.meta.get("imports") or [])] if file_rec else []
    statements = [i.rstrip("\n") + "\n" for i in imports if _IMPORT_STATEMENT.match(i)]
    if statements:
        more = len(statements) - MAX_IMPORT_LINES
        parts.append(
            "".join(statements[:MAX_IMPORT_LINES]) + (f"# ... {more} more imports\n" if more > 0 else "")
        )
    parent_name = str(rec.meta.get("parent") or "")
    if parent_name:
        parent = next(
            (
                s
                for s in index.named_in.get((rec.path, parent_name), [])
                if s.start_line <= rec.start_line <= s.end_line and s.id != rec.id
            ),
            None,
        )
        if parent is not None:
            # Only the parent's head: its other members' bodies may be eval targets.
            split = split_definition(parent.text, str(parent.meta.get("language") or ""))
            head = split[0] if split else parent.text
            parts.append("".join(head.splitlines(keepends=True)[:MAX_PARENT_LINES]).rstrip("\n") + "\n")
    scope = index.scopes.get((rec.path, parent_name), [])
    earlier = [
        s
        for s in scope[: bisect.bisect_left(scope, rec.start_line, key=lambda s: s.start_line)]
        if s.end_line < rec.start_line
    ][-MAX_SIBLINGS:]
    if earlier:
        parts.append("".join(signature(s) + "\n" for s in earlier))
    return "...\n".join(parts)


def _imported_modules(index: RecordIndex, path: str) -> str:
    """ "`a`, `b` and 3 more" for a file whose imports are module names (statements go in the context)."""
    file_rec = index.files.get(path)
    names = [str(i) for i in (file_rec.meta.get("imports") or [])] if file_rec else []
    names = [n for n in names if n.strip() and not _IMPORT_STATEMENT.match(n)]
    shown = ", ".join(f"`{n}`" for n in names[:MAX_IMPORT_LINES])
    return shown + (f" and {len(names) - MAX_IMPORT_LINES} more" if len(names) > MAX_IMPORT_LINES else "")


def symbol_body(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """Write the body of a function or method given its head and the surrounding context."""
    out = []
    for rec in index.kind("symbol"):
        if rec.meta.get("kind") not in CALLABLE_KINDS:
            continue
        if is_test_path(rec.path):
            ctx.drop("symbol_body:test_code")  # test bodies are fixtures and asserts, not the code's API
            continue
        lang = str(rec.meta.get("language") or "")
        split = split_definition(rec.text, lang)
        if split is None:
            ctx.drop("symbol_body:no_body")
            continue
        head, body = split
        body_lines = [line for line in body.splitlines() if line.strip()]
        if not MIN_BODY_LINES <= len(body_lines) <= MAX_BODY_LINES or len(body) > MAX_BODY_CHARS:
            ctx.drop("symbol_body:body_size")
            continue
        name = qualname(rec)
        fence_language = language(rec)
        question = pick(
            (
                f"Write the body of `{name}`, {describe(rec)} in `{rec.path}`.",
                f"Implement `{name}` ({describe(rec)} in `{rec.path}`).",
            ),
            ctx.seed,
            "symbol_body",
            rec.id,
        )
        user: list[str | Cut] = [question + "\n\n"]
        modules = _imported_modules(index, rec.path)
        if modules:
            user.append(f"`{rec.path}` imports {modules}.\n\n")
        context = _context(rec, index)
        if context:
            user += [f"Context from `{rec.path}`:\n", *fenced(context, fence_language, keep="tail"), "\n"]
        user.append("The definition begins:\n" + fence(head, fence_language))
        doc = first_sentence(str(rec.meta.get("doc") or ""))
        if doc and " ".join(doc.split()[:6]) not in " ".join(head.split()):
            user.append(f"\nIts documentation says: {doc}\n")  # brace languages keep docs outside the text
        meta = make_meta(path=rec.path, symbol=name, answer_path=rec.path, expected=body_lines[0].strip())
        answer = [fence(body, fence_language)]
        out.append(Example("symbol_body", rec.id, "", rec.commit, rec.time, user, answer, meta))
    return out
