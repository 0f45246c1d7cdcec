"""Public-API recall of the repo map: the share of a package's re-exported names shown as def/class lines.

Usage: python bench/rank_recall.py REPO [--package lib/sqlalchemy] [--budget 8000] [--variants]

REPO must have been built (`ctxeng build`), so `.ctxeng/records.jsonl` exists. The public API is
every non-underscore name that `<package>/__init__.py` imports or defines (read with `ast`, as
the measure used for aider and pyrepomap); a name counts as shown when a map line holds `def NAME`
or `class NAME` (the same test the peer comparison used). The ceiling is the number of those
names that have a def/class anywhere in the records. `--variants` also scores the alternatives
the ranking was chosen against.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import time
from pathlib import Path

from ctxeng.core.records import load_records
from ctxeng.core.tokens import count_tokens
from ctxeng.pack.facts import facts_from_records
from ctxeng.pack.rank import DEFAULT_WEIGHTS, Weights, rank
from ctxeng.pack.repomap import render_map


def public_names(init: Path) -> list[str]:
    """Names an `__init__.py` re-exports or defines, without leading underscores."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return sorted(n for n in names if not n.startswith("_") and n != "*")


def shown(text: str, names: list[str]) -> set[str]:
    """Which of `names` appear as `def NAME` / `class NAME` in `text`."""
    found = set(re.findall(r"\b(?:def|class)\s+([A-Za-z_]\w*)", text))
    return {n for n in names if n in found}


VARIANTS = {
    "chosen (personalised PageRank + public-API prior)": DEFAULT_WEIGHTS,
    "aider-like: plain PageRank on references, no prior": Weights(
        prior_share=0.0, child_inherit=0.0, reexport=0.0, exported=0.0, entry_point=0.0, doc_mention=0.0
    ),
    "personalised PageRank, no additive prior": Weights(prior_share=0.0),
    "prior only (no references)": Weights(prior_share=1.0),
    "prior share 0.35": Weights(prior_share=0.35),
    "prior share 0.85": Weights(prior_share=0.85),
    "no doc mentions": Weights(doc_mention=0.0),
    "no class-member inheritance": Weights(child_inherit=0.0),
    "no history heat": Weights(history_share=0.0),
    "history share 0.3": Weights(history_share=0.3),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--package", default="lib/sqlalchemy")
    parser.add_argument("--budget", type=int, default=8_000)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument(
        "--git",
        action="store_true",
        help="records straight from HEAD's tree and history (ctxeng.replay), no build needed",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="extraction cache for --git")
    parser.add_argument(
        "--document",
        action="store_true",
        help="count in the whole `pack --stdout` document, not the map alone",
    )
    args = parser.parse_args()
    root = args.repo.resolve()
    names = public_names(root / args.package / "__init__.py")
    started = time.perf_counter()
    conv = None
    if args.git:
        from ctxeng.core.config import load_config
        from ctxeng.core.repo import open_repo
        from ctxeng.pack.conventions import mine_conventions
        from ctxeng.pack.publish import read_project_files
        from ctxeng.replay.state import Replayer

        repo = open_repo(root)
        config = load_config(repo.root)
        snap = Replayer(repo, config, args.cache_dir).snapshot(repo.head)
        records = snap.records
        facts = facts_from_records(root.name, records, [e.path for e in snap.entries], head=repo.head)
        conv = mine_conventions(read_project_files(repo, snap.entries, config), facts.tracked)
    else:
        records = load_records(root / ".ctxeng" / "records.jsonl")
        facts = facts_from_records(root.name, records)
    print(f"loaded {len(records)} records in {time.perf_counter() - started:.1f} s")
    defined = {d.name for d in facts.defs if re.match(r"(?:async\s+)?(?:def|class)\b", d.signature.split(") ")[-1])
               or re.search(r"\b(?:def|class)\s", d.signature)}  # fmt: skip
    ceiling = [n for n in names if n in defined]
    print(
        f"public names in {args.package}/__init__.py: {len(names)}; with a def/class in the records: {len(ceiling)}"
    )
    variants = VARIANTS if args.variants else {k: v for k, v in list(VARIANTS.items())[:1]}
    for label, weights in variants.items():
        t = time.perf_counter()
        ranking = rank(facts, conv.entry_points if conv else (), weights=weights)
        if args.document:
            from ctxeng.pack.conventions import Conventions
            from ctxeng.pack.formats import render_document
            from ctxeng.pack.model import trim

            model = trim(facts, ranking, conv or Conventions())
            text = render_document(model.facts, model.ranking, model.conv, args.budget, "markdown")
        else:
            text = render_map(facts, ranking, args.budget)
        hit = shown(text, names)
        print(f"{label}: {len(hit)}/{len(names)} = {100 * len(hit) / len(names):.1f} % "
              f"(of the {len(ceiling)} with a def/class: {100 * len(hit) / max(1, len(ceiling)):.1f} %); "
              f"map {count_tokens(text)} tokens; rank+render {time.perf_counter() - t:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
