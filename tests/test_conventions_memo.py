"""Mined conventions remembered by their sources: a hit equals mining again; a changed source mines again."""

from __future__ import annotations

import json
from pathlib import Path

from ctxeng.core.config import load_config
from ctxeng.core.repo import open_repo
from ctxeng.pack.conventions import Conventions, mine_conventions
from ctxeng.pack.conventions_memo import MEMO_FILE, conventions_cached
from ctxeng.pack.publish import read_project_files
from tests.gitrepo import GitRepo


def _both(repo: GitRepo, out: Path) -> tuple[Conventions, Conventions]:
    view = open_repo(repo.path)
    index, config = view.index(), load_config(view.root)
    tracked = sorted(e.path for e in index)
    fresh = mine_conventions(read_project_files(view, index, config), tracked)
    return conventions_cached(view, index, config, tracked, out), fresh


def test_remembered_conventions_equal_mined_ones(sample_repo: GitRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cached, fresh = _both(sample_repo, out)
    assert cached == fresh and fresh.commands
    again, fresh = _both(sample_repo, out)
    assert again == fresh
    # A hit is served from the table (shown by a marked entry), without mining.
    table = json.loads((out / MEMO_FILE).read_text())
    (entry,) = table["entries"].values()
    entry["tools"] = ["marked"]
    (out / MEMO_FILE).write_text(json.dumps(table))
    marked, _ = _both(sample_repo, out)
    assert marked.tools == ["marked"]
    # Another CI workflow is another source: mined again, the stale entry replaced.
    sample_repo.commit(
        "Add CI", {".github/workflows/ci.yml": "jobs:\n  test:\n    steps:\n      - run: make lint\n"}
    )
    cached, fresh = _both(sample_repo, out)
    assert cached == fresh and "marked" not in fresh.tools
    (out / MEMO_FILE).write_text("{torn")
    cached, fresh = _both(sample_repo, out)
    assert cached == fresh
