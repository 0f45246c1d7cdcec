"""The budget is hard: for any budget from 1k to 64k tokens, counted whole, no output exceeds it."""

from __future__ import annotations

import random
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ctxeng.core.errors import CtxengError
from ctxeng.core.records import Record, record_id
from ctxeng.core.tokens import count_tokens
from ctxeng.pack.budget import READ_LIMIT, fit_prefix
from ctxeng.pack.context import render_context
from ctxeng.pack.conventions import Command, Conventions
from ctxeng.pack.facts import RepoFacts, facts_from_records
from ctxeng.pack.formats import render_document
from ctxeng.pack.index.builder import build_index, write_index
from ctxeng.pack.index.reader import load_index
from ctxeng.pack.rank import Ranking, rank
from ctxeng.pack.skill import MIN_BUDGET, build_pack

WORDS = ("segment keydir record flush commit engine session pool dialect compile query result row cursor table "
         "column index schema migrate encode decode parse render budget token graph rank cache lock stage").split()  # fmt: skip


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


@lru_cache(maxsize=1)
def big_repo() -> tuple[RepoFacts, Ranking, Conventions]:
    """A synthetic repository far larger than 64k tokens of pack material (seeded, so always the same)."""
    rng = random.Random(4)
    records: list[Record] = []
    for f in range(90):
        path = f"pkg/mod{f:02d}/{rng.choice(WORDS)}_{f}.py"
        names = [f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{f}_{i}" for i in range(40)]
        refs = {f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{rng.randrange(90)}_{rng.randrange(40)}": rng.randrange(1, 9)
                for _ in range(30)}  # fmt: skip
        meta = {"language": "python", "refs": refs, "exports": names[:5], "imports": [], "lines": 800}
        records.append(
            Record(record_id("file", path), "file", path, 1, 800, "", 0, path, _words(rng, 20) + ".", meta)
        )
        for i, name in enumerate(names):
            sig = f"def {name}(self, {', '.join(rng.sample(WORDS, 5))}) -> {rng.choice(WORDS).title()}:"
            meta = {"language": "python", "kind": "method" if i % 3 else "class", "qualname": name, "signature": sig,
                    "doc": _words(rng, 25) + ".", "parent": "", "calls": [], "visibility": "public"}  # fmt: skip
            records.append(Record(record_id("symbol", path, name, "0"), "symbol", path, 10 * i + 1, 10 * i + 9, "", 0,
                                  name, "", meta))  # fmt: skip
    for d in range(60):
        meta = {
            "doc_kind": rng.choice(["adr", "readme", "guide", "architecture"]),
            "level": 1 + d % 3,
            "title": "T",
        }
        name = f"Doc {d} > {_words(rng, 3)}"
        records.append(Record(record_id("doc", f"docs/d{d}.md", name, "0"), "doc", f"docs/d{d}.md", 1, 40, "", 0,
                              name, "\n\n".join(_words(rng, 60) + "." for _ in range(5)), meta))  # fmt: skip
    for c in range(400):
        sha = f"{c:040x}"
        files = [{"path": r.path, "status": "M"} for r in rng.sample(records[:3000:41], 3)]
        meta = {"date": f"2024-{1 + c % 12:02d}-01T00:00:00+00:00", "files": files,
                "stats": {"files": 3, "added": rng.randrange(500), "deleted": rng.randrange(200)}}  # fmt: skip
        subject = f"{rng.choice(['Add', 'Fix', 'Support'])} {_words(rng, 6)}"
        records.append(Record(record_id("commit", sha), "commit", "", 0, 0, sha, 1_700_000_000 + c, subject,
                              subject + "\n\n" + _words(rng, 40), meta))  # fmt: skip
    for g in range(120):
        term = f"{rng.choice(WORDS)}{g}"
        meta = {"source": f"docs/d{g % 60}.md:3", "kind": "glossary", "also": []}
        records.append(Record(record_id("glossary", term), "glossary", f"docs/d{g % 60}.md", 3, 3, "", 0, term,
                              _words(rng, 30) + ".", meta))  # fmt: skip
    facts = facts_from_records("big", records, head="f" * 40)
    conv = Conventions(
        commands=[Command("test", "pytest -q", "pyproject.toml"), Command("lint", "ruff check .", "x")]
    )
    return facts, rank(facts), conv


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=st.integers(min_value=1_000, max_value=64_000))
@example(budget=1_000)
@example(budget=64_000)
def test_skill_pack_never_exceeds_the_budget(budget: int) -> None:
    facts, ranking, conv = big_repo()
    pack = build_pack(facts, ranking, conv, budget, "big-context")
    counted = {name: count_tokens(text) for name, text in pack.files.items()}
    assert counted == pack.tokens
    assert sum(counted.values()) <= budget
    assert all(n <= READ_LIMIT for n in counted.values())
    assert pack.files["SKILL.md"].startswith("---\nname: big-context\ndescription: ")
    if budget <= 20_000:  # the budget is actually used (above that the 25k cap on the map binds first)
        assert sum(counted.values()) >= budget * 0.9


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=st.integers(min_value=1_000, max_value=64_000), fmt=st.sampled_from(["markdown", "xml", "json"])
)
@example(budget=1_000, fmt="json")
def test_single_document_never_exceeds_the_budget(budget: int, fmt: str) -> None:
    facts, ranking, conv = big_repo()
    assert count_tokens(render_document(facts, ranking, conv, budget, fmt)) <= budget


@lru_cache(maxsize=1)
def big_index() -> dict:
    """The big repository's context index, written to a scratch folder (the details file is read by offset)."""
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="ctxeng-index-"))
    (folder / ".ctxeng").mkdir()
    index, details = build_index(*big_repo())
    write_index(folder / ".ctxeng", index, details)
    return load_index(folder)


@settings(max_examples=10, deadline=None)
@given(budget=st.integers(min_value=1, max_value=6_000))
def test_prompt_context_never_exceeds_the_budget(budget: int) -> None:
    text = render_context(big_index(), "how does the session flush a record to the segment cache?", budget)
    assert count_tokens(text) <= budget
    if budget >= 400:
        assert "## Definitions" in text and "## Files" in text


def test_too_small_budgets_are_a_clear_error() -> None:
    facts, ranking, conv = big_repo()
    with pytest.raises(CtxengError, match="too small"):
        build_pack(facts, ranking, conv, MIN_BUDGET - 1, "x")
    with pytest.raises(CtxengError, match="unknown format"):
        render_document(facts, ranking, conv, 2_000, "yaml")


def test_fit_prefix_is_exact_at_the_edge() -> None:
    lines = [f"- line {i} with some words {'x' * (i % 7)}\n" for i in range(400)]
    for limit in (1, 7, 50, 333, 2_000):
        text, k = fit_prefix(lambda k: "".join(lines[:k]), len(lines), limit, lambda k: 6 * k)
        assert count_tokens(text) <= limit
        if k < len(lines):
            assert count_tokens("".join(lines[: k + 1])) > limit  # nothing more would have fitted
