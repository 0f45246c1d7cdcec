"""The history walk after commits on top of the last build: the stored walk extended, never a wrong order."""

from __future__ import annotations

from pathlib import Path

from ctxeng.core.repo import open_repo
from ctxeng.extract.history.log import walk_order
from ctxeng.extract.history.order import ORDER_FILE, cached_walk_order
from tests.gitrepo import GitRepo


def _walk(repo: GitRepo, folder: Path, limit: int = 0) -> list[str]:
    view = open_repo(repo.path)
    got = cached_walk_order(view, view.head, limit, folder)
    assert got == walk_order(view, view.head, limit)
    return got


def _poison(folder: Path) -> str:
    """Replace the stored walk's oldest sha by a marker: a result holding it came from the store."""
    path = folder / ORDER_FILE
    lines = path.read_text().split("\n")
    marker = "f" * 40
    lines[-2] = marker
    path.write_text("\n".join(lines))
    return marker


def _cached(repo: GitRepo, folder: Path, limit: int = 0) -> list[str]:
    view = open_repo(repo.path)
    return cached_walk_order(view, view.head, limit, folder)


def _history(repo: GitRepo, n: int) -> None:
    for i in range(n):
        repo.commit(f"Commit {i}", {f"f{i % 3}.py": f"x = {i}\n"})


def test_commits_on_top_extend_the_stored_walk(git_repo: GitRepo, tmp_path: Path) -> None:
    _history(git_repo, 5)
    folder = tmp_path / "cache"
    _walk(git_repo, folder)
    git_repo.commit("One more", {"f1.py": "x = 10\n"})
    git_repo.commit("And another", {"f2.py": "x = 11\n"})
    assert _walk(git_repo, folder)[:2] == [git_repo.head(), git_repo.git("rev-parse", "HEAD~1").strip()]
    marker = _poison(folder)
    assert _cached(git_repo, folder)[-1] == marker  # the same HEAD: the stored walk is the walk
    git_repo.commit("Third", {"f0.py": "x = 12\n"})
    assert _cached(git_repo, folder)[-1] == marker  # extended, not walked again


def test_rewritten_history_is_walked_again(git_repo: GitRepo, tmp_path: Path) -> None:
    """Amend, reset, a merge on top, a branch switch: the stored walk is not used (a poisoned one shows)."""
    _history(git_repo, 5)
    folder = tmp_path / "cache"
    _walk(git_repo, folder)
    _poison(folder)
    git_repo.write("f1.py", "x = 'amended'\n")
    git_repo.git("commit", "-q", "-a", "--amend", "-m", "Amended", env=git_repo.date_env())
    _walk(git_repo, folder)
    _poison(folder)
    git_repo.git("reset", "-q", "--hard", "HEAD~2")
    _walk(git_repo, folder)
    base = git_repo.head()
    git_repo.git("checkout", "-q", "-b", "side")
    git_repo.commit("On the side", {"side.py": "s = 1\n"})
    _walk(git_repo, folder)  # a plain commit on top: extended (and equal)
    _poison(folder)
    git_repo.git("checkout", "-q", "main")
    _walk(git_repo, folder)  # back to an ancestor of the stored HEAD
    git_repo.commit("On main", {"main.py": "m = 1\n"})
    _walk(git_repo, folder)
    _poison(folder)
    git_repo.git("merge", "-q", "--no-ff", "-m", "Merge side", "side", env=git_repo.date_env())
    assert git_repo.git("rev-list", "--parents", "-n", "1", "HEAD").count(" ") == 2
    _walk(git_repo, folder)  # a merge on top: walked again
    assert base in _cached(git_repo, folder)


def test_the_limit_is_kept_and_a_damaged_store_walks_again(git_repo: GitRepo, tmp_path: Path) -> None:
    _history(git_repo, 6)
    folder = tmp_path / "cache"
    assert len(_walk(git_repo, folder, limit=3)) == 3
    git_repo.commit("Newer", {"f0.py": "x = 20\n"})
    assert len(_walk(git_repo, folder, limit=3)) == 3
    _walk(git_repo, folder, limit=0)  # another limit: walked again, stored with it
    _poison(folder)
    git_repo.commit("Newest", {"f1.py": "x = 21\n"})
    path = folder / ORDER_FILE
    path.write_text("\n".join(path.read_text().split("\n")[:-3]) + "\n")  # shas missing: damaged
    _walk(git_repo, folder)
    path.write_text("garbage")
    _walk(git_repo, folder)
