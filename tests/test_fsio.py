"""Atomic writes, staged publication and the lock: a failure never leaves partial output."""

from __future__ import annotations

import enum
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxeng.core import fsio
from ctxeng.core.fsio import (
    Lock,
    LockBusy,
    Staging,
    atomic_write_text,
    atomic_writer,
    dumps_json,
    dumps_json_bytes,
    read_jsonl,
    write_jsonl,
)
from tests.extras import unavailable


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_failed_write_keeps_previous_content(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "good")
    with pytest.raises(KeyboardInterrupt), atomic_writer(target) as fh:
        fh.write("half")
        raise KeyboardInterrupt
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_jsonl_is_deterministic(tmp_path: Path) -> None:
    rows = [{"b": 1, "a": "é"}, {"z": [3, 2], "a": None}]
    write_jsonl(tmp_path / "x.jsonl", rows)
    assert (tmp_path / "x.jsonl").read_text(encoding="utf-8") == '{"a":"é","b":1}\n{"a":null,"z":[3,2]}\n'
    assert list(read_jsonl(tmp_path / "x.jsonl")) == [{"a": "é", "b": 1}, {"a": None, "z": [3, 2]}]


def _stdlib(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _same_as_stdlib(obj: Any) -> None:
    expected = _stdlib(obj)
    assert dumps_json(obj) == expected
    try:
        encoded = expected.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: as writing the text to a UTF-8 file would
        with pytest.raises(UnicodeEncodeError):
            dumps_json_bytes(obj)
    else:
        assert dumps_json_bytes(obj) == encoded


_FLOATS = [
    0.0, -0.0, 0.1, 1.0, 1e-4, 1e-05, 1.5e-05, 1e-07, 2.5e-09, 1e-10, 5e-324, 1e15, 1e16, 1.5e16, 1e22,
    123456789012345.6, 1.7976931348623157e308, math.nan, math.inf, -math.inf, 1 / 3,
]  # fmt: skip
_NASTY_STRINGS = [
    "", "\x00\x01\x1f\x7f\x80", "\b\f\n\r\t\"\\/", "\u2028\u2029\ufeff\uffff", "\U0001f600\U00010000",
    "\udcff lone surrogate", "\ud83d", "nullable", "null", "e-5", "1e-05", "0.00001", "[REDACTED:x]",
]  # fmt: skip


@pytest.mark.parametrize("value", _FLOATS + _NASTY_STRINGS, ids=repr)
def test_dumps_json_equals_the_stdlib_on_nasty_scalars(value: Any) -> None:
    _same_as_stdlib(value)
    _same_as_stdlib({"k": [value, {"v": value}], value if isinstance(value, str) else "f": (value,)})


def test_dumps_json_equals_the_stdlib_where_orjson_refuses() -> None:
    class Text(str):
        pass

    class Number(enum.IntEnum):
        ONE = 1

    for value in (2**64, -(2**63) - 1, 2**63, {2: "a", 1: "b"}, {1.5: 3, 0.5: 1}, {False: 1, True: 2}, Counter(b=2, a=1),
                  OrderedDict(b=1, a=2), Text("x"), Number.ONE, {"x": Text("é")}, (1, "a"), [[[]]]):  # fmt: skip
        _same_as_stdlib(value)
    deep: Any = "leaf"
    for _ in range(300):  # deeper than orjson nests
        deep = [deep]
    _same_as_stdlib(deep)


def test_dumps_json_raises_what_the_stdlib_raises() -> None:
    for value in ({1, 2}, b"bytes", {"a": object()}, {(1, 2): 3}, {1: "a", "b": 2}):
        with pytest.raises(TypeError):
            _stdlib(value)
        with pytest.raises(TypeError):
            dumps_json(value)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps_json(loop)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(_JSON)
def test_dumps_json_equals_the_stdlib(value: Any) -> None:
    _same_as_stdlib(value)


def test_orjson_writes() -> None:
    # orjson is a core dependency: without it every JSON write silently takes the slow path
    assert (
        fsio._orjson_dumps() is not None
    )  # else an orjson release spells a probe differently: all goes slow


def test_dumps_json_without_orjson_is_the_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsio, "_orjson_dumps", lambda: None)
    for value in [*_FLOATS, *_NASTY_STRINGS, {"b": [1, None], "a": "é"}]:
        _same_as_stdlib(value)


def test_jsonl_lines_equal_dumps_json(tmp_path: Path) -> None:
    rows = [
        {"s": s, "f": f}
        for s, f in zip(_NASTY_STRINGS, _FLOATS)
        if not any("\ud800" <= c <= "\udfff" for c in s)
    ]
    write_jsonl(tmp_path / "x.jsonl", rows)
    expected = "".join(_stdlib(row) + "\n" for row in rows)
    assert (tmp_path / "x.jsonl").read_bytes() == expected.encode("utf-8")


def test_staging_publishes_all_files_and_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text("old")
    with Staging(tmp_path) as stage:
        stage.path("records.jsonl").write_text("new")
        stage.path("dataset/train.jsonl").write_text("t")
        stage.path("manifest.json").write_text("{}")
        moved = stage.publish()
    assert moved == ["dataset/train.jsonl", "records.jsonl", "manifest.json"]
    assert (tmp_path / "records.jsonl").read_text() == "new"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_unpublished_staging_leaves_outputs(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text("old")
    with pytest.raises(RuntimeError), Staging(tmp_path) as stage:
        stage.path("records.jsonl").write_text("new")
        raise RuntimeError("stage failed")
    assert (tmp_path / "records.jsonl").read_text() == "old"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_released_lock_is_free_while_a_forked_child_still_holds_its_descriptor(tmp_path: Path) -> None:
    if not hasattr(os, "fork"):
        unavailable("fork is POSIX-only")  # the case exists only where a stage can fork
    with Lock(tmp_path):
        pid = os.fork()
        if pid == 0:  # a child outliving the lock's holder with its copy of the descriptor open
            time.sleep(5)
            os._exit(0)
    try:
        with Lock(tmp_path, wait_seconds=0):
            pass
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_lock_excludes_a_second_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from ctxeng.core.fsio import Lock\n"
         f"with Lock(Path({str(tmp_path)!r})):\n    print('locked', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockBusy, match=f"pid {holder.pid}"), Lock(tmp_path, wait_seconds=0.2):
            pass
    finally:
        holder.kill()
        holder.wait()
    with Lock(tmp_path):  # released when its holder died
        assert (tmp_path / "lock").read_text().strip() == str(os.getpid())
