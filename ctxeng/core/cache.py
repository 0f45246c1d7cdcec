"""A content-addressed cache of per-file extraction results, so unchanged files are never re-parsed.

An entry is keyed by the file's path and blob id plus a salt made of ctxeng's extractor and secret
code, the language folders and the settings that shape records, so any change to those misses.
Entries hold already-redacted records (no secret is cached) and their redaction counts. A torn or
unreadable entry is a miss; the cache is never a source of truth.

Entries are `marshal` data (records as tuples, their repeated strings interned), not JSON: a refresh
reads every file's entry, and on sqlalchemy parsing 892 JSON entries and rebuilding 45,000 records
from dicts (sharing their strings anew) cost 0.5 CPU-s; marshal keeps strings' interning, so reading
is one `marshal.loads` per file and one constructor call per record. marshal only builds plain
values (no code runs on load), and what it builds is checked as it is read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import marshal
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core.fsio import dumps_json
from ctxeng.core.records import Record, Row, record_from_row, share_meta_strings

CACHE_DIR = "cache/extract"
#: The entries' format: a marshal tuple (ENTRY_FORMAT, rows, counters), a row being `Row`'s fields.
ENTRY_FORMAT = 1
ENTRY_SUFFIX = ".marshal"

_SALT_PACKAGES = ("ctxeng.extract", "ctxeng.extractors", "ctxeng.secrets")


@functools.lru_cache(maxsize=1)
def code_salt() -> str:
    """A digest of the code and data that decide what extraction produces."""
    digest = hashlib.sha1(__version__.encode())
    for package in _SALT_PACKAGES:
        root = resources.files(package)
        stack = [root]
        files = []
        while stack:  # iterative walk: the package trees are shallow, but no recursion on principle
            folder = stack.pop()
            for entry in folder.iterdir():
                if entry.is_dir() and entry.name != "__pycache__":
                    stack.append(entry)
                elif entry.name.endswith((".py", ".scm", ".toml")):
                    files.append(entry)
        for entry in sorted(files, key=lambda e: str(e)):
            digest.update(entry.name.encode())
            digest.update(entry.read_bytes())
    return digest.hexdigest()


def checked_row(row: Any) -> Row:
    """`row` if it has a cached record's shape, else TypeError (a damaged entry: read as a miss)."""
    if type(row) is not tuple or len(row) != 10 or type(row[9]) is not dict:
        raise TypeError("not a cached record")
    return row


def row_record(row: Row) -> Record:
    """The record of a cache entry's row (checked: a damaged entry raises TypeError or ValueError)."""
    return record_from_row(checked_row(row))


def _row(rec: Record) -> Row:
    """A record as its cache row, its repeated short strings interned (marshal keeps that on load)."""
    share_meta_strings(rec.meta)
    intern = sys.intern
    return (rec.id, intern(rec.kind), intern(rec.path), rec.start_line, rec.end_line, rec.commit, rec.time,
            rec.name, rec.text, rec.meta)  # fmt: skip


class ExtractCache:
    """Cached (records, counters) per (path, blob) under `<out_dir>/cache/extract/`."""

    def __init__(self, out_dir: Path, settings: dict[str, Any]) -> None:
        self.dir = out_dir / CACHE_DIR
        self.salt = hashlib.sha1((code_salt() + dumps_json(settings)).encode()).hexdigest()
        self.used: set[str] = set()

    def key(self, path: str, blob: str) -> str:
        """The entry's key: it names the records of this file version under these settings and code."""
        return self._key(path, blob)

    def _key(self, path: str, blob: str) -> str:
        return hashlib.sha1(f"{self.salt}\0{path}\0{blob}".encode("utf-8", "backslashreplace")).hexdigest()

    def _file(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}{ENTRY_SUFFIX}"

    def get(
        self, path: str, blob: str, make: Callable[[Row], Record] = row_record
    ) -> tuple[list[Record], dict[str, dict[str, int]]] | None:
        """The cached records and counters of this file version, or None; `make` builds each record
        from its row (`Row`; the caller may date records while building, instead of copying after)."""
        key = self._key(path, blob)
        try:
            data = marshal.loads(self._file(key).read_bytes())
            if type(data) is not tuple or len(data) != 3 or data[0] != ENTRY_FORMAT:
                return None
            _, rows, counters = data
            if type(counters) is not dict:
                return None
            records = [make(row) for row in rows]
        except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError):
            return None
        self.used.add(key)
        return records, counters

    def put(
        self, path: str, blob: str, records: Iterable[Record], counters: dict[str, dict[str, int]]
    ) -> None:
        """Store the records and counters of this file version (atomic rename; no fsync: it's a cache)."""
        key = self._key(path, blob)
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = marshal.dumps((ENTRY_FORMAT, [_row(rec) for rec in records], counters))
        fd, tmp = tempfile.mkstemp(prefix=".entry.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.used.add(key)

    def prune(self, keep_ratio: int = 3) -> int:
        """Delete unused entries once they outnumber the used ones `keep_ratio` to one, and entries of an
        older format (JSON: never read again) at once; returns how many."""
        if not self.dir.is_dir():
            return 0
        entries = [p for sub in self.dir.iterdir() if sub.is_dir() for p in sub.iterdir()]
        over = len(entries) > keep_ratio * max(1, len(self.used))
        removed = 0
        for entry in entries:
            if entry.suffix != ENTRY_SUFFIX or (over and entry.stem not in self.used):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed += 1
        return removed


KEEP_RATIO = 2  # CacheTable entries unused by a build are dropped once they outnumber the used this much


@functools.cache
def _fast_json() -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    """(loads, dumps) for cache files: orjson where installed (no key sorting: a cache need not be
    deterministic), else the stdlib; the stdlib also writes what orjson refuses (lone surrogates)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - a dependency
        return json.loads, lambda obj: json.dumps(obj).encode()

    def dumps(obj: Any) -> bytes:
        try:
            return orjson.dumps(obj)
        except TypeError:
            return json.dumps(obj).encode()

    return orjson.loads, dumps


def _load_table(path: Path, salt: str) -> dict[str, Any]:
    """The `entries` of a cache file written with `salt`, or {} (missing, torn, other salt)."""
    try:
        data = _fast_json()[0](path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("salt") != salt or not isinstance(data.get("entries"), dict):
        return {}
    entries: dict[str, Any] = data["entries"]
    return entries


def _store_table(path: Path, salt: str, entries: dict[str, Any]) -> None:
    """Write the file atomically (rename; no fsync: it is a cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".entry.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_fast_json()[1]({"salt": salt, "entries": entries}))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class CacheTable:
    """One JSON cache file of entries by key, loaded lazily, written back only when it changed.

    The file holds its salt; another salt (other code or settings) reads as empty. Used for
    caches whose entries are small and many (one file, not one per entry).
    """

    def __init__(self, path: Path, salt: str) -> None:
        self.path, self.salt = path, salt
        self._entries: dict[str, Any] | None = None
        self.dirty = False

    @property
    def entries(self) -> dict[str, Any]:
        """Every entry (read from disk on first use)."""
        if self._entries is None:
            self._entries = _load_table(self.path, self.salt)
        return self._entries

    def put(self, key: str, value: Any) -> None:
        """Set the entry of `key`."""
        self.entries[key] = value
        self.dirty = True

    def save(self, used: set[str]) -> None:
        """Write back if changed; drop entries outside `used` once they outnumber it `KEEP_RATIO` to one."""
        entries = self.entries
        if len(entries) > (KEEP_RATIO + 1) * max(1, len(used)):
            for key in [k for k in entries if k not in used]:
                del entries[key]
            self.dirty = True
        if self.dirty:
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                _store_table(self.path, self.salt, entries)
            self.dirty = False
