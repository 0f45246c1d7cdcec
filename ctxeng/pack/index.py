"""The compact search index (`.ctxeng/index.json`) that `ctxeng context` reads instead of the records.

Rows are positional lists (short keys cost parse time on every prompt); postings map a stemmed
term to the rows that contain it, per row type. Everything is sorted so the bytes are stable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ctxeng.errors import CtxengError
from ctxeng.fsio import dumps_json
from ctxeng.pack.conventions import Conventions
from ctxeng.pack.facts import RepoFacts, first_sentence
from ctxeng.pack.paths import is_vendored
from ctxeng.pack.rank import Ranking
from ctxeng.pack.terms import name_terms, text_terms
from ctxeng.tokens import TOKENIZER_NAME

INDEX_VERSION = 1
INDEX_FILE = "index.json"
MAX_COMMITS = 2_000  # newest commits kept for prompt matching
MAX_NEIGHBOURS = 8
DOC_EXCERPT = 360

# Row layouts (documented here, read by ctxeng.pack.context):
# files:    [path, score, summary]
# defs:     [file row, line, qualname, kind, signature, doc, score]
# docs:     [path, line, heading, excerpt]
# commits:  [sha, date, subject, [file rows]]
# glossary: [term, meaning, source]
# near:     per file row, [[file row, weight], ...] — references both ways plus co-change


def _num(x: float) -> float:
    return float(f"{x:.6g}")


def build_index(facts: RepoFacts, ranking: Ranking, conv: Conventions) -> dict[str, Any]:
    """The index as plain data (see the row layouts above)."""
    paths = [p for p in facts.files if not is_vendored(p)]
    row = {p: i for i, p in enumerate(paths)}
    top_file = max(ranking.file_score.values(), default=1.0) or 1.0
    files = [[p, _num(ranking.file_score.get(p, 0.0) / top_file), facts.files[p].doc] for p in paths]
    top_def = max(ranking.def_score, default=1.0) or 1.0
    defs = [
        [row[d.path], d.line, d.qualname, d.kind, d.signature, d.doc, _num(ranking.def_score[i] / top_def)]
        for i, d in enumerate(facts.defs)
        if d.path in row
    ]
    docs = [[d.path, d.line, d.heading, _excerpt(d.text)] for d in facts.docs if d.text.strip()]
    commits = [
        [c.sha[:12], c.date[:10], c.subject, sorted(row[p] for p in c.files if p in row)[:8]]
        for c in facts.commits[:MAX_COMMITS]
    ]
    glossary = [[t.term, first_sentence(t.meaning, 200), t.source] for t in facts.glossary]
    postings: dict[str, dict[str, list[int]]] = {"d": {}, "f": {}, "s": {}, "c": {}, "g": {}}
    for i, d in enumerate(defs):
        _post(postings["d"], name_terms(str(d[2]).rsplit(".", 1)[-1]), i)
    for i, p in enumerate(paths):
        _post(postings["f"], name_terms(p.rsplit(".", 1)[0]), i)
    for i, doc in enumerate(docs):
        _post(postings["s"], text_terms(f"{doc[2]} {doc[0]}", 24), i)
    for i, c in enumerate(commits):
        _post(postings["c"], text_terms(str(c[2]), 16), i)
    for i, g in enumerate(glossary):
        _post(postings["g"], name_terms(str(g[0])), i)
    return {
        "version": INDEX_VERSION,
        "repository": facts.name,
        "head": facts.head,
        "tokenizer": TOKENIZER_NAME,
        "files": files,
        "near": _neighbours(facts, ranking, row),
        "defs": defs,
        "docs": docs,
        "commits": commits,
        "glossary": glossary,
        "commands": [[c.category, c.command] for c in conv.commands[:12]],
        "terms": {kind: dict(sorted(table.items())) for kind, table in postings.items()},
    }


def _post(table: dict[str, list[int]], terms: list[str], i: int) -> None:
    for term in terms:
        table.setdefault(term, []).append(i)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DOC_EXCERPT else flat[: DOC_EXCERPT - 1].rsplit(" ", 1)[0] + "…"


def _neighbours(facts: RepoFacts, ranking: Ranking, row: dict[str, int]) -> list[list[list[float]]]:
    """Per file, its strongest neighbours: reference edges (both directions) and co-change partners."""
    weight: dict[int, dict[int, float]] = {}

    def add(a: str, b: str, w: float) -> None:
        if a in row and b in row and a != b:
            slot = weight.setdefault(row[a], {})
            slot[row[b]] = slot.get(row[b], 0.0) + w

    for src, targets in ranking.edges.items():
        total = sum(targets.values()) or 1.0
        for dst, w in targets.items():
            add(src, dst, w / total)
            add(dst, src, 0.5 * w / total)  # being used by a file is a weaker tie than using it
    for path, partners in facts.cochange.items():
        for other, _, share in partners:
            add(path, other, share)
    out = []
    for i in range(len(row)):
        near = sorted(weight.get(i, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_NEIGHBOURS]
        out.append([[j, _num(w)] for j, w in near])
    return out


def write_index(path: Path, index: dict[str, Any]) -> None:
    """Write the index deterministically (sorted keys, compact separators)."""
    path.write_text(dumps_json(index) + "\n", encoding="utf-8")


def load_index(root: Path) -> dict[str, Any]:
    """Read `<root>/.ctxeng/index.json`; a missing, unreadable or foreign-version index is a `CtxengError`."""
    path = root / ".ctxeng" / INDEX_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CtxengError(f"no context index at {path}", hint="run `ctxeng build` (or `ctxeng pack`) first") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CtxengError(f"cannot read {path}: {exc}", hint="rebuild it with `ctxeng pack`") from None
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        raise CtxengError(f"{path} was written by another ctxeng version", hint="rebuild it with `ctxeng pack`")
    return data
