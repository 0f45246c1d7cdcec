"""The Record schema's helpers."""

from __future__ import annotations

import dataclasses

from ctxeng.core.records import Record


def test_dated_is_replace_of_commit_and_time() -> None:
    rec = Record("sym-1", "symbol", "a/b.py", 3, 9, "c0ffee", 100, "f", "def f(): ...", {"kind": "function"})
    dated = rec.dated("beef", 200)
    assert dated == dataclasses.replace(rec, commit="beef", time=200)
    assert dated.meta is rec.meta  # shared, as replace shares it
