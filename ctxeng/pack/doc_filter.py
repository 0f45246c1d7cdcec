"""Which design-doc text the pack shows: prose paragraphs, and no example or template READMEs,
sponsor, badge or link-list sections, or text another pack file already shows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# Folders whose documents describe a sample, a template or a fixture, not the project itself.
SAMPLE_DIRS = frozenset(
    {"example", "examples", "sample", "samples", "demo", "demos", "template", "templates", "_templates", "fixtures",
     "fixture", "testdata", "test_data", "skeleton", "scaffold", "scaffolds", "boilerplate", "starter", "starters",
     "cookiecutter", "issue_template", "pull_request_template", "test", "tests", "__tests__", "playground"}
)  # fmt: skip
# Section titles that thank people or companies, show badges, or list links: no design knowledge.
NOISE_TITLE = re.compile(
    r"\b(?:sponsors?|sponsorship|backers?|supporters?|patrons?|donat(?:e|ions?)|funding|fund(?:ed|ing) by|badges?|"
    r"contributors|thanks|thank you|acknowledg(?:e?ments?)|credits|special thanks|table of contents|toc|"
    r"star history|stargazers|used by|who uses|in the wild|license|licence|copyright|authors|maintainers|"
    r"team members|emeriti|emeritus|triagers|support us|financial contributors|open collective)\b",
    re.IGNORECASE,
)
_LINK = re.compile(r"!?\[([^\[\]\n]*)\](?:\([^()\n]*\)|\[[^\[\]\n]*\])")
_LINK_ONLY_LINE = re.compile(
    r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*|__)?(?:!?\[[^\[\]\n]*\](?:\([^()\n]*\)|\[[^\[\]\n]*\])\s*)+(?:\*\*|__)?"
    r"\s*(?:[-–—:,]\s*[^\n]{0,60})?$"
)
_RST_LINK_ONLY_LINE = re.compile(
    r"^\s*(?:[-*+]|\d+[.)]|#\.)?\s*`[^`\n]*<[^>\n]+>`__?\s*(?:[-–—:,]\s*[^\n]{0,60})?$"
)
_IMAGE_LINE = re.compile(
    r"^\s*(?:\[?!\[[^\]\n]*\]\([^)\n]*\)\]?(?:\([^)\n]*\))?\s*|<img\b[^>\n]*>\s*|<a\b[^>\n]*>\s*|</a>\s*)+$"
)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_SPACE = re.compile(r"\s+")


def is_sample_doc(path: str) -> bool:
    """Whether a document lives in an example, template, fixture or test folder (or a templated path)."""
    if "{{" in path or "{%" in path:
        return True
    return bool(SAMPLE_DIRS.intersection(part.lower() for part in path.split("/")[:-1]))


def is_noise_section(title: str, body: str) -> bool:
    """Whether a section is a sponsor, badge, credits or link list rather than prose about the project."""
    if NOISE_TITLE.search(title):
        return True
    lines = [line for line in body.split("\n") if line.strip()]
    if not lines:
        return True
    listed = sum(
        1
        for line in lines
        if _LINK_ONLY_LINE.match(line) or _RST_LINK_ONLY_LINE.match(line) or _IMAGE_LINE.match(line)
    )
    return listed * 3 >= len(lines) * 2  # two thirds of the lines are only links or images


def paragraphs(text: str) -> Iterator[str]:
    """The paragraphs of Markdown/RST text (split at blank lines), code fences kept whole as one."""
    block: list[str] = []
    fence = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if fence:
            block.append(line)
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            block.append(line)
            continue
        if not stripped:
            if block:
                yield "\n".join(block)
            block = []
        else:
            block.append(line)
    if block:
        yield "\n".join(block)


def is_prose(paragraph: str) -> bool:
    """Whether a paragraph is running text (not code, a heading, a list, a table, a quote or badges)."""
    text = paragraph.strip()
    if not text or text.startswith(
        ("```", "~~~", "#", "|", "- ", "* ", "+ ", "=", ">", "..", "<", "[!", "![")
    ):
        return False
    if _IMAGE_LINE.match(text) or _LINK_ONLY_LINE.match(text) or text.startswith("    "):
        return False
    return sum(ch.isalpha() for ch in text) >= 12


def plain(text: str) -> str:
    """Markdown inline markup dropped (links keep their text, emphasis its words), whitespace collapsed."""
    return _SPACE.sub(" ", _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", text))).strip()


def without_shown(body: str, shown: Iterable[str]) -> str:
    """`body` without the paragraphs that repeat text from `shown` (each compared as plain text)."""
    seen = [plain(s).rstrip("….").strip().casefold() for s in shown if s.strip()]
    seen = [s for s in seen if len(s) >= 20]
    if not seen:
        return body
    kept = [p for p in paragraphs(body) if not any(s in plain(p).casefold() for s in seen)]
    return "\n\n".join(kept).strip()
