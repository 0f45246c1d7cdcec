"""Benchmark the dataset stage: CPU seconds, wall seconds and peak RSS of `build_dataset` per phase.

    python bench/bench_dataset.py .ctxeng/records.jsonl        # records from `ctxeng build`
    python bench/bench_dataset.py --synth /path/to/repo         # real history and docs, Python code via ast

`--synth` runs the real history and docs extractors and stands in for the code extractor with
Python's `ast` (file and symbol records per the schema), caching the records next to the repo's
`.git` as `ctxeng-bench-records.jsonl`.
"""

from __future__ import annotations

import argparse
import ast
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ctxeng.core.config import Config
from ctxeng.core.records import Record, dedupe_ids, load_records, record_id, serialise


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def synth_code(path: str, source: str, provenance: object) -> list[Record]:
    """File and symbol records of one Python file, shaped like the code extractor's."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines = source.splitlines(keepends=True)
    out: list[Record] = []

    def walk(node: ast.AST, parent: str) -> None:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            qual = f"{parent}.{child.name}" if parent else child.name
            first = child.decorator_list[0] if child.decorator_list else child
            kind = "class" if isinstance(child, ast.ClassDef) else ("method" if parent else "function")
            end = child.end_lineno or child.lineno
            if kind == "class":
                stop = child.body[1 if ast.get_docstring(child) and len(child.body) > 1 else 0].lineno - 1
                end_text = max(stop, child.lineno)
            else:
                end_text = end
            text = "".join(lines[first.lineno - 1 : end_text])[first.col_offset :]
            calls = sorted(
                {
                    c.func.id if isinstance(c.func, ast.Name) else c.func.attr
                    for c in ast.walk(child)
                    if kind != "class"
                    and isinstance(c, ast.Call)
                    and isinstance(c.func, (ast.Name, ast.Attribute))
                }
            )
            commit, when = provenance.of_symbol(path, child.name)  # type: ignore[attr-defined]
            out.append(
                Record(
                    record_id("symbol", path, qual),
                    "symbol",
                    path,
                    first.lineno,
                    end,
                    commit,
                    when,
                    child.name,
                    text,
                    {
                        "language": "python",
                        "kind": kind,
                        "qualname": qual,
                        "signature": lines[child.lineno - 1].strip(),
                        "doc": ast.get_docstring(child) or "",
                        "parent": parent,
                        "calls": calls,
                    },
                )
            )
            walk(child, qual)

    walk(tree, "")
    commit, when = provenance.of_file(path)  # type: ignore[attr-defined]
    imports = [ln.strip() for ln in lines if ln.startswith(("import ", "from "))]
    out.append(
        Record(
            record_id("file", path),
            "file",
            path,
            1,
            len(lines),
            commit,
            when,
            path,
            ast.get_docstring(tree) or "",
            {
                "language": "python",
                "imports": imports,
                "definitions": [],
                "refs": {},
                "blob": "",
                "bytes": len(source),
                "lines": len(lines),
            },
        )
    )
    return out


def synth_records(root: Path) -> list[Record]:
    from ctxeng.core.repo import open_repo
    from ctxeng.extract.docs import extract_docs
    from ctxeng.extract.glossary import build_glossary
    from ctxeng.extract.history.stage import mine_history
    from ctxeng.extract.selection import select_files

    cache = root / ".git" / "ctxeng-bench-records.jsonl"
    if cache.exists():
        return load_records(cache)
    config = Config()
    repo = open_repo(root)
    selection = select_files(repo, config.files, config.secrets)
    history = mine_history(repo, config.history)
    code = [
        r
        for f in selection.files
        if f.path.endswith(".py")
        for r in synth_code(f.path, f.text, history.provenance)
    ]
    docs = extract_docs(selection.files, history.provenance, config.docs)
    records = dedupe_ids([*code, *history.commits, *history.cochange, *docs, *build_glossary([*code, *docs])])
    cache.write_text("".join(serialise(records)), encoding="utf-8")
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="records.jsonl, or a repository with --synth")
    parser.add_argument("--synth", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    records = synth_records(Path(args.source)) if args.synth else load_records(Path(args.source))
    print(f"records: {dict(sorted(Counter(r.kind for r in records).items()))}")

    from ctxeng.core.tokens import CountMemo, count_tokens
    from ctxeng.dataset.bounds import apply_bounds
    from ctxeng.dataset.builder import build_dataset, system_message
    from ctxeng.dataset.context import TaskContext
    from ctxeng.dataset.index import RecordIndex
    from ctxeng.dataset.tasks import TASKS, run_tasks

    count_tokens("warm up")  # the tokenizer loads once per process (~0.1 s); not the stage's cost
    config = Config().dataset
    for _ in range(args.repeat):
        c0, w0 = cpu(), time.perf_counter()
        result = build_dataset(records, config, "bench")
        print(
            f"build_dataset: {cpu() - c0:.2f} CPU-s, {time.perf_counter() - w0:.2f} s wall, "
            f"{len(result.train)} train + {len(result.eval)} eval rows"
        )
    ctx = TaskContext("bench")
    c0 = cpu()
    index = RecordIndex.build(records)
    phases = {"index": cpu() - c0}
    examples = []
    for name in TASKS:
        c0 = cpu()
        examples += run_tasks(index, ctx, [name])
        phases[f"task {name}"] = cpu() - c0
    chars = sum(len(e.user_text()) + len(e.answer_text()) for e in examples)
    c0 = cpu()
    counted = [0.0]
    original = CountMemo.count_many

    def timed(self: CountMemo, texts: Iterable[str]) -> list[int]:
        start = cpu()
        try:
            return original(self, texts)
        finally:
            counted[0] += cpu() - start

    CountMemo.count_many = timed  # type: ignore[method-assign]
    apply_bounds(examples, system_message("bench"), config.min_tokens, config.max_tokens, Counter())
    CountMemo.count_many = original  # type: ignore[method-assign]
    phases["bounds (tokenizer)"] = counted[0]
    phases["bounds (rest)"] = cpu() - c0 - counted[0]
    print(f"{len(examples)} examples, {chars / 1e6:.1f} M chars; CPU-s by phase:")
    for name, seconds in phases.items():
        print(f"  {name:28s} {seconds:6.2f}")
    stats = result.stats
    print(f"tasks: {stats['tasks']}")
    print(
        f"dropped: {stats['dropped']}  shortened: {stats['shortened']}  tokens: {stats['tokens']}  "
        f"eval_commits: {stats['eval_commits']}"
    )
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
