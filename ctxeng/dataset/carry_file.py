"""The carry file of `dataset.carry`: the last build's store columns, local tasks' groups and fingerprints.

`<base>.idx` holds a magic line, the salt, a JSON header (tables, fingerprints, groups, the
layout of what follows), the binary columns and each symbol path's remembered names; the rows'
JSON fragments are in the data file it names (`<base>-*.dat`), only ever appended to before the
index is replaced (and synced first), so a crash leaves the last index valid; the index carries a
checksum of itself (the data file is trusted as the outputs are: not checked row by row). Once live fragments are under a third
of the data file it is compacted into a new one. Anything unreadable or inconsistent reads as no
carry (the build then runs without it).
"""

from __future__ import annotations

import contextlib
import os
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ctxeng.dataset.carry_global import KEY as _KEY
from ctxeng.dataset.carry_global import GlobalRows
from ctxeng.dataset.store import COLUMNS, WIDTHS, ExampleStore

_MAGIC = b"ctxeng-dataset-carry-2\n"
TYPES = {"task_no": "H", "source_no": "i", "commit_no": "i", "times": "q", "tokens": "q", "offsets": "q",
         "lengths": "i", "counts": "i", "drop_no": "i", "rows": "q"}  # fmt: skip


@dataclass
class Segments:
    """A local task's groups (keys sorted), their kept rows (counts, in key order), drops and dropped outcomes."""

    keys: list[str] = field(default_factory=list)
    counts: array[int] = field(default_factory=lambda: array("i"))
    drop_no: array[int] = field(default_factory=lambda: array("i"))  # into the drop table; 0 = none
    dropped: dict[str, list[list[str]]] = field(default_factory=dict)  # group -> [[id, reason]]
    drops: Counter[str] = field(default_factory=Counter)  # the task's drop counts, all groups

    def starts(self) -> array[int]:
        """Each group's first row (relative to the task's first), and the end."""
        return array("q", accumulate(self.counts, initial=0))


@dataclass
class State:
    """A carry file read back."""

    data: str
    end: int
    sources: list[str]
    commits: list[str]
    cols: Any  # COLUMNS as attributes
    run_prints: dict[str, str]
    commit_prints: dict[str, str]
    tasks: dict[str, Segments]
    task_rows: dict[str, int]  # the first row of each local task's groups
    drop_table: list[str]
    contrib: dict[str, bytes]  # symbol path -> its names per name rule (JSON)
    record_names: dict[str, bytes]  # symbol path -> per record [digest, names per name rule] (zlib JSON)
    globals: dict[str, GlobalRows] = field(default_factory=dict)


def load(base: Path, salt: str) -> State | None:
    """The carry at `base` made under `salt`, or None."""
    import orjson

    try:
        raw = (base.parent / f"{base.name}.idx").read_bytes()
        if not raw.startswith(_MAGIC):
            return None
        at = len(_MAGIC)
        line_end = raw.index(b"\n", at)
        if raw[at:line_end].decode("utf-8", "surrogatepass") != salt:
            return None
        at = line_end + 1
        line_end = raw.index(b"\n", at)
        if int(raw[at:line_end]) != zlib.crc32(memoryview(raw)[line_end + 1 :]):
            return None  # torn or damaged
        at = line_end + 1
        line_end = raw.index(b"\n", at)
        size = int(raw[at:line_end])
        head = orjson.loads(raw[line_end + 1 : line_end + 1 + size])
        at = line_end + 1 + size
        arrays: dict[str, Any] = {}
        for name, nbytes in head["arrays"]:
            chunk = raw[at : at + nbytes]
            at += nbytes
            typecode = TYPES.get(name.rpartition(":")[2])
            if typecode is None:
                arrays[name] = bytearray(chunk)
            else:
                arrays[name] = array(typecode)
                arrays[name].frombytes(chunk)
        contrib, record_names = {}, {}
        for path, nbytes, more in head["contrib"]:
            contrib[path] = raw[at : at + nbytes]
            record_names[path] = raw[at + nbytes : at + nbytes + more]
            at += nbytes + more
        if at != len(raw) or "/" in head["data"]:
            return None
        if os.stat(base.parent / head["data"]).st_size < head["end"]:
            return None
        tasks = {
            name: Segments(
                t["keys"],
                arrays[f"task:{name}:counts"],
                arrays[f"task:{name}:drop_no"],
                t["dropped"],
                Counter(t["drops"]),
            )  # fmt: skip
            for name, t in head["tasks"].items()
        }
        cols = SimpleNamespace(**{name: arrays[name] for name in COLUMNS})
        globals_ = {}
        for name, info in head["globals"].items():
            keys, rows = arrays[f"global:{name}:keys"], arrays[f"global:{name}:rows"]
            if len(keys) != _KEY * len(rows) or max(rows, default=-1) >= len(cols.task_no):
                return None
            globals_[name] = GlobalRows(keys, rows, info["digest"], Counter(info["drops"]), info["lost"])
        rows = len(cols.task_no)
        if any(len(getattr(cols, n)) != rows * WIDTHS.get(n, 1) for n in COLUMNS):
            return None
        for name, seg in tasks.items():
            if len(seg.counts) != len(seg.keys) or len(seg.drop_no) != len(seg.keys):
                return None
            if head["task_rows"][name] + sum(seg.counts) > rows or max(seg.drop_no, default=0) >= len(
                head["drop_table"]
            ):
                return None
        if max(cols.source_no, default=-1) >= len(head["sources"]) or max(cols.commit_no, default=-1) >= len(
            head["commits"]
        ):
            return None
        return State(head["data"], head["end"], head["sources"], head["commits"], cols, head["run_prints"],
                     head["commit_prints"], tasks, head["task_rows"], head["drop_table"], contrib, record_names, globals_)  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def save(base: Path, salt: str, data: str, fd: int, store: ExampleStore, run: Any) -> None:
    """Write the carry of `store` (its fragments in `data`, open as `fd`) and what `run` (`carry._Run`)
    found; never fails the build (a carry that cannot be written only costs time)."""
    import orjson

    with contextlib.suppress(OSError):
        live = sum(store.lengths)
        end = store.end()
        if end > 3 * live + (8 << 20):
            data, end = _compact(base, store, fd)
        arrays: list[tuple[str, bytes]] = [(name, bytes(getattr(store, name))) for name in COLUMNS]
        tasks = {}
        for name, seg in run.segments.items():
            arrays.append((f"task:{name}:counts", seg.counts.tobytes()))
            arrays.append((f"task:{name}:drop_no", seg.drop_no.tobytes()))
            tasks[name] = {"keys": seg.keys, "dropped": seg.dropped, "drops": dict(seg.drops)}
        for name, part in run.globals.items():
            arrays.append((f"global:{name}:keys", bytes(part.keys)))
            arrays.append((f"global:{name}:rows", part.rows.tobytes()))
        contrib = [(path, blob, run.record_names[path]) for path, blob in sorted(run.contrib.items())]
        head = {
            "data": data,
            "end": end,
            "sources": store.source_names,
            "commits": store.commits,
            "run_prints": run.prints.run_prints,
            "commit_prints": run.prints.commit_prints,
            "tasks": tasks,
            "globals": {name: part.info() for name, part in sorted(run.globals.items())},
            "task_rows": run.task_rows,
            "drop_table": run.drop_table,
            "arrays": [[name, len(chunk)] for name, chunk in arrays],
            "contrib": [[path, len(blob), len(more)] for path, blob, more in contrib],
        }
        header = orjson.dumps(head)
        body = b"".join(
            [
                str(len(header)).encode(),
                b"\n",
                header,
                *(c for _, c in arrays),
                *(b for _, blob, more in contrib for b in (blob, more)),
            ]
        )
        lines = [_MAGIC, salt.encode("utf-8", "surrogatepass"), b"\n", str(zlib.crc32(body)).encode(), b"\n"]
        os.fsync(store.fileno())  # the fragments reach the disk before an index that names them
        tmp = base.parent / f".{base.name}.idx.{os.getpid()}"
        tmp.write_bytes(b"".join([*lines, body]))
        os.replace(tmp, base.parent / f"{base.name}.idx")
        for entry in base.parent.glob(f"{base.name}-*.dat"):
            if entry.name != data:
                with contextlib.suppress(OSError):
                    entry.unlink()


def _compact(base: Path, store: ExampleStore, fd: int) -> tuple[str, int]:
    """Copy the store's fragments into a new data file in row order, which the store then uses; its name
    and end."""
    name = f"{base.name}-{os.getpid()}-{os.urandom(4).hex()}.dat"
    file = open_data(base.parent / name, create=True)
    out = file.fileno()
    try:
        offsets = array("q")
        buffer = bytearray()
        end = 0
        for i in range(len(store)):
            offsets.append(end + len(buffer))
            buffer += os.pread(fd, store.lengths[i], store.offsets[i])
            if len(buffer) >= 1 << 20:
                os.pwrite(out, buffer, end)
                end += len(buffer)
                buffer = bytearray()
        os.pwrite(out, buffer, end)
        end += len(buffer)
    except BaseException:
        file.close()
        raise
    store.offsets = offsets
    store.use(file, end)
    store.data_name = name
    return name, end


def open_data(path: Path, create: bool = False) -> Any:
    """A data file opened for reading and writing at any offset (created empty with `create`)."""
    flags = os.O_RDWR | (os.O_CREAT | os.O_TRUNC if create else 0)
    return os.fdopen(os.open(path, flags, 0o600), "r+b", buffering=0)
