"""Records in their final order with their runs of one kind and path found once, for a forked pack stage."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import attrgetter
from typing import overload

from ctxeng.core.records import Record

_KIND_PATH = attrgetter("kind", "path")


class RecordRuns(Sequence[Record]):
    """`records` (in `dedupe_ids` order) and `runs`: (kind, path, start, stop) per run of one kind and path.

    Found in the parent before the pack stage forks: a child that distils from the runs reads only the
    records it needs (a definition memo's hit needs none of its file's), so the pages that hold the
    others are not touched there, and not copied (a page a forked child writes to, even a reference
    count, is copied: ~4 us each on a virtual machine; sqlalchemy's refresh: ~7,000 faults fewer in the child).
    """

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.runs: list[tuple[str, str, int, int]] = []
        start = 0
        for (kind, path), group in groupby(map(_KIND_PATH, records)):
            stop = start + len(list(group))
            self.runs.append((kind, path, start, stop))
            start = stop

    def run(self, start: int, stop: int) -> Iterator[Record]:
        """The records of one run, read only as far as they are iterated."""
        return map(self.records.__getitem__, range(start, stop))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    @overload
    def __getitem__(self, at: int) -> Record: ...
    @overload
    def __getitem__(self, at: slice) -> list[Record]: ...
    def __getitem__(self, at: int | slice) -> Record | list[Record]:
        return self.records[at]


def runs_of(records: Iterable[Record]) -> Iterable[tuple[tuple[str, str], Iterable[Record]]]:
    """`records`' runs of one kind and path, in order: found already (`RecordRuns`: a run's records are
    then read only if iterated), else by grouping them here."""
    if isinstance(records, RecordRuns):
        return (((kind, path), records.run(start, stop)) for kind, path, start, stop in records.runs)
    return groupby(records, key=_KIND_PATH)
