"""The repo map: the highest-ranked definitions with their signatures, grouped by file, under a budget."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ctxeng.pack.budget import fit_prefix, prefix_sums
from ctxeng.pack.facts import Definition, RepoFacts
from ctxeng.pack.rank import Ranking

# Rough characters per token of signature lines; only used to bound how many candidates get counted.
_CHARS_PER_TOKEN = 3.0
DOCUMENTED = (
    1 / 6
)  # share of the map's characters (~a quarter of its tokens) whose lines carry full signatures and docs
SHORT_SIGNATURE = 1  # past the documented top, a line keeps its signature only up to the name: `def flush(…)`


@dataclass(frozen=True)
class MapUnit:
    """One step of the map's growth: a definition plus the enclosing definitions it needs for context."""

    defs: tuple[int, ...]


def def_line(d: Definition, depth: int, doc_chars: int = 72, sig_chars: int = 0) -> str:
    """One map line: `- L<line> `signature` — first docstring sentence`, indented by nesting depth;
    `sig_chars` > 0 cuts the signature there (the name always stays whole)."""
    sig = d.signature
    if 0 < sig_chars < len(sig):
        at = sig.find(d.name)
        keep = max(sig_chars, at + len(d.name) if at >= 0 else sig_chars)
        if keep < len(sig):
            sig = sig[:keep].rstrip() + ("(…)" if sig[keep : keep + 1] == "(" else "…")
    tick = "``" if "`" in sig else "`"
    pad = " " if tick == "``" else ""
    line = f"{'  ' * depth}- L{d.line} {tick}{pad}{sig}{pad}{tick}" + (
        f" (×{d.variants})" if d.variants > 1 else ""
    )
    doc = d.doc
    if doc and doc_chars > 0:
        if len(doc) > doc_chars:
            doc = doc[: doc_chars - 1].rsplit(" ", 1)[0] + "…"
        line += f" — {doc}"
    return line


def file_heading(path: str) -> str:
    """The heading of one file's group (module summaries live in overview.md)."""
    return f"\n## {path}\n"


def _qualname_index(facts: RepoFacts) -> dict[tuple[str, str], int]:
    """(path, qualname) → the first definition with that qualname in that file."""
    out: dict[tuple[str, str], int] = {}
    for i, d in enumerate(facts.defs):
        out.setdefault((d.path, d.qualname), i)
    return out


def _units(facts: RepoFacts, order: Sequence[int], by_qual: dict[tuple[str, str], int]) -> Iterator[MapUnit]:
    """Selection units in rank order: each adds a definition and any not-yet-shown ancestors."""
    shown: set[int] = set()
    for i in order:
        if i in shown:
            continue
        chain = [i]
        d = facts.defs[i]
        parent = d.parent
        while parent and len(chain) < 32:  # nesting is shallow; the cap stops a malformed parent cycle
            j = by_qual.get((d.path, parent))
            if j is None or j in shown or j in chain:
                break
            chain.append(j)
            parent = facts.defs[j].parent
        shown.update(chain)
        yield MapUnit(tuple(reversed(chain)))


def _depths(facts: RepoFacts, chosen: set[int], by_qual: dict[tuple[str, str], int]) -> dict[int, int]:
    depths: dict[int, int] = {}
    for i in sorted(chosen, key=lambda k: (facts.defs[k].path, facts.defs[k].line, facts.defs[k].qualname)):
        d = facts.defs[i]
        j = by_qual.get((d.path, d.parent)) if d.parent else None
        depths[i] = depths.get(j, -1) + 1 if j is not None and j in chosen and j != i else 0
    return depths


def map_header(repo: str) -> str:
    """The title and legend of the map."""
    return (
        f"# Repository map: {repo}\n\n"
        "The most important definitions (public API, entry points, what the rest of the code uses, what changes\n"
        "often), by file, most important file first; `L<n>` is the line. Ranked by PageRank over references,\n"
        "personalised by the public API and docs, mixed with recency-weighted churn from the history.\n"
    )


def render_map(facts: RepoFacts, ranking: Ranking, limit: int, header: str | None = None) -> str:
    """The map as Markdown with at most `limit` tokens (counted whole), best definitions first in.

    Definitions in the first half of the budget carry their docstring's first sentence; the rest
    are signatures only, so a tight budget names more of the API.
    """
    head = map_header(facts.name) if header is None else header
    if not facts.defs:
        head += "\nNo code definitions were found (no file in a language ctxeng parses).\n"
    order = ranking.ordered_defs(facts.defs)
    by_qual = _qualname_index(facts)
    units: list[MapUnit] = []
    # Only count as many candidate lines as could possibly fit (sqlalchemy has ~40k definitions).
    budget_chars = limit * _CHARS_PER_TOKEN * 1.5
    pieces: list[str] = []  # per unit: the new file heading (if any) + its lines, as an estimate
    with_doc: set[int] = set()
    seen_files: set[str] = set()
    chars = 0
    for unit in _units(facts, order, by_qual):
        units.append(unit)
        path = facts.defs[unit.defs[0]].path
        text = ""
        if path not in seen_files:
            seen_files.add(path)
            text += file_heading(path)
        if chars < budget_chars * DOCUMENTED:  # characters run ~1.5x denser in docs than budget_chars assumes
            with_doc.update(unit.defs)
        text += "\n".join(_line(facts, i, 0, with_doc) for i in unit.defs) + "\n"
        pieces.append(text)
        chars += len(text)
        if chars > budget_chars:
            break
    sums = prefix_sums([head, *pieces])

    def render(k: int) -> str:
        chosen = [i for unit in units[:k] for i in unit.defs]
        depths = _depths(facts, set(chosen), by_qual)
        by_file: dict[str, list[int]] = {}
        for i in chosen:
            by_file.setdefault(facts.defs[i].path, []).append(i)
        parts = [head]
        for path in by_file:  # files in rank order: a file comes in with its best definition
            parts.append(file_heading(path))
            ids = sorted(by_file[path], key=lambda i: (facts.defs[i].line, facts.defs[i].qualname))
            parts.append("\n".join(_line(facts, i, depths[i], with_doc) for i in ids) + "\n")
        return "".join(parts)

    text, _ = fit_prefix(render, len(pieces), limit, lambda k: sums[k + 1])
    return text


def _line(facts: RepoFacts, i: int, depth: int, with_doc: set[int]) -> str:
    # Past the documented top of the map, a line's job is to name the definition: long signatures are cut.
    return (
        def_line(facts.defs[i], depth, 72, 0)
        if i in with_doc
        else def_line(facts.defs[i], depth, 0, SHORT_SIGNATURE)
    )
