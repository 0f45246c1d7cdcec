"""Benchmark the secret stage on real repositories: CPU seconds, MB/s, and hits per rule.

Usage: .venv/bin/python bench/secret_scan.py [REPO ...] [--engine re2|re] [--show]

For each repository (default: /work/repos/sqlalchemy and /work/repos/flask, read only) it mines
the records a build would redact (code, docs, glossary, commits with the newest 1,000 patches),
then times `Redactor.record` over all of them and `Scanner.find` over the selected files' full
text, with re2 and with the Python `re` fallback. It prints hits and distinct values per rule;
`--show` also lists each distinct value, for reviewing false positives by hand (public
repositories only: the values are printed).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctxeng.core.config import load_config
from ctxeng.core.records import Record
from ctxeng.core.repo import open_repo
from ctxeng.extract.selection import SourceFile, select_files
from ctxeng.secrets import Redactor, Scanner
from ctxeng.secrets.engine import PYTHON_RE, RE2

DEFAULT_REPOS = ("/work/repos/sqlalchemy", "/work/repos/flask")


def cpu() -> float:
    """User + system CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mine(path: str) -> tuple[list[SourceFile], list[Record]]:
    """The selected files and the records a build would pass to the secret stage."""
    from ctxeng.extract.code import extract_code
    from ctxeng.extract.docs import extract_docs
    from ctxeng.extract.glossary import build_glossary
    from ctxeng.extract.history.stage import mine_history

    repo = open_repo(path)
    config = load_config(repo.root)
    selection = select_files(repo, config.files, config.secrets)
    history = mine_history(repo, config.history)
    code = extract_code(selection.files, history.provenance, lambda *a: None)
    docs = extract_docs(selection.files, history.provenance, config.docs)
    glossary = build_glossary([*code, *docs])
    return selection.files, [*code, *history.commits, *history.cochange, *docs, *glossary]


def record_chars(rec: Record) -> int:
    """Characters of all strings in a record (what the stage has to look at)."""
    strings: list[str] = []
    from ctxeng.secrets.redact import _collect_strings

    _collect_strings(rec.meta, strings)
    return len(rec.path) + len(rec.name) + len(rec.text) + sum(map(len, strings))


def time_records(records: list[Record], scanner: Scanner) -> tuple[float, Counter[str]]:
    """CPU seconds of the build's secret stage (`Redactor.record` on every record) and its counts."""
    redactor = Redactor(scanner=scanner)
    start = cpu()
    for rec in records:
        redactor.record(rec)
    return cpu() - start, redactor.counts


def record_values(records: list[Record], scanner: Scanner) -> dict[str, Counter[str]]:
    """Per rule, the distinct values redacted anywhere in the records (for review; not timed)."""
    from ctxeng.secrets.redact import _collect_strings

    values: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in records:
        strings = [rec.path, rec.name, rec.text]
        _collect_strings(rec.meta, strings)
        for text in strings:
            for finding in scanner.find(text):
                values[finding.rule][text[finding.start : finding.end]] += 1
    return values


def bench_repo(path: str, scanners: list[Scanner], show: bool) -> None:
    """Time the stage on one repository with each engine and print per-rule hits."""
    t0 = time.perf_counter()
    files, records = mine(path)
    mined = time.perf_counter() - t0
    size = sum(map(record_chars, records))
    file_size = sum(len(f.text) for f in files)
    print(f"\n== {path}  ({len(records)} records, {size / 1e6:.1f} M chars; mining took {mined:.1f} s wall)")
    for scanner in scanners:
        stage_cpu, counts = time_records(records, scanner)
        start = cpu()
        for source in files:
            scanner.find(source.text)
        scan_cpu = cpu() - start
        name = scanner.engine.name
        print(
            f"{name:4s} records: {stage_cpu:.2f} CPU-s = {size / 1e6 / max(stage_cpu, 1e-9):.1f} MB/s;",
            end=" ",
        )
        print(
            f"files: {scan_cpu:.2f} CPU-s = {file_size / 1e6 / max(scan_cpu, 1e-9):.1f} MB/s ({len(files)} files)"
        )
    print("redactions in records per rule:", dict(sorted(counts.items())))
    values = record_values(records, scanners[0])
    print("hits in records per rule (hits / distinct values):")
    for rule in sorted(values):
        print(f"  {rule:28s} {sum(values[rule].values()):5d} / {len(values[rule])}")
        if show:
            for value, n in sorted(values[rule].items()):
                print(f"      {n:4d}  {value[:70]!r}")


def main() -> None:
    """Parse arguments and benchmark each repository."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repos", nargs="*", default=list(DEFAULT_REPOS))
    parser.add_argument("--engine", choices=("both", "re2", "re"), default="both")
    parser.add_argument("--show", action="store_true", help="list distinct values (public repositories only)")
    args = parser.parse_args()
    engines = {"re2": [RE2], "re": [PYTHON_RE], "both": [RE2, PYTHON_RE]}[args.engine]
    scanners = []
    for engine in engines:
        if engine is None:
            print("google-re2 is not installed: skipping re2")
            continue
        start = cpu()
        scanners.append(Scanner(engine=engine))
        print(f"{engine.name}: compiled {len(scanners[-1]._rule_list)} rules in {cpu() - start:.2f} CPU-s")
    for repo in args.repos:
        bench_repo(repo, scanners, args.show)


if __name__ == "__main__":
    main()
