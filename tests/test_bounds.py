"""Bounded work on hostile prompts and repository text: long tokens, megabyte prompts, backtracking regexes.

Timings are CPU seconds of this process (the test machine is shared and loaded; wall time is not
comparable), with bounds far above the fixed cost and far below the pre-fix cost (minutes).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctxeng.extract.definitions import meaning_of
from ctxeng.pack import context_for_prompt
from ctxeng.pack.context import Query
from ctxeng.pack.terms import prompt_identifiers, prompt_paths
from ctxeng.pipeline.build import build
from tests.sample_repo import make_sample_repo


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_sample_repo(tmp_path_factory.mktemp("bounds") / "kvstore")
    build(repo.path)
    return repo.path


def cpu(fn: object, *args: object) -> tuple[float, object]:
    start = time.process_time()
    result = fn(*args)  # type: ignore[operator]
    return time.process_time() - start, result


def megabyte_prompt(size: int) -> str:
    """Prose-like text with many distinct identifiers and paths, as a pasted log would have."""
    words: list[str] = []
    i = length = 0
    while length < size:
        words += [f"step_{i}", "flushes", f"module{i}.py", "the", "compactStore", f"pkg/mod_{i}/file.py"]
        length += sum(len(w) + 1 for w in words[-6:])
        i += 1
    return " ".join(words)[:size]


def test_a_long_token_is_linear_in_path_extraction() -> None:
    # Before: `_PATHLIKE` retried from every character of a run, 87 s for 40k characters.
    for token in ("a" * 40_000, "a." * 20_000, "ab/" * 13_000, "x-" * 20_000):
        seconds, paths = cpu(prompt_paths, f"see {token} and kvstore/store.py")
        assert seconds < 0.5, (token[:6], seconds)
        assert paths == ["kvstore/store.py"]


def test_path_extraction_still_finds_what_it_found() -> None:
    prompt = "Fix ./src/a.py, lib/x-y/z.rb and setup.cfg (not main.pyx); see README.md, a//b and pkg/"
    assert prompt_paths(prompt) == ["src/a.py", "lib/x-y/z.rb", "README.md"]
    assert prompt_identifiers("use `Store.put` then flush_pending, fooBar") == [
        "Store.put", "put", "flush_pending", "fooBar",
    ]  # fmt: skip


def test_a_five_megabyte_prompt_costs_under_a_second(built: Path) -> None:
    prompt = megabyte_prompt(5_000_000)
    seconds, query = cpu(Query.parse, prompt)
    assert seconds < 1.0 and query.terms  # type: ignore[attr-defined]
    seconds, text = cpu(context_for_prompt, built, prompt + " how does compact work?", 800)
    assert seconds < 1.0, seconds
    assert isinstance(text, str)


def test_the_context_command_answers_a_five_megabyte_prompt_quickly(built: Path) -> None:
    prompt = "How does compact rewrite kvstore/store.py? " + megabyte_prompt(5_000_000)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ctxeng", "context", "--root", str(built), "--budget", "500", "-"],
        input=prompt, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "kvstore/store.py" in done.stdout
    assert time.monotonic() - start < 30  # wall clock on a loaded machine; before the fix: > 5 minutes


def test_sentence_splitting_is_linear_on_runs_of_end_marks() -> None:
    # Before: `[.!?]+…\s+` was retried from each mark of a run, quadratic in the run.
    seconds, _ = cpu(meaning_of, "A store. " + "!?" * 50_000)
    assert seconds < 0.5
    assert meaning_of("Keeps the keys!! Then it writes. More.") == "Keeps the keys!! Then it writes."


@pytest.mark.parametrize("language", ["java", "csharp"])
def test_a_long_modifier_line_is_no_definition_and_costs_nothing(language: str) -> None:
    from ctxeng.extract.languages import load_languages

    spec = load_languages()[language]
    # Before: the definition pattern backtracked over the modifier list, 7 s for this 28k-character line.
    seconds, name = cpu(spec.definition_name, "static " * 4_000 + "int x() {")
    assert seconds < 0.1 and name is None
    assert spec.definition_name("    public static int compute(int a) {") == "compute"


def test_nox_sessions_are_found_in_linear_time() -> None:
    from ctxeng.pack.conventions import nox_sessions

    noxfile = '@nox.session(python=["3.11"])\ndef tests(session):\n    pass\n\n@nox.session\n@nox.parametrize("x", [1])\n\ndef lint(s):\n    pass\n'
    assert nox_sessions(noxfile) == {"tests", "lint"}
    # Before: a regex restarted at each `@nox.session` of a block, 4.6 s for 8,000 lines.
    seconds, names = cpu(nox_sessions, "@nox.session\n" * 20_000 + "def last(s): pass\n")
    assert seconds < 0.5 and names == {"last"}


def test_the_adr_title_prefix_strip_is_linear() -> None:
    from ctxeng.dataset.tasks_docs import _ADR_PREFIX

    assert _ADR_PREFIX.sub("", "ADR-012: Use SQLite") == "Use SQLite"
    assert _ADR_PREFIX.sub("", "Decision 7 - Keep it") == "Keep it"
    # Before: `[\s_-]*\d*\s*` shared the spaces, 7 s on this 20k-character title.
    seconds, _ = cpu(_ADR_PREFIX.sub, "", "decision" + " " * 20_000)
    assert seconds < 0.1
