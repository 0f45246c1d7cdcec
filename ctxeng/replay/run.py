"""Replaying recent commits: does the context built at a commit's parent name what the commit then changed?

For each of the newest non-merge commits, the repository is rebuilt as it was at the parent (its
tree and its history up to the parent, nothing later), ranked, and rendered as the pack document
(`ctxeng pack --stdout`) and as the prompt-seeded context (`ctxeng context "<subject line>"`) at
each budget. Each output is scored against the definitions the commit touched (see
`ctxeng.replay.touched` and `ctxeng.replay.score`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.config import Config, load_config
from ctxeng.core.errors import CtxengError
from ctxeng.core.repo import open_repo
from ctxeng.replay.score import Score, mean, o200k_available, o200k_tokens, score
from ctxeng.replay.state import Replayer
from ctxeng.replay.touched import Touched, changed_lines, touched_definitions

BUDGETS = (2048, 4096, 8192)
VARIANTS = ("pack", "context")
COUNTERS = ("ctxeng", "o200k")
FIT_TRIES = 6  # renders per output to fit an o200k budget
FIT_FILL = 0.97  # ... stopping once the text fills this share of it
Note = Callable[[str], None]


@dataclass
class CommitResult:
    """One replayed commit: what it touched and how each output scored."""

    sha: str
    parent: str
    subject: str
    touched: list[Touched]
    scores: dict[str, dict[int, Score]] = field(default_factory=dict)  # variant → budget → score
    seconds: float = 0.0


def _fit(render: Callable[[int], str], budget: int, counter: str) -> tuple[str, int]:
    """Render within `budget` tokens of `counter`; for o200k, about the largest ctxeng budget whose text
    fits (ctxeng's own tokenizer counts 20-40 % more tokens than o200k for the same text, depending on
    how much of it is code): the budget is scaled by the ratio measured until the text fills at least
    `FIT_FILL` of it, and the fullest fitting text is kept."""
    if counter == "ctxeng":
        return render(budget), budget
    inner, best = int(budget * 1.2), ("", 0, 0)
    for _ in range(FIT_TRIES):
        text = render(inner)
        used = o200k_tokens(text) or 0
        if used <= budget and (used > best[1] or not best[0]):
            best = (text, used, inner)
        if FIT_FILL * budget <= used <= budget or (used <= budget and _tokens(text) < inner * FIT_FILL):
            break  # full enough, or the renderer had no more to say
        inner = max(1, int(inner * budget / max(used, 1)) - (8 if used > budget else 0))
        if inner <= best[2]:
            break
    return best[0], best[2]


def _tokens(text: str) -> int:
    from ctxeng.core.tokens import count_tokens

    return count_tokens(text)


def replay_commit(
    replayer: Replayer, sha: str, parent: str, subject: str, budgets: Sequence[int], variants: Sequence[str],
    counter: str, scratch: Path,
) -> CommitResult:  # fmt: skip
    """Rebuild at `parent`, render every variant at every budget and score it against `sha`'s change."""
    from ctxeng.pack.context import render_context
    from ctxeng.pack.conventions import mine_conventions, project_files
    from ctxeng.pack.facts import facts_from_records
    from ctxeng.pack.formats import render_document
    from ctxeng.pack.index.builder import build_index, write_index
    from ctxeng.pack.index.reader import load_index
    from ctxeng.pack.model import trim
    from ctxeng.pack.publish import read_project_files
    from ctxeng.pack.rank import rank

    started = time.perf_counter()
    snap = replayer.snapshot(parent)
    repo, config = replayer.repo, replayer.config
    facts = facts_from_records(repo.name, snap.records, [e.path for e in snap.entries], head=parent)
    entries = {e.path: e.blob for e in snap.entries}
    key = (tuple((p, entries[p]) for p in project_files(entries)), tuple(facts.tracked))
    conv = replayer.memo.get(key)
    if conv is None:  # manifests and CI files rarely change between parents: parse them once per version
        conv = replayer.memo[key] = mine_conventions(
            read_project_files(repo, snap.entries, config), facts.tracked
        )
    ranking = rank(facts, conv.entry_points)
    touched = touched_definitions(facts.defs, changed_lines(repo, parent, sha))
    result = CommitResult(sha=sha, parent=parent, subject=subject, touched=touched)
    tracked = set(facts.tracked)
    if "context" in variants:
        index, details = build_index(facts, ranking, conv)
        folder = scratch / ".ctxeng"
        folder.mkdir(parents=True, exist_ok=True)
        write_index(folder, index, details)
        loaded = load_index(scratch)
        blobs = {e.path: e.blob for e in snap.entries}

        def read_source(path: str) -> str | None:  # bodies as they were at the parent, not the work tree's
            blob = blobs.get(path)
            data = dict(repo.git.read_blobs([blob])).get(blob) if blob else None
            return data.decode("utf-8", "replace") if data is not None else None

        result.scores["context"] = {}
        for b in budgets:
            text, _ = _fit(lambda n: render_context(loaded, subject, n, read_source), b, counter)
            result.scores["context"][b] = score(text, touched, tracked, b)
    if "pack" in variants:
        model = trim(facts, ranking, conv)
        result.scores["pack"] = {}
        for b in budgets:
            text, _ = _fit(lambda n: render_document(model.facts, model.ranking, model.conv, max(n, 800), "markdown"),
                           b, counter)  # fmt: skip
            result.scores["pack"][b] = score(text, touched, tracked, b)
    result.seconds = time.perf_counter() - started
    return result


def replay(
    path: str | Path = ".", commits: int = 100, budgets: Sequence[int] = BUDGETS,
    variants: Sequence[str] = VARIANTS, counter: str = "ctxeng", cache_dir: Path | None = None,
    skip: int = 0, note: Note = lambda msg: None, config: Config | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Replay the newest `commits` non-merge commits (after `skip`) of the repository at `path`.

    `counter` is the tokenizer budgets are counted in ("ctxeng" or "o200k"). The extraction cache
    lives in `cache_dir` (default: the repository's `.ctxeng/`). Returns the report (see `summarise`).
    """
    if counter not in COUNTERS:
        raise CtxengError(f"unknown token counter '{counter}'", hint=f"use one of: {', '.join(COUNTERS)}")
    if counter == "o200k" and not o200k_available():
        raise CtxengError(
            "o200k_base is not available offline",
            hint="install tiktoken and point TIKTOKEN_CACHE_DIR at a folder holding its o200k_base file",
        )
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise CtxengError(f"unknown variant '{unknown[0]}'", hint=f"use one of: {', '.join(VARIANTS)}")
    repo = open_repo(path)
    if not repo.head:
        raise CtxengError(f"{repo.root} has no commits yet", hint="commit something first")
    config = config or load_config(repo.root)
    if cache_dir is None:
        from ctxeng.core.workdir import ensure_workdir

        cache_dir = ensure_workdir(repo)
    started = time.perf_counter()
    replayer = Replayer(repo, config, cache_dir)
    chosen = replayer.history.non_merge(commits, skip)
    results = []
    with tempfile.TemporaryDirectory(prefix="ctxeng-replay-") as scratch:
        for n, c in enumerate(chosen, 1):
            res = replay_commit(
                replayer, c.sha, c.parents[0], c.subject, budgets, variants, counter, Path(scratch)
            )
            results.append(res)
            note(
                f"[{n}/{len(chosen)}] {c.sha[:10]} {len(res.touched)} touched, {res.seconds:.1f}s  {c.subject[:60]}"
            )
    return summarise(repo.name, results, budgets, variants, counter, time.perf_counter() - started)


def summarise(
    name: str, results: list[CommitResult], budgets: Sequence[int], variants: Sequence[str], counter: str,
    seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """The report: per variant and budget, mean recall over commits that touched an existing definition
    (macro), pooled recall (micro), file recall, tokens, and the share of outputs over budget."""
    scored = [r for r in results if r.touched]
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for v in variants:
        table[v] = {}
        for b in budgets:
            rows = [r.scores[v][b] for r in scored]
            every = [r.scores[v][b] for r in results]
            over = (
                [s for s in every if s.tokens > b]
                if counter == "ctxeng"
                else [s for s in every if (s.o200k or 0) > b]
            )
            table[v][str(b)] = {
                "def_recall": round(mean(s.defs_found / s.defs_total for s in rows), 4),
                "def_recall_pooled": round(sum(s.defs_found for s in rows) / max(1, sum(s.defs_total for s in rows)), 4),
                "file_recall": round(mean(s.files_found / s.files_total for s in rows), 4),
                "tokens": round(mean(s.tokens for s in every), 1),
                "o200k": round(mean(s.o200k or 0 for s in every), 1) if o200k_available() else None,
                "over_budget": round(len(over) / max(1, len(every)), 4),
            }  # fmt: skip
    return {
        "repository": name,
        "counter": counter,
        "o200k_available": o200k_available(),
        "budgets": list(budgets),
        "variants": list(variants),
        "commits": len(results),
        "scored_commits": len(scored),
        "touched_definitions": sum(len(r.touched) for r in results),
        "seconds": round(seconds, 1),
        "table": table,
        "per_commit": [
            {"sha": r.sha, "parent": r.parent, "subject": r.subject, "seconds": round(r.seconds, 2),
             "touched": [[t.path, t.qualname, t.line] for t in r.touched],
             "scores": {v: {str(b): s.to_json() for b, s in r.scores[v].items()} for v in r.scores}}
            for r in results
        ],
    }  # fmt: skip
