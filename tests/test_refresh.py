"""Incremental refresh on real repositories: fast on staged changes, identical to a build after commits."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.pipeline.build import build
from ctxeng.pipeline.refresh import refresh
from tests.gitrepo import GitRepo
from tests.secret_cases import Fake

OUTPUTS = ("records.jsonl", "dataset/train.jsonl", "dataset/eval.jsonl", "index.json")


def _outputs(root: Path) -> dict[str, bytes]:
    return {name: (root / ".ctxeng" / name).read_bytes() for name in OUTPUTS}


def test_first_refresh_builds_then_nothing_to_do(sample_repo: GitRepo) -> None:
    first = refresh(sample_repo.path)
    assert first.mode == "full" and first.note == "first build"
    again = refresh(sample_repo.path, hook=True)
    assert again.mode == "none"


def test_hook_without_a_build_does_nothing(sample_repo: GitRepo) -> None:
    result = refresh(sample_repo.path, hook=True)
    assert result.mode == "skipped" and "ctxeng build" in result.note
    assert not (sample_repo.path / ".ctxeng" / "records.jsonl").exists()


def test_staged_change_takes_the_fast_path(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    before = _outputs(sample_repo.path)
    sample_repo.write(
        "kvstore/cli.py",
        sample_repo.path.joinpath("kvstore/cli.py").read_text() + "\n\ndef extra():\n    pass\n",
    )
    sample_repo.git("add", "kvstore/cli.py")
    sample_repo.write("kvstore/store.py", "# unstaged edits are not what gets committed\n")
    result = refresh(sample_repo.path, hook=True)
    assert result.mode == "fast" and result.changed == ["kvstore/cli.py"]
    pending = json.loads((sample_repo.path / ".ctxeng/state/pending.json").read_text())
    assert pending == {"paths": ["kvstore/cli.py"]}
    # Records and dataset describe commits: they wait for the commit (the full refresh).
    assert {k: v for k, v in _outputs(sample_repo.path).items() if k != "index.json"} == {
        k: v for k, v in before.items() if k != "index.json"
    }


MANIFEST_KEYS = ("records", "history", "dataset", "redactions", "docs", "head", "branch")


def _assert_cold_equal(repo: GitRepo, tmp_path: Path, tag: str) -> None:
    """The outputs in `repo` equal those of a cold build of a fresh clone at the same HEAD."""
    incremental = _outputs(repo.path)
    manifest = json.loads((repo.path / ".ctxeng/manifest.json").read_text())
    clone = tmp_path / f"cold-{tag}" / repo.path.name  # same name: it appears in the system prompts
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    build(clone)
    cold = _outputs(clone)
    for name in OUTPUTS:
        assert incremental[name] == cold[name], f"{tag}: {name}"
    cold_manifest = json.loads((clone / ".ctxeng/manifest.json").read_text())
    for key in MANIFEST_KEYS:
        assert manifest[key] == cold_manifest[key], f"{tag}: manifest {key}"


def _small_window(repo: GitRepo) -> None:
    """A patch window of 3 commits and a large eval share, committed (so clones build alike): every
    new commit moves a commit out of the window and rows between the splits. The pack's files are
    ignored, so that `commit` (which stages everything) leaves them out."""
    repo.commit("Mine fewer patches", {
        ".ctxeng.toml": "[history]\npatch_commits = 3\n\n[dataset]\neval_share = 0.3\n",
        ".gitignore": ".claude/\nCLAUDE.md\n",
    })  # fmt: skip


def _edit(repo: GitRepo, rel: str, tail: str) -> dict[str, str | bytes | None]:
    return {rel: repo.path.joinpath(rel).read_text() + tail}


def test_after_a_commit_the_refresh_equals_a_cold_build(sample_repo: GitRepo, tmp_path: Path) -> None:
    build(sample_repo.path)
    sample_repo.commit("Add a flush method to the store", {
        "kvstore/store.py": sample_repo.path.joinpath("kvstore/store.py").read_text().replace(
            "    def close(self) -> None:",
            '    def flush(self) -> None:\n        """Flush the active segment."""\n        self._log.flush()\n\n'
            "    def close(self) -> None:",
        ),
        "docs/architecture.md": sample_repo.path.joinpath("docs/architecture.md").read_text() + "\n## Flushing\n\nCall flush.\n",
    })  # fmt: skip
    result = refresh(sample_repo.path, hook=True)
    assert result.mode == "full" and result.note == "HEAD moved"
    manifest = json.loads((sample_repo.path / ".ctxeng/manifest.json").read_text())
    assert manifest["files"]["cached"] > 0  # unchanged files came from the cache
    incremental = _outputs(sample_repo.path)
    clone = tmp_path / "elsewhere" / sample_repo.path.name  # same name: it appears in the system prompts
    subprocess.run(["git", "clone", "-q", str(sample_repo.path), str(clone)], check=True)
    build(clone)
    cold = _outputs(clone)
    for name in OUTPUTS:
        assert incremental[name] == cold[name], name


def test_amend_rebase_reset_and_branch_switch_equal_cold_builds(sample_repo: GitRepo, tmp_path: Path) -> None:
    repo = sample_repo
    _small_window(repo)
    build(repo.path)
    # Its patch holds a secret: redacted while in the patch window, and after it has left it.
    dsn = f"postgres://admin:{Fake('refresh').b62(16)}@db.example.com/app"
    repo.commit(
        "Add a compact helper",
        _edit(repo, "kvstore/store.py", f"\n\ndef compact_all(store):\n    return store  # {dsn}\n"),
    )
    assert refresh(repo.path).mode == "full"
    _assert_cold_equal(repo, tmp_path, "commit")
    # Amend: the newest commit is replaced by one with another sha, message and content.
    repo.write(
        "kvstore/store.py",
        repo.path.joinpath("kvstore/store.py").read_text().replace("return store", "return None"),
    )
    repo.git("commit", "-q", "-a", "--amend", "-m", "Add a compaction helper", env=repo.date_env())
    assert refresh(repo.path).mode == "full"
    _assert_cold_equal(repo, tmp_path, "amend")
    # A side branch from the commit before, then the main line moves on and the branch is rebased.
    base = repo.git("rev-parse", "HEAD~1").strip()
    repo.git("checkout", "-q", "-b", "feature", base)
    repo.commit(
        "Document compaction limits",
        _edit(repo, "docs/architecture.md", "\n## Limits\n\nOne compaction at a time.\n"),
    )
    repo.commit("Add a size helper", _edit(repo, "kvstore/cli.py", "\n\ndef size(path):\n    return 0\n"))
    assert refresh(repo.path).mode == "full"
    _assert_cold_equal(repo, tmp_path, "branch")
    repo.git("checkout", "-q", "main")
    repo.commit("Log compactions", _edit(repo, "kvstore/store.py", "\n\ndef log_compaction():\n    pass\n"))
    assert refresh(repo.path).mode == "full"
    _assert_cold_equal(repo, tmp_path, "switch")
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "-q", "main", env=repo.date_env())
    assert refresh(repo.path).mode == "full"
    _assert_cold_equal(repo, tmp_path, "rebase")
    # Reset: history shrinks back to an older commit.
    repo.git("reset", "-q", "--hard", "HEAD~3")
    assert refresh(repo.path).mode == "full"
    _assert_cold_equal(repo, tmp_path, "reset")
    assert dsn not in (repo.path / ".ctxeng/records.jsonl").read_text()


def test_rebuild_reuses_mined_history(sample_repo: GitRepo) -> None:
    """Commits mined once are read from the history cache, never mined again (a marked entry shows)."""
    build(sample_repo.path)
    table = sample_repo.path / ".ctxeng/cache/history/log.json"
    data = json.loads(table.read_text())
    first = sample_repo.git("rev-list", "--max-parents=0", "HEAD").strip()
    data["entries"][first][3] = "Marked in the cache"
    table.write_text(json.dumps(data))
    # Without it the commit records' bytes would be copied from the last records file, not rebuilt.
    (sample_repo.path / ".ctxeng/current/state/records-spans.json").unlink()
    # Without it the records would be the carried ones (tests/test_history_carry.py), not the cache's.
    (sample_repo.path / ".ctxeng/cache/history/carry.marshal").unlink()
    sample_repo.commit("Add a helper", {"kvstore/util.py": "def helper():\n    return 1\n"})
    assert refresh(sample_repo.path).mode == "full"
    rows = [json.loads(line) for line in (sample_repo.path / ".ctxeng/records.jsonl").open()]
    subjects = {r["commit"]: r["name"] for r in rows if r["kind"] == "commit"}
    assert subjects[first] == "Marked in the cache"
    assert subjects[sample_repo.head()] == "Add a helper"


def test_config_change_rebuilds(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    (sample_repo.path / ".ctxeng.toml").write_text("[dataset]\neval_share = 0.2\n")
    result = refresh(sample_repo.path, hook=True)
    assert result.mode == "full" and result.note == "the configuration changed"


def test_hook_mode_fails_open_and_strict_fails(
    sample_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    build(sample_repo.path)
    (sample_repo.path / ".ctxeng.toml").write_text("[nope]\n")
    assert main(["refresh", "--hook", str(sample_repo.path)]) == 0
    err = capsys.readouterr().err
    assert "refresh did not run: .ctxeng.toml: unknown configuration key" in err and "git goes on" in err
    assert main(["refresh", "--hook", "--strict", str(sample_repo.path)]) == 1
    assert main(["refresh", str(sample_repo.path)]) == 1


def test_hook_skips_when_another_run_holds_the_lock(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    sample_repo.write("kvstore/cli.py", "x = 1\n")
    sample_repo.git("add", "kvstore/cli.py")
    out = sample_repo.path / ".ctxeng"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import time; from pathlib import Path; from ctxeng.core.fsio import Lock\nwith Lock(Path({str(out)!r})):\n"
         "    print('locked', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = refresh(sample_repo.path, hook=True)
        assert result.mode == "skipped" and "lock" in result.note
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_hook_reads_the_index_git_points_it_at(sample_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    build(sample_repo.path)
    temp_index = sample_repo.path / ".git" / "next-index-123.lock"
    env = {"GIT_INDEX_FILE": str(temp_index)}
    sample_repo.git("read-tree", "HEAD", env=env)
    sample_repo.write("kvstore/compact.py", "def compact(store):\n    return 0\n")
    sample_repo.git("add", "kvstore/compact.py", env=env)
    monkeypatch.setenv("GIT_INDEX_FILE", str(temp_index))
    result = refresh(sample_repo.path, hook=True)
    assert result.mode == "fast" and result.changed == ["kvstore/compact.py"]


def test_hook_never_rewrites_tracked_files(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    sample_repo.commit("Track the Claude Code context", {})  # CLAUDE.md and the skill are now tracked
    tracked = sample_repo.git("ls-files", "CLAUDE.md", ".claude").split()
    assert "CLAUDE.md" in tracked
    before = {p: (sample_repo.path / p).read_bytes() for p in tracked}
    sample_repo.commit(
        "Add a helper", {"kvstore/util.py": '"""Helpers."""\n\n\ndef helper():\n    return 1\n'}
    )
    assert refresh(sample_repo.path, hook=True).mode == "full"
    assert {p: (sample_repo.path / p).read_bytes() for p in tracked} == before
    manifest = json.loads((sample_repo.path / ".ctxeng/manifest.json").read_text())
    assert any("tracked" in w for w in manifest["pack"]["warnings"])


def test_refresh_never_imports_training_libraries(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    sample_repo.write("kvstore/cli.py", "x = 2\n")
    sample_repo.git("add", "kvstore/cli.py")
    code = (
        "import sys\nfrom ctxeng.cli import main\nmain(['refresh', '--hook', '-q', sys.argv[1]])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(sample_repo.path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_background_refresh_catches_up(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    head = sample_repo.commit("Add a helper", {"kvstore/util.py": "def helper():\n    return 1\n"})
    assert main(["refresh", "--background", "-q", str(sample_repo.path)]) == 0
    manifest = sample_repo.path / ".ctxeng" / "manifest.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and json.loads(manifest.read_text())["head"] != head:
        time.sleep(0.2)
    assert json.loads(manifest.read_text())["head"] == head


def test_hook_state_equals_the_state_a_build_writes(sample_repo: GitRepo) -> None:
    """The hook rewrites state/blobs.jsonl by copying unchanged rows: the bytes a build writes for the same index."""
    build(sample_repo.path)
    cli = sample_repo.path / "kvstore/cli.py"
    sample_repo.write("kvstore/cli.py", cli.read_text() + "\n\ndef extra():\n    pass\n")
    sample_repo.write("kvstore/zz_new.py", '"""A new module."""\n\n\ndef fresh():\n    return 1\n')
    sample_repo.git("add", "kvstore/cli.py", "kvstore/zz_new.py")
    sample_repo.git("rm", "-q", "kvstore/store.py")
    result = refresh(sample_repo.path, hook=True)
    assert result.mode == "fast" and result.changed == [
        "kvstore/cli.py",
        "kvstore/store.py",
        "kvstore/zz_new.py",
    ]
    state = (sample_repo.path / ".ctxeng/state/blobs.jsonl").read_bytes()
    build(sample_repo.path)  # a build of the same (staged) index
    assert (sample_repo.path / ".ctxeng/state/blobs.jsonl").read_bytes() == state
    assert refresh(sample_repo.path, hook=True).mode == "none"


def test_hook_generation_stays_applied(sample_repo: GitRepo) -> None:
    """The hook's generation carries the skill unchanged: it is marked applied, so the next run has nothing
    to recover (which would import the pack's renderers on every pre-commit run)."""
    from ctxeng.core.generation import needs_apply

    build(sample_repo.path)
    out = sample_repo.path / ".ctxeng"
    assert not needs_apply(out)
    sample_repo.write(
        "kvstore/cli.py", (sample_repo.path / "kvstore/cli.py").read_text() + "\n\ndef extra():\n    pass\n"
    )
    sample_repo.git("add", "kvstore/cli.py")
    assert refresh(sample_repo.path, hook=True).mode == "fast"
    assert (out / "applied").read_text().strip() == (out / "current").resolve().name
    assert not needs_apply(out)
