"""The last history result, carried to the next build so that commits on top of its HEAD cost alone.

A post-commit refresh of sqlalchemy (one new commit on 18k) spent ~0.55 s in the history stage
redoing work whose inputs had not changed: reading every cached commit and patch back from JSON,
co-change counts over every commit, 15k commit records rebuilt, the omissions of every window path
asked of git. `Carry` is that stage's complete result plus the state needed to extend it (the walk,
per-path commits, co-change touches and pair counts among the paths at HEAD, the patch window's
keys and stats, the omission reasons already computed), written after every history pass to
`<out_dir>/cache/history/carry.marshal`. `ctxeng.extract.history.extend` applies new commits to it.

The file is checked before use: a header names its format, its key (a digest of the cache salt,
which covers ctxeng's extractor and secret code and settings, the history, files and secret-file
settings) and a SHA-1 of the payload; the payload is `marshal` data (plain values only: no code
runs on load), its shape checked as it is used. Anything torn, damaged, of another key or another
shape is a miss and the history is mined by the full pass. No secret is carried: a result is carried
only when no commit date, path or touched definition needed redaction (messages and patch text are
carried as their records show them, redacted), as the history cache stores them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import marshal
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core.config import FilesConfig, HistoryConfig
from ctxeng.core.records import Record

CARRY_FILE = "carry.marshal"
#: The carried state's layout; part of the key, so another layout reads as a miss.
CARRY_FORMAT = 1
_MAGIC = b"ctxeng-history-carry"

#: A record's fields in `Record`'s order (see `ctxeng.core.cache.Row`).
Row = tuple[str, str, str, int, int, str, int, str, str, dict[str, Any]]
#: One patch-window commit: (sha, patch key, files, touched definitions, patch redaction counts,
#: patch bytes, characters kept before redaction, truncated, files omitted, omission reasons).
WindowRow = tuple[str, str, list[tuple[str, str]], list[tuple[str, str]], dict[str, int], int, int, bool, int,
                  tuple[str, ...]]  # fmt: skip


@dataclass
class Carry:
    """A history pass's result and the state to extend it (see the module docstring)."""

    key: str
    head: str
    head_time: int
    order: list[str]  # the walk, newest first
    merges: int  # merge commits in the walk
    records: list[Row]  # the commit records, in walk order
    view_counts: dict[str, dict[str, int]]  # sha -> redaction counts of its commit strings (only if any)
    window: list[WindowRow]  # the patch window, newest first
    at_head: list[str]  # the paths of the index the pass read, sorted
    ever: list[str]  # every path a non-merge commit of the walk touched
    file_commits: dict[str, list[tuple[str, int]]]  # `Provenance.file_commits`
    touches: dict[str, int]  # per path at HEAD: co-change commits touching it
    pairs: dict[str, dict[str, int]]  # per path at HEAD: co-change commits shared with each other such path
    cochange: dict[str, Row]  # the co-change records by path
    ignored: int  # commits too wide for co-change
    omit_key: str  # what the omission reasons were computed under (`omissions_key`)
    omit_reasons: dict[str, str]  # path -> `history_omissions` reason ("" for none)


def carry_key(
    salt: str, config: HistoryConfig, files: FilesConfig | None, drop_files: tuple[str, ...]
) -> str:
    """The digest a carried result must hold to be used: everything that shapes it besides the repository."""
    parts = [CARRY_FORMAT, salt, dataclasses.asdict(config), dataclasses.asdict(files) if files else None,
             list(drop_files)]  # fmt: skip
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def row(rec: Record) -> Row:
    """A record as its carried row; a commit record's paths are interned, in place (values unchanged), so
    that marshal writes each path once and reads back one object per path, not one per mention."""
    if rec.kind == "commit":
        intern = sys.intern
        for item in (*rec.meta["files"], *rec.meta["symbols"]):
            item["path"] = intern(item["path"])
    return (rec.id, rec.kind, rec.path, rec.start_line, rec.end_line, rec.commit, rec.time, rec.name, rec.text,
            rec.meta)  # fmt: skip


def load(folder: Path, key: str) -> Carry | None:
    """The carried result in `folder` if it is whole and was written under `key`, else None."""
    try:
        data = (folder / CARRY_FILE).read_bytes()
        header, sep, payload = data.partition(b"\n")
        magic, stored_key, digest = header.split(b" ")
        if not sep or magic != _MAGIC or stored_key.decode() != key:
            return None
        if hashlib.sha1(payload).hexdigest().encode() != digest:
            return None  # torn or damaged
        fields = marshal.loads(payload)
    except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError):
        return None
    names = [f.name for f in dataclasses.fields(Carry)]
    if type(fields) is not tuple or len(fields) != len(names) or fields[0] != key:
        return None
    carry = Carry(*fields)
    expected = {"head": str, "head_time": int, "order": list, "merges": int, "records": list, "view_counts": dict,
                "window": list, "at_head": list, "ever": list, "file_commits": dict, "touches": dict, "pairs": dict,
                "cochange": dict, "ignored": int, "omit_key": str, "omit_reasons": dict}  # fmt: skip
    if any(type(getattr(carry, name)) is not kind for name, kind in expected.items()):
        return None
    return carry


def save(folder: Path, carry: Carry) -> None:
    """Write `carry` atomically (no fsync: it is a cache); a failure only costs the next build a full pass."""
    payload = marshal.dumps(tuple(getattr(carry, f.name) for f in dataclasses.fields(Carry)))
    header = b" ".join((_MAGIC, carry.key.encode(), hashlib.sha1(payload).hexdigest().encode()))
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".carry.", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(header + b"\n")
                fh.write(payload)
            os.replace(tmp, folder / CARRY_FILE)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def drop(folder: Path) -> None:
    """Remove the carried result (a pass that cannot be carried must not leave an older one behind)."""
    with contextlib.suppress(OSError):
        os.unlink(folder / CARRY_FILE)
