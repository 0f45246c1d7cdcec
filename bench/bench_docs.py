"""Throughput of the docs extractor and the glossary on real documentation folders.

Usage: python bench/bench_docs.py DIR [DIR ...]
Every Markdown/RST/AsciiDoc/text file under each DIR is read as if it lived under `docs/`, split
into doc records, and the glossary is built from all of them. Prints MB/s (best of 3) per stage.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from ctxeng.core.config import DocsConfig
from ctxeng.extract.doc_paths import EXTENSION_FORMATS
from ctxeng.extract.docs import extract_doc_file
from ctxeng.extract.glossary import build_glossary
from ctxeng.extract.selection import decode_text


def main(argv: list[str]) -> int:
    """Run the benchmark over the folders in argv."""
    files: list[tuple[str, str]] = []
    for root in map(Path, argv):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in EXTENSION_FORMATS:
                files.append((f"docs/{path.relative_to(root).as_posix()}", decode_text(path.read_bytes())[0]))
    size_mb = sum(len(text.encode("utf-8", "surrogatepass")) for _, text in files) / 1e6
    config = DocsConfig()
    best_docs = best_glossary = float("inf")
    for _ in range(3):
        stats: Counter[str] = Counter()
        start = time.process_time()
        records = [rec for path, text in files for rec in extract_doc_file(path, text, "0" * 40, 0, config, stats)]
        middle = time.process_time()
        terms = build_glossary(records)
        best_docs, best_glossary = min(best_docs, middle - start), min(best_glossary, time.process_time() - middle)
    print(f"{len(files)} files, {size_mb:.1f} MB -> {len(records)} doc records, {len(terms)} glossary terms")
    print(f"docs: {best_docs:.2f} CPU-s ({size_mb / max(best_docs, 1e-9):.1f} MB/s); glossary: {best_glossary:.2f} CPU-s")
    print("stats:", dict(sorted(stats.items())))
    kinds = Counter(str(t.meta["kind"]) for t in terms)
    print("terms by source:", dict(sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
