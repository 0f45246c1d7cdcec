"""`ctxeng status`: staleness of records, dataset, pack and adapters against real git histories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.core.repo import open_repo
from ctxeng.core.workdir import ensure_workdir
from ctxeng.pipeline.status import BROKEN, FRESH, MISSING, STALE, UNKNOWN, describe, repo_status
from tests.gitrepo import GitRepo

APP = "def main():\n    return 1\n\n\ndef helper():\n    return 2\n"
LINES = {"main": (1, 2), "helper": (5, 6)}  # where APP's definitions are


def _publish(repo: GitRepo, definitions: dict[str, list[str]] | None = None) -> None:
    """Write .ctxeng/ the way a build does: manifest at HEAD, the index's blob ids, file records."""
    out = ensure_workdir(open_repo(repo.path))  # also keeps .ctxeng/ out of `git add -A`
    (out / "state").mkdir(parents=True, exist_ok=True)
    head = repo.head()
    manifest = {
        "head": head,
        "built_at": 1_704_067_200,
        "dataset": {"train": 3, "eval": 1},
        "pack": {"tokens": 10},
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    entries = [line.split(None, 3) for line in repo.git("ls-files", "-s").splitlines()]
    (out / "state" / "blobs.jsonl").write_text(
        "".join(json.dumps({"blob": e[1], "path": e[3]}) + "\n" for e in entries)
    )
    rows = [
        {"commit": head, "end_line": 0, "id": f"fil-{path}", "kind": "file", "meta": {"definitions": defs},
         "name": path, "path": path, "start_line": 0, "text": "", "time": 0}
        for path, defs in sorted((definitions or {"app.py": ["main", "helper"]}).items())
    ]  # fmt: skip
    rows += [
        {"commit": head, "end_line": LINES[name][1], "id": f"sym-{name}", "kind": "symbol", "meta": {},
         "name": name, "path": path, "start_line": LINES[name][0], "text": "", "time": 0}
        for path, defs in sorted((definitions or {"app.py": ["main", "helper"]}).items()) for name in defs
    ]  # fmt: skip
    (out / "records.jsonl").write_text(
        "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows)
    )


def _adapter(repo: GitRepo, name: str, head: str) -> None:
    folder = repo.path / ".ctxeng" / "adapters" / name
    folder.mkdir(parents=True)
    (folder / "ctxeng-manifest.json").write_text(json.dumps({"repository": {"head": head}, "finished_at": 5}))


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    git_repo.commit("Add app", {"app.py": APP, "README.md": "# app\n", "logo.png": b"\x89PNG\0"})
    return git_repo


def _status(repo: GitRepo):  # type: ignore[no-untyped-def]
    return repo_status(open_repo(repo.path))


def test_without_outputs_everything_is_missing_and_build_is_recommended(repo: GitRepo) -> None:
    status = _status(repo)
    assert [(lag.name, lag.state) for lag in status.outputs] == [
        ("records", MISSING),
        ("dataset", MISSING),
        ("pack", MISSING),
    ]
    assert status.recommendations == ["run `ctxeng build` to mine the repository"]


def test_unreadable_manifest_is_broken(repo: GitRepo) -> None:
    (repo.path / ".ctxeng").mkdir()
    (repo.path / ".ctxeng" / "manifest.json").write_text('{"head": ')
    status = _status(repo)
    assert status.get("records").state == BROKEN  # type: ignore[union-attr]
    assert "unreadable" in status.recommendations[0]
    for manifest in ('{"head": 42}', '{"head": "--output=x"}', "[]"):  # a head goes to git: validated first
        (repo.path / ".ctxeng" / "manifest.json").write_text(manifest)
        assert _status(repo).get("records").state == BROKEN  # type: ignore[union-attr]


def test_fresh_outputs_need_nothing(repo: GitRepo) -> None:
    _publish(repo, {"app.py": ["main", "helper"], "logo.png": []})
    status = _status(repo)
    assert {lag.name: lag.state for lag in status.outputs} == {
        "records": FRESH,
        "dataset": FRESH,
        "pack": FRESH,
    }
    assert status.recommendations == []
    assert describe(status.outputs[0]) == "records: up to date"


def test_commits_files_and_definitions_behind(repo: GitRepo) -> None:
    _publish(repo)
    repo.commit(
        "Change app", {"app.py": APP.replace("return 2", "return 22") + "\n\ndef third():\n    return 3\n"}
    )
    repo.commit("Add notes", {"NOTES.md": "notes\n"})
    records = _status(repo).get("records")
    assert records is not None and records.state == STALE
    # helper changed; main did not; third is new (in no record yet)
    assert (records.commits_behind, records.changed_files, records.changed_definitions) == (2, 2, 1)
    assert describe(records) == "records: 2 commits, 2 changed files (1 definition) behind"


def test_a_comment_appended_after_the_definitions_changes_none(repo: GitRepo) -> None:
    _publish(repo)
    repo.write("app.py", APP + "# a comment\n")
    records = _status(repo).get("records")
    assert records is not None and (records.changed_files, records.changed_definitions) == (1, 0)
    repo.write("app.py", APP.replace("    return 1\n", "    # why\n    return 1\n"))  # inside main
    records = _status(repo).get("records")
    assert records is not None and (records.changed_files, records.changed_definitions) == (1, 1)


def test_a_refreshed_staged_change_counts_as_done_after_the_commit(repo: GitRepo) -> None:
    repo.write("app.py", APP.replace("return 2", "return 22"))
    repo.git("add", "app.py")
    _publish(repo)  # what a pre-commit refresh records: the staged blob
    repo.git("commit", "-q", "-m", "Change helper", env=repo.date_env())
    records = _status(repo).get("records")
    assert records is not None and (records.commits_behind, records.changed_files) == (1, 0)


def test_files_of_a_fast_pre_commit_refresh_are_listed(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(repo)
    (repo.path / ".ctxeng" / "state" / "pending.json").write_text('{"paths": ["app.py", 3]}')
    assert _status(repo).pending == ["app.py"]
    assert main(["status", str(repo.path)]) == 0
    assert "The prompt index already has the staged changes to app.py." in capsys.readouterr().out


def test_work_tree_edits_new_and_deleted_files_are_changes(repo: GitRepo) -> None:
    _publish(repo, {"app.py": ["main", "helper"], "README.md": []})
    repo.write("app.py", "def main():\n    return 5\n")  # unstaged edit
    repo.write("new.py", "X = 1\n")
    repo.git("add", "new.py")  # staged new file
    repo.git("rm", "-q", "README.md")  # deleted
    repo.write("untracked.py", "Y = 2\n")  # untracked: not part of the repository's content
    records = _status(repo).get("records")
    assert records is not None and (
        records.commits_behind,
        records.changed_files,
        records.changed_definitions,
    ) == (0, 3, 2)


def test_adapter_drift_past_the_configured_threshold_recommends_retraining(repo: GitRepo) -> None:
    trained_on = repo.head()
    _publish(repo)
    for n in range(3):
        repo.commit(f"Change {n}", {"app.py": APP + f"\n# {n}\n"})
    _publish(repo)
    _adapter(repo, "small", trained_on)
    _adapter(repo, "lost", "0" * 40)
    (repo.path / ".ctxeng" / "adapters" / "broken").mkdir()
    status = _status(repo)
    small = status.get("adapter:small")
    assert small is not None and (small.state, small.commits_behind, small.changed_definitions) == (
        STALE,
        3,
        0,  # three comments appended after the definitions: no definition changed
    )
    assert status.get("adapter:lost").state == UNKNOWN  # type: ignore[union-attr]
    assert status.get("adapter:broken").state == MISSING  # type: ignore[union-attr]
    assert not any("small" in r for r in status.recommendations)  # 3 commits < 50 (default)
    assert any(r.startswith("retrain adapter lost") for r in status.recommendations)


def test_json_and_table_output(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    _publish(repo)
    trained_on = repo.head()
    (repo.path / ".ctxeng.toml").write_text("[refresh]\nretrain_after_commits = 2\n")
    repo.commit("Configure", {".ctxeng.toml": "[refresh]\nretrain_after_commits = 2\n"})
    repo.commit("Change", {"app.py": "X = 1\n"})
    _adapter(repo, "small", trained_on)
    assert main(["status", "--json", str(repo.path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["head"] == repo.head() and data["repository"] == "repo"
    assert [o["name"] for o in data["outputs"]] == ["records", "dataset", "pack", "adapter:small"]
    assert any(
        r.startswith("retrain adapter small (`ctxeng train`): 2 commits") for r in data["recommendations"]
    )
    assert main(["status", str(repo.path)]) == 0
    out = capsys.readouterr().out
    assert "ctxeng status: repo @" in out and "adapter:small" in out and "retrain adapter small" in out


def test_status_is_light(repo: GitRepo) -> None:
    _publish(repo)
    code = (
        "import sys, json\nfrom ctxeng.cli import main\nmain(['status', '--json'])\n"
        "print(json.dumps(sorted(m for m in ('git', 'torch', 'transformers', 'rich') if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []  # no GitPython, no torch, no rich for --json


def test_not_a_repository_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(tmp_path)]) == 1
    assert "not a git repository" in capsys.readouterr().err
