"""Finished examples kept compactly: what the split needs in columns, each row's JSON in a temporary file.

A 100,000-file repository makes over a million rows; holding each as `Example` + `Bounded` +
a dated pair + a row dict cost ~3 KB a row (issue 12). Here a row costs its id, a few array slots
and two 16-byte digests (`outcomes.Kept`); its JSON is spilled to a temporary file and read back one
row at a time while the rows are written. `Split` gives exactly what the list-based split it replaced
gave on the same examples (kept as the tests' reference, `tests/split_reference.py`).
"""

from __future__ import annotations

import json
import os
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from ctxeng.core.fsio import dumps_json_bytes
from ctxeng.dataset.outcomes import DIGEST, Dropped, Kept, Outcome

_ID = 10  # an example id is 20 hex digits: kept as its 10 bytes (which sort as the hex does)
#: The per-row columns and the bytes each row takes in the byte columns (the others are arrays).
COLUMNS = ("ids", "task_no", "source_no", "commit_no", "times", "tokens", "short", "pairs", "answers",
           "offsets", "lengths")  # fmt: skip
WIDTHS = {"ids": _ID, "short": 1, "pairs": DIGEST, "answers": DIGEST}


class ExampleStore:
    """Kept outcomes in columns (index i = the i-th kept), their row JSON spilled to disk."""

    def __init__(
        self,
        tasks: Sequence[str],
        spill_dir: Path | None = None,
        fragments: tuple[Any, int] | None = None,
    ) -> None:
        self.tasks = list(tasks)
        self._task_no = {task: n for n, task in enumerate(self.tasks)}
        self.dropped: Counter[str] = Counter()  # by the bounds, and repeated ids
        self.shortened = 0
        self._seen: set[bytes] = set()  # ids of every outcome offered, kept or not
        self.ids = bytearray()
        self.task_no = array("H")
        self.source_no = array("i")
        self.sources = 0  # distinct sources so far
        self.source_names: list[str] = []
        self.data_name = ""  # the fragment file's name when the caller keeps it (`dataset.carry`)
        self._source: dict[str, int] = {}
        self.commit_no = array("i")  # the example's own commit (into `commits`) and time
        self.commits: list[str] = []
        self._commit: dict[str, int] = {}
        self.times = array("q")
        self.tokens = array("q")
        self.short = bytearray()  # 1 where the row was shortened to fit
        self.pairs = bytearray()
        self.answers = bytearray()
        self.offsets = array("q")
        self.lengths = array("i")
        if fragments is not None:  # a file the caller keeps (`dataset.carry`): append after `end`
            self.use(*fragments)
        else:
            # Beside the outputs when there are any: /tmp may be a RAM-backed tmpfs (GBs at 100k files).
            if spill_dir is not None:
                spill_dir.mkdir(parents=True, exist_ok=True)
            self._spill = tempfile.TemporaryFile(dir=spill_dir)
            self._fd = self._spill.fileno()
            self._end = 0
        self._buffer = bytearray()  # fragments not yet written (one write per MB, not per row)

    def __len__(self) -> int:
        return len(self.task_no)

    def add(self, outcome: Outcome | None) -> None:
        """Take one outcome (None: a repeated id the bounds skipped); the first of an id wins."""
        if outcome is None:
            self.dropped["duplicate_id"] += 1
            return
        key = bytes.fromhex(outcome.id)
        if key in self._seen:
            self.dropped["duplicate_id"] += 1
            return
        self._seen.add(key)
        if isinstance(outcome, Dropped):
            self.dropped[outcome.reason] += 1
            return
        self.ids += key
        self.task_no.append(self._task_no[outcome.task])
        self.source_no.append(self._source.setdefault(outcome.source, len(self._source)))
        self.shortened += outcome.shortened
        self._append_columns(outcome)

    def _append_columns(self, outcome: Kept) -> None:
        """A kept row's columns after its id, task and source: commit, time, tokens, digests, JSON."""
        commit = self._commit.get(outcome.commit)
        if commit is None:
            commit = self._commit[outcome.commit] = len(self.commits)
            self.commits.append(outcome.commit)
        self.commit_no.append(commit)
        self.times.append(outcome.time)
        self.tokens.append(outcome.tokens)
        self.short.append(outcome.shortened)
        self.pairs += outcome.pair
        self.answers += outcome.answer
        self.offsets.append(self._end + len(self._buffer))
        self.lengths.append(len(outcome.fragment))
        self._buffer += outcome.fragment
        if len(self._buffer) >= 1 << 20:
            self._flush()

    def adopt(self, sources: list[str], commits: list[str]) -> None:
        """Number sources and commits as an earlier store did (before any row is added), so that its
        rows can be added by `add_rows` as they are."""
        self._source = {source: n for n, source in enumerate(sources)}
        self.commits = list(commits)
        self._commit = {commit: n for n, commit in enumerate(commits)}

    def add_rows(self, old: Any, start: int, end: int) -> None:
        """Append rows `start`..`end` of `old` (columns named as `COLUMNS`, numbered as `adopt` said,
        fragments in this store's file) as they are. Their ids are not checked for repeats here."""
        for name in COLUMNS:
            width = WIDTHS.get(name, 1)
            getattr(self, name).extend(getattr(old, name)[start * width : end * width])
        self.shortened += old.short[start:end].count(1)

    def use(self, file: Any, end: int) -> None:
        """Keep fragments in the open binary `file` (closed with the store), whose first `end` bytes
        hold the fragments of the rows there are."""
        self._spill, self._fd, self._end = file, file.fileno(), end

    def fileno(self) -> int:
        """The fragment file's descriptor."""
        return self._fd

    def end(self) -> int:
        """Where the fragment file ends (after `done`)."""
        return self._end

    def _flush(self) -> None:
        os.pwrite(self._fd, self._buffer, self._end)
        self._end += len(self._buffer)
        self._buffer = bytearray()

    def done(self) -> None:
        """Adding is over: free what only adding needed."""
        self._flush()
        self.sources = len(self._source)
        self.source_names = list(self._source)  # by number (`dataset.carry` keeps them)
        self._seen = set()
        self._source = {}

    def fragment(self, i: int) -> bytes:
        """Row i's JSON without braces, commit and time."""
        return os.pread(self._fd, self.lengths[i], self.offsets[i])

    def key(self, i: int) -> bytes:
        """Row i's id (10 bytes; sorts as the hex id does)."""
        return bytes(self.ids[i * _ID : (i + 1) * _ID])

    def pair(self, i: int) -> bytes:
        """The digest of row i's (user, answer)."""
        return bytes(self.pairs[i * DIGEST : (i + 1) * DIGEST])

    def answer_key(self, i: int) -> bytes:
        """The digest of row i's normalised answer."""
        return bytes(self.answers[i * DIGEST : (i + 1) * DIGEST])

    def close(self) -> None:
        """Close (and so remove) the spill file."""
        self._spill.close()


class Split:
    """The time split of a store: train and eval row indices (each in id order) and their dating."""

    def __init__(
        self, store: ExampleStore, eval_share: float, dropped: Counter[str], head: frozenset[str]
    ) -> None:
        self.store = store
        n = len(store)
        # date_by_source: every example of a record gets the newest (commit, time) among them.
        newest = array("q", [-1]) * store.sources
        for i in range(n):
            s = store.source_no[i]
            j = newest[s]
            if j < 0 or self._newness(i) > self._newness(j):
                newest[s] = i
        self.newest = newest
        # split_by_time over the tasks that are not about HEAD: whole commits, newest first.
        head_no = {no for no, task in enumerate(store.tasks) if task in head}
        sizes: Counter[int] = Counter()
        first: dict[int, int] = {}  # dated commit -> its first row (its time)
        rest = 0
        for i in range(n):
            if store.task_no[i] in head_no:
                continue
            rest += 1
            j = newest[store.source_no[i]]
            commit = store.commit_no[j]
            sizes[commit] += 1
            first.setdefault(commit, j)
        order = sorted(first, key=lambda c: self._newness(first[c]), reverse=True)
        target = eval_share * rest
        held_n = taken = 0
        for commit in order[:-1]:
            if held_n >= target or eval_share <= 0:
                break
            held_n += sizes[commit]
            taken += 1
        self.eval_commits = taken
        self._commit_json = [dumps_json_bytes(c) for c in store.commits]
        chosen = set(order[:taken])
        held = array("q")
        train = array("q")
        for i in _by_id(store):
            evaluated = (
                store.task_no[i] not in head_no and store.commit_no[newest[store.source_no[i]]] in chosen
            )
            (held if evaluated else train).append(i)
        # dedupe each split (lowest id kept), then drop train rows whose answer an eval row gives.
        self.held = _dedupe(store, held, dropped)
        leaked = {store.answer_key(i) for i in self.held}
        self.train = array("q")
        for i in _dedupe(store, train, dropped):
            if store.answer_key(i) in leaked:
                dropped["eval_leak"] += 1
            else:
                self.train.append(i)

    def _newness(self, i: int) -> tuple[bool, int, str]:
        """Sort key of row i's own dating, larger = newer: uncommitted first, then time, then sha."""
        commit = self.store.commits[self.store.commit_no[i]]
        return (commit == "", self.store.times[i], commit)

    def dating(self, i: int) -> tuple[str, int]:
        """Row i's split (commit, time): its source's newest; ("", 0) when uncommitted."""
        j = self.newest[self.store.source_no[i]]
        commit = self.store.commits[self.store.commit_no[j]]
        return (commit, self.store.times[j]) if commit else ("", 0)

    def line(self, i: int) -> bytes:
        """Row i as one JSON line (the bytes `fsio.write_jsonl` writes for it)."""
        store = self.store
        j = self.newest[store.source_no[i]]
        commit = store.commit_no[j]
        time = store.times[j] if store.commits[commit] else 0  # uncommitted: ("", 0)
        return b"".join(
            (
                b'{"commit":',
                self._commit_json[commit],
                b",",
                store.fragment(i),
                b',"time":',
                str(time).encode(),
                b"}\n",
            )
        )


def _buckets(keys: bytearray, width: int, rows: Sequence[int]) -> list[array[int]]:
    """The positions in `rows` by the first byte of their row's `width`-byte key in `keys`, each in order.

    Sorting or deduplicating a bucket at a time holds one bucket's keys (as bytes objects), not all:
    at 100,000 files ~1.4 million rows, ~135 MB of keys at once.
    """
    buckets = [array("I") for _ in range(256)]
    for at, i in enumerate(rows):
        buckets[keys[i * width]].append(at)
    return buckets


def _by_id(store: ExampleStore) -> Iterator[int]:
    """The store's rows in id order (a stable sort, a bucket of first id bytes at a time)."""
    buckets = _buckets(store.ids, _ID, range(len(store)))
    for b in range(len(buckets)):
        bucket, buckets[b] = buckets[b], array("I")
        yield from sorted(bucket, key=store.key)


def _dedupe(store: ExampleStore, ids_sorted: array[int], dropped: Counter[str]) -> array[int]:
    """`ids_sorted` without the rows whose (user, answer) digest an earlier row has."""
    buckets = _buckets(store.pairs, DIGEST, ids_sorted)
    repeat = bytearray(len(ids_sorted))
    for b in range(len(buckets)):
        bucket, buckets[b] = buckets[b], array("I")
        seen: set[bytes] = set()
        for at in bucket:
            key = store.pair(ids_sorted[at])
            if key in seen:
                repeat[at] = 1
            else:
                seen.add(key)
    out = array("q")
    for at, i in enumerate(ids_sorted):
        if repeat[at]:
            dropped["duplicate"] += 1
        else:
            out.append(i)
    return out


class Rows(Sequence[dict[str, Any]]):
    """The rows of one split, made one at a time from the store (a list equal to them compares equal)."""

    def __init__(self, split: Split, indices: array[int]) -> None:
        self.split, self.indices = split, indices

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, k: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, k: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, k: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(k, slice):
            return [_parse(self.split.line(i)) for i in self.indices[k]]
        return _parse(self.split.line(self.indices[k]))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in self.indices:
            yield _parse(self.split.line(i))

    def lines(self) -> Iterator[bytes]:
        """Each row as the JSON line a deterministic writer gives it."""
        for i in self.indices:
            yield self.split.line(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by value, like the list it stands for


def _parse(line: bytes) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(line)
    return row
