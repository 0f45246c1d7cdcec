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

from ctxeng.pack.bodies import ReadSource, body, work_tree_reader
from ctxeng.pack.budget import cap
from ctxeng.pack.defline import definition_line
from ctxeng.pack.graph import pagerank
from ctxeng.pack.index.reader import SCALE, read_details
from ctxeng.pack.index.reader import qualname as qualname_of
from ctxeng.pack.paths import is_test
from ctxeng.pack.section_fit import fit_blocks, grouped
from ctxeng.pack.terms import MAX_PROMPT_CHARS, name_terms, prompt_identifiers, prompt_paths, text_terms

# Most of the budget each section may take; definitions get whatever the others leave.
SHARES = (("files", 0.12), ("code", 0.25), ("docs", 0.2), ("history", 0.1), ("glossary", 0.06), ("defs", 1.0))
ORDER = ("files", "defs", "code", "docs", "history", "glossary")  # as shown
BODIES = 3  # definitions the prompt matched best whose source is shown, when the budget allows
BODY_MIN_BUDGET = 1_000
EXACT_IDENT = 6.0  # a definition named exactly like an identifier in the prompt
WHOLE_NAME = 2.0  # a definition whose whole name is one prompt word (`flush`), times the word's idf
SPREAD = 0.6  # weight of the seeded PageRank in a file's final score
PRIOR = 0.5  # weight of the global rank in a definition's final score
REACHED = 0.3  # a file whose seeded score (best = 1) is this high adds its top definitions unasked
TEST_DAMPING = 0.4  # matches in test code, unless the prompt talks about tests
DATA_DAMPING = 0.35  # fields, constants and variables: `pool: Pool` says less than `class Pool`
DOCSTRING = 0.4  # weight of a term found in a definition's docstring rather than its name
BODY = 0.4  # weight of a term found in a doc section's first words rather than its heading
MIN_BUDGET = 64
MAX_DEFS = 120  # candidates read from the details file at the smallest budgets (more for larger ones)
DEF_TOKENS = 12  # a definition line costs about this many tokens: how many candidates a budget can show
FILL = 0.3  # definitions the prompt did not match fill what is left, by their global rank ...
FILL_REACHED = 3.0  # ... raised in the files the prompt's matches reached
ASSOC = 0.5  # weight of a past commit's match on the files it changed
ASSOC_MIN = 1.0  # a commit must match at least the prompt's rarest term's worth (idf) to count
ASSOC_HALF_LIFE = 300  # commits (newest first) after which a past commit's association counts half
FILL_MIN = 0.03  # ... and only there: files the prompt's seeded rank reached at least this well (best = 1)
MAX_DOCS = 6


@dataclass
class Query:
    """The prompt, broken into what can match: stemmed terms, code identifiers, paths."""

    terms: list[str]
    identifiers: list[str]
    paths: list[str]

    @classmethod
    def parse(cls, prompt: str) -> Query:
        """Split a prompt into matchable parts (only its first `MAX_PROMPT_CHARS`: the cost is bounded)."""
        prompt = prompt[:MAX_PROMPT_CHARS]
        terms = text_terms(prompt, 48)
        for ident in prompt_identifiers(prompt):
            for t in name_terms(ident):
                if t not in terms:
                    terms.append(t)
        return cls(terms=terms, identifiers=prompt_identifiers(prompt), paths=prompt_paths(prompt))


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
    idf = idf_table(index, query)
    d_match = _match(index, "d", idf)
    for i, m in _match(
        index, "e", idf, DOCSTRING
    ).items():  # words of the docstring count less than the name's
        d_match[i] = d_match.get(i, 0.0) + m
    paths = files["path"]
    damp_tests = not ({"test", "tests", "testing"} & words)  # tests matter when the prompt is about tests
    for i in list(d_match):
        name = names[def_name[i]]
        qualname = qualname_of(index, i) if defs["parent"][i] >= 0 else name
        parts = name_terms(name)
        covered = sum(1 for t in parts if t in words) / max(1, len(parts))
        bonus = EXACT_IDENT if name in idents or qualname in idents else 0.0
        bare = name.lower().strip("_")
        if bare in words:
            bonus += WHOLE_NAME * idf.get(bare, 0.0)
        damping = (TEST_DAMPING if damp_tests and is_test(paths[def_file[i]]) else 1.0) * (
            1.0 if codes[i] else DATA_DAMPING
        )
        d_match[i] = (d_match[i] * (0.5 + 0.5 * covered) + bonus) * damping
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
    for f, m in _past_changes(index, idf).items():
        f_match[f] = f_match.get(f, 0.0) + m
    seeded = _spread(index, f_match)
    top_f = max(f_match.values(), default=0.0) or 1.0
    file_score = {
        i: f_match.get(i, 0.0) / top_f + SPREAD * r for i, r in seeded.items() if f_match.get(i) or r > 1e-4
    }
    scores: dict[int, float] = {}
    for i, m in d_match.items():
        scores[i] = m * (1.0 + PRIOR * def_score[i] / SCALE) + file_score.get(def_file[i], 0.0)
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
        "code": _best({i: scores[i] for i in d_match if codes[i]}),
        "defs": _best(scores),
        "docs": _best(doc_match),
        "history": _best(commit_match),
        "glossary": _best(gloss_match),
    }


def _past_changes(index: dict[str, Any], idf: dict[str, float]) -> dict[int, float]:
    """Files that past commits resembling the prompt changed: a prompt worded like earlier commit
    messages ("Add support for … in inserts on SQLite") points at what those commits touched.
    Each matching commit spreads its match over its files; newer commits count more, and only
    commits matching more than one prompt term (or one rare term) say anything."""
    commits = index["commits"]
    out: dict[int, float] = {}
    for i, m in _match(index, "c", idf).items():
        files = commits["files"][i]
        if not files or m < ASSOC_MIN * max(idf.values(), default=0.0):
            continue
        share = ASSOC * m * 0.5 ** (i / ASSOC_HALF_LIFE) / len(files)
        for f in files:
            out[f] = out.get(f, 0.0) + share
    return out


def _best(scores: dict[int, float]) -> list[tuple[float, int]]:
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
    index: dict[str, Any], prompt: str, budget: int, read_source: ReadSource | None = None
) -> str:
    """Markdown context for `prompt` with at most `budget` tokens; "" when nothing in the index matches.

    `read_source(path)` gives a file's text for the bodies of the best matches (default: the work
    tree at the index's root); bodies are left out below `BODY_MIN_BUDGET` tokens.
    """
    query = Query.parse(prompt)
    if budget < MIN_BUDGET or not (query.terms or query.paths):
        return ""
    ranked = score(index, query)
    if not any(ranked[k] for k in ("defs", "files", "docs")):
        return ""
    n_defs = index["details"]["defs"]
    n_wanted = max(MAX_DEFS, budget // DEF_TOKENS)
    wanted = [i for _, i in [*ranked["defs"][:n_wanted], *ranked["code"][:BODIES]]]
    wanted += [n_defs + i for _, i in ranked["docs"][:MAX_DOCS]]
    details: dict[Any, Any] = dict(read_details(index, wanted))  # plus the source reader for `_code`, by name
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
            return text
        left -= over + 4  # joins cost a token here and there: give the definitions a little less
    return cap(text, budget)


def _section(
    index: dict[str, Any], section: str, ranked: list[tuple[float, int]], details: dict[Any, Any], limit: int
) -> str:
    """One section's text within `limit` tokens, or "" when not even one entry fits under its heading."""
    if limit <= 8:
        return ""
    text = _RENDER[section](index, ranked, details, "", limit)
    return "" if text.rstrip().endswith(_HEADINGS[section]) else text


def _files(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    paths, summaries = index["files"]["path"], index["files"]["summary"]
    blocks = [
        f"- `{paths[i]}`" + (f" — {summaries[i]}" if summaries[i] else "") + "\n" for _, i in ranked[:12]
    ]
    return fit_blocks(out + "\n## Files\n\n", blocks, limit)


def _defs(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    paths = index["files"]["path"]
    defs = index["defs"]
    items = []
    for _, i in ranked[: max(MAX_DEFS, limit // DEF_TOKENS)]:
        qual = qualname_of(index, i)
        signature, doc = details.get(i, (qual, ""))[:2]
        text = definition_line(paths[defs["file"][i]], defs["line"][i], qual, signature, doc)
        items.append((paths[defs["file"][i]], (defs["line"][i], qual), text))
    return grouped(out + "\n## Definitions\n\n", items, limit, {}, by_rank=True)  # path:line on every line


def _docs(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    docs, base = index["docs"], index["details"]["defs"]
    blocks = []
    for _, i in ranked[:MAX_DOCS]:
        excerpt = details.get(base + i, [""])[0]
        blocks.append(f"- **{docs['heading'][i]}** (`{docs['path'][i]}:{docs['line'][i]}`)"
                      + (f": {excerpt}" if excerpt else "") + "\n")  # fmt: skip
    return fit_blocks(out + "\n## Docs\n\n", blocks, limit)


def _history(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    commits, paths = index["commits"], index["files"]["path"]
    blocks = []
    for _, i in ranked[:8]:
        where = ", ".join(f"`{paths[f]}`" for f in commits["files"][i][:3])
        blocks.append(f"- {commits['date'][i]} `{commits['sha'][i][:10]}` {commits['subject'][i]}"
                      + (f" ({where})" if where else "") + "\n")  # fmt: skip
    return fit_blocks(out + "\n## History\n\n", blocks, limit)


def _glossary(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    g = index["glossary"]
    blocks = [f"- **{g['term'][i]}** — {g['meaning'][i]} ({g['source'][i]})\n" for _, i in ranked[:6]]
    return fit_blocks(out + "\n## Glossary\n\n", blocks, limit)


def _code(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    paths, defs = index["files"]["path"], index["defs"]
    blocks = []
    for _, i in ranked[:BODIES]:
        row = details.get(i)
        if not row or len(row) < 4:
            continue  # an index from before end lines were kept: names only
        path, line = paths[defs["file"][i]], defs["line"][i]
        text = body(details["_read"], str(details["_root"]), path, line, int(row[3]), _fence_language(path))
        if text:
            blocks.append(f"\n### {path}\n\nL{line}–{row[3]} `{qualname_of(index, i)}`:\n\n{text}")
    return fit_blocks(out + "\n## Code\n", blocks, limit)


def _fence_language(path: str) -> str:
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return {"py": "python", "js": "javascript", "ts": "typescript", "go": "go", "rs": "rust"}.get(ext, ext)


_HEADINGS = {"files": "## Files", "defs": "## Definitions", "code": "## Code", "docs": "## Docs",
             "history": "## History", "glossary": "## Glossary"}  # fmt: skip
_RENDER = {
    "files": _files,
    "defs": _defs,
    "code": _code,
    "docs": _docs,
    "history": _history,
    "glossary": _glossary,
}


def _tokens(text: str) -> int:
    from ctxeng.pack.budget import tokens

    return tokens(text)


def context_for_prompt(root: Path, prompt: str, budget: int = 2_000, safe: bool = False) -> str:
    """The context for `prompt` in the repository at `root`, at most `budget` tokens.

    With `safe=True` it never raises (for hooks): a missing or broken index, or anything else that
    goes wrong, gives "". Otherwise a missing/broken index is a `CtxengError` with a hint.
    """
    from ctxeng.pack.index.reader import load_index

    if not safe:
        return render_context(load_index(_root(root)), prompt, budget)
    try:
        return render_context(load_index(_root(root)), prompt, budget)
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
