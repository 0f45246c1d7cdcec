"""`ctxeng install --git-hook`: pre-commit-style install/uninstall, exercised with real `git commit`s."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.core.errors import CtxengError
from ctxeng.integrations.git_hook import (
    DEFAULT_HOOK_TYPES,
    TEMPLATE,
    install_git_hook,
    is_ours,
    render_hook,
    uninstall_git_hook,
)
from ctxeng.integrations.templates import fill_block, template_text
from tests.gitrepo import GitRepo

needs_refresh = pytest.mark.skipif(
    importlib.util.find_spec("ctxeng.commands.refresh") is None,
    reason="`ctxeng refresh` (ctxeng/commands/refresh.py, the incremental engine) has not landed yet",
)

LEGACY = "#!/bin/sh\n# the user's own hook\necho legacy-ran >> legacy.log\n"
ROOT = Path(__file__).resolve().parents[1]
# Read before the autouse fixture points HOME at a temporary folder: pre-commit's pip may reuse its cache.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


def _hooks(repo: GitRepo) -> Path:
    return repo.path / ".git" / "hooks"


def _commit(repo: GitRepo, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A real `git commit` that runs the installed hooks (no -q: we want the hooks' stderr)."""
    return subprocess.run(
        ["git", "commit", *args], cwd=repo.path, capture_output=True, text=True,
        env={**os.environ, **repo.date_env(), **(env or {})}, check=False,
    )  # fmt: skip


def _seeded(git_repo: GitRepo) -> GitRepo:
    git_repo.commit("Add app", {"app.py": "def main():\n    return 1\n", "README.md": "# app\n"})
    return git_repo


def test_install_writes_marked_executable_hooks_and_is_idempotent(git_repo: GitRepo) -> None:
    repo = _seeded(git_repo)
    first = install_git_hook(repo.path)
    assert first == [f"installed .git/hooks/{t}" for t in DEFAULT_HOOK_TYPES]
    for hook_type in DEFAULT_HOOK_TYPES:
        hook = _hooks(repo) / hook_type
        assert is_ours(hook) and hook.stat().st_mode & stat.S_IXUSR
        assert hook.read_text() == render_hook(sys.executable)
        assert f"CTXENG_PYTHON={sys.executable}" in hook.read_text()
    before = {p.name: p.read_bytes() for p in _hooks(repo).iterdir()}
    assert all("already installed" in line for line in install_git_hook(repo.path))
    assert {p.name: p.read_bytes() for p in _hooks(repo).iterdir()} == before


def test_foreign_hook_is_kept_as_legacy_and_restored_exactly(git_repo: GitRepo) -> None:
    repo = _seeded(git_repo)
    hook = _hooks(repo) / "pre-commit"
    hook.write_text(LEGACY)
    hook.chmod(0o750)
    done = install_git_hook(repo.path, ["pre-commit"])
    assert done[0].startswith("kept the existing pre-commit hook as .git/hooks/pre-commit.legacy")
    assert is_ours(hook) and (_hooks(repo) / "pre-commit.legacy").read_text() == LEGACY
    install_git_hook(
        repo.path, ["pre-commit"]
    )  # a reinstall must not move our own script onto the legacy one
    assert (_hooks(repo) / "pre-commit.legacy").read_text() == LEGACY
    assert uninstall_git_hook(repo.path) == [
        "removed .git/hooks/pre-commit",
        "restored the previous pre-commit hook from .git/hooks/pre-commit.legacy",
    ]
    assert hook.read_text() == LEGACY and stat.S_IMODE(hook.stat().st_mode) == 0o750
    assert not (_hooks(repo) / "pre-commit.legacy").exists()


def test_core_hooks_path_is_refused_with_the_exact_fix(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _seeded(git_repo)
    repo.git("config", "core.hooksPath", ".husky/_")
    before = sorted(p.name for p in _hooks(repo).iterdir())
    assert main(["install", "--git-hook", str(repo.path)]) == 1
    err = capsys.readouterr().err
    assert "core.hooksPath is set (local: .husky/_)" in err
    assert "git config --local --unset-all core.hooksPath" in err and "ctxeng refresh --hook" in err
    assert sorted(p.name for p in _hooks(repo).iterdir()) == before
    assert not (repo.path / ".husky").exists()


def test_a_global_core_hooks_path_is_refused_too(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _seeded(git_repo)
    repo.git("config", "--global", "core.hooksPath", "~/.githooks")  # HOME is a temporary folder here
    assert main(["install", "--git-hook", str(repo.path)]) == 1
    err = capsys.readouterr().err
    assert "core.hooksPath is set (global: ~/.githooks)" in err and "git config --global --unset-all" in err
    repo.git("config", "core.hooksPath", ".husky/_")  # the repository's own setting wins, as in git
    assert main(["install", "--git-hook", str(repo.path)]) == 1
    assert "(local: .husky/_)" in capsys.readouterr().err


def test_pre_commit_framework_hook_is_refused(git_repo: GitRepo) -> None:
    repo = _seeded(git_repo)
    framework = "#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n# ID: 138fd4\n"
    (_hooks(repo) / "pre-commit").write_text(framework)
    with pytest.raises(CtxengError, match="managed by the pre-commit framework") as exc:
        install_git_hook(repo.path)
    assert exc.value.hint and "ctxeng-refresh" in exc.value.hint
    assert (_hooks(repo) / "pre-commit").read_text() == framework
    assert not (_hooks(repo) / "post-merge").exists()  # refused before writing anything


def test_foreign_hook_beside_a_legacy_one_is_refused_and_nothing_changes(git_repo: GitRepo) -> None:
    repo = _seeded(git_repo)
    (_hooks(repo) / "pre-commit").write_text("#!/bin/sh\necho new\n")
    (_hooks(repo) / "pre-commit.legacy").write_text(LEGACY)
    with pytest.raises(CtxengError, match="neither is ctxeng's"):
        install_git_hook(repo.path)
    assert (_hooks(repo) / "pre-commit").read_text() == "#!/bin/sh\necho new\n"
    assert (_hooks(repo) / "pre-commit.legacy").read_text() == LEGACY


def test_uninstall_removes_only_its_own_hooks(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _seeded(git_repo)
    install_git_hook(repo.path, ["pre-commit", "post-commit"])
    (_hooks(repo) / "post-merge").write_text(LEGACY)
    assert main(["uninstall", "--git-hook", str(repo.path)]) == 0
    err = capsys.readouterr().err
    assert "removed .git/hooks/pre-commit" in err and "removed .git/hooks/post-commit" in err
    assert "left .git/hooks/post-merge alone: ctxeng did not install it" in err
    assert (_hooks(repo) / "post-merge").read_text() == LEGACY
    assert not (_hooks(repo) / "pre-commit").exists() and not (_hooks(repo) / "post-commit").exists()


def test_unknown_hook_type_and_no_target_are_usage_errors(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _seeded(git_repo)
    assert main(["install", "--git-hook", "--hook-type", "pre-push", str(repo.path)]) == 2
    assert "'pre-push' is not one of" in capsys.readouterr().err
    with pytest.raises(CtxengError, match="unsupported hook type: pre-push"):
        install_git_hook(repo.path, ["pre-push"])
    assert main(["install", str(repo.path)]) == 2  # a usage error, as the README's exit-code table says
    assert "choose at least one of --git-hook, --claude, --mcp" in capsys.readouterr().err


def test_install_in_a_submodule_uses_the_submodules_own_hooks_folder(git_repo: GitRepo, tmp_path: Path) -> None:
    lib = GitRepo(tmp_path / "lib")
    lib.commit("Add lib", {"lib.py": "x = 1\n"})
    _seeded(git_repo)
    git_repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "vendor/lib")
    git_repo.commit("Add the submodule")
    sub = git_repo.path / "vendor" / "lib"
    assert main(["install", "--git-hook", "--hook-type", "pre-commit", str(sub)]) == 0
    assert is_ours(git_repo.path / ".git" / "modules" / "vendor" / "lib" / "hooks" / "pre-commit")
    assert not (git_repo.path / ".git" / "hooks" / "pre-commit").exists()


def test_install_from_a_linked_worktree_uses_the_shared_hooks_folder(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    repo = _seeded(git_repo)
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    install_git_hook(tmp_path / "wt", ["pre-commit"])
    assert is_ours(_hooks(repo) / "pre-commit")


def test_missing_ctxeng_fails_open_and_strict_fails_the_commit(git_repo: GitRepo) -> None:
    repo = _seeded(git_repo)
    path_without_ctxeng = "/usr/bin:/bin"
    install_git_hook(repo.path, ["pre-commit"], python="/nonexistent/python")
    repo.write("app.py", "def main():\n    return 2\n")
    repo.git("add", "app.py")
    proc = _commit(repo, "-m", "Change app", env={"PATH": path_without_ctxeng})
    assert proc.returncode == 0, proc.stderr
    assert "ctxeng: not found (installed for /nonexistent/python); skipping the refresh" in proc.stderr
    install_git_hook(repo.path, ["pre-commit"], python="/nonexistent/python", strict=True)
    repo.write("app.py", "def main():\n    return 3\n")
    repo.git("add", "app.py")
    proc = _commit(repo, "-m", "Change app again", env={"PATH": path_without_ctxeng})
    assert proc.returncode != 0 and "ctxeng: not found" in proc.stderr
    assert repo.git("log", "-1", "--format=%s").strip() == "Change app"


def test_interpreter_without_ctxeng_fails_open(git_repo: GitRepo) -> None:
    other = Path("/usr/bin/python3")
    if (
        not other.exists()
        or subprocess.run(
            [other, "-c", "import ctxeng"], cwd="/", capture_output=True, check=False
        ).returncode
        == 0
    ):
        pytest.skip("needs a second Python interpreter that cannot import ctxeng")
    repo = _seeded(git_repo)
    install_git_hook(repo.path, ["pre-commit"], python=str(other))
    repo.write("app.py", "x = 1\n")
    repo.git("add", "app.py")
    proc = _commit(repo, "-m", "Change app")
    assert proc.returncode == 0, proc.stderr
    assert "ctxeng: cannot run the refresh (No module named 'ctxeng')" in proc.stderr


def test_a_ctxeng_that_rejects_the_hooks_arguments_lets_git_go_on(git_repo: GitRepo) -> None:
    # An upgrade or downgrade of ctxeng under a hook written by another version: a usage error (exit 2).
    repo = _seeded(git_repo)
    hook = _hooks(repo) / "pre-commit"
    skewed = fill_block(
        template_text(TEMPLATE), [f"CTXENG_PYTHON={sys.executable}", "CTXENG_ARGS='refresh --no-such-flag'"]
    )
    hook.write_text(skewed)
    hook.chmod(0o755)
    repo.write("app.py", "x = 2\n")
    repo.git("add", "app.py")
    proc = _commit(repo, "-m", "Change app")
    assert proc.returncode == 0, proc.stderr
    assert "does not accept the arguments of this hook; git goes on" in proc.stderr


def _recorded_blobs(repo: GitRepo) -> dict[str, str]:
    """Path -> blob of the last full refresh/build (what records, dataset and pack describe)."""
    path = repo.path / ".ctxeng" / "state" / "blobs.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["path"]: row["blob"] for row in rows}


def _pending(repo: GitRepo) -> list[str]:
    """Files a pre-commit (fast) refresh re-extracted that records/dataset/pack have not caught up with."""
    path = repo.path / ".ctxeng" / "state" / "pending.json"
    return list(json.loads(path.read_text())["paths"]) if path.exists() else []


def _extracted(repo: GitRepo, path: str, blob: str) -> bool:
    """Whether the refresh extracted this exact blob of `path` (its per-blob cache holds it)."""
    from ctxeng.core.cache import ExtractCache
    from ctxeng.core.config import load_config
    from ctxeng.pipeline.build import extract_settings

    return (
        ExtractCache(repo.path / ".ctxeng", extract_settings(load_config(repo.path))).get(path, blob)
        is not None
    )


def _built(git_repo: GitRepo) -> GitRepo:
    from ctxeng.pipeline.build import build

    repo = _seeded(git_repo)
    build(repo.path)
    return repo


def _stage(repo: GitRepo, rel: str, text: str) -> str:
    repo.write(rel, text)
    repo.git("add", rel)  # never `add -A`: the build's skill folder and CLAUDE.md stay untracked
    return repo.git("rev-parse", f":{rel}").strip()


def _wait_for_log(repo: GitRepo, needle: str, count: int = 1, timeout: float = 90.0) -> str:
    """Wait until detached refreshes (they run after git has returned) logged `needle` `count` times."""
    log = repo.path / ".ctxeng" / "refresh.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if text.count(needle) >= count:
            return text
        time.sleep(0.2)
    raise AssertionError(f"no {needle!r} in {log}: {log.read_text() if log.exists() else '(no log)'}")


@needs_refresh
def test_commit_runs_the_refresh_and_the_legacy_hook(git_repo: GitRepo) -> None:
    repo = _built(git_repo)
    (_hooks(repo) / "pre-commit").write_text(LEGACY)
    (_hooks(repo) / "pre-commit").chmod(0o755)
    assert main(["install", "--git-hook", "--hook-type", "pre-commit", str(repo.path)]) == 0
    blob = _stage(repo, "app.py", "def main():\n    return 2\n\n\ndef helper():\n    return 3\n")
    proc = _commit(repo, "-m", "Add helper")
    assert proc.returncode == 0, proc.stderr
    assert (repo.path / "legacy.log").read_text() == "legacy-ran\n"
    assert _pending(repo) == ["app.py"] and _extracted(repo, "app.py", blob)
    assert repo.git("status", "--porcelain", "--untracked-files=no") == ""  # no tracked file touched


@needs_refresh
def test_failing_legacy_hook_blocks_the_commit_before_the_refresh(git_repo: GitRepo) -> None:
    repo = _built(git_repo)
    (_hooks(repo) / "pre-commit").write_text("#!/bin/sh\necho 'lint failed' >&2\nexit 3\n")
    (_hooks(repo) / "pre-commit").chmod(0o755)
    install_git_hook(repo.path, ["pre-commit"])
    _stage(repo, "app.py", "x = 1\n")
    proc = _commit(repo, "-m", "Should not land")
    assert proc.returncode != 0 and "lint failed" in proc.stderr
    assert _pending(repo) == []
    assert repo.git("log", "-1", "--format=%s").strip() == "Add app"


@needs_refresh
def test_commit_a_and_commit_path_see_exactly_the_staged_content(git_repo: GitRepo) -> None:
    repo = _seeded(git_repo)
    repo.commit("Add lib", {"lib.py": "A = 1\n"})
    from ctxeng.pipeline.build import build

    build(repo.path)
    install_git_hook(repo.path, ["pre-commit"])
    # `git commit -a`: GIT_INDEX_FILE is .git/index.lock, holding the work tree's app.py. HEAD has not
    # moved since the build, so the pre-commit refresh takes its fast path over the staged files.
    repo.write("app.py", "def main():\n    return 'all'\n")
    proc = _commit(repo, "-a", "-m", "Commit all")
    assert proc.returncode == 0, proc.stderr
    assert _pending(repo) == ["app.py"]
    assert _extracted(repo, "app.py", repo.git("rev-parse", "HEAD:app.py").strip())
    # `git commit <path>`: a temporary index of HEAD + that path; lib.py's staged A = 2 is not committed.
    # HEAD moved, so this refresh rebuilds (from the cache) exactly what that temporary index holds.
    staged_lib = _stage(repo, "lib.py", "A = 2\n")
    repo.write("app.py", "def main():\n    return 'path'\n")
    proc = _commit(repo, "app.py", "-m", "Commit one path")
    assert proc.returncode == 0, proc.stderr
    blobs = _recorded_blobs(repo)
    assert blobs["app.py"] == repo.git("rev-parse", "HEAD:app.py").strip()
    assert blobs["lib.py"] == repo.git("rev-parse", "HEAD:lib.py").strip() != staged_lib
    assert repo.git("rev-parse", ":lib.py").strip() == staged_lib  # git's own index was left alone


@needs_refresh
def test_post_checkout_refreshes_detached_after_branch_switches_only(git_repo: GitRepo) -> None:
    from ctxeng.pipeline.build import build

    repo = _seeded(git_repo)
    install_git_hook(repo.path, ["post-checkout"])
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("Add notes", {"NOTES.md": "notes\n"})
    repo.git("checkout", "-q", "main")
    assert not (repo.path / ".ctxeng").exists()  # a repository never built here starts nothing
    build(repo.path)
    repo.write("app.py", "changed = True\n")
    repo.git("checkout", "--", "app.py")
    assert not (repo.path / ".ctxeng" / "refresh.log").exists()  # a file checkout moves no HEAD
    started = time.monotonic()
    repo.git("checkout", "-q", "side")  # HEAD moves to a commit never built: a full refresh, detached
    assert time.monotonic() - started < 5
    _wait_for_log(repo, "ctxeng: refreshed (full): HEAD moved")
    assert (repo.path / ".ctxeng" / "state" / "head").read_text().strip() == repo.head()


@needs_refresh
def test_post_commit_catches_up_once_and_not_per_commit_of_a_rebase(git_repo: GitRepo) -> None:
    repo = _built(git_repo)
    install_git_hook(repo.path, ["post-commit", "post-rewrite"])
    for n in (1, 2):
        _stage(repo, "app.py", f"x = {n}\n")
        assert _commit(repo, "-m", f"Change app {n}").returncode == 0
        _wait_for_log(repo, "ctxeng: refreshed (full): HEAD moved", count=n)
        assert (repo.path / ".ctxeng" / "state" / "head").read_text().strip() == repo.head()
    later = {"GIT_COMMITTER_DATE": "1800000000 +0000"}  # so the 2 replayed commits get new ids
    repo.git("rebase", "-q", "--force-rebase", "HEAD~2", env=later)
    _wait_for_log(repo, "ctxeng: refreshed (full): HEAD moved", count=3)
    time.sleep(2)  # a per-commit refresh from post-commit would have logged by now
    assert (repo.path / ".ctxeng" / "refresh.log").read_text().count("ctxeng: ") == 3
    assert (repo.path / ".ctxeng" / "state" / "head").read_text().strip() == repo.head()


@needs_refresh
def test_pre_commit_try_repo_runs_the_hook_from_pre_commit_hooks_yaml(
    sample_repo: GitRepo, tmp_path: Path
) -> None:
    from ctxeng.pipeline.build import build

    # A hook repository with this checkout's package (try-repo clones it, pip-installs it into its own venv).
    hook_repo = GitRepo(tmp_path / "ctxeng-hooks")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, hook_repo.path / name)
    for name in ("ctxeng", "extractors", "recipes"):
        shutil.copytree(ROOT / name, hook_repo.path / name, ignore=shutil.ignore_patterns("__pycache__"))
    hook_repo.commit("ctxeng as a pre-commit hook repository")
    build(sample_repo.path)
    _stage(
        sample_repo,
        "kvstore/cli.py",
        (sample_repo.path / "kvstore/cli.py").read_text() + "\nVERBOSE = False\n",
    )
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_CACHE_DIR": PIP_CACHE}
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo.path), "ctxeng-refresh", "--verbose"],
        cwd=sample_repo.path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ctxeng refresh (context from the staged content)" in proc.stdout and "Passed" in proc.stdout
    assert _pending(sample_repo) == ["kvstore/cli.py"]  # the hook's ctxeng (pre-commit's venv) re-read it
