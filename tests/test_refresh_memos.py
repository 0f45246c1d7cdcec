"""What a refresh carries from the last build (cached commits, extraction entries) is never stale: its
outputs equal a cold build's after the change that would expose a stale carry."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ctxeng.pipeline.build import build
from ctxeng.pipeline.refresh import refresh
from tests.gitrepo import GitRepo
from tests.test_refresh import _assert_cold_equal, _edit


def _bot_commit(repo: GitRepo, message: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        repo.write(rel, text)
    repo.git("add", "-A")
    env = {**repo.date_env(), "GIT_AUTHOR_NAME": "dependabot[bot]", "GIT_AUTHOR_EMAIL": "bot@example.com"}
    repo.git("commit", "-q", "-m", message, env=env)
    repo.commits += 1


def _commit_records(root: Path) -> dict[str, dict[str, object]]:
    rows = (json.loads(line) for line in (root / ".ctxeng/records.jsonl").read_text().splitlines())
    return {row["name"]: row for row in rows if row["kind"] == "commit"}


def test_a_bot_commit_read_from_the_history_cache_stays_a_bot_commit(
    sample_repo: GitRepo, tmp_path: Path
) -> None:
    _bot_commit(sample_repo, "Bump the pinned version", {"VERSION": "1.0.1\n"})
    build(sample_repo.path)
    assert _commit_records(sample_repo.path)["Bump the pinned version"]["meta"]["bot"] is True
    # The next build reads that commit from the history cache: it must still be marked a bot's.
    sample_repo.commit("Document the store", _edit(sample_repo, "kvstore/store.py", "\n# Documented.\n"))
    assert refresh(sample_repo.path).mode == "full"
    assert _commit_records(sample_repo.path)["Bump the pinned version"]["meta"]["bot"] is True
    _assert_cold_equal(sample_repo, tmp_path, "bot")
    # Without the last generation's bytes to copy, the record is encoded from the cached commit.
    _drop_outputs_keep_caches(sample_repo.path)
    build(sample_repo.path)
    assert _commit_records(sample_repo.path)["Bump the pinned version"]["meta"]["bot"] is True
    _assert_cold_equal(sample_repo, tmp_path, "bot-cached")


def _drop_outputs_keep_caches(root: Path) -> None:
    """Delete every output of `.ctxeng/` but its caches (as a user clearing outputs would)."""
    for entry in (root / ".ctxeng").iterdir():
        if entry.name == "cache":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def test_the_index_is_read_again_whenever_git_rewrote_it(git_repo: GitRepo) -> None:
    from ctxeng.core.repo import open_repo

    git_repo.commit("Start", {"a.py": "x = 1\n", "b.py": "y = 1\n"})
    repo = open_repo(git_repo.path)
    first = repo.index()
    assert [e.path for e in first] == ["a.py", "b.py"] and repo.index() == first
    index_file = repo.git_dir / "index"
    before = index_file.stat()
    # The file's time set back: git's rename still makes it another file.
    git_repo.write("a.py", "x = 2\n")
    git_repo.git("add", "a.py")
    os.utime(index_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = repo.index()
    assert second[0].blob != first[0].blob and second[1] == first[1]
    second.clear()  # callers get their own list
    assert len(repo.index()) == 2
    git_repo.git("rm", "-q", "--cached", "b.py")
    assert [e.path for e in repo.index()] == ["a.py"]
