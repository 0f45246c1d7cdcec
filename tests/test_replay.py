"""`ctxeng replay`: state at the parent only, touched definitions, scoring, the report and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.core.config import load_config
from ctxeng.core.repo import open_repo
from ctxeng.pack.facts import facts_from_records
from ctxeng.replay.run import replay
from ctxeng.replay.score import score, sections
from ctxeng.replay.state import Replayer
from ctxeng.replay.touched import Touched, changed_lines, touched_definitions
from tests.gitrepo import GitRepo

CORE = '''"""Core of the tiny package."""


def alpha(x):
    """Double x."""
    return x * 2


def beta(y):
    """Add one to y."""
    z = y + 1
    return z


class Gamma:
    """Runs things."""

    def run(self, n):
        """Run n times."""
        total = 0
        for _ in range(n):
            total += alpha(1)
        return total
'''


@pytest.fixture
def replayed(git_repo: GitRepo) -> tuple[GitRepo, str, str]:
    """Three commits; the last edits a line of `beta`, inserts a line inside `Gamma.run`, adds a new
    function `delta` after the class and a new file (neither existed at the parent, so neither counts)."""
    git_repo.commit("Add util", {"pkg/util.py": "def helper():\n    return 1\n", "README.md": "# tiny\n"})
    parent = git_repo.commit("Add core", {"pkg/core.py": CORE})
    changed = (
        CORE.replace("    z = y + 1\n", "    z = y + 2\n").replace(
            "            total += alpha(1)\n", "            total += alpha(1)\n            total -= 0\n"
        )
        + "\n\ndef delta():\n    return 4\n"
    )
    sha = git_repo.commit(
        "Fix beta off by one and run totals", {"pkg/core.py": changed, "pkg/new.py": "X = 1\n"}
    )
    return git_repo, parent, sha


def test_touched_definitions_are_the_innermost_at_the_parent(replayed: tuple[GitRepo, str, str]) -> None:
    repo, parent, sha = replayed
    view = open_repo(repo.path)
    snap = Replayer(view, load_config(view.root), None).snapshot(parent)
    facts = facts_from_records(view.name, snap.records, [e.path for e in snap.entries])
    touched = touched_definitions(facts.defs, changed_lines(view, parent, sha))
    assert [(t.path, t.qualname) for t in touched] == [("pkg/core.py", "Gamma.run"), ("pkg/core.py", "beta")]


def test_the_parent_state_holds_nothing_from_the_commit_or_later(replayed: tuple[GitRepo, str, str]) -> None:
    repo, parent, sha = replayed
    view = open_repo(repo.path)
    snap = Replayer(view, load_config(view.root), None).snapshot(parent)
    assert "pkg/new.py" not in {e.path for e in snap.entries}
    assert not [r for r in snap.records if r.name == "delta" or r.commit == sha or "off by one" in r.text]
    assert {r.commit for r in snap.records if r.kind == "commit"} == {
        parent,
        repo.git("rev-parse", "HEAD~2").strip(),
    }


def test_scoring_counts_a_definition_only_under_its_own_file() -> None:
    doc = ("# Map\n\n### pkg/core.py\n\n- L9 `def beta(y)`\n\n## Elsewhere\n\n- `def run(self, n)`\n\n"
           "pkg/util.py:\n│def run():\n")  # fmt: skip
    touched = [Touched("pkg/core.py", "beta", "beta", 9), Touched("pkg/core.py", "Gamma.run", "run", 18)]
    tracked = {"pkg/core.py", "pkg/util.py"}
    assert set(sections(doc, tracked)) == tracked
    s = score(doc, touched, tracked, 100)
    assert (s.defs_found, s.defs_total, s.files_found, s.files_total) == (1, 2, 1, 1)


def test_replay_report_has_exact_recall_and_is_deterministic(
    replayed: tuple[GitRepo, str, str], tmp_path: Path
) -> None:
    repo, parent, sha = replayed
    first = replay(repo.path, commits=1, budgets=(1024, 4096), cache_dir=tmp_path / "cache")
    again = replay(repo.path, commits=1, budgets=(1024, 4096), cache_dir=tmp_path / "cache")
    for report in (first, again):
        for row in report["per_commit"]:
            row.pop("seconds")
    assert first["per_commit"] == again["per_commit"]  # the second run reads the extraction cache
    (commit,) = first["per_commit"]
    assert (commit["sha"], commit["parent"]) == (sha, parent)
    assert commit["touched"] == [["pkg/core.py", "Gamma.run", 18], ["pkg/core.py", "beta", 9]]
    for variant in ("pack", "context"):
        for budget in ("1024", "4096"):
            row = first["table"][variant][budget]
            assert row["def_recall"] == 1.0 and row["file_recall"] == 1.0, (variant, budget, row)
            assert row["over_budget"] == 0.0 and row["tokens"] <= int(budget)
    assert first["scored_commits"] == 1


def test_cli_json_and_plot(
    replayed: tuple[GitRepo, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _, _ = replayed
    plot = tmp_path / "recall.png"
    code = main(["replay", str(repo.path), "--commits", "2", "--budget", "1024", "--json", "-q",
                 "--cache-dir", str(tmp_path / "c"), "--plot", str(plot)])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["commits"] == 2 and report["budgets"] == [1024]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["replay", str(repo.path), "--tokens", "bogus"]) == 2


def test_same_report_under_different_hash_seeds(replayed: tuple[GitRepo, str, str], tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo, _, _ = replayed
    outs = []
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-m", "ctxeng", "replay", str(repo.path), "--commits", "2", "--budget", "2048", "--json",
             "-q", "--cache-dir", str(tmp_path / seed)],
            env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        report = json.loads(proc.stdout)
        report.pop("seconds")
        for row in report["per_commit"]:
            row.pop("seconds")
        outs.append(report)
    assert outs[0] == outs[1]
