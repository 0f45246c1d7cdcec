"""`ctxeng ask`: the adapter's answer grounded by retrieval, with its sources, in-process or via serve."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ctxeng.cli import main
from ctxeng.serve.ask import Source, messages_for, sources_of
from tests.adapterrepo import QUESTION, AdapterRepo, adapter_repo, copy_repo, serve_in_thread
from tests.extras import require

require("peft", "starlette")

BUDGET = "300"  # tokens of context: the tiny model's window is 1,024 of its own, larger, tokens


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> AdapterRepo:
    return adapter_repo(tmp_path_factory)


@pytest.fixture(scope="module")
def repo(made: AdapterRepo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repo(made, tmp_path_factory.mktemp("ask") / "kvstore")


def ask_json(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert (
        main(["ask", QUESTION, "-C", str(repo), "--budget", BUDGET, "--max-tokens", "16", "--json", *extra])
        == 0
    )
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_sources_are_the_retrieved_items_with_their_files_and_lines(repo: Path) -> None:
    from ctxeng.pack import context_for_prompt

    context = context_for_prompt(repo, "How does compact drop tombstones?", 800, layout="lines")
    sources = sources_of(context)
    # The agents' layout (a heading per file) is read too, with the file from the heading.
    grouped = sources_of(context_for_prompt(repo, "How does compact drop tombstones?", 800))
    assert Source("definition", "kvstore/compact.py", 7, "def compact(store: Store) -> int") in grouped
    kinds = {s.kind for s in sources}
    assert {"file", "definition", "doc"} <= kinds
    assert Source("definition", "kvstore/compact.py", 7, "def compact(store: Store) -> int") in sources
    for source in sources:
        if source.kind in ("definition", "doc", "term"):
            lines = (repo / source.path).read_text().splitlines()
            assert 1 <= source.line <= len(lines), source
        if source.kind == "definition":  # the line really holds the definition (or its first decorator)
            name = source.name.split("(")[0].split()[-1].rstrip(":")
            assert any(name in line for line in lines[source.line - 1 : source.line + 3]), source
        elif source.kind == "file":
            assert (repo / source.path).is_file()
        elif source.kind == "commit":
            assert len(source.path) >= 7 and source.name[:4].isdigit()
    assert sources_of("") == []


def test_the_prompt_holds_the_context_before_the_question_and_the_trained_system_message(repo: Path) -> None:
    from ctxeng.dataset.builder import system_message

    messages = messages_for("kvstore", QUESTION, "## Files\n\n- `kvstore/compact.py`\n")
    assert messages[0] == {"role": "system", "content": system_message("kvstore")}
    assert messages[1]["content"].index("kvstore/compact.py") < messages[1]["content"].index(QUESTION)
    assert messages_for("kvstore", QUESTION, "")[1]["content"] == QUESTION


def test_ask_in_process_answers_with_the_newest_adapter_and_lists_sources(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ask_json(repo, capsys, "--no-server")
    assert result["model"] == "second" and result["via"] == "in-process"
    assert result["finish"] in ("stop", "length") and result["complete"] is (result["finish"] == "stop")
    assert result["answer"] and "kvstore/compact.py" in result["context"]
    assert {
        "kind": "definition",
        "path": "kvstore/compact.py",
        "line": 7,
        "name": "def compact(store: Store) -> int",
    } in result["sources"]
    first = ask_json(repo, capsys, "--no-server", "--adapter", "first")
    assert first["model"] == "first" and first["answer"] != result["answer"]
    assert (
        ask_json(repo, capsys, "--no-server")["answer"] == result["answer"]
    )  # greedy: the same answer again


def test_ask_uses_a_running_server_and_gets_the_same_answer(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctxeng.serve.engine import load_engine

    local = ask_json(repo, capsys, "--no-server", "--adapter", "first")
    engine = load_engine(repo, ["first", "second"])
    try:
        with serve_in_thread(engine, root=repo) as url:
            served = ask_json(repo, capsys, "--adapter", "first")
            newest = ask_json(repo, capsys)
            assert (
                main(["ask", QUESTION, "-C", str(repo), "--budget", BUDGET, "--max-tokens", "1", "--json"])
                == 0
            )
            cut = json.loads(capsys.readouterr().out)
    finally:
        engine.close()
    assert served["via"] == f"server {url}" and served["answer"] == local["answer"]
    assert served["sources"] == local["sources"] and served["context"] == local["context"]
    assert newest["model"] == "second" and newest["via"] == f"server {url}"
    assert (served["finish"], served["complete"]) == (local["finish"], local["complete"])
    assert cut["finish"] == "length" and cut["complete"] is False  # the server said so: not a silent stop
    assert not (repo / ".ctxeng" / "serve.json").exists()


def test_ask_prints_the_answer_then_the_sources(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["ask", QUESTION, "-C", str(repo), "--budget", BUDGET, "--max-tokens", "8", "--no-server"]) == 0
    )
    captured = capsys.readouterr()
    answer, sources = captured.out.split("\nSources:\n", 1)
    assert answer.strip()
    assert "  [definition] kvstore/compact.py:7  def compact(store: Store) -> int\n" in sources
    assert "(model second, in-process)" in captured.err


def test_ask_says_when_the_answer_was_cut_off(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["ask", QUESTION, "-C", str(repo), "--budget", BUDGET, "--max-tokens", "1", "--no-server"]
    assert main(args) == 0
    assert "(answer cut off: the 1-token limit was reached; raise --max-tokens)" in capsys.readouterr().err
    result = ask_json(repo, capsys, "--no-server", "--max-tokens", "1", "--deadline", "600")
    assert result["finish"] == "length" and result["complete"] is False


def test_ask_without_context_budget_still_answers(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = ask_json(repo, capsys, "--no-server", "--budget", "0")
    assert result["context"] == "" and result["sources"] == [] and result["answer"]


def test_errors_say_what_to_run(
    made: AdapterRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = copy_repo(made, tmp_path / "kvstore")
    assert main(["ask", QUESTION, "-C", str(bare), "--adapter", "nope", "--no-server"]) == 1
    assert "no adapter named 'nope'" in capsys.readouterr().err
    shutil.rmtree(bare / ".ctxeng" / "adapters")
    assert main(["ask", QUESTION, "-C", str(bare), "--no-server"]) == 1
    err = capsys.readouterr().err
    assert "no adapters in" in err and "ctxeng train" in err and "ctxeng context" in err
    shutil.rmtree(bare / ".ctxeng")
    assert main(["ask", QUESTION, "-C", str(bare)]) == 1
    err = capsys.readouterr().err
    assert "ctxeng build" in err or "ctxeng pack" in err
    assert main(["ask", "  ", "-C", str(bare)]) == 1
    assert "the question is empty" in capsys.readouterr().err


def test_a_budget_larger_than_the_model_window_is_a_clear_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "ask",
            "How are records encoded, stored, compacted and read back?",
            "-C",
            str(repo),
            "--budget",
            "8000",
            "--no-server",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "context holds 1024" in err and "--budget" in err


def test_the_command_exits_cleanly_after_an_in_process_answer(repo: Path) -> None:
    # A generation thread still alive during interpreter teardown aborted the process inside torch's
    # thread-pool teardown ("terminate called without an active exception", exit 134) in 1 to 3 runs of 4.
    # The engine now joins it on close; that is checked directly, and one real run must exit 0.
    from ctxeng.serve.engine import load_engine

    engine = load_engine(repo, ["first"])
    engine.close()
    assert not engine._worker.is_alive()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("OMP_NUM_THREADS", None)  # torch's default thread pool, as users run it
    args = [
        sys.executable,
        "-m",
        "ctxeng",
        "ask",
        QUESTION,
        "--no-server",
        "--max-tokens",
        "2",
        "--budget",
        "100",
    ]
    proc = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and "terminate called" not in proc.stderr, proc.stderr[-500:]
    assert "Sources:" in proc.stdout
