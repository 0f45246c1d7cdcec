"""The build's records between stages: objects in memory for an ordinary repository, JSON lines on disk for a huge one.

A 100,000-file repository has ~800,000 records, ~1.8 GB as Python objects, held from the code stage
to the pack stage (issue 12). `RecordStore` takes records as the stages make them; up to `limit`
records it holds the objects (and `finish` gives today's sorted list, at today's speed). Past
`limit` it spills every record as its `records.jsonl` line to an unlinked temporary file and keeps
a few columns per record (kind, path, line, id, offset): `finish` sorts those and returns a
`RecordsView`, a `Sequence[Record]` in `records.sort_key` order that decodes records as they are
read. The order and the ids made unique are exactly `records.dedupe_ids`'s.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from ctxeng.core.fsio import dumps_json_bytes
from ctxeng.core.records import Record, dedupe_ids, share_meta_strings

#: Records held as objects before the store spills (sqlalchemy has ~62k; 100,000 files ~800k).
DEFAULT_LIMIT = 100_000
LIMIT_ENV = "CTXENG_RECORDS_IN_MEMORY"
_BIG_LINE = 1 << 20  # lines of this many bytes or more are parsed by the stdlib (`_decode`)
#: The order in which records are added: code, docs, then the others (as `dedupe_ids` saw them).
CODE, DOCS, OTHERS = 0, 1, 2
_HEAD = struct.Struct(">BIQ")  # kind rank, path rank, start line (+ 2**63: never negative)
_TAIL = struct.Struct(">BI")  # source, sequence number: the tie-break of equal sort keys


def limit_from_env() -> int:
    """The in-memory limit: `$CTXENG_RECORDS_IN_MEMORY` when set (tests set it low), else the default."""
    value = os.environ.get(LIMIT_ENV, "")
    return int(value) if value.strip().isdigit() else DEFAULT_LIMIT


def _decode(line: bytes | str) -> Record:
    """A record from its JSON line, its repeated short strings made one object each
    (`core.records.share_meta_strings`, as the code stage shares them): what a stage keeps of ~800,000 records read back (names,
    kinds, referenced identifiers) is otherwise one copy per record."""
    import orjson

    # orjson parses a whole line into its own document before making the objects: ~3.7x the objects
    # at its peak. The rare huge record (a commit touching a whole 100,000-file tree: a ~50 MB line,
    # ~200 MB of objects) is parsed by the stdlib instead, which makes the objects directly (same
    # values: the line is our own JSON; ~1.2x its objects at the peak, and no slower there).
    # Its touched files' and definitions' paths and names are made one object each as they are parsed
    # (`_share_row`), not once the whole line is: ~100 MB less at that peak at 100,000 files (issue 12).
    # (A huge line comes as text: `RecordStore.decoded`.)
    big = type(line) is str or len(line) >= _BIG_LINE
    row = json.loads(line, object_hook=_share_row) if big else orjson.loads(line)
    intern = sys.intern
    meta = row["meta"]
    if type(meta) is dict:
        share_meta_strings(meta, ("qualname",))
        _share_touched(meta)
    name = row["name"]
    return Record(row["id"], intern(row["kind"]), intern(row["path"]), row["start_line"], row["end_line"],
                  intern(row["commit"]), row["time"], intern(name) if len(name) <= 80 else name, row["text"],
                  meta)  # fmt: skip


def _share_row(row: dict[str, Any]) -> dict[str, Any]:
    """`row` (any object of a huge line, as parsed) with its "path" and "name" strings shared, as
    `_share_touched` shares them (values unchanged)."""
    path, name = row.get("path"), row.get("name")
    if type(path) is str:
        row["path"] = sys.intern(path)
    if type(name) is str and len(name) <= 80:
        row["name"] = sys.intern(name)
    return row


def _share_touched(meta: dict[str, Any]) -> None:
    """A commit's touched files and definitions with their paths and names made one object each, in place.

    A commit touching a whole 100,000-file tree lists ~700,000 definitions; the pack keeps them
    (`pack.facts.Commit`), beside the definitions' own (shared) paths and names: ~100 MB of copies.
    """
    intern = sys.intern
    for key in ("files", "symbols"):
        rows = meta.get(key)
        if type(rows) is not list:
            continue
        for row in rows:
            if type(row) is dict:
                path, name = row.get("path"), row.get("name")
                if type(path) is str:
                    row["path"] = intern(path)
                if type(name) is str and len(name) <= 80:  # as `_decode` shares a record's name
                    row["name"] = intern(name)


class RecordStore:
    """Records added stage by stage (`add`, `extend`), then `finish`ed into their final order."""

    def __init__(self, spill_dir: Path | None, limit: int | None = None) -> None:
        self.limit = limit_from_env() if limit is None else limit
        self.spill_dir = spill_dir
        self._held: tuple[list[Record], list[Record], list[Record]] = ([], [], [])
        self._file: Any = None  # the spill file once spilled
        self._kinds: dict[str, int] = {}
        self._paths: dict[str, int] = {}
        self.kind_no = array("B")
        self.path_no = array("I")
        self.line = array("q")
        self.source = array("B")
        self.offset = array("Q")
        self.length = array("I")
        self._ids = bytearray()
        self._id_end = array("Q")
        self._pos = 0

    @property
    def spilled(self) -> bool:
        """Whether the records are on disk (more than `limit` were added)."""
        return self._file is not None

    def __len__(self) -> int:
        return len(self.offset) if self.spilled else sum(len(held) for held in self._held)

    def extend(self, records: Iterable[Record], source: int = CODE) -> None:
        """Add records from `source` (`CODE`, `DOCS` or `OTHERS`; the order of equal sort keys)."""
        if not self.spilled:
            self._held[source].extend(records)
            if len(self) > self.limit:
                self._spill_held()
            return
        for rec in records:
            self._write(rec, source)

    def add(self, record: Record, source: int = CODE) -> None:
        """Add one record (see `extend`)."""
        self.extend((record,), source)

    def _spill_held(self) -> None:
        if self.spill_dir is not None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
        # Beside the outputs, unlinked at once: /tmp may be RAM-backed, and a killed build leaves nothing.
        self._file = tempfile.TemporaryFile(dir=self.spill_dir)
        held, self._held = self._held, ([], [], [])
        for source, records in enumerate(held):
            for rec in records:
                self._write(rec, source)
            records.clear()

    def _write(self, rec: Record, source: int) -> None:
        line = dumps_json_bytes(rec.to_json()) + b"\n"
        self._file.write(line)
        self.kind_no.append(self._kinds.setdefault(rec.kind, len(self._kinds)))
        self.path_no.append(self._paths.setdefault(rec.path, len(self._paths)))
        self.line.append(rec.start_line)
        self.source.append(source)
        self.offset.append(self._pos)
        self.length.append(len(line))
        self._ids += rec.id.encode("utf-8", "surrogatepass")
        self._id_end.append(len(self._ids))
        self._pos += len(line)

    def iter_added(self, sources: Iterable[int]) -> Iterator[Record]:
        """The records of `sources`, source by source, each in the order added (not sorted)."""
        if not self.spilled:
            for source in sources:
                yield from self._held[source]
            return
        self._file.flush()
        for source in sources:
            for i in range(len(self.offset)):
                if self.source[i] == source:
                    yield self.decoded(i)

    def finish(self) -> Sequence[Record]:
        """Every record in `records.sort_key` order with unique ids (as `records.dedupe_ids` makes them):
        a list below the limit, else a `RecordsView` over the spill file."""
        if not self.spilled:
            held, self._held = self._held, ([], [], [])
            return dedupe_ids([*held[0], *held[1], *held[2]])
        self._file.flush()
        kind_rank = _ranks(self._kinds)
        path_rank = _ranks(self._paths)
        ids, ends = self._ids, self._id_end
        keys = []
        for i in range(len(self.offset)):
            start = ends[i - 1] if i else 0
            head = _HEAD.pack(
                kind_rank[self.kind_no[i]], path_rank[self.path_no[i]], self.line[i] + (1 << 63)
            )
            # The id ends in NUL (never in an id) so that a shorter id sorts first, as in `sort_key`.
            keys.append(head + ids[start : ends[i]] + b"\0" + _TAIL.pack(self.source[i], i))
        keys.sort()
        order = array("I", (int.from_bytes(key[-4:], "big") for key in keys))
        del keys
        kinds = sorted(self._kinds, key=self._kinds.__getitem__)
        bounds: dict[str, tuple[int, int]] = {}
        for at, i in enumerate(order):
            kind = kinds[self.kind_no[i]]
            lo, _ = bounds.get(kind, (at, at))
            bounds[kind] = (lo, at + 1)
        view = RecordsView(self, order, _renames(order, ids, ends), bounds)
        self._ids, self._id_end = bytearray(), array("Q")
        return view

    def decoded(self, i: int) -> Record:
        """The `i`-th record added, decoded (spilled stores only). A huge line is read as text (the
        stdlib parses text), its bytes let go before it is parsed: not both at the parse's peak
        (~50 MB each for the first commit of a 100,000-file repository)."""
        length = self.length[i]
        if length < _BIG_LINE:
            return _decode(self.read(i))
        return _decode(os.pread(self._file.fileno(), length, self.offset[i]).decode("utf-8", "surrogatepass"))

    def read(self, i: int) -> bytes:
        """The JSON line of the `i`-th record added (spilled stores only)."""
        return os.pread(self._file.fileno(), self.length[i], self.offset[i])

    def close(self) -> None:
        """Drop the records (the spill file is removed)."""
        if self._file is not None:
            self._file.close()
        self._held = ([], [], [])


def _ranks(numbering: dict[str, int]) -> list[int]:
    """For each number given a string, the rank of that string in sorted order."""
    ranks = [0] * len(numbering)
    for rank, value in enumerate(sorted(numbering)):
        ranks[numbering[value]] = rank
    return ranks


def _renames(order: array[int], ids: bytearray, ends: array[int]) -> dict[int, str]:
    """Sorted position -> unique id, for the records whose id repeats one before them (`dedupe_ids`)."""

    def id_of(i: int) -> bytes:
        return bytes(ids[ends[i - 1] if i else 0 : ends[i]])

    every = sorted(id_of(i) for i in range(len(ends)))
    repeated = {a for a, b in zip(every, every[1:]) if a == b}
    del every
    seen: dict[bytes, int] = {}
    out: dict[int, str] = {}
    for at, i in enumerate(order):
        one = id_of(i)
        if one in repeated:
            n = seen.get(one, 0)
            seen[one] = n + 1
            if n:
                out[at] = f"{one.decode('utf-8', 'surrogatepass')}~{n}"
    return out


class RecordsView(Sequence[Record]):
    """Spilled records in sort order (`RecordStore.finish`), decoded on every read.

    A view holds sorted positions (`at`: a range, or an array of some positions kept in order);
    slices, `of_kind` and `keep` are views too.
    """

    def __init__(
        self,
        store: RecordStore,
        order: array[int],
        renames: dict[int, str],
        bounds: dict[str, tuple[int, int]],
        at: Sequence[int] | None = None,
    ) -> None:
        self.store, self.order, self.renames, self.bounds = store, order, renames, bounds
        self.at: Sequence[int] = range(len(order)) if at is None else at

    def _view(self, at: Sequence[int]) -> RecordsView:
        return RecordsView(self.store, self.order, self.renames, self.bounds, at)

    def __len__(self) -> int:
        return len(self.at)

    @overload
    def __getitem__(self, at: int) -> Record: ...
    @overload
    def __getitem__(self, at: slice) -> RecordsView: ...
    def __getitem__(self, at: int | slice) -> Record | RecordsView:
        if isinstance(at, slice):
            return self._view(self.at[at])
        return self._record(self.at[at])

    def _record(self, pos: int) -> Record:
        rec = self.store.decoded(self.order[pos])
        new_id = self.renames.get(pos)
        if new_id is not None:
            rec = Record(new_id, rec.kind, rec.path, rec.start_line, rec.end_line, rec.commit, rec.time,
                         rec.name, rec.text, rec.meta)  # fmt: skip
        return rec

    def __iter__(self) -> Iterator[Record]:
        for pos in self.at:
            yield self._record(pos)

    def line(self, at: int) -> bytes:
        """The `records.jsonl` line (with its newline) of the record at `at`, without decoding it."""
        pos = self.at[at]
        if pos in self.renames:
            return dumps_json_bytes(self._record(pos).to_json()) + b"\n"
        return self.store.read(self.order[pos])

    def of_kind(self, kind: str) -> RecordsView:
        """The records of `kind` (on the whole view: a contiguous run, the order is by kind first)."""
        lo, hi = self.bounds.get(kind, (0, 0))
        if isinstance(self.at, range) and self.at.step == 1:
            lo, hi = max(lo, self.at.start), min(hi, self.at.stop)
            return self._view(range(lo, max(lo, hi)))
        return self._view(array("I", (pos for pos in self.at if lo <= pos < hi)))

    def keep(self, wanted: Callable[[Record], bool]) -> RecordsView:
        """The records for which `wanted` is true, in order (one read of the view)."""
        return self._view(array("I", (pos for pos in self.at if wanted(self._record(pos)))))

    def positions(self) -> Sequence[int]:
        """The sorted positions of this view's records (`record_at` reads one)."""
        return self.at

    def record_at(self, pos: int) -> Record:
        """The record at sorted position `pos` of the whole store."""
        return self._record(pos)


def keep(records: Sequence[Record], wanted: Callable[[Record], bool]) -> Sequence[Record]:
    """The records for which `wanted` is true, in order: a list, or a view of a `RecordsView`."""
    if isinstance(records, RecordsView):
        return records.keep(wanted)
    return [rec for rec in records if wanted(rec)]


def of_kinds(records: Sequence[Record], kinds: Iterable[str]) -> Sequence[Record]:
    """The records of `kinds` in their order: a list (in memory) or a view (`RecordsView`)."""
    wanted = set(kinds)
    if not isinstance(records, RecordsView):
        return [rec for rec in records if rec.kind in wanted]
    runs = [records.of_kind(kind).at for kind in sorted(wanted)]
    return records._view(array("I", (pos for run in runs for pos in run)))
