"""Knowledge rows and the knowledge eval: reserved phrasings stay out of training, facts come both ways
round, and `ctxeng eval` gives a reproducible closed-book / grounded × base / adapter table as strict JSON.

The dataset comes from a real `ctxeng build` of the kvstore sample; the adapter is trained for real
on the tiny offline model (`tests/tinymodel.py`).
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctxeng.cli import main
from ctxeng.dataset.templates import EVAL_TEMPLATES, PATH_ONLY, TRAIN_TEMPLATES, first_path, template_pattern
from ctxeng.train.knowledge import questions_from, score, wilson
from tests.gitrepo import GitRepo
from tests.sample_repo import make_sample_repo
from tests.tinymodel import build_tiny_model, isolate


def _rows(root: Path, split: str) -> list[dict[str, Any]]:
    text = (root / ".ctxeng" / "dataset" / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitRepo]:
    from ctxeng.pipeline.build import build

    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        mp.setenv("CTXENG_CACHE_DIR", str(home / "cache"))
        repo = make_sample_repo(tmp_path_factory.mktemp("repo") / "kvstore")
        build(repo.path)
        yield repo


def test_eval_phrasings_never_appear_in_training_rows(built: GitRepo) -> None:
    train = _rows(built.path, "train")
    users = [m["content"] for r in train for m in r["prompt"] if m["role"] == "user"]
    assert any(r["task"] == "facts" for r in train) and any(r["task"] == "grounded" for r in train)
    for template in EVAL_TEMPLATES:
        pattern = template_pattern(template)
        assert not [u for u in users if pattern.search(u)], template
    assert not set(EVAL_TEMPLATES) & set(TRAIN_TEMPLATES)


def test_facts_come_in_several_phrasings_and_both_directions(built: GitRepo) -> None:
    facts = [r for r in _rows(built.path, "train") if r["task"] == "facts"]
    by_symbol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in facts:
        by_symbol[row["meta"]["symbol"]].append(row)
    assert len(by_symbol) >= 5
    for symbol, rows in by_symbol.items():
        questions = {r["prompt"][-1]["content"] for r in rows}
        where = [q for q in questions if "line" not in q and symbol in q]
        assert len(where) >= 3, symbol  # several phrasings of "where is it defined"
        path = rows[0]["meta"]["answer_path"]
        reverse = [q for q in questions if path in q and f"`{symbol}`" not in q]
        assert reverse, symbol  # the other direction: a place in a file -> the name
        for row in rows:  # every answer names the defining file first (what the probe scores)
            if row["prompt"][-1]["content"] in where:
                assert first_path(row["completion"][0]["content"]) == path


def test_grounded_rows_cite_the_right_definition_among_distractors(built: GitRepo) -> None:
    grounded = [r for r in _rows(built.path, "train") if r["task"] == "grounded"]
    assert grounded
    for row in grounded:
        user, answer = row["prompt"][-1]["content"], row["completion"][0]["content"]
        assert user.startswith("Context retrieved from the repository:") and "## Definitions" in user
        path, symbol = row["meta"]["answer_path"], row["meta"]["symbol"]
        lines = [line for line in user.splitlines() if line.startswith("- `")]
        assert len(lines) >= 4 and all(re.match(r"- `[^`\s]+:\d+` `[^`]+`", line) for line in lines)
        right = [
            line for line in lines if re.match(rf"- `{re.escape(path)}:\d+` `{re.escape(symbol)}`", line)
        ]
        if "does not show" in answer:  # a row without the right definition: fall back on memory
            assert not right
        else:  # the right definition among others, from at least one other file
            assert len(right) == 1 and any(not line.startswith(f"- `{path}:") for line in lines)
            assert answer.startswith(right[0].split(" ", 2)[1])  # the answer copies its `path:line`
        assert first_path(answer) == path
        if answer.startswith("`") and answer.endswith("`"):  # a path-only answer: asked for it
            assert user.endswith(PATH_ONLY)
    assert 0 < sum("does not show" in r["completion"][0]["content"] for r in grounded) < len(grounded) / 2
    assert len({r["meta"]["symbol"] for r in grounded}) < len(grounded)  # several rows per definition
    path_only = sum(r["prompt"][-1]["content"].endswith(PATH_ONLY) for r in grounded)
    assert 0 < path_only < len(grounded)


def test_context_shows_path_line_and_name_on_every_definition(built: GitRepo) -> None:
    from ctxeng.pack import context_for_prompt

    text = context_for_prompt(built.path, "Where is `Store.put` defined?", 300, layout="lines")
    defs = text.split("## Definitions\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in defs.splitlines() if line.strip()]
    assert lines and all(re.match(r"- `[^`\s]+:\d+` `[^`]+`", line) for line in lines), defs
    assert any(line.startswith("- `kvstore/store.py:") and " `Store.put` " in line for line in lines)


def test_lines_context_puts_the_named_definition_first_among_its_twins(built: GitRepo) -> None:
    """`get` is defined twice (`Store.get`, `Client.get`): the one the prompt names comes first, and
    the `lines` layout shows definitions best first, not grouped by file (a small model copies the
    first line whose name it matches)."""
    from ctxeng.pack import context_for_prompt

    for symbol, path in (("Store.get", "kvstore/store.py"), ("Client.get", "clients/js/client.js")):
        text = context_for_prompt(
            built.path, f"Which file should I open to edit `{symbol}`?", 300, layout="lines"
        )
        defs = text.split("## Definitions\n", 1)[1].split("\n## ", 1)[0]
        lines = [line for line in defs.splitlines() if line.strip()]
        assert lines[0].startswith(f"- `{path}:") and f" `{symbol}` " in lines[0], defs


def test_grounded_rows_hold_hard_distractors_and_cite_the_right_line(built: GitRepo) -> None:
    """A definition with a twin (the same name in another class or file) is shown beside it in its
    grounded rows, and the answer still cites the right `path:line`; most rows list the named
    definition first, as retrieval ranks it, some in a shuffled order."""
    grounded = [r for r in _rows(built.path, "train") if r["task"] == "grounded"]
    rows = [r for r in grounded if r["meta"]["symbol"] == "Store.get"]
    assert rows
    for row in rows:
        user, answer = row["prompt"][-1]["content"], row["completion"][0]["content"]
        assert re.search(r"^- `clients/js/client\.js:\d+` `Client\.get`", user, re.MULTILINE), user
        assert first_path(answer) == "kvstore/store.py"
        store_get = re.search(r"^- `(kvstore/store\.py:\d+)` `Store\.get`", user, re.MULTILINE)
        assert store_get is None or answer.startswith(f"`{store_get.group(1)}`")
    firsts = []
    for row in grounded:
        if "does not show" in row["completion"][0]["content"]:
            continue
        first = next(line for line in row["prompt"][-1]["content"].splitlines() if line.startswith("- `"))
        firsts.append(
            f" `{row['meta']['symbol']}`" in first and first.startswith(f"- `{row['meta']['answer_path']}:")
        )
    assert len(firsts) / 2 < sum(firsts) < len(firsts)


def test_build_is_deterministic_with_knowledge_rows(built: GitRepo, tmp_path: Path) -> None:
    from ctxeng.pipeline.build import build

    before = (built.path / ".ctxeng" / "dataset" / "train.jsonl").read_bytes()
    build(built.path)
    assert (built.path / ".ctxeng" / "dataset" / "train.jsonl").read_bytes() == before


def test_knowledge_rows_are_never_held_out(built: GitRepo) -> None:
    assert not [r for r in _rows(built.path, "eval") if r["task"] in ("facts", "grounded")]


def test_questions_use_reserved_phrasings_deterministically(built: GitRepo) -> None:
    train = _rows(built.path, "train")
    first, again = questions_from(train, 5, seed=0), questions_from(train, 5, seed=0)
    assert first == again and len(first) == 5
    assert all(any(template_pattern(t).fullmatch(q.text) for t in EVAL_TEMPLATES) for q in first)
    assert questions_from(train, 5, seed=1) != first


def test_scoring_and_intervals() -> None:
    from ctxeng.train.knowledge import Question

    qs = [Question("Store", "kvstore/store.py", "q"), Question("Codec", "kvstore/codec.py", "q")]
    answers = ["`Store` is defined in `kvstore/store.py`, line 3.", "In `kvstore/store.py`: no, codec.py"]
    cell = score(qs, answers)
    assert cell["exact"] == 0.5 and cell["exact_hits"] == 1 and cell["contains_path"] == 0.5
    assert cell["file_name"] == 1.0
    low, high = wilson(30, 60) or (0, 0)
    assert 0.37 < low < 0.38 and 0.62 < high < 0.63  # +-12 points at 50 % on 60 questions
    assert wilson(0, 0) is None and score([], [])["exact"] is None
    assert first_path("`Session.get` lives in `src/requests/sessions.py`.") == "src/requests/sessions.py"


def test_eval_reports_the_two_by_two_reproducibly_as_strict_json(
    built: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from ctxeng.train.trainer import train

    torch.set_num_threads(1)
    tiny = build_tiny_model(tmp_path / "tiny")
    recipe = tmp_path / "know.yaml"
    recipe.write_text(
        f"base_model: {tiny}\noutput: know\nmax_length: 256\nseed: 0\ndtype: float32\nmax_eval_examples: 6\n"
        "task_weights: {facts: 2, grounded: 1, '*': 0.1}\n"
        "lora: {r: 8, lora_alpha: 16, lora_dropout: 0.0, target_modules: all-linear}\n"
        "sft: {max_steps: 6, per_device_train_batch_size: 4, learning_rate: 0.01, logging_steps: 1,\n"
        "      save_steps: 1000, use_cpu: true, bf16: false, activation_checkpointing: false}\n",
        encoding="utf-8",
    )
    train(built.path, str(recipe))
    args = ["eval", str(built.path), "--adapter", "know", "--json", "--knowledge", "6", "--probes", "2"]
    reports = []
    for _ in range(2):
        assert main(args) == 0
        captured = capsys.readouterr()
        reports.append(_strict(captured.out))  # stdout is the JSON alone
        assert "done in" in captured.err  # progress inside each probe (with ETA) on stderr, even with --json
    first, second = reports
    for report in reports:
        report.pop("seconds")
    # The second run reads the base model's side from the cache: the same numbers without running it.
    assert first.pop("base_cached") is False and second.pop("base_cached") is True
    assert first["losses_from"] == "training"  # the recipe's held-out sample: training measured it
    assert first == second  # greedy decoding and fixed question choice: the same numbers twice
    know = first["knowledge"]
    assert know["questions"] == 6 and know["grounded_available"] is True
    grounded = know["table"]["grounded"]["adapter"]
    assert grounded["answerable"]["n"] + len(grounded["not_in_context"]) == 6
    weights = next(tiny.glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # another base model: a miss
    assert main(args) == 0
    again = _strict(capsys.readouterr().out)
    assert again.pop("base_cached") is False
    again.pop("seconds")
    assert again == first
    for mode in ("closed_book", "grounded"):
        for side in ("base", "adapter"):
            cell = know["table"][mode][side]
            assert cell["n"] == 6 and 0 <= cell["exact"] <= 1 and len(cell["ci95"]) == 2
    sample = know["examples"][0]
    assert set(sample) >= {"symbol", "path", "question", "closed_book", "grounded"}
    assert set(first["losses"]) and first["probes"]
    plot = tmp_path / "eval.png"
    assert (
        main([*args[:-4], "--knowledge", "4", "--probes", "0", "--max-examples", "3", "--plot", str(plot)])
        == 0
    )
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    other = _strict(capsys.readouterr().out)
    assert other["base_cached"] is False  # other questions: a miss
    assert other["losses_from"] == "eval" and other["dataset"]["examples"] == 3  # not training's sample
