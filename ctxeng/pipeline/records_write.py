"""Writing `records.jsonl`, reusing the previous generation's bytes for the files whose records are unchanged.

Encoding sqlalchemy's 62k records (75 MB) costs most of a second, and after a one-file commit
almost all of them are what the last build wrote. A file's `file`, `symbol` and `doc` records
are a function of its extraction cache key (path, blob, settings and extractor code: see
`ctxeng.core.cache`) plus what later stages set on them: dating (commit, time) and the ids made
unique. So each (kind, path) run of records gets a fingerprint of exactly those, and
`state/records-spans.json` maps every fingerprint of a generation to the byte span of its run in
that generation's `records.jsonl`. The next build copies the spans whose fingerprint it finds
and encodes the rest: the file is byte for byte what encoding everything writes.

The table names the records file it describes (size and modification time): a records file
written since, or a table that is torn or inconsistent with it, is not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from ctxeng.core.fsio import append_range, dumps_json, dumps_json_bytes
from ctxeng.core.records import Record

SPANS_FILE = "state/records-spans.json"
SPANS_VERSION = 1
#: The kinds whose records come from one file's extraction (see `ctxeng.extract.files`).
PER_FILE_KINDS = frozenset({"file", "symbol", "doc"})


def fingerprint(kind: str, key: str, run: list[Record]) -> str:
    """What fixes the bytes of a run of `kind` records of one file whose extraction cache key is `key`."""
    digest = hashlib.sha1(f"{SPANS_VERSION}\0{kind}\0{key}".encode())
    # One update of the records' joined marks (the bytes that one update per record hashed).
    digest.update(
        "".join([f"\0{rec.id}\x1f{rec.commit}\x1f{rec.time}" for rec in run]).encode("utf-8", "surrogatepass")
    )
    return digest.hexdigest()


def load_spans(base: Path) -> tuple[dict[str, tuple[int, int]], Path | None]:
    """The fingerprint → (offset, length) table of the generation in `base`, and its records file;
    ({}, None) when it has none, it is unreadable, or the records file changed since."""
    records = base / "records.jsonl"
    try:
        data = json.loads((base / SPANS_FILE).read_text(encoding="utf-8"))
        st = os.stat(records)
        if data["version"] != SPANS_VERSION or data["records"] != [st.st_size, st.st_mtime_ns]:
            return {}, None
        spans = {str(k): (int(off), int(n)) for k, (off, n) in data["spans"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}, None
    if any(off < 0 or n <= 0 or off + n > st.st_size for off, n in spans.values()):
        return {}, None
    return spans, records


def write_records(
    path: Path,
    records: Sequence[Record],
    keys: Mapping[str, str],
    record_keys: Mapping[str, str],
    base: Path | None,
) -> dict[str, int]:
    """Write `records` (already in their final order) to `path` as JSONL, copying from the generation in
    `base` every run whose fingerprint it recorded: runs of per-file records whose path has a key in
    `keys` (the extraction cache's, `FileRecords.keys`), and single records whose id has a key in
    `record_keys` (commits: `HistoryResult.keys`); write the spans table beside them
    (`SPANS_FILE` relative to `path`'s folder). `records` is read once, in order; a spilled store's
    records (`RecordsView`) are copied as their stored JSON lines, not encoded again. Returns counts:
    records and bytes reused and encoded."""
    from ctxeng.core.record_store import RecordsView

    lines = records.line if isinstance(records, RecordsView) else None
    old, old_path = load_spans(base) if base is not None else ({}, None)
    spans: dict[str, list[int]] = {}
    stats = {"records_reused": 0, "records_encoded": 0, "bytes_reused": 0}

    def encode(at: int, rec: Record) -> bytes:
        return lines(at) if lines is not None else dumps_json_bytes(rec.to_json()) + b"\n"

    with open(path, "wb") as out, contextlib.ExitStack() as stack:
        src = stack.enter_context(open(old_path, "rb")) if old_path else None
        view = stack.enter_context(contextlib.closing(_OldBytes(src))) if src is not None else None
        pos = 0
        # Runs whose old spans follow each other in the old file: copied together, in the kernel.
        pending: list[tuple[str, int, list[Record], int]] = []  # (mark, index of the first, run, length)
        pending_at = pending_end = 0  # where the pending spans start and end in the old file

        def flush() -> None:
            nonlocal pos
            if not pending:
                return
            whole = view is not None and _whole_lines(view, pending_at, [n for *_, n in pending])
            for mark, at, run, n in pending:
                if not whole:
                    chunk = b"".join(encode(at + k, r) for k, r in enumerate(run))
                    out.write(chunk)
                    n = len(chunk)
                    stats["records_encoded"] += len(run)
                else:
                    stats["records_reused"] += len(run)
                    stats["bytes_reused"] += n
                spans[mark] = [pos, n]
                pos += n
            if whole:
                assert src is not None and view is not None
                append_range(out, src, pending_at, pending_end - pending_at, "records file")
            pending.clear()

        for at, run in _runs(records, keys):
            rec = run[0]
            key = keys.get(rec.path) if rec.kind in PER_FILE_KINDS else record_keys.get(rec.id)
            mark = fingerprint(rec.kind, key, run) if key is not None else None
            span = old.get(mark) if mark is not None and view is not None else None
            if span is not None and mark is not None:
                if pending and pending_end != span[0]:
                    flush()
                if not pending:
                    pending_at = span[0]
                pending_end = span[0] + span[1]
                pending.append((mark, at, run, span[1]))
                continue
            flush()
            if mark is None:
                data = encode(at, rec)
                out.write(data)
                pos += len(data)
                stats["records_encoded"] += 1
                continue
            data = b"".join(encode(at + k, r) for k, r in enumerate(run))
            stats["records_encoded"] += len(run)
            out.write(data)
            spans[mark] = [pos, len(data)]
            pos += len(data)
        flush()
    st = os.stat(path)
    table = {
        "version": SPANS_VERSION,
        "records": [st.st_size, st.st_mtime_ns],
        "spans": dict(sorted(spans.items())),
    }
    target = path.parent / SPANS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dumps_json(table) + "\n", encoding="utf-8")
    return stats


def _runs(records: Iterable[Record], keys: Mapping[str, str]) -> Iterator[tuple[int, list[Record]]]:
    """(index of the first, records) of each run: consecutive per-file records of one kind and path
    whose path has a key, else one record alone."""
    run: list[Record] = []
    start = 0
    for at, rec in enumerate(records):
        if run and (
            run[0].kind not in PER_FILE_KINDS
            or rec.kind != run[0].kind
            or rec.path != run[0].path
            or run[0].path not in keys
        ):
            yield start, run
            run = []
        if not run:
            start = at
        run.append(rec)
    if run:
        yield start, run


class _OldBytes:
    """Single bytes of the old records file, read through a read-only mapping of one window at a time:
    checking a span's boundary bytes passes no span through Python, and a mapping of the whole file
    would count towards resident memory as its pages are touched (a 100,000-file records file is ~1 GB)."""

    WINDOW = 1 << 24  # a multiple of every platform's mmap.ALLOCATIONGRANULARITY

    def __init__(self, src: IO[bytes]) -> None:
        self.fd = src.fileno()
        self.size = os.fstat(self.fd).st_size
        self._map: mmap.mmap | None = None
        self._base = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, at: int) -> int:
        """The byte at offset `at` (0 <= at < len)."""
        mapped = self._map
        if mapped is None or not self._base <= at < self._base + len(mapped):
            self.close()
            base = at - at % self.WINDOW
            try:
                mapped = self._map = mmap.mmap(
                    self.fd, min(self.WINDOW, self.size - base), access=mmap.ACCESS_READ, offset=base
                )
            except (OSError, ValueError):  # no mmap here: one read
                data = os.pread(self.fd, 1, at)
                return data[0] if data else -1
            self._base = base
        return mapped[at - self._base]

    def close(self) -> None:
        """Unmap the window."""
        if self._map is not None:
            self._map.close()
            self._map = None


def _whole_lines(view: _OldBytes, at: int, lengths: list[int]) -> bool:
    """Whether the spans of `lengths` bytes from `at` on, one after another, each hold whole lines: a span
    starts right after a newline and ends with one, so a misplaced table reads as misses (only the
    boundary bytes are read: ~75 MB of spans need not pass through Python)."""
    if at and view[at - 1] != 10:
        return False
    end = at
    for n in lengths:
        end += n
        if n <= 0 or end > len(view) or view[end - 1] != 10:
            return False
    return True
