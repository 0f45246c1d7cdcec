"""`build_dataset`: row format, determinism, time split, leakage control, token bounds, config errors."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.core.config import DatasetConfig
from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import dumps_json, write_jsonl
from ctxeng.core.records import Record, serialise
from ctxeng.dataset import TASKS, build_dataset, system_message
from ctxeng.dataset.bounds import rendered_tokens
from ctxeng.dataset.builder import HEAD_TASKS
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import example_id
from ctxeng.dataset.index import RecordIndex
from ctxeng.dataset.split import normalise
from ctxeng.dataset.tasks_history import commit_message
from tests.gitrepo import GitRepo
from tests.test_dataset_tasks import python_records, rec, records_for_sample

ROW_KEYS = ["commit", "completion", "id", "meta", "prompt", "source", "task", "time"]


def dump(result: object) -> str:
    split = [*result.train, "--", *result.eval]  # type: ignore[attr-defined]
    return "".join(dumps_json(r) + "\n" for r in split)


def rows(result: object) -> list[dict]:
    return [*result.train, *result.eval]  # type: ignore[attr-defined]


def commit_rec(sha: str, when: int, subject: str, diff: str, message: str = "") -> Record:
    return rec(
        "commit",
        "",
        subject,
        message or subject + "\n",
        commit=sha,
        time=when,
        key=sha,
        date=str(when),
        files=[{"path": "p.py", "status": "M"}],
        symbols=[],
        diff=diff,
        diff_truncated=False,
    )


def diff_of(old: str, new: str, path: str = "p.py") -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n"


@pytest.fixture
def sample_records(sample_repo: GitRepo) -> list[Record]:
    return records_for_sample(sample_repo)


# --- row format ---------------------------------------------------------------------------------------


def test_rows_are_trl_conversational_prompt_completion(sample_records: list[Record]) -> None:
    result = build_dataset(sample_records, DatasetConfig(), "kvstore")
    assert result.train and result.eval
    system = system_message("kvstore")
    assert system == "You are an expert on the kvstore code base."
    for split in (result.train, result.eval):
        assert [r["id"] for r in split] == sorted(r["id"] for r in split)
    all_rows = rows(result)
    assert len({r["id"] for r in all_rows}) == len(all_rows)
    for r in all_rows:
        assert sorted(r) == ROW_KEYS
        assert r["prompt"][0] == {"role": "system", "content": system}
        assert [m["role"] for m in r["prompt"]] == ["system", "user"] and len(r["completion"]) == 1
        assert r["completion"][0]["role"] == "assistant" and r["completion"][0]["content"].strip()
        assert sorted(r["meta"]) == ["answer_path", "expected", "path", "symbol"]
        assert all(isinstance(v, str) for v in r["meta"].values())
        assert isinstance(r["time"], int) and isinstance(r["commit"], str) and r["task"] in TASKS
    assert {r["task"] for r in all_rows} == set(TASKS)


def test_stats_count_rows_per_task_and_split(sample_records: list[Record]) -> None:
    result = build_dataset(sample_records, DatasetConfig(), "kvstore")
    stats = result.stats
    assert stats["train"] == len(result.train) and stats["eval"] == len(result.eval)
    assert sorted(stats["tasks"]) == sorted(TASKS)
    for task, counts in stats["tasks"].items():
        assert counts == {
            "train": sum(r["task"] == task for r in result.train),
            "eval": sum(r["task"] == task for r in result.eval),
        }
    system = system_message("kvstore")
    for split in ("train", "eval"):
        total = sum(
            rendered_tokens(r["prompt"][1]["content"], r["completion"][0]["content"], system)
            for r in getattr(result, split)
        )
        assert stats["tokens"][split] == total
    assert stats["eval_commits"] == len({r["commit"] for r in result.eval}) >= 1
    assert stats["dropped"] == dict(sorted(stats["dropped"].items())) and stats["dropped"]
    assert "duplicate_id" not in stats["dropped"]  # every task gives its examples distinct ids


def test_datasets_loads_train_and_eval_with_identical_features(
    sample_records: list[Record], tmp_path: Path
) -> None:
    from datasets import load_dataset

    result = build_dataset(sample_records, DatasetConfig(), "kvstore")
    write_jsonl(tmp_path / "train.jsonl", result.train)
    write_jsonl(tmp_path / "eval.jsonl", result.eval)
    loaded = load_dataset(
        "json",
        data_files={"train": str(tmp_path / "train.jsonl"), "eval": str(tmp_path / "eval.jsonl")},
        cache_dir=str(tmp_path / "cache"),
    )
    assert loaded["train"].features == loaded["eval"].features
    assert loaded["train"].num_rows == len(result.train) and loaded["eval"].num_rows == len(result.eval)
    assert loaded["train"][0]["prompt"][1]["content"] == result.train[0]["prompt"][1]["content"]


# --- determinism --------------------------------------------------------------------------------------


def test_same_records_in_any_order_give_identical_bytes(sample_records: list[Record]) -> None:
    first = dump(build_dataset(sample_records, DatasetConfig(), "kvstore"))
    shuffled = list(sample_records)
    random.Random(7).shuffle(shuffled)
    assert dump(build_dataset(shuffled, DatasetConfig(), "kvstore")) == first


def test_identical_across_hash_seeds(sample_records: list[Record], tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(serialise(sample_records)), encoding="utf-8")
    script = (
        "import hashlib, sys\n"
        "from pathlib import Path\n"
        "from ctxeng.core.config import DatasetConfig\n"
        "from ctxeng.dataset import build_dataset\n"
        "from ctxeng.core.fsio import dumps_json\n"
        "from ctxeng.core.records import load_records\n"
        "r = build_dataset(load_records(Path(sys.argv[1])), DatasetConfig(), 'kvstore')\n"
        "text = ''.join(dumps_json(x) + '\\n' for x in [*r.train, '--', *r.eval, r.stats])\n"
        "print(hashlib.sha256(text.encode()).hexdigest())\n"
        "heavy = ('torch', 'transformers', 'datasets', 'trl', 'peft')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    outputs = []
    for seed in ("0", "12345"):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        )
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].splitlines()[1] == "[]"  # no torch/transformers/datasets on the build path
    result = build_dataset(sample_records, DatasetConfig(), "kvstore")
    here = "".join(dumps_json(x) + "\n" for x in [*result.train, "--", *result.eval, result.stats])
    assert outputs[0].splitlines()[0] == hashlib.sha256(here.encode()).hexdigest()


def test_seed_changes_questions_not_answers(sample_records: list[Record]) -> None:
    a = {r["id"]: r for r in rows(build_dataset(sample_records, DatasetConfig(seed=0), "kvstore"))}
    b = {r["id"]: r for r in rows(build_dataset(sample_records, DatasetConfig(seed=1), "kvstore"))}
    assert sorted(a) == sorted(b)
    assert all(a[i]["completion"] == b[i]["completion"] for i in a)
    assert any(a[i]["prompt"] != b[i]["prompt"] for i in a)


# --- the time split -----------------------------------------------------------------------------------


def test_eval_holds_the_newest_whole_commits(sample_records: list[Record]) -> None:
    config = DatasetConfig(eval_share=0.25)
    result = build_dataset(sample_records, config, "kvstore")
    # Facts and grounded rows describe HEAD: always trained on, never held out (the knowledge eval
    # asks about them in reserved phrasings). The split is about every other task.
    assert not [r for r in result.eval if r["task"] in HEAD_TASKS]
    train_commits = {(r["time"], r["commit"]) for r in result.train if r["task"] not in HEAD_TASKS}
    eval_commits = {(r["time"], r["commit"]) for r in result.eval}
    assert not {c for _, c in train_commits} & {c for _, c in eval_commits}  # no commit straddles
    assert min(eval_commits) > max(train_commits)  # newest first
    assert not {r["source"] for r in result.train if r["task"] not in HEAD_TASKS} & {
        r["source"] for r in result.eval
    }
    total = len([r for r in result.train if r["task"] not in HEAD_TASKS]) + len(result.eval)
    assert len(result.eval) >= config.eval_share * total
    # Taking one commit fewer would not have reached the share: eval is not larger than needed.
    newest_first = sorted(eval_commits, reverse=True)
    without_last = sum(1 for r in result.eval if (r["time"], r["commit"]) != newest_first[-1])
    assert without_last < config.eval_share * total


def test_examples_of_one_record_are_dated_alike(sample_records: list[Record]) -> None:
    # `compact` is newer than the rest of the code: its symbol_lookup, symbol_body and callers rows
    # (callers is sourced at the definition) must all follow the newest of them.
    result = build_dataset(sample_records, DatasetConfig(eval_share=0.1), "kvstore")
    by_source: dict[str, set[tuple[str, int]]] = {}
    for r in rows(result):
        by_source.setdefault(r["source"], set()).add((r["commit"], r["time"]))
    assert all(len(dates) == 1 for dates in by_source.values())
    compact = [r for r in rows(result) if r["meta"]["symbol"] == "compact" and r["task"] not in HEAD_TASKS]
    assert {r["task"] for r in compact} >= {"symbol_lookup", "symbol_body"}
    assert all(r in result.eval for r in compact)
    # `Store.get` is old, but `compact` (new) calls it: the callers row is sourced at `compact`,
    # the newest record it holds, so it goes to eval without pulling `Store.get`'s rows along.
    compact = next(r for r in sample_records if r.kind == "symbol" and r.name == "compact")
    store_get = next(r for r in sample_records if r.kind == "symbol" and r.meta["qualname"] == "Store.get")
    get_rows = {
        r["task"]: r
        for r in rows(result)
        if r["meta"]["symbol"] in ("Store.get", "get") and r["task"] not in HEAD_TASKS
    }
    assert sorted(get_rows) == ["callers", "symbol_body", "symbol_lookup"]
    assert get_rows["symbol_body"]["commit"] == get_rows["symbol_lookup"]["commit"] == store_get.commit
    assert (get_rows["callers"]["source"], get_rows["callers"]["commit"]) == (compact.id, compact.commit)


def test_uncommitted_records_count_as_newest() -> None:
    records = python_records(
        "old.py", 'def old(x):\n    """Old."""\n    return x + 1\n', commit="1" * 40, time=100
    )
    records += python_records(
        "new.py", 'def new(x):\n    """New."""\n    return x + 2\n', commit="2" * 40, time=200
    )
    records += python_records(
        "wip.py", 'def wip(x):\n    """Staged."""\n    return x + 3\n', commit="", time=0
    )
    result = build_dataset(records, DatasetConfig(eval_share=0.2), "demo")
    assert {r["meta"]["path"] for r in result.eval} == {"wip.py"}
    assert all(r["commit"] == "" and r["time"] == 0 for r in result.eval)
    assert result.stats["eval_commits"] == 1


def test_no_eval_when_share_is_zero_or_history_has_one_commit(sample_records: list[Record]) -> None:
    result = build_dataset(sample_records, DatasetConfig(eval_share=0.0), "kvstore")
    assert result.eval == [] and result.stats["eval_commits"] == 0 and result.train
    single = python_records("a.py", 'def f(x):\n    """F."""\n    return x\n')
    result = build_dataset(single, DatasetConfig(eval_share=0.5), "demo")
    assert result.eval == [] and result.train  # the only commit stays in train


# --- leakage control ----------------------------------------------------------------------------------


def test_normalise_ignores_case_space_edges_fences_and_comment_markers() -> None:
    assert normalise("Fix the parser.") == normalise("  fix   the PARSER ") == "fix the parser"
    assert normalise("```python\n# keep x\nx = 1\n```\n") == normalise("// keep x\nx = 1") == "keep x x = 1"
    assert normalise('"Quoted"...') == normalise("\u201cQuoted\u201d\u2026") == "quoted"
    assert normalise("a.b") == "a.b"  # only the edges lose punctuation


def test_train_rows_repeating_an_eval_completion_are_dropped() -> None:
    records = [
        commit_rec("a" * 40, 100, "Fix the parser for empty input", diff_of("a", "b")),
        commit_rec("b" * 40, 200, "Add a cache to the lexer", diff_of("c", "d")),
        commit_rec("c" * 40, 300, "fix the parser for empty input.", diff_of("e", "f")),  # newest: eval
    ]
    config = DatasetConfig(eval_share=0.3, tasks={"commit_instruction": False})
    result = build_dataset(records, config, "demo")
    assert [r["completion"][0]["content"] for r in result.eval] == ["fix the parser for empty input.\n"]
    assert [r["completion"][0]["content"] for r in result.train] == ["Add a cache to the lexer\n"]
    assert result.stats["dropped"]["eval_leak"] == 1
    eval_answers = {normalise(r["completion"][0]["content"]) for r in result.eval}
    assert not any(normalise(r["completion"][0]["content"]) in eval_answers for r in result.train)


def test_identical_train_rows_are_kept_once() -> None:
    records = [
        commit_rec(sha * 40, t, "Fix the parser for empty input", diff_of("a", "b"))
        for sha, t in (("a", 100), ("b", 200))
    ]
    seed = next(s for s in range(50) if _same_phrasing(records, s))  # both prompts phrased alike
    config = DatasetConfig(eval_share=0.0, tasks={"commit_instruction": False}, seed=seed)
    result = build_dataset(records, config, "demo")
    assert len(result.train) == 1 and result.stats["dropped"]["duplicate"] == 1
    assert result.train[0]["id"] == min(example_id("commit_message", r.id, "") for r in records)


def _same_phrasing(records: list[Record], seed: int) -> bool:
    examples = commit_message(RecordIndex.build(records), TaskContext("demo", seed))
    return len({e.user_text() for e in examples}) == 1


# --- token bounds -------------------------------------------------------------------------------------


def test_long_sections_are_cut_at_line_ends_and_marked() -> None:
    body = "".join(
        f"Paragraph line {i} explains one more detail of the storage format.\n" for i in range(400)
    )
    doc = rec("doc", "docs/format.md", "Format > Records", body, doc_kind="design", level=2, title="Format")
    config = DatasetConfig(eval_share=0.0, max_tokens=300)
    result = build_dataset([doc], config, "demo")
    (row,) = result.train
    answer = row["completion"][0]["content"]
    assert answer.startswith("From `docs/format.md` (Format > Records):\n\nParagraph line 0 explains")
    kept = answer.count("Paragraph line")
    assert 5 < kept < 400 and answer.endswith(f"[... {400 - kept} more lines cut ...]\n")
    assert all(line.startswith("Paragraph line") for line in answer.splitlines()[2:-1])  # whole lines only
    tokens = rendered_tokens(row["prompt"][1]["content"], answer, system_message("demo"))
    assert tokens <= 300 and result.stats["tokens"]["train"] == tokens
    assert result.stats["shortened"] == 1 and "too_long" not in result.stats["dropped"]


def test_symbol_body_context_is_cut_from_the_top() -> None:
    names = ", ".join(f"helper_function_number_{j}" for j in range(12))
    imports = [f"from package.module_{i} import {names}" for i in range(30)]
    source = "".join(f"{line}\n" for line in imports)
    source += '\n\ndef work(x):\n    """Do the work."""\n    y = x + 1\n    return y * 2\n'
    records = python_records("w.py", source)
    config = DatasetConfig(eval_share=0.0, max_tokens=400, tasks={"module_overview": False})
    result = build_dataset(records, config, "demo")
    body = next(r for r in result.train if r["task"] == "symbol_body")
    user = body["prompt"][1]["content"]
    assert "# ... 18 more imports\n" in user  # at most 12 import lines, then a note
    assert "earlier lines cut ...]\n" in user and "from package.module_0 " not in user
    assert user.index("earlier lines cut") < user.index("from package.module_11 ")
    assert 'def work(x):\n    """Do the work."""\n' in user


def test_rows_that_cannot_be_shortened_are_dropped_by_reason() -> None:
    long_body = "".join(f"    total += compute_value_{i}(x)\n" for i in range(70))
    source = f'def big(x):\n    """Sum everything."""\n    total = 0\n{long_body}    return total\n'
    records = python_records("big.py", source)
    config = DatasetConfig(eval_share=0.0, max_tokens=200, tasks={"callers": False})
    result = build_dataset(records, config, "demo")
    assert "symbol_body" not in {r["task"] for r in result.train}
    assert result.stats["dropped"]["too_long"] >= 1
    tight = DatasetConfig(eval_share=0.0, min_tokens=150, max_tokens=2000)
    assert build_dataset(records, tight, "demo").stats["dropped"]["too_short"] >= 1


def test_every_row_lies_within_the_bounds(sample_records: list[Record]) -> None:
    config = DatasetConfig(min_tokens=40, max_tokens=256)
    result = build_dataset(sample_records, config, "kvstore")
    system = system_message("kvstore")
    for r in rows(result):
        tokens = rendered_tokens(r["prompt"][1]["content"], r["completion"][0]["content"], system)
        assert 40 <= tokens <= 256, (r["task"], tokens)
    assert result.stats["shortened"] >= 1 and result.stats["dropped"]["too_long"] >= 1


# --- configuration ------------------------------------------------------------------------------------


def test_tasks_can_be_switched_off(sample_records: list[Record]) -> None:
    config = DatasetConfig(tasks={"symbol_body": False, "commit_message": False, "doc_qa": True})
    result = build_dataset(sample_records, config, "kvstore")
    tasks = {r["task"] for r in rows(result)}
    assert "symbol_body" not in tasks and "commit_message" not in tasks and "doc_qa" in tasks
    assert "symbol_body" not in result.stats["tasks"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DatasetConfig(tasks={"symbol_lookups": False}), "unknown task 'symbol_lookups'"),
        (DatasetConfig(tasks={"doc_qa": "no"}), "dataset.tasks.doc_qa must be true or false"),  # type: ignore
        (DatasetConfig(eval_share=1.0), "dataset.eval_share must be in [0, 1)"),
        (
            DatasetConfig(min_tokens=500, max_tokens=400),
            "dataset.min_tokens must be between 0 and max_tokens",
        ),
        (DatasetConfig(max_tokens=10), "dataset.max_tokens must be at least 64"),
    ],
)
def test_bad_configuration_is_a_clear_error(config: DatasetConfig, message: str) -> None:
    with pytest.raises(CtxengError) as info:
        build_dataset([], config, "demo")
    assert message in info.value.message
    if "unknown task" in message:
        assert info.value.hint is not None and "symbol_lookup" in info.value.hint


def test_no_records_give_an_empty_dataset() -> None:
    result = build_dataset([], DatasetConfig(), "demo")
    assert result.train == [] and result.eval == []
    assert result.stats["train"] == 0 and result.stats["tokens"] == {"train": 0, "eval": 0}
    assert json.loads(dumps_json(result.stats)) == result.stats


# --- the sample repository through the real pipeline --------------------------------------------------


def test_sample_repo_dataset_matches_golden(sample_repo: GitRepo) -> None:
    from ctxeng.core.config import load_config
    from ctxeng.core.records import load_records
    from ctxeng.pipeline.build import build
    from tests.conftest import golden

    result = build(sample_repo.path, write_pack=False)
    folder = result.out_dir / "dataset"
    train_text = (folder / "train.jsonl").read_text(encoding="utf-8")
    eval_text = (folder / "eval.jsonl").read_text(encoding="utf-8")
    # The stage is pure: the same records give the same rows as the build wrote.
    again = build_dataset(
        load_records(result.out_dir / "records.jsonl"), load_config(sample_repo.path).dataset, "kvstore"
    )
    assert train_text == "".join(dumps_json(r) + "\n" for r in again.train)
    assert eval_text == "".join(dumps_json(r) + "\n" for r in again.eval)
    assert result.manifest["dataset"] == again.stats
    assert "duplicate_id" not in again.stats["dropped"]
    # Facts that hold whatever the extractors emit for the sample repository.
    train = [json.loads(line) for line in train_text.splitlines()]
    held = [json.loads(line) for line in eval_text.splitlines()]
    history = sample_repo.git("log", "--format=%H").split()  # newest first
    held_commits = {r["commit"] for r in held}
    assert held and held_commits == set(history[: len(held_commits)])  # the newest whole commits
    assert not held_commits & {r["commit"] for r in train if r["task"] not in HEAD_TASKS}
    assert {"symbol_lookup", "symbol_body", "commit_message", "doc_qa", "glossary"} <= {
        r["task"] for r in train
    }
    lookup = next(
        r for r in train + held if r["task"] == "symbol_lookup" and r["meta"]["symbol"] == "Store.put"
    )
    assert lookup["meta"]["answer_path"] == "kvstore/store.py" in lookup["completion"][0]["content"]
    golden("dataset/train.jsonl", train_text)
    golden("dataset/eval.jsonl", eval_text)
    golden("dataset/stats.json", json.dumps(result.manifest["dataset"], indent=2, sort_keys=True) + "\n")


def test_check_config_validates_before_any_work() -> None:
    from ctxeng.dataset import check_config

    assert check_config(DatasetConfig(tasks={"glossary": False})) == [t for t in TASKS if t != "glossary"]
    with pytest.raises(CtxengError, match="unknown task 'glosary'"):
        check_config(DatasetConfig(tasks={"glosary": False}))


def test_the_garbage_collector_is_restored(sample_records: list[Record]) -> None:
    import gc

    assert gc.isenabled()
    build_dataset(sample_records, DatasetConfig(), "kvstore")
    assert gc.isenabled()
    gc.disable()
    try:
        build_dataset(sample_records, DatasetConfig(), "kvstore")
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(CtxengError):
        build_dataset(sample_records, DatasetConfig(max_tokens=1), "kvstore")
    assert gc.isenabled()
