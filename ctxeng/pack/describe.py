"""A one-line "what it does" for every code file without a module docstring: the sentence of the
project's documentation that first mentions it, else the names of its main definitions."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import replace

from ctxeng.pack.facts import Definition, DocSection, RepoFacts, first_sentence
from ctxeng.pack.paths import is_package_init, is_test, is_vendored

# Documents whose mentions describe a file; a changelog's or a contributing guide's describe a change or a chore.
DESCRIBING_KINDS = frozenset({"readme", "architecture", "design", "adr", "guide", "api", "other"})
SOURCE_ROOTS = ("src/", "lib/", "source/", "pkg/", "internal/")
_MENTION = re.compile(r"`([\w./-]+)`")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(\[])|\n\s*\n|\n\s*[-*+]\s|\n#+\s")
_TYPE_KINDS = ("class", "struct", "interface", "trait", "enum", "type", "impl", "module")
MAX_NAMES = 3
DEFINES = "Defines "  # how a description made from definition names begins (a folder summary skips those)


def describe_files(facts: RepoFacts) -> None:
    """Give every code file of `facts` that has no summary one (in place): a doc mention, else its
    main definitions. Test and vendored files are left as they are."""
    missing = [p for p, info in facts.files.items() if not info.doc and not is_test(p) and not is_vendored(p)]
    if not missing:
        return
    mentions = _doc_mentions(facts.docs, missing)
    by_path: dict[str, list[Definition]] = {}
    wanted = set(missing)
    for d in facts.defs:
        if d.path in wanted:
            by_path.setdefault(d.path, []).append(d)
    for path in missing:
        info = facts.files[path]
        text = mentions.get(path) or main_definitions(by_path.get(path, [])) or _exports(info.exports)
        if not text and is_package_init(path) and info.imports:  # `module.exports = require('./lib/x')`
            text = "Re-exports " + _listed([f"`{name}`" for name in info.imports]) + "."
        if text:
            facts.files[path] = replace(info, doc=text)


def _keys(path: str) -> Iterable[str]:
    """The ways a document may name a file: its path, its path below a source root, its module name."""
    yield path
    for root in SOURCE_ROOTS:
        if path.startswith(root):
            yield path[len(root) :]
    stem, ext = posixpath.splitext(path)
    if ext == ".py":
        for root in ("", *SOURCE_ROOTS):
            if stem.startswith(root):
                module = stem[len(root) :].replace("/", ".").removesuffix(".__init__")
                if "." in module:  # a bare name ("utils") is too ambiguous to be a mention
                    yield module


def _doc_mentions(docs: list[DocSection], paths: list[str]) -> dict[str, str]:
    """For each path, the first describing sentence (in document order) naming it in backticks."""
    lookup: dict[str, str] = {}
    for path in sorted(paths):
        for key in _keys(path):
            lookup.setdefault(key, path)
    out: dict[str, str] = {}
    for doc in docs:
        if doc.doc_kind not in DESCRIBING_KINDS or "`" not in doc.text:
            continue
        for match in _MENTION.finditer(doc.text):
            named = lookup.get(match.group(1).strip("./"))
            if named is None or named in out:
                continue
            sentence = _sentence_around(doc.text, match.start(), match.end())
            if len(sentence.split()) >= 5 and not sentence.lstrip().startswith(("$", ">>>", "#", "|")):
                out[named] = first_sentence(sentence, 160)
    return out


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (or list item) of `text` that holds the span `start:end`."""
    left = 0
    for brk in _SENTENCE_BREAK.finditer(text, max(0, start - 400), start):
        left = brk.end()
    right_match = _SENTENCE_BREAK.search(text, end, end + 400)
    right = right_match.start() if right_match else min(len(text), end + 400)
    return " ".join(text[left:right].split()).lstrip("-*+ ")


def main_definitions(defs: list[Definition]) -> str:
    """ "Defines `A`, `B` (classes) and `c`." from a file's largest top-level public definitions."""
    top = [d for d in defs if not d.parent and d.public] or [d for d in defs if not d.parent]
    if not top:
        return ""
    largest = sorted(top, key=lambda d: (-(d.end_line - d.line), d.line, d.name))[:MAX_NAMES]
    chosen = sorted(largest, key=lambda d: (d.line, d.name))
    types = [d for d in chosen if d.kind in _TYPE_KINDS]
    others = [d for d in chosen if d.kind not in _TYPE_KINDS]
    parts = []
    if types:
        parts.append(_names(types) + (" (types)" if len(types) > 1 else f" ({types[0].kind})"))
    if others:
        label = "functions" if all(d.kind in ("function", "method") for d in others) else "definitions"
        parts.append(
            _names(others) + (f" ({label})" if len(others) > 1 else f" ({others[0].kind or 'definition'})")
        )
    more = len(top) - len(chosen)
    if more > 0:
        return DEFINES + ", ".join(parts) + f" and {more} more."
    return DEFINES + " and ".join(parts) + "."


def _exports(names: tuple[str, ...]) -> str:
    """ "Exports `a`, `b` and 3 more." for a file without definitions of its own (an index that re-exports)."""
    return "Exports " + _listed([f"`{n}`" for n in names]) + "." if names else ""


def _listed(items: list[str]) -> str:
    """The first `MAX_NAMES` items, comma-separated, with how many more there are."""
    more = len(items) - MAX_NAMES
    return ", ".join(items[:MAX_NAMES]) + (f" and {more} more" if more > 0 else "")


def _names(defs: list[Definition]) -> str:
    return ", ".join(f"`{d.name}`" for d in defs)
