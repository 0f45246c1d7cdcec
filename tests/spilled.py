"""Spilling one record to disk and reading it back under tracemalloc (the memory tests of huge records)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from ctxeng.core.record_store import RecordStore, RecordsView
from ctxeng.core.records import Record


def read_back_traced(tmp_path: Path, rec: Record) -> tuple[Record, bytes, int, int]:
    """Spill `rec` alone (a store with no room in memory) and read it back: the record read, its line
    on disk (asserted over 1 MiB: the size the huge-line path takes), and tracemalloc's held and peak
    bytes during the read."""
    store = RecordStore(tmp_path, limit=0)
    try:
        store.add(rec)
        view = store.finish()
        assert isinstance(view, RecordsView)
        line = view.line(0)
        assert len(line) > 1 << 20
        tracemalloc.start()
        try:
            back = view[0]
            held, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return back, line, held, peak
    finally:
        store.close()
