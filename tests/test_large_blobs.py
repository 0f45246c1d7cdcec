"""The large-blob set with its packed part remembered equals git's full walk, through commits, gc and alternates."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ctxeng.core.repo import open_repo
from ctxeng.extract.history.blobs import LOOSE_KEY, MEMO_FILE, _large_among, _loose_large, large_blobs_cached
from ctxeng.extract.selection import large_blobs
from tests.gitrepo import GitRepo

CAP = 200  # bytes: files over it are "large"


def _check(repo: GitRepo, memo: Path) -> frozenset[str]:
    view = open_repo(repo.path)
    want = large_blobs(view, CAP)
    assert large_blobs_cached(view, CAP, memo) == want
    return want


def test_cached_large_blobs_follow_commits_and_repacks(git_repo: GitRepo, tmp_path: Path) -> None:
    memo = tmp_path / "memo"
    git_repo.commit("small", {"a.txt": "small\n"})
    assert _check(git_repo, memo) == frozenset()  # loose objects only, no pack yet
    git_repo.commit("big", {"big.txt": "x" * 500})
    assert len(_check(git_repo, memo)) == 1
    git_repo.git("gc", "-q")  # everything packed: another pack set, computed once and remembered
    assert len(_check(git_repo, memo)) == 1
    assert (memo / MEMO_FILE).is_file()
    git_repo.commit("bigger", {"big2.txt": "y" * 900, "a.txt": "z" * 300})  # new loose blobs beside the pack
    found = _check(git_repo, memo)
    assert len(found) == 3
    # A remembered pack set is trusted: only the loose objects were asked about (shown by a marked entry).
    (memo / MEMO_FILE).write_text((memo / MEMO_FILE).read_text().replace("[", '["marked",', 1))
    assert "marked" in large_blobs_cached(open_repo(git_repo.path), CAP, memo)
    (memo / MEMO_FILE).write_text("{torn")
    assert large_blobs_cached(open_repo(git_repo.path), CAP, memo) == found
    # Another cap is another entry, never the remembered one.
    assert large_blobs_cached(open_repo(git_repo.path), 10_000, memo) == large_blobs(
        open_repo(git_repo.path), 10_000
    )


def test_alternates_take_the_full_walk(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit("big", {"big.txt": "x" * 500})
    git_repo.git("gc", "-q")
    clone = tmp_path / "shared"
    subprocess.run(["git", "clone", "-q", "--shared", str(git_repo.path), str(clone)], check=True)
    view = open_repo(clone)
    memo = tmp_path / "memo"
    assert large_blobs_cached(view, CAP, memo) == large_blobs(view, CAP) != frozenset()
    assert not (memo / MEMO_FILE).exists()


def test_loose_headers_read_here_equal_git(git_repo: GitRepo, tmp_path: Path) -> None:
    """Loose objects' sizes come from their own headers (no git run): the same verdicts as git's, at the cap,
    for every kind; a file that is not a loose object hands the question to git."""
    git_repo.commit(
        "at and over the cap",
        {"at.txt": "a" * CAP, "over.txt": "b" * (CAP + 1), "z.bin": bytes(range(256)) * 4},
    )
    git_repo.git("tag", "-a", "-m", "a tag", "v1")
    view = open_repo(git_repo.path)
    objects = git_repo.path / ".git" / "objects"
    loose = sorted(p.parent.name + p.name for p in objects.glob("??/*"))
    assert len(loose) >= 6  # blobs, tree, commit, tag
    assert _loose_large(objects, loose, CAP) == large_blobs(view, CAP) == _large_among(view, loose, CAP)
    assert len(large_blobs(view, CAP)) == 2
    (objects / "ab").mkdir(exist_ok=True)
    (objects / "ab" / ("c" * 38)).write_bytes(b"not zlib")
    assert _loose_large(objects, [*loose, "ab" + "c" * 38], CAP) is None


def test_loose_verdicts_are_remembered_by_id(git_repo: GitRepo, tmp_path: Path) -> None:
    memo = tmp_path / "memo"
    git_repo.commit("big", {"big.txt": "x" * 500})
    git_repo.git("gc", "-q")
    _check(git_repo, memo)  # the pack set, remembered
    git_repo.commit("loose", {"small.txt": "s\n", "big2.txt": "y" * 900})
    found = _check(git_repo, memo)
    table = json.loads((memo / MEMO_FILE).read_text())
    verdicts = table["entries"][LOOSE_KEY]
    assert len(found) == 2 and sum(verdicts.values()) == 1 and len(verdicts) >= 4  # blobs, tree, commit
    small = next(oid for oid, large in verdicts.items() if not large)
    verdicts[small] = 1  # a remembered verdict is trusted: shown by a marked one
    (memo / MEMO_FILE).write_text(json.dumps(table))
    assert small in large_blobs_cached(open_repo(git_repo.path), CAP, memo)
    table["entries"][LOOSE_KEY] = "torn"
    (memo / MEMO_FILE).write_text(json.dumps(table))
    assert _check(git_repo, memo) == found
    git_repo.git("gc", "-q")  # packed: another pack set, the loose verdicts are dropped with the old entry
    assert _check(git_repo, memo) == found
    assert json.loads((memo / MEMO_FILE).read_text())["entries"].get(LOOSE_KEY, {}) == {}
