"""The docs extractor: design documents (READMEs, docs/, ADRs, changelogs, ...) → one `doc` record per section.

Choices worth knowing:
- A heading whose section has no body produces no record, whether or not it has subsections: it
  carries no text, and its title lives on in its subsections' heading paths ("Architecture > Keydir").
  Short sections are kept as they are (an ADR's "Status: Accepted." is knowledge).
- Text before the first heading becomes a level-0 section named after the file.
- A changelog keeps only its newest `CHANGELOG_RELEASES` releases (in either order of writing).
- A page whose only content is autodoc directives (Sphinx `.. automodule::`, mkdocstrings `:::`)
  is skipped and counted as "autodoc_pages".
- A region between ctxeng's own CLAUDE.md markers is dropped, so a build never mines its own pack.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import MutableMapping

from ctxeng.core.config import DocsConfig
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record, record_id
from ctxeng.extract.doc_paths import STAT_KEYS, doc_format, doc_kind
from ctxeng.extract.doc_sections import Section, split_sections
from ctxeng.extract.selection import SourceFile

CHANGELOG_RELEASES = 3  # releases a changelog keeps; older ones are long and rarely asked about
CUT_MARKER = "…"

_AUTODOC = re.compile(
    r"^[ \t]*(?:\.\.[ \t]+(?:\w+:)?auto\w+::|:::[ \t]+[\w.]+[ \t]*$|```\{auto)", re.MULTILINE
)
_MANAGED = re.compile(r"<!--[ \t]*ctxeng:(begin|end)\b[^\n]*-->")  # the markers of ctxeng.pack.claude_md
_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+)|\d{4}-\d{2}-\d{2}|unreleased", re.IGNORECASE)


def extract_docs(
    files: list[SourceFile],
    provenance: Provenance,
    config: DocsConfig,
    stats: MutableMapping[str, int] | None = None,
) -> list[Record]:
    """One `doc` record per non-empty section of every design document among `files`.

    `stats`, when given, gets every key of STAT_KEYS added to: files (design documents read),
    sections (records), empty (documents without any text), autodoc_pages (skipped as nothing but
    autodoc directives), changelog_sections_dropped (older releases), cut_sections (at max_section_chars).
    """
    counts: Counter[str] = Counter(dict.fromkeys(STAT_KEYS, 0))
    records: list[Record] = []
    for source in sorted(files, key=lambda f: f.path):
        if doc_kind(source.path) is None:
            continue
        commit, when = provenance.of_file(source.path)
        records.extend(extract_doc_file(source.path, source.text, commit, when, config, counts))
    _add(stats, counts)
    return records


def extract_doc_file(
    path: str,
    text: str,
    commit: str,
    time: int,
    config: DocsConfig,
    stats: MutableMapping[str, int] | None = None,
) -> list[Record]:
    """The `doc` records of one file (depends on nothing else: the incremental refresh calls it per file).

    Returns [] for paths that are not design documents (see `doc_kind`).
    """
    kind, fmt = doc_kind(path), doc_format(path)
    if kind is None or fmt is None:
        return []
    counts: Counter[str] = Counter(dict.fromkeys(STAT_KEYS, 0))
    counts["files"] = 1
    if fmt == "markdown":
        text = drop_managed_block(text)
    sections = split_sections(text, fmt)
    if kind == "changelog":
        sections, dropped = trim_changelog(sections, CHANGELOG_RELEASES)
        counts["changelog_sections_dropped"] += dropped
    sections = [s for s in sections if s.body]
    if not sections:
        counts["autodoc_pages" if _AUTODOC.search(text) else "empty"] += 1
    records = _records(path, kind, fmt, sections, commit, time, config.max_section_chars, counts)
    counts["sections"] += len(records)
    _add(stats, counts)
    return records


def _add(stats: MutableMapping[str, int] | None, counts: Counter[str]) -> None:
    if stats is not None:
        for key in STAT_KEYS:
            stats[key] = stats.get(key, 0) + counts[key]


def _records(
    path: str,
    kind: str,
    fmt: str,
    sections: list[Section],
    commit: str,
    time: int,
    limit: int,
    counts: Counter[str],
) -> list[Record]:
    out: list[Record] = []
    occurrence: Counter[str] = Counter()
    for section in sections:
        titles = section.titles or (posixpath.basename(path),)
        name = " > ".join(titles)
        body = section.text
        text = cut_text(body, limit, fences=fmt == "markdown")
        counts["cut_sections"] += int(text != body)
        meta = {
            "doc_kind": kind,
            "level": section.level,
            "title": titles[-1],
            "format": fmt,
            "line_map": line_map(section, text.count("\n") + 1),
        }
        rid = record_id("doc", path, name, str(occurrence[name]))
        occurrence[name] += 1
        out.append(
            Record(rid, "doc", path, section.start_line, section.end_line, commit, time, name, text, meta)
        )
    return out


def line_map(section: Section, lines: int) -> list[list[int]]:
    """Where the record's text lines come from: [[text line index, source line], ...] breakpoints.

    Text line i comes from source line `s + (i - t)` for the last breakpoint [t, s] with t <= i
    (cleaning drops comments, HTML and blank runs, so a body is not one contiguous run of lines).
    """
    out: list[list[int]] = []
    previous = -2
    for index, (number, _) in enumerate(section.body[:lines]):
        if number != previous + 1:
            out.append([index, number])
        previous = number
    return out


def cut_text(text: str, limit: int, fences: bool = False) -> str:
    """`text`, or its head up to a paragraph boundary within `limit` characters plus a "…" marker.

    Falls back to a line break, then a space, then a hard cut when no boundary lies in the second
    half of the allowance; with `fences`, a Markdown code fence left open by the cut is closed.
    """
    if len(text) <= limit:
        return text
    room = max(limit - len(CUT_MARKER) - 2, 1)
    head = text[:room]
    for boundary in ("\n\n", "\n", " "):
        at = head.rfind(boundary)
        if at >= room // 2:
            head = head[:at]
            break
    head = head.rstrip()
    if fences:
        head += _open_fence_closer(head)
    return f"{head}\n\n{CUT_MARKER}"


def _open_fence_closer(text: str) -> str:
    """A closing fence line for a Markdown code fence still open at the end of `text`, else ""."""
    fence = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if fence:
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = ""
        elif stripped.startswith(("```", "~~~")):
            marker = stripped[0]
            fence = stripped[: len(stripped) - len(stripped.lstrip(marker))]
    return f"\n{fence}" if fence else ""


def drop_managed_block(text: str) -> str:
    """`text` without the region between ctxeng's own begin/end marker comments (its CLAUDE.md block)."""
    markers = list(_MANAGED.finditer(text))
    for begin, end in zip(markers, markers[1:]):
        if begin.group(1) == "begin" and end.group(1) == "end":
            kept_lines = text.count("\n", begin.start(), end.end())
            # keep the line count so line numbers of later sections still point at the source
            return text[: begin.start()] + "\n" * kept_lines + text[end.end() :]
    return text


def trim_changelog(sections: list[Section], keep: int) -> tuple[list[Section], int]:
    """Keep the text before the first release and the newest `keep` releases; returns (kept, dropped).

    The release level is the heading level where most titles hold a version or date; an
    "Unreleased" section is kept without counting. Oldest-first changelogs keep their last releases.
    """
    by_level: Counter[int] = Counter(s.level for s in sections if s.level and _VERSION.search(s.title))
    if not by_level:
        return sections, 0
    level = min(by_level, key=lambda lv: (-by_level[lv], lv))
    releases = [i for i, s in enumerate(sections) if s.level == level and _VERSION.search(s.title)]
    dated = [i for i in releases if "unreleased" not in sections[i].title.lower()]
    if len(dated) <= keep:
        return sections, 0
    first, last = _version_of(sections[dated[0]]), _version_of(sections[dated[-1]])
    wanted = set(dated[-keep:] if first and last and first < last else dated[:keep])
    wanted.update(i for i in releases if i not in dated)
    kept: list[Section] = []
    current: int | None = None  # index of the release heading the section belongs to
    for index, section in enumerate(sections):
        if section.level and section.level <= level:
            current = index if index in releases else None
        if current is None or current in wanted:
            kept.append(section)
    return kept, len(sections) - len(kept)


def _version_of(section: Section) -> tuple[int, ...]:
    match = _VERSION.search(section.title)
    if not match or not match.group(1):
        return ()
    return tuple(int(part) for part in match.group(1).split("."))
