"""Opening repositories: the odd cases give clear errors or a defined view."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ctxeng.core.errors import CtxengError
from ctxeng.core.repo import open_repo
from tests.gitrepo import GitRepo


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(CtxengError, match="not a git repository") as info:
        open_repo(tmp_path)
    assert info.value.hint


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CtxengError, match="no such directory"):
        open_repo(tmp_path / "nope")


def test_empty_repository_has_no_head(git_repo: GitRepo) -> None:
    view = open_repo(git_repo.path)
    assert view.head == "" and view.branch == "main" and view.index() == []


def test_subdirectory_opens_the_work_tree(git_repo: GitRepo) -> None:
    git_repo.commit("Add", {"pkg/a.py": "x = 1\n"})
    view = open_repo(git_repo.path / "pkg")
    assert view.root == git_repo.path.resolve()
    assert view.name == "repo"


def test_detached_head(git_repo: GitRepo) -> None:
    first = git_repo.commit("One", {"a.py": "x = 1\n"})
    git_repo.commit("Two", {"a.py": "x = 2\n"})
    git_repo.git("checkout", "-q", "--detach", first)
    view = open_repo(git_repo.path)
    assert view.head == first and view.branch == ""


def test_shallow_clone(git_repo: GitRepo, tmp_path: Path) -> None:
    for i in range(4):
        git_repo.commit(f"Commit {i}", {"a.py": f"x = {i}\n"})
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{git_repo.path}", str(clone)], check=True)
    view = open_repo(clone)
    assert view.shallow and view.head == git_repo.head()


def test_bare_repository_is_refused(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "bare.git")], check=True)
    with pytest.raises(CtxengError):
        open_repo(tmp_path / "bare.git")


def test_hook_index_is_honoured_for_the_same_repository(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_repo.commit("Add", {"a.py": "x = 1\n"})
    git_repo.write("b.py", "y = 1\n")
    temp_index = git_repo.path / ".git" / "next-index.lock"
    env = {"GIT_INDEX_FILE": str(temp_index)}
    git_repo.git("read-tree", "HEAD", env=env)
    git_repo.git("add", "b.py", env=env)
    monkeypatch.setenv("GIT_INDEX_FILE", str(temp_index))
    assert [e.path for e in open_repo(git_repo.path).index()] == ["a.py", "b.py"]
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert [e.path for e in open_repo(git_repo.path).index()] == ["a.py"]


def test_foreign_hook_variables_are_ignored(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = GitRepo(tmp_path / "other")
    other.commit("Other", {"o.py": "z = 1\n"})
    git_repo.commit("Add", {"a.py": "x = 1\n"})
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other.path / ".git" / "index"))
    assert [e.path for e in open_repo(git_repo.path).index()] == ["a.py"]
