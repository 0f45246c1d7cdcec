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

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
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

    digest = hashlib.sha1(f"{__version__}\0facts-memo-4".encode())
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

    def add_definitions(self, path: str, shown: str, recs: Iterable[Record]) -> None:
        """Take symbol records `recs` of file `path` (as the records name it; `shown`: display-safe):
        for a known file all its definitions come from the table and `recs` is not read, else they are
        distilled. A file's records may come in several runs."""
        if path not in self._runs:
            key = self.keys.get(path) if path == shown else None  # an escaped path may share its run
            rows = self.table.entries.get(f"d:{key}") if key is not None else None
            if isinstance(rows, list):
                try:
                    self._runs[path] = definitions_from_rows(rows)
                    self.used.add(f"d:{key}")
                    self.hits += 1
                    return
                except (TypeError, ValueError):
                    pass
            self._runs[path] = None
            self._sources.setdefault(shown, set()).add(path)
            self._fresh.setdefault(shown, [])
        if self._runs[path] is None:
            fresh = self._fresh[shown]
            for rec in recs:
                fresh.append(definition_of(rec if path == shown else dataclasses.replace(rec, path=shown)))

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

    def commits(self, recs: list[Record]) -> list[Commit]:
        """The commit of each commit record of `recs`, from the table when its history key is known
        there; one loop (sqlalchemy's 15k commit records: a call, a key spelt and the table looked up
        per record cost a third of the time of making them)."""
        entries, used, record_keys = self.table.entries, self.used, self.record_keys
        out: list[Commit] = []
        hits = 0
        for rec in recs:
            key = record_keys.get(rec.id)
            if key is None:
                out.append(commit_of(rec))
                continue
            entry = "c:" + key
            row = entries.get(entry)
            used.add(entry)
            if type(row) is list:
                try:
                    out.append(commit_from_row(row))
                    hits += 1
                    continue
                except (TypeError, ValueError):
                    pass
            out.append(self._fresh_commit(entry, rec))
        self.commit_hits += hits
        return out

    def _fresh_commit(self, entry: str, rec: Record) -> Commit:
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
            self.table.put(entry, [path, [_row(d) for d in run]])
            self.used.add(entry)
        self.table.save(self.used, drop_unused=self.hits == 0 and self.commit_hits == 0)


# Frozen dataclasses set each field in `__init__` through `object.__setattr__`: for the 43k definitions
# and 15k commits a refresh takes from the table, that is half the time of making them. The rows below
# write the slots through their descriptors instead; the objects are the same in every respect (all
# fields set, equal and hashing alike). When the classes' fields are not the ones named here (the
# classes changed), the constructors are used.
_DEFINITION_FIELDS = ("path", "line", "end_line", "name", "qualname", "kind", "signature", "doc", "parent",
                      "public", "calls", "variants")  # fmt: skip
_COMMIT_FIELDS = ("sha", "time", "date", "subject", "body", "files", "added", "deleted", "bot", "symbols")


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...] | None:
    if tuple(f.name for f in dataclasses.fields(cls)) != names:
        return None
    return tuple(getattr(cls, name).__set__ for name in names)


_DEFINITION_SET = _slot_setters(Definition, _DEFINITION_FIELDS)
_COMMIT_SET = _slot_setters(Commit, _COMMIT_FIELDS)


def definitions_from_rows(entry: list[Any]) -> list[Definition]:
    """The definitions of a stored file entry, `[path, rows]` (`_row` per definition, the file's path
    written once: one string shared by its definitions, not one parsed per row)."""
    path, rows = entry
    if _DEFINITION_SET is None:
        return [Definition(path, ln, end, n, q, k, sig, doc, par, pub, (), var)
                for ln, end, n, q, k, sig, doc, par, pub, var in rows]  # fmt: skip
    s_path, s_line, s_end, s_name, s_qual, s_kind, s_sig, s_doc, s_parent, s_public, s_calls, s_var = (
        _DEFINITION_SET
    )
    new = object.__new__
    out = []
    for ln, end, n, q, k, sig, doc, par, pub, var in rows:
        d = new(Definition)
        s_path(d, path), s_line(d, ln), s_end(d, end), s_name(d, n), s_qual(d, q), s_kind(d, k)
        s_sig(d, sig), s_doc(d, doc), s_parent(d, par), s_public(d, pub), s_calls(d, ()), s_var(d, var)
        out.append(d)
    return out


def commit_from_row(row: list[Any]) -> Commit:
    """The commit of a stored row (as `FactsMemo.commit` stores it)."""
    sha, when, date, subject, body, files, added, deleted, bot, symbols = row
    touched = tuple(map(tuple, symbols))
    if _COMMIT_SET is None:
        return Commit(sha, when, date, subject, body, tuple(files), added, deleted, bot, touched)
    s_sha, s_time, s_date, s_subject, s_body, s_files, s_added, s_deleted, s_bot, s_symbols = _COMMIT_SET
    c = object.__new__(Commit)
    s_sha(c, sha), s_time(c, when), s_date(c, date), s_subject(c, subject), s_body(c, body)
    s_files(c, tuple(files)), s_added(c, added), s_deleted(c, deleted), s_bot(c, bot), s_symbols(c, touched)
    return c


def _row(d: Definition) -> list[Any]:
    """A stored definition without its path (written once per file: `definitions_from_rows`)."""
    return [
        d.line,
        d.end_line,
        d.name,
        d.qualname,
        d.kind,
        d.signature,
        d.doc,
        d.parent,
        d.public,
        d.variants,
    ]
