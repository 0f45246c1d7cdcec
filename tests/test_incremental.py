"""Incremental builds: a build with nothing changed stops early; any changed input rebuilds."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo


def _generation(root: Path) -> str:
    """The generation the outputs are read from: a rebuild publishes a new one."""
    return os.readlink(root / ".ctxeng/current")


def test_second_build_with_nothing_changed_stops_early(sample_repo: GitRepo) -> None:
    first = build(sample_repo.path).manifest
    gen = _generation(sample_repo.path)
    again = build(sample_repo.path).manifest  # the published one: it also lists the outputs' checksums
    assert {k: v for k, v in again.items() if k != "outputs"} == first and _generation(
        sample_repo.path
    ) == gen
    build(sample_repo.path, force=True)
    assert _generation(sample_repo.path) != gen


def test_unstaged_edits_do_not_rebuild_but_staged_ones_do(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    gen = _generation(sample_repo.path)
    sample_repo.write("kvstore/cli.py", "x = 1\n")  # a build reads the index, not the work tree
    build(sample_repo.path)
    assert _generation(sample_repo.path) == gen
    sample_repo.git("add", "kvstore/cli.py")
    build(sample_repo.path)
    assert _generation(sample_repo.path) != gen


def test_changed_inputs_rebuild(sample_repo: GitRepo) -> None:
    root = sample_repo.path
    build(root)
    changes = [
        lambda: sample_repo.commit("Add a helper", {"kvstore/util.py": "def helper():\n    return 1\n"}),
        lambda: (root / ".ctxeng.toml").write_text("[dataset]\neval_share = 0.2\n"),
        lambda: (root / ".ctxengignore").write_text("docs/\n"),
        lambda: (root / "CLAUDE.md").unlink(),
        lambda: next((root / ".claude/skills").iterdir()).joinpath("SKILL.md").write_text("edited\n"),
        lambda: (root / ".ctxeng/dataset/eval.jsonl").unlink(),
    ]
    for n, change in enumerate(changes):
        gen = _generation(root)
        change()
        build(root)
        assert _generation(root) != gen, n
    assert (root / "CLAUDE.md").is_file() and (root / ".ctxeng/dataset/eval.jsonl").is_file()
    skill = next((root / ".claude/skills").iterdir()) / "SKILL.md"
    assert skill.read_text() != "edited\n"


def test_dataset_caches_give_the_same_rows(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Cold caches, warm caches and no caches give the same rows and statistics."""
    from ctxeng.core.config import load_config
    from ctxeng.core.records import Record
    from ctxeng.dataset import build_dataset

    build(sample_repo.path)
    rows = (sample_repo.path / ".ctxeng/records.jsonl").read_text().splitlines()
    records = [Record.from_json(json.loads(line)) for line in rows]
    config = load_config(sample_repo.path).dataset
    plain = build_dataset(records, config, "kvstore")
    cold = build_dataset(records, config, "kvstore", tmp_path / "out")
    assert (tmp_path / "out/cache/dataset/outcomes.idx").is_file()
    warm = build_dataset(records, config, "kvstore", tmp_path / "out")
    for result in (cold, warm):
        assert (result.train, result.eval, result.stats) == (plain.train, plain.eval, plain.stats)
    # One record changed: only its groups are redone, and the rows still equal an uncached run.
    changed = [r if r.kind != "symbol" or r.path != records[0].path else r.dated("", 0) for r in records]
    again = build_dataset(changed, config, "kvstore", tmp_path / "out")
    fresh = build_dataset(changed, config, "kvstore")
    assert (again.train, again.eval, again.stats) == (fresh.train, fresh.eval, fresh.stats)
