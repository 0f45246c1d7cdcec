"""Shared fixtures: isolated environment, real git repositories, the sample repository, goldens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gitrepo import GitRepo
from tests.sample_repo import make_sample_repo

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fixed git identity and dates, no inherited GIT_* variables, no user config, no network."""
    home = tmp_path_factory.mktemp("home")
    for var in list(os.environ):
        if var.startswith("GIT_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty repository with branch `main`."""
    return GitRepo(tmp_path / "repo")


@pytest.fixture
def sample_repo(tmp_path: Path) -> GitRepo:
    """The sample project (a small multi-language key-value store with docs and history)."""
    return make_sample_repo(tmp_path / "kvstore")


def golden(name: str, text: str) -> None:
    """Compare `text` with tests/golden/<name>; rewrite it when CTXENG_UPDATE_GOLDENS=1."""
    path = GOLDEN_DIR / name
    if os.environ.get("CTXENG_UPDATE_GOLDENS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden {path}; run with CTXENG_UPDATE_GOLDENS=1 and review the diff"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden"
