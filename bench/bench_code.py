"""Throughput of the code stage (tree-sitter parse + tags query + records) on a directory of sources.

Usage: python bench/bench_code.py DIR [--mb 20] [--pool] [--repeat 3] [--floor]
Reads up to --mb megabytes of files in known languages (sorted paths, files over 1 MB skipped),
then times `extract_code` and reports CPU seconds, MB/s per core, records and peak RSS.
With --floor it first times tree-sitter alone (parse; parse + tags query): the part of the
stage no Python change can make faster.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import Counter
from pathlib import Path

from ctxeng.core.provenance import Provenance
from ctxeng.extract import code
from ctxeng.extract.languages import language_for
from ctxeng.extract.selection import SourceFile, decode_text


def collect(root: Path, limit_bytes: int) -> list[SourceFile]:
    """Source files under `root` in a known language, sorted, up to `limit_bytes` in all."""
    files: list[SourceFile] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if language_for(rel) is None or path.is_symlink():
                continue
            data = path.read_bytes()
            if not data.strip() or len(data) > 1_000_000:
                continue
            text, encoding = decode_text(data)
            files.append(SourceFile(rel, "", text, len(data), encoding))
            total += len(data)
            if total >= limit_bytes:
                return files
    return files


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def floor(files: list[SourceFile], repeat: int) -> None:
    """Best CPU of parsing every file, then of parsing and running its tags query."""
    from tree_sitter import QueryCursor

    from ctxeng.extract.tagquery import compiled

    specs = [language_for(f.path) for f in files]
    jobs = [
        (compiled(spec), f.text.encode("utf-8", "surrogatepass")) for spec, f in zip(specs, files) if spec
    ]
    size = sum(len(data) for _, data in jobs)
    for label, query in (("parse", False), ("parse + query", True)):
        best = float("inf")
        for _ in range(repeat):
            c0 = cpu()
            for language, data in jobs:
                tree = language.parser.parse(data)
                if query:
                    QueryCursor(language.query).matches(tree.root_node)
            best = min(best, cpu() - c0)
        print(f"{label}: cpu {best:.2f} s ({size / 1e6 / best:.2f} MB/s per core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--pool", action="store_true", help="let extract_code use its 2-process pool")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor", action="store_true", help="also time tree-sitter's parse and query alone")
    args = parser.parse_args()
    files = collect(args.root, int(args.mb * 1_000_000))
    size = sum(f.size for f in files)
    langs = Counter(language_for(f.path).name for f in files)  # type: ignore[union-attr]
    print(f"{len(files)} files, {size / 1e6:.1f} MB: {dict(sorted(langs.items()))}")
    if args.floor:
        floor(files, args.repeat)
    if not args.pool:
        code.POOL_MIN_BYTES = 1 << 62
    else:
        code.POOL_MIN_BYTES = 0
    provenance = Provenance(head="0" * 40)
    code.extract_code(files[:20], provenance, lambda *_: None)  # load grammars and compile queries
    best_cpu = best_wall = float("inf")
    records = []
    for _ in range(args.repeat):
        c0, w0 = cpu(), time.perf_counter()
        records = code.extract_code(files, provenance, lambda *_: None)
        best_cpu, best_wall = min(best_cpu, cpu() - c0), min(best_wall, time.perf_counter() - w0)
    kinds = Counter(r.kind for r in records)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"best of {args.repeat}: cpu {best_cpu:.2f} s ({size / 1e6 / best_cpu:.2f} MB/s per core), "
        f"wall {best_wall:.2f} s ({size / 1e6 / best_wall:.2f} MB/s); records {dict(kinds)}; "
        f"peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
