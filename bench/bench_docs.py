"""Throughput of the docs extractor and the glossary on real documentation folders.

Usage: python bench/bench_docs.py [--compare] DIR [DIR ...]
Every Markdown/RST/AsciiDoc/text file under each DIR is read as if it lived under `docs/`, split
into doc records, and the glossary is built from all of them. Prints MB/s (best of 3) per stage.
With --compare, also times the hand-written splitters against markdown-it-py's parser on the
Markdown files and docutils' on the RST files (parsing alone, no sectioning: a lower bound on what
replacing the splitters would cost); a parser that is not installed is reported as such.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ctxeng.core.config import DocsConfig
from ctxeng.extract.doc_paths import EXTENSION_FORMATS, doc_format
from ctxeng.extract.doc_sections import split_sections
from ctxeng.extract.docs import extract_doc_file
from ctxeng.extract.glossary import build_glossary
from ctxeng.extract.selection import decode_text


def _best(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def compare(files: list[tuple[str, str]]) -> None:
    """Hand-written splitters vs markdown-it-py / docutils parsers, CPU-s best of 3, per format."""
    by_format: dict[str, list[str]] = {}
    for path, text in files:
        by_format.setdefault(doc_format(path) or "", []).append(text)
    for fmt, parser in (("markdown", _markdown_it()), ("rst", _docutils())):
        texts = by_format.get(fmt, [])
        if not texts:
            continue
        size = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
        ours = _best(partial(_split_all, texts, fmt))
        line = f"{fmt}: {len(texts)} files, {size:.2f} MB; hand-written {ours:.3f} CPU-s ({size / max(ours, 1e-9):.1f} MB/s)"
        if parser is None:
            print(line + "; library parser not installed")
            continue
        theirs = _best(partial(_parse_all, texts, parser))
        print(
            line
            + f"; library parse only {theirs:.3f} CPU-s ({size / max(theirs, 1e-9):.1f} MB/s, x{theirs / max(ours, 1e-9):.1f})"
        )


def _split_all(texts: list[str], fmt: str) -> object:
    return [split_sections(t, fmt) for t in texts]


def _parse_all(texts: list[str], parser: Callable[[str], object]) -> object:
    return [parser(t) for t in texts]


def _markdown_it() -> Callable[[str], object] | None:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return None
    return MarkdownIt("commonmark").parse


def _docutils() -> Callable[[str], object] | None:
    try:
        import docutils.frontend
        import docutils.parsers.rst
        import docutils.utils
    except ImportError:
        return None
    parser = docutils.parsers.rst.Parser()
    settings = docutils.frontend.get_default_settings(docutils.parsers.rst.Parser)
    settings.report_level = settings.halt_level = 5  # Sphinx-only directives are errors to plain docutils

    def parse(text: str) -> object:
        document = docutils.utils.new_document("doc.rst", settings)
        parser.parse(text, document)
        return document

    return parse


def main(argv: list[str]) -> int:
    """Run the benchmark over the folders in argv."""
    with_compare = "--compare" in argv
    argv = [a for a in argv if a != "--compare"]
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
        records = [
            rec for path, text in files for rec in extract_doc_file(path, text, "0" * 40, 0, config, stats)
        ]
        middle = time.process_time()
        terms = build_glossary(records)
        best_docs, best_glossary = (
            min(best_docs, middle - start),
            min(best_glossary, time.process_time() - middle),
        )
    print(f"{len(files)} files, {size_mb:.1f} MB -> {len(records)} doc records, {len(terms)} glossary terms")
    print(
        f"docs: {best_docs:.2f} CPU-s ({size_mb / max(best_docs, 1e-9):.1f} MB/s); glossary: {best_glossary:.2f} CPU-s"
    )
    print("stats:", dict(sorted(stats.items())))
    kinds = Counter(str(t.meta["kind"]) for t in terms)
    print("terms by source:", dict(sorted(kinds.items())))
    if with_compare:
        compare(files)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
