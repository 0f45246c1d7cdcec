"""The Record schema's helpers."""

from __future__ import annotations

import dataclasses

import pytest

from ctxeng.core.records import Record, record_from_row


def test_dated_is_replace_of_commit_and_time() -> None:
    rec = Record("sym-1", "symbol", "a/b.py", 3, 9, "c0ffee", 100, "f", "def f(): ...", {"kind": "function"})
    dated = rec.dated("beef", 200)
    assert dated == dataclasses.replace(rec, commit="beef", time=200)
    assert dated.meta is rec.meta  # shared, as replace shares it


def test_record_from_row_is_the_record_of_its_fields() -> None:
    row = (
        "sym-1",
        "symbol",
        "pkg/a.py",
        3,
        9,
        "c" * 40,
        1_700_000_000,
        "run",
        "def run(): ...",
        {"kind": "function"},
    )
    rec = record_from_row(row)
    assert rec == Record(*row) and rec.to_json() == Record(*row).to_json()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        record_from_row(row[:9])  # type: ignore[arg-type]
