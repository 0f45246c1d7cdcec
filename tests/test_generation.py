"""Generations in a plain folder: staging, carry-over by hard links, checksums, the switch and clean-up."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ctxeng.core.fsio import Lock
from ctxeng.core.generation import Staging, generations, verify
from ctxeng.core.workdir import generation_dir


def _publish(out: Path, files: dict[str, str], carry: bool = True) -> Path:
    with Lock(out), Staging(out) as stage:
        for rel, text in files.items():
            stage.path(rel).write_text(text)
        stage.publish(carry=carry)
    return generation_dir(out)


def test_publish_switches_current_and_links_the_old_paths(tmp_path: Path) -> None:
    gen = _publish(
        tmp_path, {"records.jsonl": "r1\n", "manifest.json": '{"head": "a"}', "dataset/train.jsonl": "t\n"}
    )
    assert os.readlink(tmp_path / "current") == gen.name == "gen-1"
    assert (
        tmp_path / "records.jsonl"
    ).read_text() == "r1\n"  # .ctxeng/records.jsonl -> current/records.jsonl
    assert (tmp_path / "dataset" / "train.jsonl").read_text() == "t\n"
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["head"] == "a" and sorted(manifest["outputs"]) == ["dataset/train.jsonl", "records.jsonl"]
    assert verify(gen) == {}


def test_partial_publish_carries_the_rest_as_hard_links(tmp_path: Path) -> None:
    first = _publish(tmp_path, {"records.jsonl": "r1\n", "index.json": "{}", "manifest.json": "{}"})
    second = _publish(tmp_path, {"index.json": '{"v": 2}'})
    assert second != first and generation_dir(tmp_path) == second
    assert os.stat(second / "records.jsonl").st_ino == os.stat(first / "records.jsonl").st_ino
    assert (first / "index.json").read_text() == "{}"  # the previous generation is untouched
    assert verify(second) == {} and verify(first) == {}
    third = _publish(tmp_path, {"records.jsonl": "r3\n", "manifest.json": "{}"}, carry=False)
    assert not (third / "index.json").exists()
    assert [g.name for g in generations(tmp_path)] == [second.name, third.name]  # current + the one replaced


def test_verify_names_each_damaged_file(tmp_path: Path) -> None:
    gen = _publish(
        tmp_path, {"records.jsonl": "abcdef\n", "index.json": "{}", "pack.json": "{}", "manifest.json": "{}"}
    )
    (gen / "records.jsonl").write_text("abc")
    (gen / "index.json").write_text("[]")  # same size, other bytes: found by the sha256
    (gen / "pack.json").unlink()
    assert verify(gen) == {
        "index.json": "index.json does not match its checksum",
        "pack.json": "pack.json is missing",
        "records.jsonl": "records.jsonl has 3 bytes, not 7",
    }
    (gen / "manifest.json").write_text("[1]")
    assert verify(gen) == {"manifest.json": "manifest.json is not a JSON object"}


def test_a_locked_run_removes_what_killed_runs_left(tmp_path: Path) -> None:
    _publish(tmp_path, {"records.jsonl": "r\n", "manifest.json": "{}"})
    (tmp_path / "tmp" / "stage-dead").mkdir(parents=True)
    (tmp_path / "tmp" / "stage-dead" / "records.jsonl").write_text("x" * 1000)
    (tmp_path / "gen-9").mkdir()  # renamed but never made current
    os.symlink("gen-9", tmp_path / ".current.123.tmp")
    with Lock(tmp_path), Staging(tmp_path) as stage:
        assert [p.name for p in (tmp_path / "tmp").iterdir()] == [stage.dir.name]
        assert [g.name for g in generations(tmp_path)] == ["gen-1"]
        assert not (tmp_path / ".current.123.tmp").is_symlink()


def test_stale_generations_are_deleted_beside_the_run_and_gone_when_it_publishes(tmp_path: Path) -> None:
    for n in range(3):
        _publish(tmp_path, {"records.jsonl": f"r{n}\n" * 1000, "manifest.json": "{}"})
    assert [g.name for g in generations(tmp_path)] == ["gen-2", "gen-3"]  # the base stays one more run
    (tmp_path / ".stale-gen-7").mkdir()  # renamed by a run killed before its thread deleted it
    (tmp_path / ".stale-gen-7" / "records.jsonl").write_text("x")
    with Lock(tmp_path), Staging(tmp_path) as stage:
        # Out of the way at once (the next generation's number and readers never see them) ...
        assert [g.name for g in generations(tmp_path)] == ["gen-3"]
        stage.path("manifest.json").write_text("{}")
        stage.publish()
        # ... and deleted once the run publishes (or discards) its staging.
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".stale-")) == []
    assert [g.name for g in generations(tmp_path)] == ["gen-3", "gen-4"]
    with Lock(tmp_path), Staging(tmp_path) as stage:
        stage.discard()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".stale-", "gen-"))] == ["gen-4"]


def test_flat_layout_of_an_older_ctxeng_is_carried_into_the_first_generation(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text("old records\n")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "head").write_text("abc\n")
    (tmp_path / "manifest.json").write_text('{"head": "abc"}')
    gen = _publish(tmp_path, {"index.json": "{}"})
    assert (gen / "records.jsonl").read_text() == "old records\n" and (gen / "state" / "head").is_file()
    assert (tmp_path / "records.jsonl").is_symlink() and (tmp_path / "state").is_symlink()
    assert json.loads((gen / "manifest.json").read_text())["head"] == "abc"
    assert verify(gen) == {}


def test_an_early_seal_is_used_only_while_the_file_is_as_it_was(tmp_path: Path) -> None:
    with Lock(tmp_path), Staging(tmp_path) as stage:
        stage.path("records.jsonl").write_text("r1\n")
        stage.path("dataset/train.jsonl").write_text("t1\n")
        stage.seal_early("records.jsonl")
        stage.seal_early("dataset/train.jsonl")
        os.utime(stage.dir / "records.jsonl", ns=(1, 1))  # a stale early seal for a file written again
        (stage.dir / "records.jsonl").write_text("r2-rewritten\n")
        stage.path("manifest.json").write_text("{}")
        stage.publish()
    gen = generation_dir(tmp_path)
    outputs = json.loads((gen / "manifest.json").read_text())["outputs"]
    assert outputs["records.jsonl"]["size"] == len("r2-rewritten\n")
    assert outputs["dataset/train.jsonl"]["size"] == len("t1\n")
    assert verify(gen, full=True) == {}
