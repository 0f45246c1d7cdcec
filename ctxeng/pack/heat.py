"""What the next change is likely to touch, from history alone: recency-weighted churn spread over definitions.

A file's heat is the sum, over the commits that changed it, of a weight halving every
`half_life` commits (the newest commit weighs 1); commits touching very many files (renames,
reformatting) say little about any one file and are skipped. Co-changing partners of hot files
get a share of their heat. Within a file, a change lands on a line, and the innermost definition
around that line is what it touches, so each definition gets the file's heat in proportion to
the lines it owns (its span minus its nested definitions' spans) — except where the commit's patch
said which definitions it touched (the history stage finds them from its hunks): then most of that
commit's weight for the file goes to those definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter, sub

from ctxeng.pack.facts import Commit, Definition, RepoFacts
from ctxeng.pack.paths import is_example, is_test, is_vendored

WIDE_COMMIT = 30  # commits changing more files than this are skipped (as co-change statistics do)
TEST_ROLE = 0.5
EXAMPLE_ROLE = 0.2
COCHANGE_SHARE = 0.3  # heat a file passes to its co-change partners, split by their share
PARENT_SHARE = 0.5  # ... of which a named method passes this much on to its class
SYMBOL_SHARE = 0.3  # of a commit's weight on a file, what goes to the definitions its patch named there


def file_heat(facts: RepoFacts, half_life: float) -> dict[str, float]:
    """Path → recency-weighted number of recent commits that changed it (only files with code facts)."""
    heat: dict[str, float] = {}
    k = 0
    for commit in facts.commits:  # newest first
        if not commit.files:
            continue
        if len(commit.files) <= WIDE_COMMIT:
            weight = 0.5 ** (k / half_life)
            for path in commit.files:
                if path in facts.files:
                    heat[path] = heat.get(path, 0.0) + weight
        k += 1
        if k > 12 * half_life:  # weights below 2^-12 change nothing
            break
    spread = dict(heat)
    for path, h in sorted(heat.items()):
        for partner, _, share in facts.cochange.get(path, ()):
            if partner in facts.files:
                spread[partner] = spread.get(partner, 0.0) + COCHANGE_SHARE * h * share
    return {p: h * history_role(p) for p, h in sorted(spread.items()) if not is_vendored(p)}


def history_role(path: str) -> float:
    """How much a file's churn counts: tests change with the code they test, so they count half;
    examples, docs configuration and tooling change for their own reasons."""
    if is_test(path):
        return TEST_ROLE
    return EXAMPLE_ROLE if is_example(path) else 1.0


def parent_rows(defs: Sequence[Definition]) -> list[int]:
    """Per definition, the row of the one it is nested in (the first of that qualified name in its file),
    or -1: computed once per ranking for the heat and the ranking's inheritance."""
    by_qual: dict[tuple[str, str], int] = {}
    for i, d in enumerate(defs):
        by_qual.setdefault((d.path, d.qualname), i)
    return [by_qual.get((d.path, d.parent), -1) if d.parent else -1 for d in defs]


def own_lines(defs: Sequence[Definition], parents: Sequence[int] | None = None) -> list[int]:
    """Lines each definition owns: its span minus the spans of the definitions nested directly in it
    (`parents`: `parent_rows(defs)` when the caller has it)."""
    parents = parent_rows(defs) if parents is None else parents
    # Each span, `max(1, end_line - line + 1)`, written without a call per definition.
    spans = [
        n + 1 if n > 0 else 1
        for n in map(sub, map(attrgetter("end_line"), defs), map(attrgetter("line"), defs))
    ]
    out = list(spans)
    for i, parent in enumerate(parents):
        if parent >= 0:
            out[parent] -= spans[i]
    return [n if n > 1 else 1 for n in out]


def path_runs(defs: Sequence[Definition]) -> list[tuple[str, int, int]]:
    """(path, start, stop) of each run of consecutive definitions in one file, in row order (one run
    per file when `defs` is sorted by path, as `facts_from_records` leaves them)."""
    runs: list[tuple[str, int, int]] = []
    current, start = None, 0
    for i, path in enumerate(map(attrgetter("path"), defs)):
        if path != current:
            if current is not None:
                runs.append((current, start, i))
            current, start = path, i
    if current is not None:
        runs.append((current, start, len(defs)))
    return runs


def definition_heat(
    facts: RepoFacts,
    half_life: float,
    parents: Sequence[int] | None = None,
    runs: list[tuple[str, int, int]] | None = None,
) -> list[float]:
    """Per definition (aligned with `facts.defs`): its file's heat × its share of the file's owned lines,
    with the heat of commits whose patches named touched definitions moved onto those definitions
    (`parents`: `parent_rows(facts.defs)`, `runs`: `path_runs(facts.defs)`, when the caller has them)."""
    parents = parent_rows(facts.defs) if parents is None else parents
    heat = file_heat(facts, half_life)
    owned = own_lines(facts.defs, parents)
    runs = path_runs(facts.defs) if runs is None else runs
    per_file: dict[str, int] = {}
    for path, start, stop in runs:
        per_file[path] = per_file.get(path, 0) + sum(owned[start:stop])
    out: list[float] = []
    for path, start, stop in runs:  # row order: `out` lines up with `facts.defs`
        h, lines = heat.get(path, 0.0), per_file[path]
        out += [h * n / lines for n in owned[start:stop]]
    moved_heat = _symbol_heat(facts, half_life, parents, runs)
    rows_of: dict[str, list[int]] = {}
    for path, start, stop in runs:
        if path in moved_heat:
            rows_of.setdefault(path, []).extend(range(start, stop))
    for path, moved in moved_heat.items():
        total = sum(moved.values())
        for i in rows_of[path]:  # the named definitions' share comes out of the whole file's, line by line
            out[i] -= SYMBOL_SHARE * total * owned[i] / per_file[path]
        for i, w in moved.items():
            out[i] += SYMBOL_SHARE * w
    return [h if h > 0.0 else 0.0 for h in out]  # `max(0.0, h)`, NaN and -0.0 included


def _symbol_heat(
    facts: RepoFacts, half_life: float, parents: Sequence[int], runs: list[tuple[str, int, int]]
) -> dict[str, dict[int, float]]:
    """Path → {definition index: recency weight of the commits whose patch named it there}, split
    evenly among the definitions one commit named in one file (and scaled by the file's role); a
    nested definition passes `PARENT_SHARE` of its part on to the class (or function) around it
    (`parents`: `parent_rows(facts.defs)`; `runs`: `path_runs(facts.defs)`)."""
    # The commits counted, exactly as `file_heat` counts them (newest first, up to 12 half-lives).
    counted: list[tuple[float, Commit]] = []
    k = 0
    for commit in facts.commits:
        if not commit.files:
            continue
        if len(commit.files) <= WIDE_COMMIT and commit.symbols:
            counted.append((0.5 ** (k / half_life), commit))
        k += 1
        if k > 12 * half_life:
            break
    if not counted:
        return {}
    # Only the definitions these commits name are looked up: not a key per definition (~700,000 at
    # 100,000 files, where the first commit names them all), and only in the files they name.
    wanted: dict[str, set[str]] = {}
    for _, commit in counted:
        for path, name in commit.symbols:
            wanted.setdefault(path, set()).add(name)
    by_name: dict[tuple[str, str], list[int]] = {}
    defs = facts.defs
    for path, start, stop in runs:
        names = wanted.get(path)
        if names:
            for i in range(start, stop):
                if defs[i].name in names:
                    by_name.setdefault((path, defs[i].name), []).append(i)
    out: dict[str, dict[int, float]] = {}
    roles: dict[str, float | None] = {}  # path → `history_role`, None: not code or vendored (once per path)
    for path in wanted:
        roles[path] = history_role(path) if path in facts.files and not is_vendored(path) else None
    for weight, commit in counted:
        named: dict[str, set[int]] = {}
        for path, name in commit.symbols:
            if roles[path] is not None:
                named.setdefault(path, set()).update(by_name.get((path, name), ()))
        for path, rows in sorted(named.items()):
            role = roles[path]
            if rows and role is not None:  # (`named` holds only paths with a role)
                share = weight * role / len(rows)
                mine = out.setdefault(path, {})
                for i in sorted(rows):
                    up = parents[i]  # a change to `Session.flush` is a change to `Session` too
                    mine[i] = mine.get(i, 0.0) + share * (1.0 - PARENT_SHARE if up >= 0 else 1.0)
                    if up >= 0:
                        mine[up] = mine.get(up, 0.0) + share * PARENT_SHARE
    return out
