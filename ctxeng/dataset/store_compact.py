"""An `ExampleStore` for a huge repository: no set of every id offered, no dict of every source.

A 100,000-file repository offers ~1.4 million outcomes from ~800,000 sources. `ExampleStore`
remembers each offered id in a set (to let the first of an id win) and numbers sources through a
dict keyed by the source string: ~300 MB together at that size (issue 12). `CompactStore` keeps 10
bytes per offered id and a 16-byte digest per row's source, and settles both in `done`, a bucket
of ids (by first byte) at a time: the same rows, drop counts and source grouping as `ExampleStore`
gives (sources are told apart by their digest; `source_names` stays empty, which only a carried
store, never this one, needs).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

from ctxeng.dataset.outcomes import Dropped, Outcome
from ctxeng.dataset.store import _ID, COLUMNS, WIDTHS, ExampleStore

_SOURCE = 16  # bytes of a source's digest


class CompactStore(ExampleStore):
    """`ExampleStore` whose repeated ids and source numbers are settled in `done` (see the module docstring)."""

    def __init__(self, tasks: Sequence[str], spill_dir: Path | None = None) -> None:
        super().__init__(tasks, spill_dir)
        self._offered = bytearray()  # the id of every outcome offered, kept or not
        self._offer = array("q")  # per offered outcome: its row, or -1 - its drop reason's number
        self._reasons: list[str] = []
        self._reason_no: dict[str, int] = {}
        self._source_keys = bytearray()  # per row: its source's digest

    def add(self, outcome: Outcome | None) -> None:
        """Take one outcome (None: a repeated id the bounds skipped); the first of an id wins (in `done`)."""
        if outcome is None:
            self.dropped["duplicate_id"] += 1
            return
        self._offered += bytes.fromhex(outcome.id)
        if isinstance(outcome, Dropped):
            no = self._reason_no.get(outcome.reason)
            if no is None:
                no = self._reason_no[outcome.reason] = len(self._reasons)
                self._reasons.append(outcome.reason)
            self._offer.append(-1 - no)
            return
        self._offer.append(len(self.task_no))
        self._source_keys += hashlib.blake2b(
            outcome.source.encode("utf-8", "surrogatepass"), digest_size=_SOURCE
        ).digest()
        self.ids += self._offered[-_ID:]
        self.task_no.append(self._task_no[outcome.task])
        self.source_no.append(0)  # numbered in `done`
        self._append_columns(outcome)

    def done(self) -> None:
        """Adding is over: drop the later outcomes of repeated ids, count the drops, number the sources."""
        self._flush()
        gone = bytearray(len(self.task_no))  # 1: a kept row whose id an earlier outcome had
        for first, at, _ in _firsts(self._offered, _ID):
            offer = self._offer[at]
            if not first:
                self.dropped["duplicate_id"] += 1
                if offer >= 0:
                    gone[offer] = 1
            elif offer < 0:
                self.dropped[self._reasons[-1 - offer]] += 1
        self._offered, self._offer = bytearray(), array("q")
        if any(gone):
            self._remove(gone)
        self.shortened = self.short.count(1)
        for _, at, no in _firsts(self._source_keys, _SOURCE):
            self.source_no[at] = no
            self.sources = max(self.sources, no + 1)
        self._source_keys = bytearray()

    def _remove(self, gone: bytearray) -> None:
        """Drop the rows marked in `gone` from every column (rare: an id repeated across tasks)."""
        kept = [i for i, drop in enumerate(gone) if not drop]
        for name, width in (*((name, WIDTHS.get(name, 1)) for name in COLUMNS), ("_source_keys", _SOURCE)):
            old = getattr(self, name)
            new = bytearray() if isinstance(old, bytearray) else array(old.typecode)
            for i in kept:
                new += old[i * width : (i + 1) * width]
            setattr(self, name, new)


def _firsts(keys: bytearray, width: int) -> Iterator[tuple[bool, int, int]]:
    """(whether it is the first with its key, index, the key's number) for every `width`-byte key in
    `keys`, a bucket of keys (by first byte) at a time, so that only one bucket's keys are held."""
    buckets = [array("I") for _ in range(256)]
    for i in range(len(keys) // width):
        buckets[keys[i * width]].append(i)
    numbered = 0
    for b, bucket in enumerate(buckets):
        buckets[b] = array("I")
        seen: dict[bytes, int] = {}
        for i in bucket:
            key = bytes(keys[i * width : (i + 1) * width])
            no = seen.get(key)
            if no is not None:
                yield False, i, no
                continue
            no = seen[key] = numbered
            numbered += 1
            yield True, i, no
