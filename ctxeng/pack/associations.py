"""Commit-message associations: what past commits worded like a prompt changed, by file and by definition."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

ASSOC = 0.5  # weight of a past commit's match on the files it changed
ASSOC_DEF = 1.0  # ... and on the definitions its patch touched
ASSOC_MIN = 1.0  # a commit must match at least the prompt's rarest term's worth (idf) to count
ASSOC_HALF_LIFE = 300  # commits (newest first) after which a past commit's association counts half


def past_changes(index: dict[str, Any], idf: dict[str, float]) -> tuple[dict[int, float], dict[int, float]]:
    """Files and definitions that past commits resembling the prompt changed: a prompt worded like
    earlier commit messages ("Add support for … in inserts on SQLite") points at what those commits
    touched. Each matching commit spreads its match over its files, and over the definitions its
    patch touched (the history stage finds them from its hunks); newer commits count more, and only
    commits matching more than one prompt term (or one rare term) say anything.

    Returns (file row → score, definition row → score).
    """
    commits = index["commits"]
    table = index["terms"].get("c", {})
    match: dict[int, float] = {}
    for term, w in idf.items():
        for i in table.get(term, ()):
            match[i] = match.get(i, 0.0) + w
    floor = ASSOC_MIN * max(idf.values(), default=0.0)
    # an index written before touched definitions were kept has none
    touched = commits.get("touched") or [[] for _ in commits["sha"]]
    files_out: dict[int, float] = {}
    defs_out: dict[int, float] = {}
    for i, m in sorted(match.items()):
        if m < floor:
            continue
        decay = 0.5 ** (i / ASSOC_HALF_LIFE)
        files = commits["files"][i]
        for f in files:
            files_out[f] = files_out.get(f, 0.0) + ASSOC * m * decay / len(files)
        rows = definition_rows(index, touched[i])
        for d in rows:
            defs_out[d] = defs_out.get(d, 0.0) + ASSOC_DEF * m * decay / len(rows)
    return files_out, defs_out


def definition_rows(index: dict[str, Any], flat: list[Any]) -> list[int]:
    """The definition rows a commit's flat [file row, name, ...] list names (every definition of that
    name in that file; a name no longer defined there gives none)."""
    defs, names = index["defs"], index["names"]
    out: set[int] = set()
    for k in range(0, len(flat), 2):
        f, name = flat[k], flat[k + 1]
        at = bisect_left(names, name)
        if at == len(names) or names[at] != name:
            continue
        lo, hi = bisect_left(defs["file"], f), bisect_right(defs["file"], f)  # rows are sorted by file
        out.update(j for j in range(lo, hi) if defs["name"][j] == at)
    return sorted(out)
