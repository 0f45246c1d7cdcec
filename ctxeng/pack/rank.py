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
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, neg
from pathlib import Path

from ctxeng.pack.api import import_orders, reexports
from ctxeng.pack.facts import Definition, RepoFacts
from ctxeng.pack.graph import pagerank
from ctxeng.pack.paths import is_entry_file, role_factor


@dataclass(frozen=True)
class Weights:
    """Documented ranking weights (the defaults are what `bench/rank_recall.py` measured best)."""

    damping: float = 0.85  # PageRank's usual follow-an-edge probability
    iterations: int = 50  # upper bound; iteration stops once the L1 change is below `tolerance`
    tolerance: float = 1e-6
    private_ident: float = 0.1  # edges for identifiers starting with "_" (aider uses the same)
    many_definers: int = 5  # identifiers defined in more files than this are ambiguous ...
    many_definers_factor: float = 0.1  # ... and their edges count this much
    max_definer_files: int = (
        25  # identifiers defined in more files (`__init__`, `get`) carry no signal: no edges
    )
    short_ident_len: int = 3  # identifiers this short or shorter (`x`, `get`) say little ...
    short_ident_factor: float = 0.3  # ... and are damped this much
    builtin_factor: float = (
        0.02  # references to language builtins (`BUILTIN_NAMES`) that the repo also defines
    )
    reexport: float = 1.0  # prior of a definition a package init re-exports (the public API)
    exported: float = 0.3  # prior of a definition its own file exports / declares public
    entry_point: float = 0.6  # prior of entry points (`main`, console scripts)
    doc_mention: float = 0.3  # prior for names the docs mention, reached at `doc_mention_full` sections
    doc_mention_full: int = 20  # weighted sections mentioning a name for the full doc prior (log scale)
    base_prior: float = 0.002  # every definition's share, so unreferenced code still orders sensibly
    prior_share: float = 0.8  # final = share × prior + (1 - share) × reference rank (both normalised)
    private_def: float = 0.15  # multiplier for private definitions (`_name`, visibility private)
    child_inherit: float = 0.25  # share of a class's score its public members inherit (split among them)
    history_share: float = 0.5  # final = share × history heat + (1 - share) × the above (both normalised)
    half_life: float = 100.0  # commits after which a change counts half as much towards a file's heat


DEFAULT_WEIGHTS = Weights()
# Names every file uses from the language itself (Python builtins and typing, JS/Go globals). A repository
# that also defines one of them (sqlalchemy has a method `isinstance` and a class `Any`) would otherwise
# collect the rank of every call to the builtin.
BUILTIN_NAMES = frozenset(
    """abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex
    delattr dict dir divmod enumerate eval exec exit filter float format frozenset getattr globals hasattr hash
    help hex id input int isinstance issubclass iter len list locals map max memoryview min next object oct open
    ord pow print property range repr reversed round set setattr slice sorted staticmethod str sum super tuple
    type vars zip self cls Exception BaseException ValueError TypeError KeyError IndexError AttributeError
    RuntimeError NotImplementedError NotImplemented StopIteration OSError ImportError AssertionError Warning
    DeprecationWarning UserWarning None True False Ellipsis
    AbstractSet Annotated Any AnyStr Awaitable Callable ClassVar Collection Container Coroutine Dict Final
    FrozenSet Generator Generic Hashable IO Iterable Iterator List Literal Mapping MutableMapping MutableSequence
    MutableSet NamedTuple Never NewType NoReturn Optional ParamSpec Protocol Self Sequence Set Tuple Type
    TypeAlias TypeGuard TypeVar TypedDict Union Unpack TYPE_CHECKING cast overload final runtime_checkable
    get_args get_origin get_type_hints dataclass field
    append extend update get pop keys values items join split strip startswith endswith replace lower upper
    format encode decode copy clear add remove insert index count sort
    Object Array Promise Error Map Set JSON Math String Number Boolean Symbol Date RegExp console require
    module exports parseInt parseFloat setTimeout clearTimeout undefined null this
    make new error string byte rune len cap panic recover fmt errors context""".split()
)
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
    # Per definition the row of the one it is nested in, or -1 (`heat.parent_rows` of the ranked
    # definitions), when the ranking computed it: the index reuses it.
    parents: list[int] | None = field(default=None, repr=False, compare=False)
    _order: list[int] | None = field(default=None, repr=False, compare=False)

    def ordered_defs(self, defs: Sequence[Definition]) -> list[int]:
        """Definition indices (of the `defs` these scores belong to), best first; ties broken by path,
        line, then name. Computed once."""
        if self._order is None or len(self._order) != len(defs):
            # The keys built column by column (in C), then sorted by them: the same order as a key function.
            keys = list(
                zip(map(neg, self.def_score), map(attrgetter("path"), defs), map(attrgetter("line"), defs),
                    map(attrgetter("name"), defs))
            )  # fmt: skip
            self._order = sorted(range(len(defs)), key=keys.__getitem__)
        return list(self._order)

    def ordered_files(self) -> list[str]:
        """File paths, best first; ties broken by path."""
        return sorted(self.file_score, key=lambda p: (-self.file_score[p], p))


def doc_mentions(facts: RepoFacts) -> dict[str, float]:
    """Identifier → number of doc sections that mention it in a code span or role, weighted by doc kind."""
    counts: dict[str, float] = {}
    for doc in facts.docs:
        weight = DOC_KIND_WEIGHT.get(doc.doc_kind, 0.5)
        names: set[str] = set()
        for match in _MENTION.finditer(doc.text):
            ident = (match.group(1) or match.group(2)).rstrip(".")
            names.update((ident, ident.rsplit(".", 1)[-1]))
        for name in sorted(names):
            counts[name] = counts.get(name, 0.0) + weight
    return dict(sorted(counts.items()))


def cached_doc_mentions(facts: RepoFacts, out_dir: Path) -> dict[str, float]:
    """`doc_mentions(facts)`, kept in `out_dir`'s cache by a digest of the doc sections it reads (a code
    commit leaves them as they were: sqlalchemy's 1,800 sections are then not scanned again)."""
    from ctxeng.core.digest_memo import DigestMemo, digest, source_version

    memo = DigestMemo(out_dir, "doc-mentions", source_version(__file__))
    key = digest(s for d in facts.docs for s in (d.doc_kind, d.text))
    got = memo.get(key)
    if isinstance(got, dict):
        return got
    value = doc_mentions(facts)
    memo.put(key, value)
    return value


def _priors(
    facts: RepoFacts,
    entry_points: Iterable[tuple[str, str]],
    w: Weights,
    mentions: Mapping[str, float] | None = None,
    runs: Sequence[tuple[str, int, int]] | None = None,
    memo_dir: Path | None = None,
) -> tuple[list[float], dict[int, float]]:
    from ctxeng.pack.heat import path_runs

    reexported = reexports(facts, import_orders(facts, memo_dir) if memo_dir is not None else None)
    mentions = doc_mentions(facts) if mentions is None else mentions
    entries = set(entry_points)
    defs = facts.defs
    priors: list[float] = []
    # File by file (`runs`: `path_runs(facts.defs)`): what depends only on the path is looked up once.
    for path, start, stop in path_runs(defs) if runs is None else runs:
        info = facts.files.get(path)
        exports = frozenset(info.exports) if info is not None else frozenset()
        role, entry_file = role_factor(path), is_entry_file(path)
        for i in range(start, stop):
            d = defs[i]
            prior = w.base_prior
            if i in reexported:
                prior += w.reexport * reexported[i]
            elif not d.parent and d.name in exports:
                prior += w.exported
            if (entries and (path, d.qualname) in entries) or (
                d.name == "main" and not d.parent and entry_file
            ):
                prior += w.entry_point
            by_qual, by_name = mentions.get(d.qualname, 0.0), mentions.get(d.name, 0.0)
            hits = by_name if by_name > by_qual else by_qual  # `max(by_qual, by_name)` without the call
            if hits:
                prior += w.doc_mention * min(1.0, math.log1p(hits) / math.log1p(w.doc_mention_full))
            if not d.public:
                prior *= w.private_def
            priors.append(prior * role)
    return priors, reexported


def reference_weight(ident: str, count: int, n_definers: int, w: Weights = DEFAULT_WEIGHTS) -> float | None:
    """How much `count` references to `ident` (defined in `n_definers` files) weigh, or None to ignore them.

    aider's weighting plus a cap: sqrt of the count, damped for private names, names defined in many
    files, short names and builtins; ignored when too many files define the name to say which is meant.
    """
    if n_definers > w.max_definer_files:
        return None
    mul = math.sqrt(count)
    if ident.startswith("_"):
        mul *= w.private_ident
    if n_definers > w.many_definers:
        mul *= w.many_definers_factor
    if len(ident) <= w.short_ident_len:
        mul *= w.short_ident_factor
    if ident in BUILTIN_NAMES:
        mul *= w.builtin_factor
    return mul


def rank(
    facts: RepoFacts,
    entry_points: Iterable[tuple[str, str]] = (),
    weights: Weights = DEFAULT_WEIGHTS,
    mentions: Mapping[str, float] | None = None,
    memo_dir: Path | None = None,
) -> Ranking:
    """Rank the files and definitions of `facts` (see the module docstring for the method).

    `mentions`: `doc_mentions(facts)` when the caller has it (`cached_doc_mentions`); `memo_dir`: the
    build's output folder, whose cache keeps the import graph's walks (`ctxeng.pack.api.import_orders`)."""
    from ctxeng.pack.heat import definition_heat, parent_rows, path_runs

    w = weights
    paths = list(facts.files)
    index = {p: i for i, p in enumerate(paths)}
    runs = path_runs(facts.defs)
    defined = _definers(facts.defs, index, runs)
    totals = {ident: sum(files.values()) for ident, files in defined.items()}
    priors, reexported = _priors(facts, entry_points, w, mentions, runs, memo_dir)

    # Edges referencer → definer file, weighted per identifier (aider's weighting, plus a cap).
    out_w: list[dict[int, float]] = [{} for _ in paths]  # per file: definer row → weight
    # Per file: the identifiers it uses and their weights, side by side (not a tuple per use: a
    # 100,000-file repository has millions of uses).
    uses: list[tuple[list[str], array[float]]] = [([], array("d")) for _ in paths]
    for a, path in enumerate(paths):
        mine = out_w[a]
        idents, muls = uses[a]
        for ident, count in facts.files[path].refs.items():
            files = defined.get(ident)
            if not files:
                continue
            mul = reference_weight(ident, count, len(files), w)
            if mul is None:
                continue
            idents.append(ident)
            muls.append(mul)
            per_def = mul / totals[ident]
            for b, n in files.items():
                if b != a:
                    mine[b] = mine.get(b, 0.0) + per_def * n
    edges = [(a, b, wt) for a, targets in enumerate(out_w) for b, wt in sorted(targets.items())]

    file_prior = [role_factor(p) for p in paths]
    for path, start, stop in runs:
        row = index.get(path)
        if row is not None:
            for i in range(start, stop):
                file_prior[row] += priors[i]
    file_rank = pagerank(len(paths), edges, file_prior, w.damping, w.iterations, w.tolerance)

    # Each file hands its rank to the identifiers it uses, in proportion to weight; an identifier's
    # definitions share what it receives.
    received: dict[str, float] = {}
    for a, (idents, muls) in enumerate(uses):
        total = sum(muls)
        for ident, m in zip(idents, muls):
            received[ident] = received.get(ident, 0.0) + file_rank[a] * m / total
    for ident, got in received.items():  # now what each definition of the name receives (in place)
        received[ident] = got / totals[ident]
    ref_score: list[float] = []
    defs = facts.defs
    for path, start, stop in runs:
        role = role_factor(path)
        for d in defs[start:stop]:
            ref_score.append(received.get(d.name, 0.0) * role * (1.0 if d.public else w.private_def))

    parents = parent_rows(facts.defs)  # shared by the inheritance and the heat
    scores = _inherit(facts.defs, _mix(priors, ref_score, w.prior_share), w.child_inherit, parents)
    if w.history_share > 0 and facts.commits:
        scores = _mix(definition_heat(facts, w.half_life, parents, runs), scores, w.history_share)
    edges_by_path = {  # (each file's (row, weight) pairs are sorted again, not kept: millions at 100,000 files)
        paths[a]: {paths[b]: wt for b, wt in sorted(targets.items())}
        for a, targets in enumerate(out_w)
        if targets
    }
    return Ranking(
        file_score={p: file_rank[i] for i, p in enumerate(paths)},
        def_score=scores,
        reexported=set(reexported),
        edges=edges_by_path,
        parents=parents,
    )


def _definers(
    defs: Sequence[Definition], index: dict[str, int], runs: Sequence[tuple[str, int, int]]
) -> dict[str, dict[int, int]]:
    """identifier → {file row: definitions of it there}. An identifier defined once (most of the
    ~700,000 of a 100,000-file repository) shares its file's one-entry dict: read-only here.
    `runs`: `path_runs(defs)`."""
    defined: dict[str, dict[int, int]] = {}
    shared: set[int] = set()  # ids of the shared one-entry dicts
    for path, start, stop in runs:
        row = index.get(path)
        if row is None:
            continue
        one = {row: 1}  # this file's shared {row: 1}, never modified
        shared.add(id(one))
        for name in map(attrgetter("name"), defs[start:stop]):
            per_file = defined.get(name)
            if per_file is None:
                defined[name] = one
            else:
                if id(per_file) in shared:
                    per_file = defined[name] = dict(per_file)  # a second definition: its own dict now
                per_file[row] = per_file.get(row, 0) + 1
    return defined


def _mix(priors: list[float], ref_score: list[float], share: float) -> list[float]:
    total_p, total_r = sum(priors), sum(ref_score)
    rest = 1.0 - share
    if total_p > 0 and total_r > 0:
        return [share * (p / total_p) + rest * (r / total_r) for p, r in zip(priors, ref_score)]
    out = []
    for p, r in zip(priors, ref_score):
        a = p / total_p if total_p > 0 else 0.0
        b = r / total_r if total_r > 0 else 0.0
        out.append(share * a + rest * b)
    return out


def _inherit(
    defs: Sequence[Definition], scores: list[float], share: float, parents: Sequence[int]
) -> list[float]:
    """Public members of a class inherit part of its score (a public class makes its methods matter);
    `parents` is `parent_rows(defs)`."""
    children: dict[int, list[int]] = {}
    for i, (d, parent) in enumerate(zip(defs, parents)):
        if parent >= 0 and d.public:
            children.setdefault(parent, []).append(i)
    out = list(scores)
    for parent, kids in sorted(children.items()):
        bonus = share * scores[parent] / len(kids)
        for k in kids:
            out[k] += bonus
    return out
