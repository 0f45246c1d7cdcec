"""Damaged `.ctxeng/` outputs: detected by checksums, one error line plus a hint, rebuilt by build/refresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.core.generation import verify
from ctxeng.core.workdir import generation, workdir
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[1]


def ctxeng(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ctxeng", *args], cwd=cwd, capture_output=True, text=True)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *wanted: str) -> None:
    """Exit 1, no traceback, exactly `error: ...` and `hint: ...` on stderr."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), proc.stderr
    for text in wanted:
        assert text in lines[0], lines[0]


def status_states(root: Path) -> set[str]:
    proc = ctxeng("status", "--json", cwd=root)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return {o["state"] for o in json.loads(proc.stdout)["outputs"] if not o["name"].startswith("adapter:")}


@pytest.fixture
def built(sample_repo: GitRepo) -> Path:
    build(sample_repo.path)
    return sample_repo.path


def test_manifest_lists_a_checksum_for_every_output(built: Path) -> None:
    gen = generation(built)
    outputs = json.loads((gen / "manifest.json").read_text())["outputs"]
    files = sorted(p.relative_to(gen).as_posix() for p in gen.rglob("*") if p.is_file())
    assert sorted(outputs) == [f for f in files if f != "manifest.json"]
    assert all(
        len(o["sha256"]) == 64 and o["size"] == (gen / rel).stat().st_size for rel, o in outputs.items()
    )


def test_torn_records_are_corrupt_for_status_refused_by_pack_and_rebuilt_by_refresh(built: Path) -> None:
    records = generation(built) / "records.jsonl"
    size = records.stat().st_size
    with open(records, "r+b") as fh:  # what a crash mid-write of an in-place writer leaves
        fh.truncate(size // 2)
    assert status_states(built) == {"corrupt"}
    text = ctxeng("status", cwd=built)
    assert "corrupt" in text.stdout and "records.jsonl" in text.stdout
    assert_one_line_error(ctxeng("pack", str(built)), "corrupt", "records.jsonl")
    refreshed = ctxeng("refresh", str(built), cwd=built)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "up to date" not in refreshed.stdout + refreshed.stderr
    assert verify(generation(built)) == {}
    assert status_states(built) == {"fresh"}


def test_a_flipped_byte_is_found_by_the_checksum(built: Path) -> None:
    train = generation(built) / "dataset" / "train.jsonl"
    data = bytearray(train.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only the sha256 tells
    train.write_bytes(bytes(data))
    assert "dataset/train.jsonl does not match its checksum" in verify(generation(built)).values()
    assert status_states(built) == {"corrupt"}
    assert ctxeng("build", "-q", str(built), cwd=built).returncode == 0
    assert status_states(built) == {"fresh"}


def test_manifest_that_is_not_an_object(built: Path) -> None:
    (generation(built) / "manifest.json").write_text("[1]")
    assert status_states(built) == {"broken"}
    assert_one_line_error(ctxeng("pack", str(built)), "manifest.json")
    proc = ctxeng("refresh", str(built), cwd=built)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert status_states(built) == {"fresh"}


def test_deeply_nested_index(built: Path) -> None:
    (generation(built) / "index.json").write_text("[" * 100_000 + "]" * 100_000)
    assert_one_line_error(ctxeng("context", "store", "--root", str(built), cwd=built), "index.json")
    hook = subprocess.run(
        [sys.executable, "-m", "ctxeng", "context", "--hook"], cwd=built, capture_output=True, text=True,
        input=json.dumps({"hook_event_name": "UserPromptSubmit", "prompt": "store", "cwd": str(built)}),
    )  # fmt: skip
    assert hook.returncode == 0 and "Traceback" not in hook.stderr
    assert status_states(built) == {"corrupt"}
    proc = ctxeng("pack", str(built))  # pack renders the index again
    assert proc.returncode == 0, proc.stderr
    assert verify(generation(built)) == {}


def test_lock_that_is_a_directory(built: Path) -> None:
    lock = workdir(built) / "lock"
    lock.unlink()
    lock.mkdir()
    for args in (["pack", str(built)], ["build", "-q", str(built)]):
        assert_one_line_error(ctxeng(*args, cwd=built), "lock", "is a directory")


def test_workdir_that_is_a_file(git_repo: GitRepo) -> None:
    git_repo.commit("Initial", {"a.py": "def f():\n    return 1\n"})
    (git_repo.path / ".ctxeng").write_text("not a folder")
    for args in (["build", "-q", "."], ["refresh", "."], ["pack", "."]):
        assert_one_line_error(ctxeng(*args, cwd=git_repo.path), ".ctxeng", "not a directory")
    proc = ctxeng("status", cwd=git_repo.path)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr


def test_status_is_fresh_and_refresh_is_a_no_op_on_whole_outputs(built: Path) -> None:
    assert status_states(built) == {"fresh"}
    proc = ctxeng("refresh", str(built), cwd=built)
    assert proc.returncode == 0
    assert os.readlink(workdir(built) / "current") == generation(built).name
