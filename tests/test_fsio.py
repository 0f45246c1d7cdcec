"""Atomic writes, staged publication and the lock: a failure never leaves partial output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.fsio import Lock, LockBusy, Staging, atomic_write_text, atomic_writer, read_jsonl, write_jsonl


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


def test_lock_excludes_a_second_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from ctxeng.fsio import Lock\n"
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
