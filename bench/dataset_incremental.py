"""The dataset stage alone, cold and incremental: CPU-s, peak RSS, and the bytes checked against an uncached run.

Usage: .venv/bin/python bench/dataset_incremental.py REPO [--path FILE] [--work DIR] [--runs 3]

REPO must have been built (`.ctxeng/records.jsonl` is read). Measured in this process, one after
the other: `build_dataset` without a cache; with an empty cache (a cold build: it fills the
cache); with the filled cache and nothing changed; and with the filled cache after the records
of one file (--path, default: the file with the most symbols) changed as a one-file commit
changes them (text edited, newer commit and time) — the post-commit refresh's dataset stage. Each
incremental run's train/eval bytes are compared with an uncached run on the same records. The
cached runs get the record keys a build passes (`dataset.prints.RecordKeys`; here a digest of each
file's and commit's records, made before the clock starts, as the code and history stages make
theirs); `--no-keys` leaves them out (the records are digested instead). CPU
seconds are this process's; RSS is its running maximum (records loaded included). The machine is
shared: compare CPU, not wall.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from ctxeng.core.config import load_config
from ctxeng.core.records import Record, load_records
from ctxeng.dataset import build_dataset

NO_KEYS = False


def _digest(result: object, folder: Path, base: Path | None = None) -> str:
    """Write the rows as a build does into `folder` (dataset/*.jsonl; with `base`, the folder of the
    last cached run, whose unchanged rows are copied) and digest them."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "dataset").mkdir(parents=True)
    train, held = folder / "dataset/train.jsonl", folder / "dataset/eval.jsonl"
    try:
        from ctxeng.dataset.rows_write import ROWS_FILE

        result.write(train, held, base, folder / ROWS_FILE)  # type: ignore[attr-defined]
    except ImportError:  # an older ctxeng (run with PYTHONPATH=<its source> for a before figure)
        if hasattr(result, "write"):
            result.write(train, held)
        else:
            from ctxeng.core.fsio import write_jsonl

            write_jsonl(train, result.train)  # type: ignore[attr-defined]
            write_jsonl(held, result.eval)  # type: ignore[attr-defined]
    return hashlib.sha1(train.read_bytes() + held.read_bytes()).hexdigest()


def _keys(records: list[Record]) -> object:
    """Stand-ins for the extraction and history cache keys: a digest of each path's and commit's records."""
    from ctxeng.dataset.prints import PER_FILE_KINDS, RecordKeys

    paths: dict[str, object] = {}
    commits = {}
    for rec in records:
        line = json.dumps(rec.to_json(), sort_keys=True).encode()
        if rec.kind in PER_FILE_KINDS:
            paths.setdefault(rec.path, hashlib.sha1()).update(line)  # type: ignore[attr-defined]
        elif rec.kind == "commit":
            commits[rec.id] = hashlib.sha1(line).hexdigest()
    return RecordKeys({p: h.hexdigest() for p, h in paths.items()}, commits)  # type: ignore[attr-defined]


LAST: list[Path] = []  # the folder the last cached run wrote its rows to


def _run(records: list[Record], repo: Path, out: Path | None, work: Path) -> tuple[float, str]:
    config = load_config(repo).dataset
    keys = _keys(records) if out is not None and not NO_KEYS else None
    start = time.process_time()
    if keys is None:
        result = build_dataset(records, config, repo.name, out)
    else:
        result = build_dataset(records, config, repo.name, out, keys)  # type: ignore[arg-type]
    if out is None:
        digest = _digest(result, work / "rows-plain")
    else:
        folder = work / ("rows-b" if LAST and LAST[-1].name == "rows-a" else "rows-a")
        digest = _digest(result, folder, LAST[-1] if LAST else None)
        LAST[:] = [folder]
    return time.process_time() - start, digest


def _changed(records: list[Record], path: str, n: int) -> list[Record]:
    """The records after a commit that edits `path` (its file and symbol records: new text and dating)."""
    newest = max(r.time for r in records)
    return [
        dataclasses.replace(r, text=r.text + f"\n# edit {n}", commit=f"{n:040x}", time=newest + 60 * (n + 1))
        if r.path == path and r.kind in ("file", "symbol")
        else r
        for r in records
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--path", default="")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-keys", action="store_true", help="build without record keys (digests instead)")
    args = parser.parse_args()
    global NO_KEYS
    NO_KEYS = args.no_keys
    records = load_records(args.repo / ".ctxeng/records.jsonl")
    path = args.path or Counter(r.path for r in records if r.kind == "symbol").most_common(1)[0][0]
    work = args.work or Path(tempfile.mkdtemp(prefix="ctxeng-dataset-bench-"))
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"{args.repo.name}: {len(records)} records, edited file {path}")
    plain_cpu, plain = _run(records, args.repo, None, work)
    print(f"no cache        {plain_cpu:7.2f} CPU-s   peak RSS {rss():7.1f} MB")
    cold_cpu, cold = _run(records, args.repo, out, work)
    print(f"empty cache     {cold_cpu:7.2f} CPU-s   peak RSS {rss():7.1f} MB   same bytes: {cold == plain}")
    warm = [_run(records, args.repo, out, work) for _ in range(args.runs)]
    same = all(d == plain for _, d in warm)
    print(f"nothing changed {statistics.median(c for c, _ in warm):7.2f} CPU-s (median)   same bytes: {same}")
    samples, ok = [], True
    for n in range(args.runs):
        changed = _changed(records, path, n)
        cpu, digest = _run(changed, args.repo, out, work)
        samples.append(cpu)
        ok = ok and digest == _run(changed, args.repo, None, work)[1]
    print(
        f"one file edited {statistics.median(samples):7.2f} CPU-s (median of {args.runs})   same bytes: {ok}"
    )
    return 0 if ok and same and cold == plain else 1


if __name__ == "__main__":
    sys.exit(main())
