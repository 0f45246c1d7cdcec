"""Observed habits: the commit-message style seen in history and where tests live."""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Sequence
from itertools import islice

from ctxeng.pack.commit_filter import distinct
from ctxeng.pack.facts import Commit
from ctxeng.pack.paths import is_test

_CONVENTIONAL = re.compile(r"^([a-z]+)(\([^)]{1,40}\))?!?: \S")
_PREFIX = re.compile(r"^(?:[a-z]+(?:\([^)]*\))?!?: |\[[^\]]{1,30}\] ?|[\w./-]{1,40}: )")
IMPERATIVE = frozenset(
    """add allow avoid bump change clarify clean convert correct create default deprecate disable document drop
    enable ensure expose extend extract fix handle ignore implement improve include initialize introduce keep
    let limit make mark merge move normalize optimize prefer prevent raise read record reduce refactor reject
    release remove rename reorganize replace report require reset restore restrict return revert rework rewrite
    run set show simplify skip sort speed split start stop store support switch test tidy turn unify update
    upgrade use validate warn write export apply adjust adopt build cache call check close configure copy declare
    define delete describe detect emit explain fail format generate guard hide honour import install load log
    lower measure migrate note open parse pass pin port print provide publish register reload resolve reuse save
    scan serve ship silence stream strip teach tell track trim tweak unpin wrap""".split()
)  # fmt: skip
MAX_SUBJECTS = 500  # the newest subjects are what today's style is


def _share(n: int, total: int) -> str:
    return f"{round(100 * n / total)} %" if total else "0 %"


def commit_style(commits: Sequence[Commit]) -> list[str]:
    """Facts about commit subjects (newest `MAX_SUBJECTS` written by people): mood, prefixes, length,
    capitalisation; the examples are recent changes, not dependency bumps or releases."""
    people = [c for c in commits if not c.bot][
        :MAX_SUBJECTS
    ]  # a bot's subjects are its template, not a habit
    subjects = [c.subject.strip() for c in people if c.subject.strip()]
    total = len(subjects)
    if not total:
        return []
    conventional = Counter(m.group(1) for s in subjects if (m := _CONVENTIONAL.match(s)))
    n_conv = sum(conventional.values())
    words = [_PREFIX.sub("", s, count=1).split(" ", 1)[0].strip(":").lower() for s in subjects]
    moods = Counter(_mood(w) for w in words)
    imperative, past, third = moods["imperative"], moods["past"], moods["third"]
    lengths = sorted(len(s) for s in subjects)
    median = lengths[(total - 1) // 2]
    p90 = lengths[min(total - 1, (9 * total) // 10)]
    capital = sum(1 for s in subjects if _PREFIX.sub("", s, count=1)[:1].isupper())
    period = sum(1 for s in subjects if s.endswith("."))
    refs = sum(1 for s in subjects if re.search(r"#\d+|\b[A-Z]{2,}-\d+\b", s))
    bots = sum(1 for c in commits[: len(people) + MAX_SUBJECTS] if c.bot)
    facts = [
        f"Based on the newest {total} commit subjects"
        + (" written by people (bots' left out)." if bots else ".")
    ]
    if n_conv * 5 >= total:
        kinds = ", ".join(
            f"`{k}:` {_share(n, total)}"
            for k, n in sorted(conventional.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
        )
        facts.append(f"Conventional-commit prefixes are used ({_share(n_conv, total)} of subjects): {kinds}.")
    else:
        facts.append(f"No conventional-commit prefixes ({_share(n_conv, total)} of subjects have one).")
    mood = (
        "imperative mood"
        if imperative >= max(past, third)
        else "past tense"
        if past >= third
        else "third person"
    )
    common = Counter(w for w in words if w in IMPERATIVE).most_common(5)
    verbs = ", ".join(w.capitalize() for w, _ in sorted(common, key=lambda wc: (-wc[1], wc[0])))
    facts.append(
        f"Mostly {mood}: {_share(imperative, total)} start with an imperative verb"
        + (f" (most often {verbs})" if verbs else "")
        + f", {_share(past, total)} with a past-tense one."
    )
    facts.append(
        f"Subject length: median {median} characters, 90 % ≤ {p90}; {_share(capital, total)} capitalised, "
        f"{_share(period, total)} end with a period, {_share(refs, total)} reference an issue."
    )
    recent = [f"`{c.subject.strip()}`" for c in islice(distinct(people[:100]), 3)] or [
        f"`{s}`" for s in subjects[:3]
    ]
    facts.append("Recent examples: " + "; ".join(recent) + ".")
    return facts


def _mood(word: str) -> str:
    """ "imperative" (Add), "past" (Added, Fixed), "third" (Adds, Fixes) or "" for a first word."""
    if word in IMPERATIVE:
        return "imperative"
    if word.endswith("ed") and (
        word[:-2] in IMPERATIVE or word[:-1] in IMPERATIVE or word[:-3] + "y" in IMPERATIVE
    ):
        return "past"
    if word.endswith("s") and (word[:-1] in IMPERATIVE or word[:-2] in IMPERATIVE):
        return "third"
    return ""


def layout_of_tests(tracked: Sequence[str]) -> list[str]:
    """Facts about where tests live and how test files are named."""
    tests = [p for p in tracked if is_test(p) and _looks_like_code(p)]
    if not tests:
        return ["No test files were found."]
    folders = Counter(p.split("/", 1)[0] + "/" if "/" in p else "(root)" for p in tests)
    facts = []
    top = sorted(folders.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
    facts.append("Test files: " + ", ".join(f"`{f}` ({n})" for f, n in top) + f"; {len(tests)} in total.")
    names = Counter(_naming(p) for p in tests)
    pattern, _ = sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    if pattern:
        facts.append(f"Naming: {pattern}.")
    colocated = sum(1 for p in tests if not any(part.lower() in ("test", "tests", "__tests__", "spec", "testing")
                                                  for part in p.split("/")[:-1]))  # fmt: skip
    if colocated * 2 > len(tests):
        facts.append("Tests mostly live beside the code they test.")
    if any(posixpath.basename(p) == "conftest.py" for p in tracked):
        facts.append("pytest fixtures live in `conftest.py` files.")
    return facts


def _looks_like_code(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in {
        ".py", ".js", ".jsx", ".ts", ".tsx", ".go", ".rs", ".java", ".rb", ".cs", ".c", ".cc", ".cpp", ".kt", ".php",
        ".sh", ".t", ".mjs", ".cjs", ".swift", ".scala", ".ex", ".exs",
    }  # fmt: skip


def _naming(path: str) -> str:
    base = posixpath.basename(path)
    stem, ext = posixpath.splitext(base)
    if stem.startswith("test_"):
        return f"`test_*{ext}`"
    if stem.endswith("_test"):
        return f"`*_test{ext}`"
    if ".test" in base:
        return f"`*.test{ext}`"
    if ".spec" in base:
        return f"`*.spec{ext}`"
    if stem.endswith("Test"):
        return f"`*Test{ext}`"
    return ""
