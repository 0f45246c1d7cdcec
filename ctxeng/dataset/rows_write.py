"""Writing `train.jsonl` and `eval.jsonl`, copying the previous generation's bytes for rows that read the same.

A row's line is its JSON fragment (`store.ExampleStore.fragment`) wrapped with its split dating
(`store.Split.line`). Rows carried from the last build (`dataset.carry`) keep their fragment at the
same offset of the same fragment file, which is only appended to until it is compacted into a file
of another name; so a row whose fragment offset and file, and dating, equal those of a row the last
generation wrote has exactly that row's line, and runs of such rows are copied with one read each.
`ROWS_FILE` (in the generation's `state/`) records per written row its fragment offset, line length
and dating, with the fragment file's name and each output file's size and modification time (a file
changed since, or a table that is unreadable or fails its checksum, reuses nothing).
"""

from __future__ import annotations

import contextlib
import os
import zlib
from array import array
from itertools import accumulate, repeat
from pathlib import Path
from typing import IO, Any

from ctxeng.core.fsio import append_range, atomic_writer
from ctxeng.dataset.store import Split

ROWS_FILE = "state/dataset-rows.bin"
PARTS = ("dataset/train.jsonl", "dataset/eval.jsonl")
_MAGIC = b"ctxeng-dataset-rows-1\n"


def write_rows(
    split: Split, parts: list[tuple[Path, Any]], data: str, base: Path | None, index: Path | None
) -> dict[str, int]:
    """Write each (path, row indices) of `parts` (train, eval), copying unchanged rows' lines from the
    generation in `base`; `data` names the store's fragment file. With `index`, write this generation's
    table there. Returns the rows and bytes copied."""
    old = _load(base, data) if base is not None else None
    store = split.store
    newest, offsets, source_no, commit_no, times = (
        split.newest,
        store.offsets,
        store.source_no,
        store.commit_no,
        store.times,
    )
    commits = store.commits
    committed = [bool(c) for c in commits]
    stats = {"rows_reused": 0, "bytes_reused": 0}
    table: list[tuple[array[int], array[int], array[int], array[int]]] = []
    sources: list[IO[bytes] | None] = [None, None]
    with contextlib.ExitStack() as stack:
        if old is not None:
            for n, path in enumerate(old[1]):
                with contextlib.suppress(OSError):
                    sources[n] = stack.enter_context(open(path, "rb"))
        spans_get = (old[0] if old is not None else {}).get
        for path, indices in parts:
            frag, lengths, commit_col, time_col = array("q"), array("i"), array("i"), array("q")
            frag_add, length_add, commit_add, time_add = (
                frag.append,
                lengths.append,
                commit_col.append,
                time_col.append,
            )
            with atomic_writer(path, "wb") as fh:
                run: list[int] = []  # [old part, start, end] of the lines being copied
                for i in indices:
                    j = newest[source_no[i]]
                    c = commit_no[j]
                    when = times[j] if committed[c] else 0
                    at = offsets[i]
                    hit = spans_get(at)
                    if (
                        hit is not None
                        and hit[4] == when
                        and hit[3] == commits[c]
                        and sources[hit[0]] is not None
                    ):
                        size = hit[2]
                        if run and run[0] == hit[0] and run[2] == hit[1]:
                            run[2] += size
                        else:
                            _copy(fh, sources, run, stats)
                            run = [hit[0], hit[1], hit[1] + size]
                        stats["rows_reused"] += 1
                    else:
                        _copy(fh, sources, run, stats)
                        run = []
                        line = split.line(i)
                        fh.write(line)
                        size = len(line)
                    frag_add(at)
                    length_add(size)
                    commit_add(c)
                    time_add(when)
                _copy(fh, sources, run, stats)
            table.append((frag, lengths, commit_col, time_col))
    if index is not None:
        _save(index, data, [p for p, _ in parts], commits, table)
    return stats


def _copy(fh: IO[bytes], sources: list[IO[bytes] | None], run: list[int], stats: dict[str, int]) -> None:
    if not run:
        return
    src = sources[run[0]]
    assert src is not None
    n = run[2] - run[1]
    if os.pread(src.fileno(), 1, run[2] - 1) != b"\n":
        raise OSError("the last generation's dataset file changed while it was read")
    append_range(fh, src, run[1], n, "dataset file")
    stats["bytes_reused"] += n


def _save(index: Path, data: str, paths: list[Path], commits: list[str], table: list[Any]) -> None:
    import orjson

    files = [[os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in paths]
    arrays = [bytes(col) for part in table for col in part]
    head = orjson.dumps(
        {"data": data, "files": files, "commits": commits, "arrays": [len(a) for a in arrays]}
    )
    index.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join([str(len(head)).encode(), b"\n", head, *arrays])
    index.write_bytes(b"".join([_MAGIC, str(zlib.crc32(body)).encode(), b"\n", body]))


def _load(base: Path, data: str) -> tuple[dict[int, tuple[int, int, int, str, int]], list[Path]] | None:
    """Fragment offset -> (part, line offset, line length, commit, time) of the rows the generation in
    `base` wrote, and its part files; None when unusable."""
    import orjson

    paths = [base / part for part in PARTS]
    try:
        raw = (base / ROWS_FILE).read_bytes()
        if not raw.startswith(_MAGIC):
            return None
        start = raw.index(b"\n", len(_MAGIC)) + 1
        if int(raw[len(_MAGIC) : start - 1]) != zlib.crc32(memoryview(raw)[start:]):
            return None  # torn or damaged
        at = raw.index(b"\n", start)
        size = int(raw[start:at])
        head = orjson.loads(raw[at + 1 : at + 1 + size])
        if head["data"] != data:
            return None
        for path, (length, mtime) in zip(paths, head["files"], strict=True):
            st = os.stat(path)
            if (st.st_size, st.st_mtime_ns) != (length, mtime):
                return None
        at += 1 + size
        cols = []
        for n, nbytes in enumerate(head["arrays"]):
            col = array("qiiq"[n % 4])
            col.frombytes(raw[at : at + nbytes])
            cols.append(col)
            at += nbytes
        commits = head["commits"]
        spans: dict[int, tuple[int, int, int, str, int]] = {}
        for part in range(len(PARTS)):
            frag, lengths, commit_col, time_col = cols[4 * part : 4 * part + 4]
            starts = array("q", accumulate(lengths, initial=0))
            if starts[-1] != head["files"][part][0] or not len(frag) == len(lengths) == len(
                commit_col
            ) == len(time_col):
                return None
            dating = map(commits.__getitem__, commit_col)
            spans.update(
                zip(frag, zip(repeat(part), starts, lengths, dating, time_col, strict=False), strict=False)
            )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return spans, paths
