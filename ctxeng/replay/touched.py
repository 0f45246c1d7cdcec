"""What a commit touched, in terms of the definitions that existed at its parent.

Each changed line of the parent's side of the diff belongs to the innermost definition (function,
class, method ...) enclosing it; lines added between two parent lines belong to the innermost
definition enclosing both neighbours (an addition inside an existing body counts for it, a new
sibling after a body does not). New files and new definitions have no parent state to find, so
they are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ctxeng.core.gitcli import decode
from ctxeng.core.repo import RepoView
from ctxeng.pack.facts import Definition

_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")


@dataclass(frozen=True, slots=True, order=True)
class Touched:
    """A definition a commit touched: its file, qualified name, bare name and line at the parent."""

    path: str
    qualname: str
    name: str
    line: int


def changed_lines(repo: RepoView, parent: str, sha: str) -> dict[str, list[tuple[int, int]]]:
    """Per parent-side path: (first, last) line spans the commit replaced or deleted; an insertion
    after line k (nothing removed) is the empty span (k + 1, k)."""
    out = repo.git.run(["diff", "-U0", "--no-renames", "--no-ext-diff", "--no-color", parent, sha, "--"])
    spans: dict[str, list[tuple[int, int]]] = {}
    path: str | None = None
    for line in out.split(b"\n"):
        if line.startswith(b"--- "):
            old = line[4:]
            path = decode(old[2:]) if old.startswith(b"a/") else None
        elif line.startswith(b"@@") and path is not None:
            match = _HUNK.match(line)
            if match:
                start, count = int(match.group(1)), int(match.group(2) or b"1")
                spans.setdefault(path, []).append((start, start + count - 1) if count else (start + 1, start))
    return spans


def touched_definitions(defs: Sequence[Definition], spans: dict[str, list[tuple[int, int]]]) -> list[Touched]:
    """The innermost definitions (among `defs`, the parent's) enclosing each changed span, sorted."""
    by_path: dict[str, list[Definition]] = {}
    for d in defs:
        if d.path in spans:
            by_path.setdefault(d.path, []).append(d)
    found: set[Touched] = set()
    for path, ranges in spans.items():
        candidates = by_path.get(path, [])
        for first, last in ranges:
            if first <= last:
                lines: Iterable[tuple[int, int]] = ((n, n) for n in range(first, last + 1))
            else:  # an insertion between lines `last` and `first`: both must be inside
                lines = [(last, first)]
            for lo, hi in lines:
                inner = _innermost(candidates, lo, hi)
                if inner is not None:
                    found.add(Touched(inner.path, inner.qualname, inner.name, inner.line))
    return sorted(found)


def _innermost(defs: list[Definition], lo: int, hi: int) -> Definition | None:
    best: Definition | None = None
    for d in defs:
        if (
            d.line <= lo
            and hi <= d.end_line
            and (best is None or (d.line, -d.end_line) > (best.line, -best.end_line))
        ):
            best = d
    return best
