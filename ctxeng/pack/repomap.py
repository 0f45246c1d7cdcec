"""The repo map: the highest-ranked definitions with their signatures, grouped by file, under a budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ctxeng.pack.budget import fit_prefix, prefix_sums
from ctxeng.pack.facts import Definition, RepoFacts
from ctxeng.pack.rank import Ranking
from ctxeng.tokens import TOKENIZER_NAME

# Rough characters per token of signature lines; only used to bound how many candidates get counted.
_CHARS_PER_TOKEN = 3.0


@dataclass(frozen=True)
class MapUnit:
    """One step of the map's growth: a definition plus the enclosing definitions it needs for context."""

    defs: tuple[int, ...]


def def_line(d: Definition, depth: int, doc_chars: int = 90) -> str:
    """One map line: `- L<line> `signature` — first docstring sentence`, indented by nesting depth."""
    sig = d.signature
    tick = "``" if "`" in sig else "`"
    pad = " " if tick == "``" else ""
    line = f"{'  ' * depth}- L{d.line} {tick}{pad}{sig}{pad}{tick}"
    doc = d.doc
    if doc and doc_chars > 0:
        if len(doc) > doc_chars:
            doc = doc[: doc_chars - 1].rsplit(" ", 1)[0] + "…"
        line += f" — {doc}"
    return line


def file_heading(facts: RepoFacts, path: str) -> str:
    """The heading of one file's group (plus its module summary when it has one)."""
    info = facts.files.get(path)
    summary = f"\n{info.doc}" if info and info.doc else ""
    return f"\n## {path}{summary}\n"


def _units(facts: RepoFacts, order: Sequence[int]) -> list[MapUnit]:
    """Selection units in rank order: each adds a definition and any not-yet-shown ancestors."""
    by_qual = {(d.path, d.qualname): i for i, d in reversed(list(enumerate(facts.defs)))}
    shown: set[int] = set()
    units = []
    for i in order:
        if i in shown:
            continue
        chain = [i]
        d = facts.defs[i]
        parent = d.parent
        guard = 0
        while parent and guard < 32:  # nesting is shallow; the guard stops a malformed parent cycle
            j = by_qual.get((d.path, parent))
            if j is None or j in shown or j in chain:
                break
            chain.append(j)
            parent = facts.defs[j].parent
            guard += 1
        shown.update(chain)
        units.append(MapUnit(tuple(reversed(chain))))
    return units


def _depths(facts: RepoFacts, chosen: set[int]) -> dict[int, int]:
    by_qual = {(d.path, d.qualname): i for i, d in reversed(list(enumerate(facts.defs)))}
    depths: dict[int, int] = {}
    for i in sorted(chosen, key=lambda k: (facts.defs[k].path, facts.defs[k].line, facts.defs[k].qualname)):
        d = facts.defs[i]
        j = by_qual.get((d.path, d.parent)) if d.parent else None
        depths[i] = depths.get(j, -1) + 1 if j is not None and j in chosen and j != i else 0
    return depths


def map_header(repo: str, limit: int) -> str:
    """The title and legend of the map."""
    return (
        f"# Repository map: {repo}\n\n"
        "The most important definitions (public API, entry points, code the rest depends on), grouped by file;\n"
        f"`L<n>` is the line. Ranked by personalised PageRank over references; fitted to {limit} tokens "
        f"of {TOKENIZER_NAME}.\n"
    )


def render_map(facts: RepoFacts, ranking: Ranking, limit: int, header: str | None = None) -> str:
    """The map as Markdown with at most `limit` tokens (counted whole), best definitions first in."""
    head = map_header(facts.name, limit) if header is None else header
    order = ranking.ordered_defs(facts.defs)
    units = _units(facts, order)
    # Only count as many candidate lines as could possibly fit (sqlalchemy has ~20k definitions).
    budget_chars = limit * _CHARS_PER_TOKEN * 1.5
    pieces: list[str] = []  # per unit: the new file heading (if any) + its lines, as an estimate
    seen_files: set[str] = set()
    chars = 0
    for unit in units:
        path = facts.defs[unit.defs[0]].path
        text = ""
        if path not in seen_files:
            seen_files.add(path)
            text += file_heading(facts, path)
        text += "\n".join(def_line(facts.defs[i], 0) for i in unit.defs) + "\n"
        pieces.append(text)
        chars += len(text)
        if chars > budget_chars:
            break
    sums = prefix_sums([head, *pieces])

    def render(k: int) -> str:
        chosen = {i for unit in units[:k] for i in unit.defs}
        depths = _depths(facts, chosen)
        by_file: dict[str, list[int]] = {}
        for i in chosen:
            by_file.setdefault(facts.defs[i].path, []).append(i)
        parts = [head]
        for path in sorted(by_file):
            parts.append(file_heading(facts, path))
            ids = sorted(by_file[path], key=lambda i: (facts.defs[i].line, facts.defs[i].qualname))
            parts.append("\n".join(def_line(facts.defs[i], depths[i]) for i in ids) + "\n")
        return "".join(parts)

    text, _ = fit_prefix(render, len(pieces), limit, lambda k: sums[k + 1])
    return text
