"""Which commit each record comes from: the basis of the time-ordered train/eval split."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ctxeng.core.records import Record


@dataclass
class Provenance:
    """Commit provenance of files and symbols, filled by the history stage.

    `file_commits[path]` lists (sha, time) of the commits that touched `path`, newest first.
    `symbol_commits[(path, name)]` is the newest commit whose patch touched definition `name` in
    `path` (known only inside the window of commits mined with patches, `window`).
    `staged` holds paths whose staged content differs from HEAD: their records are uncommitted.
    """

    head: str = ""
    head_time: int = 0
    file_commits: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    symbol_commits: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    window: set[str] = field(default_factory=set)
    staged: set[str] = field(default_factory=set)

    def of_file(self, path: str) -> tuple[str, int]:
        """The newest commit that touched `path` (HEAD when history is unknown)."""
        if path in self.staged:
            return "", 0
        commits = self.file_commits.get(path)
        return commits[0] if commits else (self.head, self.head_time)

    def of_symbol(self, path: str, name: str) -> tuple[str, int]:
        """The newest commit known to touch definition `name` in `path`.

        Inside the patch window that is exact (hunks mapped to definitions). Otherwise it is the
        newest commit to the file from before the window, since any newer one would have been
        seen touching the symbol; a file born inside the window dates from its first commit.
        """
        if path in self.staged:
            return "", 0
        hit = self.symbol_commits.get((path, name))
        if hit:
            return hit
        return self.of_unseen_symbol(path)

    def of_unseen_symbol(self, path: str) -> tuple[str, int]:
        """`of_symbol` for a committed definition of `path` that no patch in the window touched: the
        same for all of them (the code stage asks once per file)."""
        commits = self.file_commits.get(path)
        if not commits:
            return self.head, self.head_time
        for sha, when in commits:
            if sha not in self.window:
                return sha, when
        return commits[-1]

    def stamp(self, records: Iterable[Record]) -> list[Record]:
        """Copies of `records` dated by this provenance (symbols by name, everything else by file)."""
        out = []
        for rec in records:
            commit, when = (
                self.of_symbol(rec.path, rec.name) if rec.kind == "symbol" else self.of_file(rec.path)
            )
            out.append(rec if (rec.commit, rec.time) == (commit, when) else rec.dated(commit, when))
        return out
