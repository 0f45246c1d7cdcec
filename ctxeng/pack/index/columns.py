"""Splicing rows into the index's path-sorted columns: runs of kept rows, row maps, postings, neighbours.

Every row table of the index (files, definitions, doc sections) is sorted by path, so replacing the
rows of a few paths is a matter of runs: keep old rows [a, b), then the new rows of one path, then
old rows again. From the runs follow where each old and each new row ends up (row maps), and every
column, posting list and neighbour list is rewritten through those maps.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ctxeng.pack.index.builder import MAX_NEIGHBOURS
from ctxeng.pack.rank import DEFAULT_WEIGHTS, Weights, reference_weight


@dataclass(frozen=True)
class Run:
    """Rows [start, stop) of the old table (`old=True`) or of the contributed rows (`old=False`)."""

    old: bool
    start: int
    stop: int


@dataclass
class Layout:
    """The patched order of one table: its runs and where each old / contributed row lands (-1: dropped)."""

    runs: list[Run]
    old_to_new: list[int]
    new_of_part: list[int]
    first: int  # old rows before this one keep their numbers (len(old rows): the table is unchanged)

    @property
    def identity(self) -> bool:
        """Whether every old row is kept under its own number."""
        return self.first == len(self.old_to_new)

    @property
    def size(self) -> int:
        """Rows in the patched table."""
        return sum(r.stop - r.start for r in self.runs)


def layout(n_old: int, old_key: Callable[[int], str], n_part: int, part_key: Callable[[int], str],
           changed: Sequence[str]) -> Layout:  # fmt: skip
    """Runs of a table sorted by path whose rows for the `changed` paths (sorted) are replaced by the
    contributed rows of those paths (also sorted by path); keys give each row's path."""
    runs: list[Run] = []
    pos = 0
    for path in changed:
        lo = bisect_left(range(n_old), path, pos, key=old_key)
        hi = bisect_right(range(n_old), path, lo, key=old_key)
        if lo > pos:
            runs.append(Run(True, pos, lo))
        plo = bisect_left(range(n_part), path, key=part_key)
        phi = bisect_right(range(n_part), path, plo, key=part_key)
        if phi > plo:
            runs.append(Run(False, plo, phi))
        pos = hi
    if pos < n_old:
        runs.append(Run(True, pos, n_old))
    old_to_new, new_of_part = [-1] * n_old, [-1] * n_part
    at, first = 0, n_old
    for run in runs:
        target = old_to_new if run.old else new_of_part
        target[run.start : run.stop] = range(at, at + run.stop - run.start)
        if run.old and run.start != at:
            first = min(first, run.start)
        at += run.stop - run.start
    return Layout(runs, old_to_new, new_of_part, min(first, _first_dropped(runs, n_old)))


def _first_dropped(runs: list[Run], n_old: int) -> int:
    """The first old row that no run keeps (n_old when every old row is kept)."""
    pos = 0
    for run in runs:
        if run.old:
            if run.start != pos:
                return pos
            pos = run.stop
    return pos


def column(lay: Layout, old: list[Any], part: list[Any],
           old_fn: Callable[[list[Any], int], list[Any]] | None = None,
           part_fn: Callable[[list[Any]], list[Any]] | None = None) -> list[Any]:  # fmt: skip
    """One column of the patched table: old and contributed values in run order. `old_fn(values, shift)`
    maps a run of old values (`shift`: how far that run moved), `part_fn` the contributed ones."""
    out: list[Any] = []
    at = 0
    for run in lay.runs:
        if run.old:
            values = old[run.start : run.stop]
            out.extend(old_fn(values, at - run.start) if old_fn else values)
        else:
            values = part[run.start : run.stop]
            out.extend(part_fn(values) if part_fn else values)
        at += run.stop - run.start
    return out


def shifted(values: list[int], shift: int) -> list[int]:
    """Row numbers of one run moved by `shift` (-1, no row, stays): parents lie in their child's run."""
    return [v + shift if v >= 0 else -1 for v in values] if shift else values


def through(mapping: list[int]) -> Callable[..., list[int]]:
    """Map row numbers through `mapping`, keeping -1 (no row) as -1 (usable as `column`'s `old_fn`)."""
    return lambda rows, shift=None: [mapping[r] if r >= 0 else -1 for r in rows]


def postings(old: dict[str, list[int]], part: dict[str, list[int]], lay: Layout) -> dict[str, list[int]]:
    """Term → ascending rows of the patched table, from the old table's and the contributed rows' postings.

    Rows before `lay.first` keep their numbers; later ones move with their run (found by bisection),
    so a posting list costs a few bisections plus the rows that really move.
    """
    if lay.identity and not part:
        return old
    moves = []  # (start, stop, shift) of the old runs at or after the first moved row
    at = 0
    for run in lay.runs:
        if run.old and run.stop > lay.first:
            moves.append((max(run.start, lay.first), run.stop, at - run.start))
        at += run.stop - run.start
    out: dict[str, list[int]] = {}
    for term, rows in old.items():
        if not rows or rows[-1] < lay.first:
            if rows:
                out[term] = rows
            continue
        k = bisect_left(rows, lay.first)
        new = rows[:k]
        for start, stop, shift in moves:
            a = bisect_left(rows, start, k)
            b = bisect_left(rows, stop, a)
            if a < b:
                new += [r + shift for r in rows[a:b]] if shift else rows[a:b]
            k = b
        if new:
            out[term] = new
    for term, rows in part.items():
        added = [lay.new_of_part[r] for r in rows]
        out[term] = sorted([*out.get(term, ()), *added])
    return out


def remap_near(near: list[int], files: list[int]) -> list[int]:
    """A flat [file, weight‰, ...] neighbour list with its files renumbered; vanished files drop out."""
    out: list[int] = []
    for k in range(0, len(near), 2):
        j = files[near[k]]
        if j >= 0:
            out += (j, near[k + 1])
    return out


def offer(near: list[int], j: int, weight: float) -> None:
    """Put neighbour `j` with `weight` into a flat list that keeps the `MAX_NEIGHBOURS` strongest.

    Only a strictly heavier entry replaces what is there, so offering the weight a file's own
    references give (never more than the build's total for that pair) leaves a built list unchanged.
    """
    q = max(1, round(1000 * weight))
    pairs = [(near[k], near[k + 1]) for k in range(0, len(near), 2)]
    present = next((n for n, (f, _) in enumerate(pairs) if f == j), None)
    if present is not None:
        if q <= pairs[present][1]:
            return
        del pairs[present]
    elif len(pairs) >= MAX_NEIGHBOURS and q <= pairs[-1][1]:
        return
    at = next((n for n, (f, w) in enumerate(pairs) if w < q or (w == q and f > j)), len(pairs))
    pairs.insert(at, (j, q))
    near[:] = [x for pair in pairs[:MAX_NEIGHBOURS] for x in pair]


def reference_edges(refs: dict[str, int], row: int, definers: dict[str, dict[int, int]],
                    w: Weights = DEFAULT_WEIGHTS) -> dict[int, float]:  # fmt: skip
    """Edge weights from file `row` to the files defining what it references, normalised to sum 1,
    weighted exactly like `ctxeng.pack.rank.rank` weights them (same order of float sums)."""
    edges: dict[int, float] = {}
    for ident, count in sorted(refs.items()):
        files = definers.get(ident)
        mul = reference_weight(ident, count, len(files), w) if files else None
        if mul is None or files is None:
            continue
        per_def = mul / sum(files.values())
        for b, n in files.items():
            if b != row:
                edges[b] = edges.get(b, 0.0) + per_def * n
    ordered = dict(sorted(edges.items()))
    total = sum(ordered.values()) or 1.0
    return {b: x / total for b, x in ordered.items()}


def lower_median(values: Sequence[int]) -> int:
    """The lower median of integer scores (0 for none): an existing score, no float rounding."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else 0


def moved_pairs(same_file: list[int], flat: list[Any]) -> list[Any]:
    """A flat [file row, name, ...] list with its file rows renumbered (pairs of removed files dropped)."""
    return [
        x
        for k in range(0, len(flat), 2)
        if same_file[flat[k]] >= 0
        for x in (same_file[flat[k]], flat[k + 1])
    ]
