"""Definitions and commits distilled by earlier builds, so the pack stage distils only what changed.

Turning sqlalchemy's 43k symbol and 15k commit records into `Definition`s and `Commit`s (compact
signatures, first sentences, sorted file lists) is most of `facts_from_records`, and after a
one-file commit nearly all of them are what the last build distilled. What a definition holds
depends only on its file's extraction (never on dating), so a file's definitions are stored under
its extraction cache key (`FileRecords.keys`), already sorted and with their variants folded (as
`facts_from_records` orders them: a file's definitions are one run of the sorted list, so the
list is the files' runs in path order); a commit's under its history key (`HistoryResult.keys`).
Both keys name the records' content exactly, and the table is salted with ctxeng's version and the
code that distils (`ctxeng.pack.facts`, `ctxeng.core.display`): a hit gives the facts a fresh
distillation would. A torn or unreadable table is empty, never wrong.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from operator import attrgetter
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core.cache_journal import JournalTable
from ctxeng.core.records import Record
from ctxeng.pack.facts import Commit, Definition, collapse_variants, commit_of, definition_of

MEMO_FILE = "cache/pack/facts.json"
DEF_ORDER = attrgetter("path", "line", "qualname", "kind")  # how `facts_from_records` sorts definitions


@functools.cache
def _salt() -> str:
    from ctxeng.core import display
    from ctxeng.pack import facts, prose

    digest = hashlib.sha1(f"{__version__}\0facts-memo-3".encode())
    for module in (facts, prose, display, __import__(__name__, fromlist=["_"])):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


class FactsMemo:
    """Per file (by extraction key) its definitions, per commit record (by history key) its commit."""

    def __init__(self, out_dir: Path, keys: Mapping[str, str], record_keys: Mapping[str, str]) -> None:
        self.out_dir = out_dir  # where the pack stage's other memos live too (`conventions_memo`)
        self.table = JournalTable(out_dir / MEMO_FILE, _salt())
        self.keys, self.record_keys = keys, record_keys
        self.used: set[str] = set()
        # Per file (as its records name it): its definitions sorted and folded (a hit), or None while
        # its records are being distilled into `_fresh` (by the display-safe path they carry).
        self._runs: dict[str, list[Definition] | None] = {}
        self._fresh: dict[str, list[Definition]] = {}
        self._sources: dict[str, set[str]] = {}  # display-safe path → the files whose records carry it
        self._stored: dict[str, list[Definition]] = {}  # original path → fresh run to store
        self.hits = 0
        self.commit_hits = 0

    def add_definition(self, path: str, rec: Record) -> None:
        """Take symbol record `rec` of file `path` (as the record names it; `rec.path` is display-safe):
        on the first record of a known file all its definitions come from the table, then nothing more."""
        if path in self._runs:
            if self._runs[path] is None:
                self._fresh[rec.path].append(definition_of(rec))
            return
        key = self.keys.get(path) if path == rec.path else None  # an escaped path may share its run
        rows = self.table.entries.get(f"d:{key}") if key is not None else None
        if isinstance(rows, list):
            try:
                self._runs[path] = [Definition(p, ln, end, n, q, k, sig, doc, par, pub, (), var)
                                    for p, ln, end, n, q, k, sig, doc, par, pub, var in rows]  # fmt: skip
                self.used.add(f"d:{key}")
                self.hits += 1
                return
            except (TypeError, ValueError):
                pass
        self._runs[path] = None
        self._sources.setdefault(rec.path, set()).add(path)
        self._fresh.setdefault(rec.path, []).append(definition_of(rec))

    def definitions(self) -> list[Definition] | None:
        """Every definition taken, sorted and folded as `facts_from_records` orders them; None when a
        stored file's run shares its path with an escaped one (the caller then distils them all)."""
        runs: dict[str, list[Definition]] = {}
        for path, run in self._runs.items():
            if run is not None:
                runs[path] = run
        for shown, defs in self._fresh.items():
            if shown in runs:
                return None
            runs[shown] = collapse_variants(sorted(defs, key=DEF_ORDER))
            if self._sources[shown] == {shown} and shown in self.keys:
                self._stored[shown] = runs[shown]
        return [d for path in sorted(runs) for d in runs[path]]

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
                touched = tuple(map(tuple, symbols))
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
        for path, run in sorted(self._stored.items()):
            entry = f"d:{self.keys[path]}"
            self.table.put(entry, [_row(d) for d in run])
            self.used.add(entry)
        self.table.save(self.used, drop_unused=self.hits == 0 and self.commit_hits == 0)


def _row(d: Definition) -> list[Any]:
    return [d.path, d.line, d.end_line, d.name, d.qualname, d.kind, d.signature, d.doc, d.parent, d.public,
            d.variants]  # fmt: skip
