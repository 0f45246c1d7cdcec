"""Prompt-seeded context: the definitions, files, docs and history most relevant to one prompt.

Reads only the compact index. Scoring: each row matches the prompt's terms (weighted by inverse
document frequency; whole-name and exact-identifier hits count extra), then a personalised
PageRank over the file neighbourhood graph, seeded by the matching files, spreads relevance to
files the prompt did not name (a prompt about flushing reaches the unit-of-work module through
the session module). Definitions score by their own match, their file's seeded rank and global rank.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.pack.associations import past_changes
from ctxeng.pack.bodies import ReadSource, work_tree_reader
from ctxeng.pack.budget import cap
from ctxeng.pack.context_render import BODIES, DEF_TOKENS, HEADINGS, MAX_BODIES, MAX_DEFS, MAX_DOCS, RENDER
from ctxeng.pack.graph import pagerank
from ctxeng.pack.index.reader import SCALE, read_details
from ctxeng.pack.index.reader import qualname as qualname_of
from ctxeng.pack.name_match import (
    HTTP_VERBS,
    VERB_WEAK,
    ident_bonus,
    member_names,
    qualified_rows,
    verb_family,
)
from ctxeng.pack.paths import is_test
from ctxeng.pack.terms import MAX_PROMPT_CHARS, name_terms, prompt_identifiers, prompt_paths, text_terms

# Most of the budget each section may take; definitions get whatever the others leave.
SHARES = (("files", 0.12), ("code", 0.25), ("docs", 0.2), ("history", 0.1), ("glossary", 0.06), ("defs", 1.0))
ORDER = ("files", "defs", "code", "docs", "history", "glossary")  # as shown
FILL_TARGET = 0.9  # below this share of the budget, the spare tokens go to more bodies
BODY_MIN_BUDGET = 1_000
WHOLE_NAME = 2.0  # a definition whose whole name is one prompt word (`flush`), times the word's idf
SPREAD = 0.6  # weight of the seeded PageRank in a file's final score
PRIOR = 0.5  # weight of the global rank in a definition's final score
TEST_LINK = (
    0.5  # the test container of a matched file, times the file's best definition's score (see `linked_tests`)
)
LINKED = 3  # matched source files whose tests are linked
REACHED = 0.3  # a file whose seeded score (best = 1) is this high adds its top definitions unasked
TEST_DAMPING = 0.4  # matches in test code, unless the prompt talks about tests
DATA_DAMPING = 0.35  # fields, constants and variables: `pool: Pool` says less than `class Pool`
DOCSTRING = 0.4  # weight of a term found in a definition's docstring rather than its name
BODY = 0.4  # weight of a term found in a doc section's first words rather than its heading
MIN_BUDGET = 64
MAX_RANKED = 4_096  # rows kept per section: a 49k-token context lists fewer than this (see DEF_TOKENS)
FILL = 0.3  # definitions the prompt did not match fill what is left, by their global rank ...
FILL_REACHED = 3.0  # ... raised in the files the prompt's matches reached
FILL_MIN = 0.01  # ... and only there: files the prompt's seeded rank reached at least this well (best = 1)


_UPPER = re.compile(r"\b[A-Z]{3,}\b")


@dataclass
class Query:
    """The prompt, broken into what can match: stemmed terms, code identifiers, paths."""

    terms: list[str]
    identifiers: list[str]
    paths: list[str]
    upper: frozenset[str] = frozenset()  # words written in capitals (`OPTIONS`, `GET`): protocol names

    @classmethod
    def parse(cls, prompt: str) -> Query:
        """Split a prompt into matchable parts (only its first `MAX_PROMPT_CHARS`: the cost is bounded)."""
        prompt = prompt[:MAX_PROMPT_CHARS]
        terms = text_terms(prompt, 48)
        for ident in prompt_identifiers(prompt):
            for t in name_terms(ident):
                if t not in terms:
                    terms.append(t)
        upper = frozenset(w for w in _UPPER.findall(prompt))
        return cls(
            terms=terms, identifiers=prompt_identifiers(prompt), paths=prompt_paths(prompt), upper=upper
        )


def idf_table(index: dict[str, Any], query: Query) -> dict[str, float]:
    """Inverse document frequency of each query term over every kind of row together: a word the
    whole repository uses ("store" in a key-value store) says less than one few rows use."""
    tables = index["terms"]
    total = sum(len(index[k]["path" if k in ("files", "docs") else "name" if k == "defs" else "sha" if k == "commits"
                            else "term"]) for k in ("files", "defs", "docs", "commits", "glossary"))  # fmt: skip
    out = {}
    for term in query.terms:
        df = sum(len(table.get(term, ())) for table in tables.values())
        out[term] = math.log(1.0 + total / df) if df else 0.0
    return out


def _match(index: dict[str, Any], kind: str, idf: dict[str, float], weight: float = 1.0) -> dict[int, float]:
    table = index["terms"].get(kind, {})
    scores: dict[int, float] = {}
    for term, w in idf.items():
        for i in table.get(term, ()):
            scores[i] = scores.get(i, 0.0) + weight * w
    return scores


def score(index: dict[str, Any], query: Query) -> dict[str, list[tuple[float, int]]]:
    """Scored rows per section ("files", "defs", "docs", "history", "glossary"), best first."""
    files, defs = index["files"], index["defs"]
    def_file, def_name, def_score, names, codes = (
        defs["file"],
        defs["name"],
        defs["score"],
        index["names"],
        defs["code"],
    )
    words = set(query.terms)
    idents = set(query.identifiers)
    members = member_names(idents)
    idf = idf_table(index, query)
    d_match = _match(index, "d", idf)
    for i, m in _match(
        index, "e", idf, DOCSTRING
    ).items():  # words of the docstring count less than the name's
        d_match[i] = d_match.get(i, 0.0) + m
    for i in qualified_rows(index, query.identifiers):  # named by qualified name, whatever its words
        d_match.setdefault(i, 0.0)
    paths = files["path"]
    damp_tests = not ({"test", "tests", "testing"} & words)  # tests matter when the prompt is about tests
    for i in list(d_match):
        name = names[def_name[i]]
        qualname = qualname_of(index, i) if defs["parent"][i] >= 0 else name
        parts = name_terms(name)
        covered = sum(1 for t in parts if t in words) / max(1, len(parts))
        bonus, precise = ident_bonus(name, qualname, idents, members)  # `precise` is not damped below
        bare = name.lower().strip("_")
        if bare in words:
            bonus += WHOLE_NAME * idf.get(bare, 0.0)
        damping = (TEST_DAMPING if damp_tests and is_test(paths[def_file[i]]) else 1.0) * (
            1.0 if codes[i] else DATA_DAMPING
        )
        if (
            bare in HTTP_VERBS
            and name not in idents
            and bare.upper() not in query.upper
            and verb_family(index, i)
        ):
            damping *= (
                VERB_WEAK  # "option" is not `options()`, the HTTP OPTIONS handler beside `get`, `post` ...
            )
        d_match[i] = (d_match[i] * (0.5 + 0.5 * covered) + bonus) * damping + precise
    f_match = _match(index, "f", idf)
    named = set(query.paths)  # a set, not a scan of every path per file: O(files × depth), not × paths
    for i, path in enumerate(files["path"]):
        if path in named or any(path[k + 1 :] in named for k, c in enumerate(path) if c == "/"):
            f_match[i] = f_match.get(i, 0.0) + 8.0
    best_in_file: dict[int, float] = {}
    for i, m in d_match.items():
        f = def_file[i]
        best_in_file[f] = max(best_in_file.get(f, 0.0), m)
    for f, m in best_in_file.items():
        f_match[f] = f_match.get(f, 0.0) + 0.5 * m
    past_files, past_defs = past_changes(index, idf)
    for f, m in past_files.items():
        f_match[f] = f_match.get(f, 0.0) + m
    seeded = _spread(index, f_match)
    top_f = max(f_match.values(), default=0.0) or 1.0
    file_score = {
        i: f_match.get(i, 0.0) / top_f + SPREAD * r for i, r in seeded.items() if f_match.get(i) or r > 1e-4
    }
    scores: dict[int, float] = {}
    for i, m in d_match.items():
        scores[i] = m * (1.0 + PRIOR * def_score[i] / SCALE) + file_score.get(def_file[i], 0.0)
    for i, m in past_defs.items():  # what past commits worded like the prompt touched
        scores[i] = scores.get(i, file_score.get(def_file[i], 0.0)) + m
    best_def: dict[int, float] = {}  # per file, its best-scoring definition so far
    for i, m in scores.items():
        best_def[def_file[i]] = max(best_def.get(def_file[i], 0.0), m)
    for i, m in linked_tests(index, best_def).items():  # where the change's test will go
        scores[i] = max(scores.get(i, 0.0), m)
    # Files reached only through the graph contribute their best-ranked definitions.
    wanted = {
        i for i in sorted(file_score, key=lambda i: (-file_score[i], i))[:8] if file_score[i] >= REACHED
    }
    extra: dict[int, list[tuple[int, int]]] = {}
    for i, f in enumerate(def_file):
        if f in wanted and i not in scores:
            extra.setdefault(f, []).append((def_score[i], i))
    for f, rows in extra.items():
        for prior, i in sorted(rows, key=lambda t: (-t[0], t[1]))[:2]:
            scores[i] = 0.5 * file_score[f] * prior / SCALE
    # The rest of the budget goes to what the repository's own ranking (references, public API and
    # recent churn) says matters, most of all in the files the prompt reached.
    top_fs = max(file_score.values(), default=0.0) or 1.0
    for i, prior in enumerate(
        def_score if scores else ()
    ):  # only when something matched: else nothing is relevant
        reach = file_score.get(def_file[i], 0.0) / top_fs
        if prior and reach >= FILL_MIN and i not in scores:
            scores[i] = FILL * prior / SCALE * (1.0 + FILL_REACHED * reach)
    doc_match = _match(index, "s", idf)
    for i, m in _match(index, "b", idf, BODY).items():
        doc_match[i] = doc_match.get(i, 0.0) + m
    commits = index["commits"]
    commit_match = _match(index, "c", idf)
    for i in list(commit_match):
        commit_match[i] += 0.3 * sum(file_score.get(f, 0.0) for f in commits["files"][i])
    gloss_match = _match(index, "g", idf)
    return {
        "files": _best(file_score),
        "code": _best({i: scores[i] for i in (*d_match, *past_defs) if codes[i]}),
        "defs": _best(scores),
        "docs": _best(doc_match),
        "history": _best(commit_match),
        "glossary": _best(gloss_match),
    }


def linked_tests(index: dict[str, Any], file_score: dict[int, float]) -> dict[int, float]:
    """Definition row → score for the test containers of the best-matching source files (`file_score`:
    file row → the score of its best definition).

    A change to a source file usually adds or edits a test beside it, in the test file most tied to
    it (its strongest test neighbour: co-changes and references). That file's largest top-level
    definition (`class TestRequests`, a `describe` block) is where the test lands: it is shown
    under the test file's heading, scored `TEST_LINK` × the source file's score.
    """
    paths, near, defs = index["files"]["path"], index["near"], index["defs"]
    sources = [f for f in sorted(file_score, key=lambda f: (-file_score[f], f)) if not is_test(paths[f])][
        :LINKED
    ]
    link: dict[int, float] = {}
    for f in sources:
        tests = [near[f][k] for k in range(0, len(near[f]), 2) if is_test(paths[near[f][k]])]
        if tests:
            link[tests[0]] = max(link.get(tests[0], 0.0), TEST_LINK * file_score[f])
    if not link:
        return {}
    spans: dict[int, tuple[int, int]] = {}  # test file → (longest top-level span, its row)
    rows = [i for i, f in enumerate(defs["file"]) if f in link]
    last = {defs["file"][i]: defs["line"][i] for i in sorted(rows, key=lambda i: defs["line"][i])}
    top = [i for i in rows if defs["parent"][i] < 0 and defs["code"][i]]
    for k, i in enumerate(top):  # a top-level definition spans up to the next one (or the file's last)
        nxt = top[k + 1] if k + 1 < len(top) and defs["file"][top[k + 1]] == defs["file"][i] else None
        span = (defs["line"][nxt] if nxt is not None else last[defs["file"][i]]) - defs["line"][i]
        best = spans.get(defs["file"][i])
        if best is None or span > best[0]:
            spans[defs["file"][i]] = (span, i)
    return {i: link[f] for f, (_, i) in spans.items()}


def _best(scores: dict[int, float]) -> list[tuple[float, int]]:
    """The positive scores, best first (ties by row), at most about `MAX_RANKED`: a cut at the
    `MAX_RANKED`-th best value (a C-level sort of floats) spares a keyed sort of every definition."""
    if len(scores) > MAX_RANKED:
        cut = sorted(scores.values(), reverse=True)[MAX_RANKED - 1]
        scores = {i: s for i, s in scores.items() if s >= cut}  # ties at the cut all stay: deterministic
    return sorted(((s, i) for i, s in scores.items() if s > 0), key=lambda si: (-si[0], si[1]))


def _spread(index: dict[str, Any], seeds: dict[int, float]) -> dict[int, float]:
    """Personalised PageRank over the file neighbourhood graph, seeded by the prompt's matches."""
    if not seeds:
        return {}
    n = len(index["files"]["path"])
    edges = [
        (i, near[k], near[k + 1] / 1000)
        for i, near in enumerate(index["near"])
        for k in range(0, len(near), 2)
    ]
    personal = [0.0] * n
    for i, s in seeds.items():
        personal[i] = s
    rank = pagerank(n, edges, personal, iterations=25)
    top = max(rank) or 1.0
    return {i: r / top for i, r in enumerate(rank) if r > 0}


def render_context(
    index: dict[str, Any],
    prompt: str,
    budget: int,
    read_source: ReadSource | None = None,
    layout: str = "files",
) -> str:
    """Markdown context for `prompt` with at most `budget` tokens; "" when nothing in the index matches.

    `read_source(path)` gives a file's text for the bodies of the best matches (default: the work
    tree at the index's root); bodies are left out below `BODY_MIN_BUDGET` tokens. `layout`: "files"
    (a `### path` heading per file: fewest tokens, for agents) or "lines" (`path:line` on every
    definition, which a small model copies: `ask`, `serve` grounding, the eval; `pack.defline`).
    """
    query = Query.parse(prompt)
    if budget < MIN_BUDGET or not (query.terms or query.paths):
        return ""
    ranked = score(index, query)
    if not any(ranked[k] for k in ("defs", "files", "docs")):
        return ""
    n_defs = index["details"]["defs"]
    n_wanted = max(MAX_DEFS, budget // DEF_TOKENS)
    wanted = [i for _, i in [*ranked["defs"][:n_wanted], *ranked["code"][:MAX_BODIES]]]
    wanted += [n_defs + i for _, i in ranked["docs"][:MAX_DOCS]]
    details: dict[Any, Any] = {**read_details(index, wanted), "_layout": layout}  # + `_code`'s reader
    if budget < BODY_MIN_BUDGET:
        ranked["code"] = []
    else:
        details["_read"] = read_source or work_tree_reader(Path(index.get("_root", ".")))
        details["_root"] = index.get("_root", ".")
    head = f"# Context from ctxeng for this prompt ({index.get('repository', '')} @ {str(index.get('head', ''))[:10]})\n"
    parts: dict[str, str] = {}
    left = budget - _tokens(head)
    for section, share in SHARES:  # the small sections take at most their share; definitions get the rest
        if section != "defs" and ranked[section]:
            parts[section] = _section(
                index, section, ranked[section], details, min(left, int(budget * share))
            )
            left -= _tokens(parts[section])
    for _ in range(4):
        if ranked["defs"]:
            parts["defs"] = _section(index, "defs", ranked["defs"], details, left)
        text = head + "".join(parts.get(s, "") for s in ORDER)
        over = _tokens(text) - budget
        if over <= 0:
            return _more_bodies(index, ranked, details, parts, head, budget, text)
        left -= over + 4  # joins cost a token here and there: give the definitions a little less
    return cap(text, budget)


def _more_bodies(
    index: dict[str, Any], ranked: dict[str, Any], details: dict[Any, Any], parts: dict[str, str], head: str,
    budget: int, text: str,
) -> str:  # fmt: skip
    """When the definitions ran out of candidates before the budget did, the spare tokens show the
    source of more of the best matches (up to `MAX_BODIES`): a budget is there to be used."""
    spare = budget - _tokens(text)
    if spare < (1.0 - FILL_TARGET) * budget or len(ranked["code"]) <= BODIES:
        return text
    details["_bodies"] = MAX_BODIES
    limit = _tokens(parts.get("code", "")) + spare
    for _ in range(3):
        parts["code"] = _section(index, "code", ranked["code"], details, limit)
        fuller = head + "".join(parts.get(s, "") for s in ORDER)
        over = _tokens(fuller) - budget
        if over <= 0:
            return fuller
        limit -= over + 4
    return text


def _section(
    index: dict[str, Any], section: str, ranked: list[tuple[float, int]], details: dict[Any, Any], limit: int
) -> str:
    """One section's text within `limit` tokens, or "" when not even one entry fits under its heading."""
    if limit <= 8:
        return ""
    text = RENDER[section](index, ranked, details, "", limit)
    return "" if text.rstrip().endswith(HEADINGS[section]) else text


def _tokens(text: str) -> int:
    from ctxeng.pack.budget import tokens

    return tokens(text)


def context_for_prompt(
    root: Path, prompt: str, budget: int = 2_000, safe: bool = False, layout: str = "files"
) -> str:
    """The context for `prompt` in the repository at `root`, at most `budget` tokens.

    With `safe=True` it never raises (for hooks): a missing or broken index, or anything else that
    goes wrong, gives "". Otherwise a missing/broken index is a `CtxengError` with a hint (`layout`:
    see `render_context`)."""
    from ctxeng.pack.index.reader import load_index

    if not safe:
        return render_context(load_index(_root(root)), prompt, budget, layout=layout)
    try:
        return render_context(load_index(_root(root)), prompt, budget, layout=layout)
    except Exception:  # a hook must never fail the user's prompt
        return ""


def _root(root: Path) -> Path:
    """`root` itself when it holds `.ctxeng/index.json`, else the top of its git work tree."""
    root = Path(root).resolve()
    if (root / ".ctxeng" / "index.json").exists():
        return root
    from ctxeng.core.gitcli import Git

    top = Git(root).text(["rev-parse", "--show-toplevel"], check=False) if root.is_dir() else ""
    return Path(top) if top else root
