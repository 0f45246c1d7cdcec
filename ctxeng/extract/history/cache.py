"""A sha-keyed cache of mined history, so a rebuild mines only the commits it has not seen.

A commit's sha names its content (message, parents, tree), so what `git log --name-status`
says about it (`LogCommit`) and its bounded patch (`CommitPatch`) never change; the cache holds
them per sha under `<out_dir>/cache/history/`, salted with ctxeng's extractor code (and, for
patches, the patch settings). The walk order always comes from git (`rev-list`), so rewritten
history (amend, rebase, reset, a branch switch) needs no special case: commits the cache lacks
are mined, the others are reused. Shallow-boundary commits are never cached: git shows them as
roots only until the clone is deepened. A torn or unreadable file is a miss; never a source of truth.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ctxeng.core.cache import CacheTable
from ctxeng.extract.history.log import LogCommit
from ctxeng.extract.history.parse import CommitPatch

CACHE_DIR = "cache/history"


class HistoryCache:
    """`LogCommit`s and `CommitPatch`es by sha (see the module docstring)."""

    def __init__(self, out_dir: Path, code_salt: str, patch_settings: Any) -> None:
        folder = out_dir / CACHE_DIR
        self.log = CacheTable(folder / "log.json", code_salt)
        patch_salt = hashlib.sha1((code_salt + json.dumps(patch_settings, sort_keys=True)).encode()).hexdigest()
        self.patches = CacheTable(folder / "patches.json", patch_salt)

    def commits(self, shas: Iterable[str]) -> dict[str, LogCommit]:
        """The cached commits among `shas`."""
        entries = self.log.entries
        out = {}
        for sha in shas:
            row = entries.get(sha)
            if row is not None:
                parents, when, date, subject, message, files = row
                out[sha] = LogCommit(sha, tuple(parents), when, date, subject, message, [(p, s) for p, s in files])
        return out

    def put_commit(self, commit: LogCommit) -> None:
        """Remember `commit` (not for shallow-boundary commits: see the module docstring)."""
        row = [list(commit.parents), commit.time, commit.date, commit.subject, commit.message,
               [[p, s] for p, s in commit.files]]  # fmt: skip
        self.log.put(commit.sha, row)

    def patch(self, sha: str) -> CommitPatch | None:
        """The cached patch of `sha`, or None."""
        row = self.patches.entries.get(sha)
        if row is None:
            return None
        diff, truncated, symbols, added, deleted, size, omitted = row
        return CommitPatch(sha, diff, truncated, [(p, n) for p, n in symbols], added, deleted, size, omitted)

    def put_patch(self, patch: CommitPatch) -> None:
        """Remember `patch`."""
        row = [patch.diff, patch.truncated, [[p, n] for p, n in patch.symbols], patch.added, patch.deleted,
               patch.bytes, patch.omitted]  # fmt: skip
        self.patches.put(patch.sha, row)

    def save(self, walk: set[str], window: set[str]) -> None:
        """Write back what changed (`walk`: the commits of this build; `window`: those with patches)."""
        self.log.save(walk)
        self.patches.save(window)
