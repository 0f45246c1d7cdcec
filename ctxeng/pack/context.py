"""Prompt-seeded context: the definitions, files, docs and history most relevant to one prompt.

Reads only the compact index. Scoring: each row matches the prompt's terms (weighted by inverse
document frequency; whole-name and exact-identifier hits count extra), then a personalised
PageRank over the file neighbourhood graph, seeded by the matching files, spreads relevance to
files the prompt did not name (a prompt about flushing reaches the unit-of-work module through
the session module). Definitions score by their own match, their file's seeded rank and their
global rank; the output is fitted to the budget like every pack file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.pack.fit import fit_blocks
from ctxeng.pack.rank import Weights, pagerank
from ctxeng.pack.terms import name_terms, prompt_identifiers, prompt_paths, text_terms

# Output shares of the budget, in the order sections are filled (unused budget flows on).
SHARES = (("files", 0.15), ("docs", 0.22), ("history", 0.12), ("glossary", 0.08), ("defs", 1.0))
EXACT_IDENT = 6.0  # a definition named exactly like an identifier in the prompt
WHOLE_NAME = 2.0  # a definition whose whole name is one prompt word (`flush`), times the word's idf
SPREAD = 0.6  # weight of the seeded PageRank in a file's final score
PRIOR = 0.5  # weight of the global rank in a definition's final score
MIN_BUDGET = 64


@dataclass
class Query:
    """The prompt, broken into what can match: stemmed terms, code identifiers, paths."""

    terms: list[str]
    identifiers: list[str]
    paths: list[str]

    @classmethod
    def parse(cls, prompt: str) -> Query:
        """Split a prompt into matchable parts."""
        terms = text_terms(prompt, 48)
        for ident in prompt_identifiers(prompt):
            for t in name_terms(ident):
                if t not in terms:
                    terms.append(t)
        return cls(terms=terms, identifiers=prompt_identifiers(prompt), paths=prompt_paths(prompt))


def _idf(table: dict[str, list[int]], n: int, term: str) -> float:
    df = len(table.get(term, ()))
    return math.log(1.0 + n / df) if df else 0.0


def _match(index: dict[str, Any], kind: str, rows: int, query: Query) -> dict[int, float]:
    table = index["terms"].get(kind, {})
    scores: dict[int, float] = {}
    for term in query.terms:
        weight = _idf(table, rows, term)
        for i in table.get(term, ()):
            scores[i] = scores.get(i, 0.0) + weight
    return scores


def score(index: dict[str, Any], query: Query) -> dict[str, list[tuple[float, int]]]:
    """Scored rows per section ("files", "defs", "docs", "history", "glossary"), best first."""
    files, defs = index["files"], index["defs"]
    words = {t.lower() for t in query.terms}
    idents = set(query.identifiers)
    d_match = _match(index, "d", len(defs), query)
    for i in list(d_match):
        qualname = str(defs[i][2])
        name = qualname.rsplit(".", 1)[-1]
        parts = name_terms(name)
        covered = sum(1 for t in parts if t in words) / max(1, len(parts))
        bonus = EXACT_IDENT if name in idents or qualname in idents else 0.0
        if name.lower().strip("_") in words:
            bonus += WHOLE_NAME * _idf(index["terms"]["d"], len(defs), name.lower().strip("_"))
        d_match[i] = d_match[i] * (0.5 + 0.5 * covered) + bonus
    f_match = _match(index, "f", len(files), query)
    for i, row in enumerate(files):
        path = str(row[0])
        if any(path == p or path.endswith("/" + p) for p in query.paths):
            f_match[i] = f_match.get(i, 0.0) + 8.0
    best_in_file: dict[int, float] = {}
    for i, m in d_match.items():
        f = defs[i][0]
        best_in_file[f] = max(best_in_file.get(f, 0.0), m)
    for f, m in best_in_file.items():
        f_match[f] = f_match.get(f, 0.0) + 0.5 * m
    seeded = _spread(index, f_match)
    top_f = max(f_match.values(), default=0.0) or 1.0
    file_score = {i: f_match.get(i, 0.0) / top_f + SPREAD * r for i, r in seeded.items() if f_match.get(i) or r > 1e-4}
    def_score: dict[int, float] = {}
    for i, m in d_match.items():
        def_score[i] = m * (1.0 + PRIOR * float(defs[i][6])) + file_score.get(defs[i][0], 0.0)
    # Files reached only through the graph contribute their best-ranked definitions.
    top_files = sorted(file_score, key=lambda i: (-file_score[i], i))[:8]
    wanted = set(top_files)
    extra: dict[int, list[tuple[float, int]]] = {}
    for i, row in enumerate(defs):
        if row[0] in wanted and i not in def_score:
            extra.setdefault(row[0], []).append((float(row[6]), i))
    for f, rows in extra.items():
        for prior, i in sorted(rows, key=lambda t: (-t[0], t[1]))[:3]:
            def_score[i] = 0.5 * file_score[f] * prior
    doc_match = _match(index, "s", len(index["docs"]), query)
    commit_match = _match(index, "c", len(index["commits"]), query)
    for i, c in enumerate(index["commits"]):
        touched = sum(file_score.get(f, 0.0) for f in c[3])
        if touched and i in commit_match:
            commit_match[i] += 0.3 * touched
    gloss_match = _match(index, "g", len(index["glossary"]), query)
    return {
        "files": _best(file_score),
        "defs": _best(def_score),
        "docs": _best(doc_match),
        "history": _best(commit_match),
        "glossary": _best(gloss_match),
    }


def _best(scores: dict[int, float]) -> list[tuple[float, int]]:
    return sorted(((s, i) for i, s in scores.items() if s > 0), key=lambda si: (-si[0], si[1]))


def _spread(index: dict[str, Any], seeds: dict[int, float]) -> dict[int, float]:
    """Personalised PageRank over the file neighbourhood graph, seeded by the prompt's matches."""
    if not seeds:
        return {}
    n = len(index["files"])
    edges = [(i, int(j), float(w)) for i, near in enumerate(index["near"]) for j, w in near]
    personal = [0.0] * n
    for i, s in seeds.items():
        personal[i] = s
    rank = pagerank(n, edges, personal, Weights(iterations=25, tolerance=1e-6))
    top = max(rank) or 1.0
    return {i: r / top for i, r in enumerate(rank) if r > 0}


def render_context(index: dict[str, Any], prompt: str, budget: int) -> str:
    """Markdown context for `prompt` with at most `budget` tokens; "" when nothing in the index matches."""
    query = Query.parse(prompt)
    if budget < MIN_BUDGET or not (query.terms or query.paths):
        return ""
    ranked = score(index, query)
    if not any(ranked[k] for k in ("defs", "files", "docs")):
        return ""
    head = f"# Context from ctxeng for this prompt ({index.get('repository', '')} @ {str(index.get('head', ''))[:10]})\n"
    out = head
    for section, share in SHARES:
        left = budget - _tokens(out)
        allowance = left if share >= 1.0 else min(left, int(budget * share))
        if allowance <= 8 or not ranked[section]:
            continue
        grown = _RENDER[section](index, ranked[section], out, allowance + _tokens(out))
        if not grown.rstrip().endswith(_HEADINGS[section]):  # a heading with nothing under it is dropped
            out = grown
    return out


def _files(index: dict[str, Any], ranked: list[tuple[float, int]], out: str, limit: int) -> str:
    rows = index["files"]
    blocks = [f"- `{rows[i][0]}`" + (f" — {rows[i][2]}" if rows[i][2] else "") + "\n" for _, i in ranked[:12]]
    return fit_blocks(out + "\n## Files\n\n", blocks, limit)


def _defs(index: dict[str, Any], ranked: list[tuple[float, int]], out: str, limit: int) -> str:
    from ctxeng.pack.fit import grouped

    files, defs = index["files"], index["defs"]
    items = []
    for _, i in ranked[:200]:
        f, line, qualname, kind, signature, doc, _ = defs[i]
        text = f"- L{line} `{signature or qualname}`" + (f" — {doc}" if doc else "") + "\n"
        items.append((files[f][0], (line, qualname), text))
    headings = {path: f"\n### {path}\n\n" for path, _, _ in items}
    return grouped(out + "\n## Definitions\n", items, limit, headings)


def _docs(index: dict[str, Any], ranked: list[tuple[float, int]], out: str, limit: int) -> str:
    docs = index["docs"]
    blocks = [f"- **{docs[i][2]}** (`{docs[i][0]}:{docs[i][1]}`): {docs[i][3]}\n" for _, i in ranked[:6]]
    return fit_blocks(out + "\n## Docs\n\n", blocks, limit)


def _history(index: dict[str, Any], ranked: list[tuple[float, int]], out: str, limit: int) -> str:
    commits, files = index["commits"], index["files"]
    blocks = []
    for _, i in ranked[:8]:
        sha, date, subject, touched = commits[i]
        where = ", ".join(f"`{files[f][0]}`" for f in touched[:3])
        blocks.append(f"- {date} `{sha[:10]}` {subject}" + (f" ({where})" if where else "") + "\n")
    return fit_blocks(out + "\n## History\n\n", blocks, limit)


def _glossary(index: dict[str, Any], ranked: list[tuple[float, int]], out: str, limit: int) -> str:
    rows = index["glossary"]
    blocks = [f"- **{rows[i][0]}** — {rows[i][1]} ({rows[i][2]})\n" for _, i in ranked[:6]]
    return fit_blocks(out + "\n## Glossary\n\n", blocks, limit)


_HEADINGS = {"files": "## Files", "defs": "## Definitions", "docs": "## Docs", "history": "## History",
             "glossary": "## Glossary"}  # fmt: skip
_RENDER = {"files": _files, "defs": _defs, "docs": _docs, "history": _history, "glossary": _glossary}


def _tokens(text: str) -> int:
    from ctxeng.tokens import count_tokens

    return count_tokens(text)


def context_for_prompt(root: Path, prompt: str, budget: int = 2_000, safe: bool = False) -> str:
    """The context for `prompt` in the repository at `root`, at most `budget` tokens.

    With `safe=True` it never raises (for hooks): a missing or broken index, or anything else that
    goes wrong, gives "". Otherwise a missing/broken index is a `CtxengError` with a hint.
    """
    from ctxeng.pack.index import load_index

    if not safe:
        return render_context(load_index(_root(root)), prompt, budget)
    try:
        return render_context(load_index(_root(root)), prompt, budget)
    except Exception:  # noqa: BLE001 - a hook must never fail the user's prompt
        return ""


def _root(root: Path) -> Path:
    """`root` itself when it holds `.ctxeng/index.json`, else the top of its git work tree."""
    root = Path(root).resolve()
    if (root / ".ctxeng" / "index.json").exists():
        return root
    from ctxeng.gitcli import Git

    top = Git(root).text(["rev-parse", "--show-toplevel"], check=False) if root.is_dir() else ""
    return Path(top) if top else root
