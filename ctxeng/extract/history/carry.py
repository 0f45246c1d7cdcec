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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.config import FilesConfig, HistoryConfig
from ctxeng.core.records import Record, Row, record_from_row

CARRY_FILE = "carry.marshal"
#: Slices of record segments past which `save` writes every record to one segment again.
MAX_SLICES = 24
#: A record's file and definition lists longer than this are written in frames of this many (`_segment_frames`).
BIG_LIST = 16_384
ROWS_PER_FRAME = 1_024
_BIG_KEYS = ("files", "symbols")
#: The carried state's layout; part of the key, so another layout reads as a miss.
CARRY_FORMAT = 2
_MAGIC = b"ctxeng-history-carry"

#: One patch-window commit: (sha, patch key, patch redaction counts, patch bytes, characters kept before
#: redaction, truncated, files omitted, omission reasons); its files and touched definitions are its record's.
WindowRow = tuple[str, str, dict[str, int], int, int, bool, int, tuple[str, ...]]


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
    gone: list[str]  # the paths a non-merge commit of the walk touched that are not at HEAD
    file_commits: dict[str, list[tuple[str, int]]]  # `Provenance.file_commits`
    touches: dict[str, int]  # per path at HEAD: co-change commits touching it
    pairs: dict[str, dict[str, int]]  # per path at HEAD: co-change commits shared with each other such path
    cochange: dict[str, Row]  # the co-change records by path
    ignored: int  # commits too wide for co-change
    omit_key: str  # what the omission reasons were computed under (`omissions_key`)
    omit_reasons: dict[str, str]  # path -> `history_omissions` reason ("" for none)
    #: Where `records` lie: (segment, start, stop) slices in order; segment "" stands for `pending`, the rows
    #: that `save` writes to a new segment (see `save`).
    slices: list[tuple[str, int, int]] = field(default_factory=list)
    pending: list[Row] = field(default_factory=list)


#: The fields written to the state file (`records` live in segments, `pending` is written as one).
_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(Carry) if f.name not in ("records", "pending"))


def carry_key(
    salt: str, config: HistoryConfig, files: FilesConfig | None, drop_files: tuple[str, ...]
) -> str:
    """The digest a carried result must hold to be used: everything that shapes it besides the repository."""
    parts = [CARRY_FORMAT, salt, dataclasses.asdict(config), dataclasses.asdict(files) if files else None,
             list(drop_files)]  # fmt: skip
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def records_of(rows: list[Row]) -> list[Record]:
    """The records of carried rows (TypeError where a row is not one)."""
    return list(map(record_from_row, rows))


def row(rec: Record) -> Row:
    """A record as its carried row; a commit record's paths are interned, in place (values unchanged), so
    that marshal writes each path once and reads back one object per path, not one per mention."""
    if rec.kind == "commit":
        intern = sys.intern
        for item in (*rec.meta["files"], *rec.meta["symbols"]):
            item["path"] = intern(item["path"])
    return (rec.id, rec.kind, rec.path, rec.start_line, rec.end_line, rec.commit, rec.time, rec.name, rec.text,
            rec.meta)  # fmt: skip


def _read(path: Path, name: bytes) -> list[Any]:
    """The frames of `path` after its header line (`_MAGIC`, `name`, the SHA-1 of the rest), each loaded;
    ValueError where the header differs or the rest does not match its digest (torn or damaged)."""
    header, sep, payload = path.read_bytes().partition(b"\n")
    magic, stored, digest = header.split(b" ")[:3]
    if not sep or magic != _MAGIC or stored != name:
        raise ValueError("another carried result")
    if hashlib.sha1(payload).hexdigest().encode() != digest:
        raise ValueError("damaged")
    view, at, frames = memoryview(payload), 0, []
    while at < len(view):
        size = int.from_bytes(view[at : at + 8], "little")
        frames.append(marshal.loads(view[at + 8 : at + 8 + size]))
        at += 8 + size
    return frames


def _write(folder: Path, name: str | None, frames: Iterable[bytes], head: str = "") -> str:
    """Write `frames` (marshal payloads) as `_read` reads them, atomically (no fsync: a cache), to the
    state file (`name`: the key; `head` follows the digest in the header, for `peek`) or, with no `name`,
    to the segment named by the digest; returns the digest. One frame at a time: no buffer holds them all."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".carry.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            width = len(_MAGIC) + 1 + 40 + 1 + 40 + 1 + len(head)  # names and digests: 40 hex digits
            fh.write(b" " * width + b"\n")  # the header, once the digest is known
            digest = hashlib.sha1()
            for frame in frames:
                for part in (len(frame).to_bytes(8, "little"), frame):
                    digest.update(part)
                    fh.write(part)
            hexdigest = digest.hexdigest()
            header = b" ".join((_MAGIC, (name or hexdigest).encode(), hexdigest.encode(), head.encode()))
            if len(header) != width:
                raise OSError("a name that is not 40 hex digits")
            fh.seek(0)
            fh.write(header)
        os.replace(tmp, folder / CARRY_FILE if name is not None else _segment(folder, hexdigest))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return hexdigest


def _segment_frames(rows: list[Row]) -> Iterator[bytes]:
    """A segment's frames: the rows, `ROWS_PER_FRAME` a frame, then the items of each meta list longer than
    `BIG_LIST` (a commit adding a whole tree: 100,000 files, 700,000 definitions) in frames of that many,
    so that writing never holds one buffer of them all (its size would add to the history stage's peak:
    sqlalchemy's 15k commit records are 17 MB)."""
    light, parts = [], []
    for i, r in enumerate(rows):
        meta = r[9]
        big = [k for k in _BIG_KEYS if type(meta.get(k)) is list and len(meta[k]) > BIG_LIST]
        if big:
            r = (
                *r[:9],
                {k: ([] if k in big else v) for k, v in meta.items()},
            )  # the record's meta is left as is
            parts += [(i, k, -(-len(meta[k]) // BIG_LIST)) for k in big]
        light.append(r)
    yield marshal.dumps((-(-len(light) // ROWS_PER_FRAME), parts))
    for lo in range(0, len(light), ROWS_PER_FRAME):
        yield marshal.dumps(light[lo : lo + ROWS_PER_FRAME])
    for i, k, _ in parts:
        items = rows[i][9][k]
        for lo in range(0, len(items), BIG_LIST):
            yield marshal.dumps(items[lo : lo + BIG_LIST])


def _segment_rows(frames: list[Any]) -> list[Row]:
    """The rows `_segment_frames` wrote (TypeError, ValueError or StopIteration where they do not fit)."""
    count, parts = frames[0]
    light: list[Any] = []
    for rows in frames[1 : 1 + count]:
        if type(rows) is not list:
            raise TypeError("not rows")
        light += rows
    chunks = iter(frames[1 + count :])
    for i, k, n in parts:
        items: list[Any] = []
        for _ in range(n):
            chunk = next(chunks)
            if type(chunk) is not list:
                raise TypeError("not a list")
            items += chunk
        light[i][9][k] = items
    if next(chunks, None) is not None:
        raise ValueError("not a segment")
    return light


def _segment(folder: Path, name: str) -> Path:
    return folder / f"carry-{name}.marshal"


def peek(folder: Path, key: str) -> str | None:
    """The HEAD of the result carried in `folder` under `key` (from the state file's first line, unchecked:
    `load` checks it), so that a build whose HEAD is not on top of it does not read it at all."""
    try:
        with open(folder / CARRY_FILE, "rb") as fh:
            fields = fh.readline(400).rstrip(b"\n").split(b" ")
        if len(fields) == 4 and fields[0] == _MAGIC and fields[1] == key.encode():
            return fields[3].decode("ascii")
    except (OSError, UnicodeDecodeError):
        pass
    return None


def load(folder: Path, key: str) -> Carry | None:
    """The carried result in `folder` if it and its segments are whole and were written under `key`, else None."""
    try:
        fields = _read(folder / CARRY_FILE, key.encode())[0]
        if type(fields) is not tuple or len(fields) != len(_STATE_FIELDS) or fields[0] != key:
            return None
        state = dict(zip(_STATE_FIELDS, fields, strict=True))
        segments: dict[str, list[Row]] = {}
        records: list[Row] = []
        for name, start, stop in state["slices"]:
            if name not in segments:
                segments[name] = _segment_rows(_read(_segment(folder, name), name.encode()))
            records += segments[name][start:stop]
    except (OSError, ValueError, EOFError, TypeError, IndexError, KeyError, StopIteration):
        return None
    carry = Carry(records=records, **state)
    expected = {"head": str, "head_time": int, "order": list, "merges": int, "view_counts": dict,
                "window": list, "at_head": list, "gone": list, "file_commits": dict, "touches": dict, "pairs": dict,
                "cochange": dict, "ignored": int, "omit_key": str, "omit_reasons": dict}  # fmt: skip
    if any(type(getattr(carry, name)) is not kind for name, kind in expected.items()):
        return None
    return carry


def cut(slices: list[tuple[str, int, int]], start: int, stop: int) -> list[tuple[str, int, int]]:
    """The slices that hold records `start` to `stop` (exclusive) of the records `slices` hold."""
    out, at = [], 0
    for name, lo, hi in slices:
        first, last = max(lo, lo + start - at), min(hi, lo + stop - at)
        if first < last:
            out.append((name, first, last))
        at += hi - lo
    return out


def save(folder: Path, carry: Carry, whole: bool = False) -> None:
    """Write `carry` (no fsync: it is a cache); a failure only costs the next build a full pass.

    Its `pending` rows go to a new segment, named by its digest, and the state file names the slices of
    segments that make up `records`: a refresh writes the new commits' records, not all. Past
    `MAX_SLICES` slices, or when `whole`, every record is written to one new segment. Segments no
    longer named are removed.
    """
    if whole or len(carry.slices) > MAX_SLICES:
        carry.pending, carry.slices = carry.records, [("", 0, len(carry.records))]
    with contextlib.suppress(OSError):
        if carry.pending:
            name = _write(folder, None, _segment_frames(carry.pending))
            carry.slices = [(name if seg == "" else seg, lo, hi) for seg, lo, hi in carry.slices]
        carry.pending = []
        _write(
            folder, carry.key, [marshal.dumps(tuple(getattr(carry, f) for f in _STATE_FIELDS))], carry.head
        )
        used = {f"carry-{name}.marshal" for name, _, _ in carry.slices}
        for entry in os.scandir(folder):
            if entry.name.startswith("carry-") and entry.name not in used:
                os.unlink(entry.path)


def drop(folder: Path) -> None:
    """Remove the carried result (a pass that cannot be carried must not leave an older one behind)."""
    with contextlib.suppress(OSError):
        os.unlink(folder / CARRY_FILE)
