"""Definitions and commits distilled by earlier builds, so the pack stage distils only what changed.

Turning sqlalchemy's 43k symbol and 15k commit records into `Definition`s and `Commit`s (compact
signatures, first sentences, sorted file lists) is most of `facts_from_records`, and after a
one-file commit nearly all of them are what the last build distilled. What a definition holds
depends only on its file's extraction (never on dating), so a file's definitions are stored under
its extraction cache key (`FileRecords.keys`); a commit's under its history key
(`HistoryResult.keys`). Both keys name the records' content exactly, and the table is salted with
ctxeng's version and the code that distils (`ctxeng.pack.facts`, `ctxeng.core.display`): a hit
gives the facts a fresh distillation would. A torn or unreadable table is empty, never wrong.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core.cache_journal import JournalTable
from ctxeng.core.records import Record
from ctxeng.pack.facts import Commit, Definition, commit_of, definition_of

MEMO_FILE = "cache/pack/facts.json"


@functools.cache
def _salt() -> str:
    from ctxeng.core import display
    from ctxeng.pack import facts

    digest = hashlib.sha1(f"{__version__}\0facts-memo-2".encode())
    for module in (facts, display, __import__(__name__, fromlist=["_"])):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


class FactsMemo:
    """Per file (by extraction key) its definitions, per commit record (by history key) its commit."""

    def __init__(self, out_dir: Path, keys: Mapping[str, str], record_keys: Mapping[str, str]) -> None:
        self.out_dir = out_dir  # where the pack stage's other memos live too (`conventions_memo`)
        self.table = JournalTable(out_dir / MEMO_FILE, _salt())
        self.keys, self.record_keys = keys, record_keys
        self.used: set[str] = set()
        self._paths: dict[str, list[Definition] | None] = {}  # path → new definitions, None: a hit
        self.hits = 0
        self.commit_hits = 0

    def add_definition(self, defs: list[Definition], path: str, rec: Record) -> None:
        """Append the definition of symbol record `rec` (of file `path`, as the record names it) to
        `defs`: on the first record of a known file all its definitions, then nothing more."""
        key = self.keys.get(path)
        if key is None:
            defs.append(definition_of(rec))
            return
        if path not in self._paths:
            rows = self.table.entries.get(f"d:{key}")
            if isinstance(rows, list):
                try:
                    cached = [Definition(p, ln, end, n, q, k, sig, doc, par, pub, (), var)
                              for p, ln, end, n, q, k, sig, doc, par, pub, var in rows]  # fmt: skip
                except (TypeError, ValueError):
                    cached = None
                if cached is not None:
                    defs.extend(cached)
                    self._paths[path] = None
                    self.used.add(f"d:{key}")
                    self.hits += 1
                    return
            self._paths[path] = []
        fresh = self._paths[path]
        if fresh is not None:
            d = definition_of(rec)
            defs.append(d)
            fresh.append(d)

    def commit(self, rec: Record) -> Commit:
        """The commit of commit record `rec`, from the table when its history key is known there."""
        key = self.record_keys.get(rec.id)
        if key is None:
            return commit_of(rec)
        entry = f"c:{key}"
        row = self.table.entries.get(entry)
        self.used.add(entry)
        if isinstance(row, list):
            try:
                sha, when, date, subject, body, files, added, deleted, bot, symbols = row
                touched = tuple((str(p), str(n)) for p, n in symbols)
                commit = Commit(sha, when, date, subject, body, tuple(files), added, deleted, bot, touched)
                self.commit_hits += 1
                return commit
            except (TypeError, ValueError):
                pass
        c = commit_of(rec)
        self.table.put(
            entry,
            [c.sha, c.time, c.date, c.subject, c.body, list(c.files), c.added, c.deleted, c.bot,
             [list(pair) for pair in c.symbols]],
        )  # fmt: skip
        return c

    def save(self) -> None:
        """Store the definitions of files seen for the first time and write the table back if it changed.

        A build that found none of its files and commits in the table (ctxeng was upgraded: every key
        is new) replaces it, rather than carrying the dead entries in every later load."""
        for path, fresh in sorted(self._paths.items()):
            if fresh is not None:
                entry = f"d:{self.keys[path]}"
                self.table.put(entry, [_row(d) for d in fresh])
                self.used.add(entry)
        self.table.save(self.used, drop_unused=self.hits == 0 and self.commit_hits == 0)


def _row(d: Definition) -> list[Any]:
    return [d.path, d.line, d.end_line, d.name, d.qualname, d.kind, d.signature, d.doc, d.parent, d.public,
            d.variants]  # fmt: skip
