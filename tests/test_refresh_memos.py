"""What a refresh carries from the last build (cached commits, extraction entries) is never stale: its
outputs equal a cold build's after the change that would expose a stale carry."""

from __future__ import annotations

import json
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
