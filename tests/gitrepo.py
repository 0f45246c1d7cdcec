"""Test helper: real git repositories in temporary folders, with fixed authors and dates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASE_TIME = 1_704_067_200  # 2024-01-01T00:00:00Z; commit n is n hours later


class GitRepo:
    """A real repository; every commit gets a fixed author and a date one hour after the last."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self.commits = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
        """Run git in the repository and return stdout."""
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=full_env, capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def write(self, rel: str, content: str | bytes) -> Path:
        """Write a file (parents created); str is written as UTF-8."""
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
        return target

    def date_env(self) -> dict[str, str]:
        """The fixed dates for the next commit."""
        when = f"{BASE_TIME + 3600 * self.commits} +0000"
        return {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}

    def commit(self, message: str, files: dict[str, str | bytes | None] | None = None) -> str:
        """Write `files` (None deletes), stage everything, commit, and return the new sha."""
        for rel, content in (files or {}).items():
            if content is None:
                (self.path / rel).unlink()
            else:
                self.write(rel, content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, env=self.date_env())
        self.commits += 1
        return self.head()

    def head(self) -> str:
        """The sha of HEAD."""
        return self.git("rev-parse", "HEAD").strip()
