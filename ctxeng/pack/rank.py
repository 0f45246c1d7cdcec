"""Ranking definitions and files: personalised PageRank over the reference graph, in pure Python.

The graph has one node per code file. For every identifier a file references that another file
defines, an edge runs referencer → definer (aider's construction). PageRank with a personalised
teleport vector then says which files the rest of the code leans on; each file passes its rank
on to the definitions it references, in proportion to edge weight. That alone favours heavily
used internals, so the final score of a definition mixes it with a prior for what a newcomer
needs first: the public API (names a package re-exports, exported/public definitions), entry
points and names the documentation mentions; tests, vendored code and private names are damped.

Everything is deterministic: nodes and edges are built in sorted order, floating-point sums run
in that order, and every ordering of results breaks ties by (path, line, name).
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ctxeng.pack.facts import Definition, RepoFacts
from ctxeng.pack.paths import is_entry_file, is_package_init, is_test, role_factor


@dataclass(frozen=True)
class Weights:
    """Documented ranking weights (the defaults are what `bench/rank_recall.py` measured best)."""

    damping: float = 0.85  # PageRank's usual follow-an-edge probability
    iterations: int = 60  # upper bound; iteration stops once the L1 change is below `tolerance`
    tolerance: float = 1e-7
    private_ident: float = 0.1  # edges for identifiers starting with "_" (aider uses the same)
    many_definers: int = 5  # identifiers defined in more files than this are ambiguous ...
    many_definers_factor: float = 0.1  # ... and their edges count this much
    short_ident_len: int = 3  # identifiers this short or shorter (`x`, `get`) say little ...
    short_ident_factor: float = 0.3  # ... and are damped this much
    reexport: float = 1.0  # prior of a definition a package init re-exports (the public API)
    exported: float = 0.3  # prior of a definition its own file exports / declares public
    entry_point: float = 0.6  # prior of entry points (`main`, console scripts)
    doc_mention: float = 0.4  # prior per log(1 + weighted mentions) in design docs and READMEs
    base_prior: float = 0.02  # every definition's share, so unreferenced code still orders sensibly
    prior_share: float = 0.65  # final = share × prior + (1 - share) × reference rank (both normalised)
    private_def: float = 0.15  # multiplier for private definitions (`_name`, visibility private)
    child_inherit: float = 0.25  # share of a class's score its public members inherit (split among them)


DEFAULT_WEIGHTS = Weights()
DOC_KIND_WEIGHT = {"readme": 1.0, "guide": 0.8, "architecture": 0.8, "design": 0.8, "api": 0.6, "adr": 0.5,
                   "contributing": 0.3, "other": 0.5, "changelog": 0.15}  # fmt: skip
_MENTION = re.compile(r":[a-z]+:`~?[._]*([A-Za-z_][\w.]*)|`{1,2}([A-Za-z_][\w.]*)(?:\(\)?)?`{1,2}")


@dataclass
class Ranking:
    """Scores for files (by path) and definitions (aligned with `RepoFacts.defs`)."""

    file_score: dict[str, float] = field(default_factory=dict)
    def_score: list[float] = field(default_factory=list)
    reexported: set[int] = field(default_factory=set)  # indices of definitions a package init re-exports
    edges: dict[str, dict[str, float]] = field(default_factory=dict)  # file → {file it references: weight}

    def ordered_defs(self, defs: Sequence[Definition]) -> list[int]:
        """Definition indices, best first; ties broken by path, line, then name."""
        return sorted(range(len(defs)), key=lambda i: (-self.def_score[i], defs[i].path, defs[i].line, defs[i].name))

    def ordered_files(self) -> list[str]:
        """File paths, best first; ties broken by path."""
        return sorted(self.file_score, key=lambda p: (-self.file_score[p], p))


def pagerank(
    n: int, edges: Sequence[tuple[int, int, float]], personal: Sequence[float], weights: Weights = DEFAULT_WEIGHTS
) -> list[float]:
    """Personalised PageRank over `n` nodes; `edges` are (source, target, weight) in a fixed order.

    Dangling nodes (no out-edges) teleport by `personal`, as networkx does with `dangling=p`.
    Returns scores summing to 1 (all zero when n == 0).
    """
    if n == 0:
        return []
    total_p = sum(personal)
    p = [x / total_p for x in personal] if total_p > 0 else [1.0 / n] * n
    out_weight = [0.0] * n
    for s, _, w in edges:
        out_weight[s] += w
    norm = [(s, t, w / out_weight[s]) for s, t, w in edges if out_weight[s] > 0]
    dangling = [i for i in range(n) if out_weight[i] <= 0]
    d = weights.damping
    rank = list(p)
    for _ in range(weights.iterations):
        leak = d * sum(rank[i] for i in dangling)
        new = [(1.0 - d) * pi + leak * pi for pi in p]
        for s, t, w in norm:
            new[t] += d * rank[s] * w
        delta = sum(abs(a - b) for a, b in zip(new, rank))
        rank = new
        if delta < weights.tolerance:
            break
    return rank


def doc_mentions(facts: RepoFacts) -> dict[str, float]:
    """Identifier → weighted count of mentions in code spans / roles of design docs."""
    counts: dict[str, float] = {}
    for doc in facts.docs:
        weight = DOC_KIND_WEIGHT.get(doc.doc_kind, 0.5)
        for match in _MENTION.finditer(doc.text):
            ident = (match.group(1) or match.group(2)).rstrip(".")
            for name in {ident, ident.rsplit(".", 1)[-1]}:
                counts[name] = counts.get(name, 0.0) + weight
    return dict(sorted(counts.items()))


def reexported_defs(facts: RepoFacts) -> set[int]:
    """Definitions that a package init (`__init__.py`, `index.ts`, `lib.rs` ...) re-exports by name.

    A name is resolved to the top-level definitions of that name inside the package's folder (any
    depth), else anywhere in the repository; defined-in-place exports count too.
    """
    top: dict[str, list[int]] = {}
    for i, d in enumerate(facts.defs):
        if not d.parent:
            top.setdefault(d.name, []).append(i)
    found: set[int] = set()
    for path, info in facts.files.items():
        if not info.exports or not is_package_init(path) or is_test(path):
            continue
        folder = posixpath.dirname(path)
        prefix = f"{folder}/" if folder else ""
        for name in info.exports:
            candidates = top.get(name, [])
            inside = [i for i in candidates if facts.defs[i].path.startswith(prefix) and not is_test(facts.defs[i].path)]
            found.update(inside or candidates[:3])
    return found


def _priors(facts: RepoFacts, entry_points: Iterable[tuple[str, str]], w: Weights) -> tuple[list[float], set[int]]:
    reexported = reexported_defs(facts)
    mentions = doc_mentions(facts)
    entries = set(entry_points)
    exports = {path: set(info.exports) for path, info in facts.files.items()}
    priors = []
    for i, d in enumerate(facts.defs):
        prior = w.base_prior
        if i in reexported:
            prior += w.reexport
        elif d.name in exports.get(d.path, ()) and not d.parent:
            prior += w.exported
        if (d.path, d.qualname) in entries or (d.name == "main" and not d.parent and is_entry_file(d.path)):
            prior += w.entry_point
        hits = mentions.get(d.qualname, 0.0) + mentions.get(d.name, 0.0)
        if hits:
            prior += w.doc_mention * math.log1p(hits)
        if not d.public:
            prior *= w.private_def
        priors.append(prior * role_factor(d.path))
    return priors, reexported


def rank(
    facts: RepoFacts, entry_points: Iterable[tuple[str, str]] = (), weights: Weights = DEFAULT_WEIGHTS
) -> Ranking:
    """Rank the files and definitions of `facts` (see the module docstring for the method)."""
    w = weights
    paths = list(facts.files)
    index = {p: i for i, p in enumerate(paths)}
    definers: dict[str, list[int]] = {}  # identifier → indices of definitions with that name
    for i, d in enumerate(facts.defs):
        if d.path in index:
            definers.setdefault(d.name, []).append(i)
    priors, reexported = _priors(facts, entry_points, w)

    # Edges referencer → definer, and how each referencer's weight splits over definitions.
    edge_w: dict[tuple[int, int], float] = {}
    ref_targets: list[list[tuple[int, float]]] = [[] for _ in paths]  # per file: (definition, weight)
    for a, path in enumerate(paths):
        for ident, count in facts.files[path].refs.items():
            targets = [i for i in definers.get(ident, ()) if facts.defs[i].path != path]
            if not targets:
                continue
            target_files = sorted({facts.defs[i].path for i in targets})
            mul = math.sqrt(count)
            if ident.startswith("_"):
                mul *= w.private_ident
            if len(target_files) > w.many_definers:
                mul *= w.many_definers_factor
            if len(ident) <= w.short_ident_len:
                mul *= w.short_ident_factor
            share = mul / len(targets)
            for i in targets:
                ref_targets[a].append((i, share))
                key = (a, index[facts.defs[i].path])
                edge_w[key] = edge_w.get(key, 0.0) + share
    edges = [(s, t, wt) for (s, t), wt in sorted(edge_w.items())]

    file_prior = [role_factor(p) for p in paths]
    for i, d in enumerate(facts.defs):
        if d.path in index:
            file_prior[index[d.path]] += priors[i]
    file_rank = pagerank(len(paths), edges, file_prior, w)

    # Each file hands its rank to the definitions it references, in proportion to edge weight.
    ref_score = [0.0] * len(facts.defs)
    for a, targets in enumerate(ref_targets):
        total = sum(s for _, s in targets)
        if total <= 0:
            continue
        for i, s in targets:
            ref_score[i] += file_rank[a] * s / total
    ref_score = [s * role_factor(d.path) * (1.0 if d.public else w.private_def) for s, d in zip(ref_score, facts.defs)]

    scores = _mix(priors, ref_score, w.prior_share)
    scores = _inherit(facts.defs, scores, w.child_inherit)
    file_score = {p: file_rank[i] for i, p in enumerate(paths)}
    edges_by_path: dict[str, dict[str, float]] = {}
    for (s, t), wt in sorted(edge_w.items()):
        if s != t:
            edges_by_path.setdefault(paths[s], {})[paths[t]] = wt
    return Ranking(file_score=file_score, def_score=scores, reexported=reexported, edges=edges_by_path)


def _mix(priors: list[float], ref_score: list[float], share: float) -> list[float]:
    total_p, total_r = sum(priors), sum(ref_score)
    out = []
    for p, r in zip(priors, ref_score):
        a = p / total_p if total_p > 0 else 0.0
        b = r / total_r if total_r > 0 else 0.0
        out.append(share * a + (1.0 - share) * b)
    return out


def _inherit(defs: Sequence[Definition], scores: list[float], share: float) -> list[float]:
    """Public members of a class inherit part of its score (a public class makes its methods matter)."""
    by_qual: dict[tuple[str, str], int] = {}
    children: dict[int, list[int]] = {}
    for i, d in enumerate(defs):
        by_qual.setdefault((d.path, d.qualname), i)
    for i, d in enumerate(defs):
        parent = by_qual.get((d.path, d.parent)) if d.parent else None
        if parent is not None and d.public:
            children.setdefault(parent, []).append(i)
    out = list(scores)
    for parent, kids in sorted(children.items()):
        bonus = share * scores[parent] / len(kids)
        for k in kids:
            out[k] += bonus
    return out
