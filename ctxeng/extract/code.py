"""The code stage: each code file becomes a `file` record plus one `symbol` record per definition."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import operator
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ctxeng.core.gcpause import gc_paused
from ctxeng.core.progress import Progress
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record, record_id
from ctxeng.extract.languages import LanguageSpec, language_for, load_languages
from ctxeng.extract.outline import build_outline, top_calls
from ctxeng.extract.selection import SourceFile
from ctxeng.extract.snippets import Source, signature, symbol_text
from ctxeng.extract.tagquery import compiled
from ctxeng.extract.treesitter import parse_tags
from ctxeng.extract.visibility import decide

Job = tuple[SourceFile, LanguageSpec]
#: Below this many bytes of code a second process costs more (fork, imports, pickling) than it saves.
POOL_MIN_BYTES = 4_000_000
_PROGRESS_EVERY = 64  # files


def extract_file(
    path: str,
    text: str,
    spec: LanguageSpec,
    provenance: Provenance | None = None,
    blob: str = "",
    size: int | None = None,
) -> tuple[Record, list[Record]]:
    """Extract one code file into its `file` record and its `symbol` records (in source order).

    The result depends only on the arguments, so a caller may cache it by blob id. Without
    `provenance` the records carry no commit ("", 0).
    """
    # tree-sitter reads UTF-8 bytes; a leading BOM (left by a UTF-16 decode) is no code.
    data = text.removeprefix("\ufeff").encode("utf-8", "surrogatepass")
    tags = parse_tags(spec, data)
    outline = build_outline(tags.defs, tags.ref_positions, tags.ref_names, tags.markers)
    visibility, exports = decide(spec.visibility, path, outline.items, tags.exports, tags.bindings)
    src = Source(data)
    signatures = [signature(src, item.raw) if not item.is_scope else "" for item in outline.items]
    symbols: list[Record] = []
    qualnames: list[str] = []
    for index, item in enumerate(outline.items):
        if item.is_scope:
            continue
        raw = item.raw
        commit, when = provenance.of_symbol(path, raw.name) if provenance else ("", 0)
        symbols.append(
            Record(
                id=record_id("symbol", path, item.qualname, str(item.occurrence)),
                kind="symbol", path=path, start_line=raw.start_line, end_line=raw.end_line,
                commit=commit, time=when, name=raw.name, text=symbol_text(src, index, outline.items, signatures),
                meta={
                    "language": spec.name, "kind": item.kind, "qualname": item.qualname,
                    "signature": signatures[index], "doc": raw.doc, "parent": item.parent,
                    "calls": top_calls(item.refs), "visibility": visibility[index],
                },
            )
        )  # fmt: skip
        if item.occurrence == 0:
            qualnames.append(item.qualname)
    refs = Counter(tags.ref_names)
    commit, when = provenance.of_file(path) if provenance else ("", 0)
    file_record = Record(
        id=record_id("file", path), kind="file", path=path, start_line=1, end_line=tags.lines,
        commit=commit, time=when, name=path, text=tags.module_doc,
        meta={
            "language": spec.name, "blob": blob, "bytes": len(data) if size is None else size,
            "lines": tags.lines,
            "definitions": qualnames, "imports": sorted(set(filter(None, tags.imports))),
            "refs": dict(sorted(refs.items())), "exports": exports,
        },
    )  # fmt: skip
    return file_record, symbols


def _extract_one(source: SourceFile, spec: LanguageSpec, provenance: Provenance) -> list[Record]:
    file_record, symbols = extract_file(source.path, source.text, spec, provenance, source.blob, source.size)
    return [file_record, *symbols]


def header_language(paths: Iterable[str]) -> str:
    """What `.h` headers are read as in one build: "cpp" when `paths` (the build's selected files)
    hold more C++ files (.cc, .cpp, .hpp ...) than C files (.c), else "c".

    A `.h` file alone does not say which it is; the repository around it does. The answer depends
    only on the set of paths, so a build decides it once and deterministically.
    """
    unique = set(paths)
    cpp_files = sum(1 for path in unique if (spec := language_for(path)) is not None and spec.name == "cpp")
    c_files = sum(1 for path in unique if path.lower().endswith(".c"))
    return "cpp" if cpp_files > c_files else "c"


def language_of(path: str, headers: str = "c") -> LanguageSpec | None:
    """The language of `path` in a build whose `.h` headers are read as `headers` ("c" or "cpp")."""
    spec = language_for(path)
    if headers != "c" and spec is not None and spec.name == "c" and path.lower().endswith(".h"):
        return load_languages()[headers]
    return spec


def _jobs(files: Sequence[SourceFile], headers: str) -> list[Job]:
    jobs = []
    for source in files:
        spec = language_of(source.path, headers)
        if spec is not None:
            jobs.append((source, spec))
    return jobs


def extract_code(
    files: list[SourceFile], provenance: Provenance, progress: Progress, headers: str | None = None
) -> list[Record]:
    """Records of every file in a known language (others are ignored), in input order.

    `headers` says what `.h` files are read as (see `header_language`); by default it is decided
    from `files`, so pass it when `files` are only part of the build (the cache misses).
    Large inputs are split over two forked processes when the machine has two cores; the
    records are the same either way.
    """
    out: list[Record] = []
    for _, records in extract_code_batches(files, provenance, progress, headers):
        out.extend(records)
    return out


def extract_code_batches(
    files: list[SourceFile], provenance: Provenance, progress: Progress, headers: str | None = None
) -> Iterator[tuple[SourceFile, list[Record]]]:
    """`extract_code`'s records file by file, as (file, its records) in input order (files in no known
    language left out): a caller that stores them as they come never holds them all."""
    jobs = _jobs(files, headers or header_language(source.path for source in files))
    total = len(jobs)
    progress("code", 0, total)
    size = sum(len(source.text) for source, _ in jobs)
    pooled = size >= POOL_MIN_BYTES and _cores() >= 2
    with gc_paused():
        batches = _run_pool(jobs, provenance) if pooled else _run_serial(jobs, provenance)
        for done, records in enumerate(batches, 1):
            yield jobs[done - 1][0], records
            if done % _PROGRESS_EVERY == 0:
                progress("code", done, total)
    progress("code", total, total)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_serial(jobs: list[Job], provenance: Provenance) -> Iterator[list[Record]]:
    for source, spec in jobs:
        yield _extract_one(source, spec, provenance)


# State handed to forked workers by inheritance (never pickled).
_WORK: tuple[list[Job], Provenance] | None = None
# Records travel back from the workers as plain tuples of their fields: pickling a frozen slots
# dataclass runs Python code per record on both sides, a tuple pickles in C.
_ROW = operator.attrgetter(*(f.name for f in dataclasses.fields(Record)))


_CHUNK = 8  # files per task sent to a worker
_AHEAD = 32  # tasks in flight: results wait for the parent only this far ahead (not the whole repository's)


def _work(start: int) -> list[list[tuple[Any, ...]]]:
    assert _WORK is not None
    jobs, provenance = _WORK
    return [
        list(map(_ROW, _extract_one(source, spec, provenance)))
        for source, spec in jobs[start : start + _CHUNK]
    ]


def _run_pool(jobs: list[Job], provenance: Provenance) -> Iterator[list[Record]]:
    """Extract in two forked workers; results come back in input order.

    A worker that dies (a grammar crashing on some file) raises BrokenProcessPool here rather
    than leaving the build waiting forever, as multiprocessing.Pool would.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _WORK
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - no fork on this platform
        yield from _run_serial(jobs, provenance)
        return
    for spec in {spec.name: spec for _, spec in jobs}.values():
        compiled(spec)  # load grammars before forking: the workers inherit them and import nothing
    _WORK = (jobs, provenance)
    try:
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            # `pool.map` would submit every task at once, and the results of a 100,000-file repository
            # (the parent, which redacts, caches and stores them, is the slower side) piled up in memory.
            starts = iter(range(0, len(jobs), _CHUNK))
            pending = collections.deque(
                pool.submit(_work, start) for start in itertools.islice(starts, _AHEAD)
            )
            while pending:
                done = pending.popleft().result()
                for start in itertools.islice(starts, 1):
                    pending.append(pool.submit(_work, start))
                for rows in done:
                    yield [Record(*row) for row in rows]
    finally:
        _WORK = None
