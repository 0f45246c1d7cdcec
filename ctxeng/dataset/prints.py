"""Fingerprints of the records by origin: which files' and commits' records changed since the last build.

A file's `file`, `symbol` and `doc` records are a function of its extraction cache key plus what
later stages set on them (dating, ids made unique), and a commit record of its history cache key
plus the same (see `ctxeng.pipeline.records_write`, which copies record bytes on that ground). So a
run of one kind of records of one path is fingerprinted by its key and its records' (id, commit,
time), without reading their text; without a key (a caller that has none) by a digest of the
records' whole content. Equal fingerprints mean equal records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter

from ctxeng.core.records import Record

PER_FILE_KINDS = ("file", "symbol", "doc")
_KIND_PATH = attrgetter("kind", "path")
_DATED = attrgetter("id", "commit", "time")


@dataclass
class RecordKeys:
    """What the build knows fixes records: extraction cache keys by path (`FileRecords.keys`) and history
    cache keys by commit record id (`HistoryResult.keys`)."""

    paths: Mapping[str, str] = field(default_factory=dict)
    records: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Prints:
    """The records by run ("kind\\0path" for per-file kinds; commit records by id) and their fingerprints
    ("" when a run cannot be fingerprinted: always counted as changed; commits only with a patch)."""

    runs: dict[str, list[Record]]
    run_prints: dict[str, str]
    commits: dict[str, Record]
    commit_prints: dict[str, str]
    others: dict[str, list[Record]] = field(default_factory=dict)  # the other kinds' records, by kind

    def of_kind(self, kind: str) -> list[Record]:
        """All records of `kind`, in input order (runs in input order for per-file kinds)."""
        if kind in PER_FILE_KINDS:
            return [rec for name, run in self.runs.items() if name.startswith(f"{kind}\0") for rec in run]
        if kind == "commit":
            return list(self.commits.values())
        return self.others.get(kind, [])

    def symbols(self) -> list[list[Record]]:
        """Every path's symbol records (one list per path)."""
        return [run for name, run in self.runs.items() if name.startswith("symbol\0")]


def take_prints(records: list[Record], keys: RecordKeys) -> Prints:
    """Group `records` by run and fingerprint each run (see the module docstring)."""
    import orjson

    runs: dict[str, list[Record]] = {}
    commits: dict[str, Record] = {}
    others: dict[str, list[Record]] = {}
    for (kind, path), group in groupby(records, _KIND_PATH):
        if kind in PER_FILE_KINDS:
            name = f"{kind}\0{path}"
            if name in runs:  # records not in sort order: the run comes in pieces
                runs[name] += group
            else:
                runs[name] = list(group)
        elif kind == "commit":
            for rec in group:
                commits[rec.id] = rec
        else:
            others.setdefault(kind, []).extend(group)
    run_prints: dict[str, str] = {}
    for name, run in runs.items():
        key = keys.paths.get(name.partition("\0")[2])
        run_prints[name] = _print(name, key, run, orjson.dumps)
    # A commit's print is its key and dating as they are (no digest). Only commits with a patch make
    # examples: the others are left out (a commit that gains or loses its patch appears or goes).
    known = keys.records
    commit_prints = {
        cid: f"{key}\x1f{rec.commit}\x1f{rec.time}"
        if (key := known.get(cid)) is not None
        else content_print([rec])
        for cid, rec in commits.items()
        if rec.meta.get("diff")
    }
    return Prints(runs, run_prints, commits, commit_prints, others)


def _print(name: str, key: str | None, run: list[Record], dumps: object) -> str:
    if key is None:
        return content_print(run)
    digest = hashlib.sha1(f"{name}\0{key}\0".encode("utf-8", "surrogatepass"))
    try:
        digest.update(dumps(list(map(_DATED, run))))  # type: ignore[operator]
    except TypeError:
        return ""
    return digest.hexdigest()


def content_print(run: list[Record]) -> str:
    """A digest of the whole content of `run` ("" when a record cannot be encoded)."""
    from ctxeng.dataset.task_cache import record_digest

    digest = hashlib.sha1(b"content")
    for rec in run:
        one = record_digest(rec)
        if one is None:
            return ""
        digest.update(one)
    return digest.hexdigest()
