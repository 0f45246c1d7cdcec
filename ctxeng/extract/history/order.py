"""The history walk's order after commits on top of the last build's HEAD, without walking again.

`walk_order` (`git rev-list --date-order`) lists every commit of HEAD: on sqlalchemy 18k commits and
~0.1 CPU-s of git, on every post-commit refresh. The last walk is kept beside the history cache
(`order.txt`: its HEAD, its limit and length, then its shas). When HEAD is now that HEAD with a chain of
single-parent commits on top (what committing, or pulling a fast-forward of plain commits, makes),
the walk is that chain followed by the old walk: with one tip, a date-ordered walk emits the tip,
then is exactly the walk from its only parent. Anything else (a merge on top, amend, rebase, reset,
a branch switch, another limit, a shallow clone whose boundary may move) walks again. The chain is
read with one `rev-list --parents` of at most `MAX_CHAIN` commits.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ctxeng.core.repo import RepoView
from ctxeng.extract.history.log import walk_order

ORDER_FILE = "order.txt"
MAX_CHAIN = 64  # new commits followed on top of the last HEAD; more walk again


def cached_walk_order(repo: RepoView, head: str, max_commits: int, folder: Path) -> list[str]:
    """`walk_order(repo, head, max_commits)`, from the order stored in `folder` where it provably is
    (see the module docstring); the result is stored for the next build."""
    order = None if repo.shallow else _appended(repo, head, max_commits, folder / ORDER_FILE)
    if order is None:
        order = walk_order(repo, head, max_commits)
    store(folder / ORDER_FILE, head, max_commits, order)
    return order


def _appended(repo: RepoView, head: str, max_commits: int, path: Path) -> list[str] | None:
    try:
        lines = path.read_text(encoding="ascii").split("\n")
        old_head, limit, count = lines[0].split(" ")
        if int(limit) != max_commits or not old_head:
            return None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    old = [sha for sha in lines[1:] if sha]
    if not old or old[0] != old_head or len(old) != int(count):
        return None  # damaged, or not a walk from its HEAD
    chain = chain_on(repo, head, old_head)
    if chain is None:
        return None
    order = chain + old
    return order[:max_commits] if max_commits > 0 else order


def chain_on(repo: RepoView, head: str, old_head: str) -> list[str] | None:
    """The commits from `head` down to `old_head` (excluded), newest first, when each has exactly one
    parent and there are at most `MAX_CHAIN` of them ([] when `head` is `old_head`); else None."""
    if head == old_head:
        return []
    out = repo.git.run(["rev-list", "--parents", f"--max-count={MAX_CHAIN}", head, "--"], check=False)
    chain, expect = [], head
    for line in out.decode("ascii", "replace").split("\n"):
        parts = line.split(" ")
        if len(parts) != 2 or parts[0] != expect:
            return None  # a merge, a root, or not a chain
        chain.append(parts[0])
        if parts[1] == old_head:
            return chain
        expect = parts[1]
    return None


def store(path: Path, head: str, max_commits: int, order: list[str]) -> None:
    """Write the order atomically (no fsync: it is a cache); a failure only costs the next walk."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".order.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(f"{head} {max_commits} {len(order)}\n")
                fh.write("\n".join(order))
                fh.write("\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
