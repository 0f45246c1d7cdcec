"""The streaming dataset stage: its compact store and disk-backed cache give what the in-memory pipeline gives."""

from __future__ import annotations

import json
import random
import zlib
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ctxeng.core.config import DatasetConfig
from ctxeng.core.fsio import dumps_json_bytes
from ctxeng.core.records import Record
from ctxeng.dataset import build_dataset, system_message, task_cache
from ctxeng.dataset.blobtable import BlobTable, blob_key
from ctxeng.dataset.bounds import apply_bounds
from ctxeng.dataset.builder import HEAD_TASKS, DatasetResult
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.index import RecordIndex
from ctxeng.dataset.store import ExampleStore, Rows
from ctxeng.dataset.tasks import enabled_tasks, run_tasks
from tests.gitrepo import GitRepo
from tests.split_reference import Dated, date_by_source, dedupe, remove_leaks, split_by_time
from tests.test_dataset_tasks import records_for_sample


def _in_memory(records: list[Record], config: DatasetConfig, repo: str) -> tuple[bytes, bytes, Counter[str]]:
    """The dataset as the stage computed it before it streamed: every example held, list-based split."""
    names = enabled_tasks(config.tasks)
    ctx = TaskContext(repo_name=repo, seed=config.seed)
    examples, seen, dropped = [], set(), Counter[str]()
    for ex in run_tasks(RecordIndex.build(records), ctx, names):
        if ex.id in seen:
            dropped["duplicate_id"] += 1
        else:
            seen.add(ex.id)
            examples.append(ex)
    dropped.update(ctx.dropped)
    system = system_message(repo)
    bounded, _ = apply_bounds(examples, system, config.min_tokens, config.max_tokens, dropped)
    dated = date_by_source(bounded)
    rest = [d for d in dated if d.item.example.task not in HEAD_TASKS]
    train, held, _ = split_by_time(rest, config.eval_share)
    train += [d for d in dated if d.item.example.task in HEAD_TASKS]
    held = dedupe(held, dropped)
    train = remove_leaks(dedupe(train, dropped), held, dropped)

    def row(d: Dated) -> dict[str, Any]:
        ex = d.item.example
        return {
            "id": ex.id, "task": ex.task, "source": ex.source, "commit": d.commit, "time": d.time,
            "prompt": [{"role": "system", "content": system}, {"role": "user", "content": d.item.user}],
            "completion": [{"role": "assistant", "content": d.item.answer}], "meta": dict(sorted(ex.meta.items())),
        }  # fmt: skip

    def text(items: list[Dated]) -> bytes:
        return b"".join(dumps_json_bytes(row(d)) + b"\n" for d in items)

    return text(train), text(held), dropped


def _written(result: DatasetResult, folder: Path) -> tuple[bytes, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    result.write(folder / "train.jsonl", folder / "eval.jsonl")
    return (folder / "train.jsonl").read_bytes(), (folder / "eval.jsonl").read_bytes()


@pytest.mark.parametrize("chunk", [3, task_cache.CHUNK])
def test_streamed_rows_equal_the_in_memory_pipeline(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Byte for byte, with no cache, a cold cache and a warm one; small chunks split groups across bounds calls."""
    monkeypatch.setattr(task_cache, "CHUNK", chunk)
    records = records_for_sample(sample_repo)
    config = DatasetConfig(eval_share=0.3)
    train, held, dropped = _in_memory(records, config, "kvstore")
    assert train and held
    for n, out_dir in enumerate((None, tmp_path / "out", tmp_path / "out")):
        result = build_dataset(records, config, "kvstore", out_dir)
        assert _written(result, tmp_path / f"rows{n}") == (train, held), n
        assert result.stats["dropped"] == dict(sorted(dropped.items()))
        # The rows read back as dicts are the written lines.
        assert [dumps_json_bytes(r) + b"\n" for r in result.train] == train.splitlines(keepends=True)


def test_the_store_holds_columns_not_rows(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Per kept example the store holds array slots and digests; its row JSON lies in a temporary file."""
    records = records_for_sample(sample_repo)
    result = build_dataset(records, DatasetConfig(), "kvstore", tmp_path / "out")
    assert isinstance(result.train, Rows) and isinstance(result.eval, Rows)
    store: ExampleStore = result.train.split.store
    n = len(store)
    assert n == len(result.train) + len(result.eval) + result.stats["dropped"].get(
        "duplicate", 0
    ) + result.stats["dropped"].get("eval_leak", 0)
    per_row = []
    for name, value in vars(store).items():
        if isinstance(value, (array, bytearray)):
            per_row.append(name)
        elif isinstance(value, (list, dict, set, Counter)):
            # Only per-task, per-commit and per-drop-reason collections: nothing grows with the rows.
            assert len(value) <= len(store.commits) + len(store.tasks) + 32, name
    assert {"ids", "task_no", "pairs", "answers", "offsets"} <= set(per_row)
    assert len(result.train.indices) == len(result.train)


def test_blobtable_reads_back_appends_compacts_and_survives_damage(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "t"
    table = BlobTable(path, "salt-1")
    keys = [blob_key("k", str(i)) for i in range(50)]
    for i, key in enumerate(keys):
        table.put(key, f"payload {i}".encode() * 100)
    table.save()
    table.close()
    again = BlobTable(path, "salt-1")
    assert len(again) == 50 and again.get(keys[49]) == b"payload 49" * 100
    assert again.get(blob_key("k", "50")) is None
    # What a build neither read nor put is dropped from the index when it saves.
    assert again.get(keys[0]) == b"payload 0" * 100
    again.put(blob_key("new"), b"x")  # appended to the same data file
    again.save()
    again.close()
    third = BlobTable(path, "salt-1")
    assert len(third) == 3 and third.get(blob_key("new")) == b"x" and third.get(keys[1]) is None
    third.close()
    assert BlobTable(path, "salt-2").get(keys[0]) is None  # other code: another salt, nothing read
    # Compaction: once unread payloads dominate, the read ones move to a new, smaller data file.
    blobs = [random.Random(i).randbytes(100_000) for i in range(len(keys))]  # incompressible
    big = BlobTable(tmp_path / "c" / "t", "s")
    for key, blob in zip(keys, blobs, strict=True):
        big.put(key, blob)
    big.save()
    big.close()
    small = BlobTable(tmp_path / "c" / "t", "s")
    assert small.get(keys[7]) == blobs[7]
    small.save()
    small.close()
    data = list((tmp_path / "c").glob("t-*.dat"))
    assert len(data) == 1 and data[0].stat().st_size == len(zlib.compress(blobs[7], 1))
    assert BlobTable(tmp_path / "c" / "t", "s").get(keys[7]) == blobs[7]
    # A garbled or truncated data file: its entries read as missing, never as wrong payloads.
    data[0].write_bytes(b"\0" * data[0].stat().st_size)
    assert BlobTable(tmp_path / "c" / "t", "s").get(keys[7]) is None
    data[0].write_bytes(b"")
    assert BlobTable(tmp_path / "c" / "t", "s").get(keys[7]) is None


def test_a_damaged_cache_still_gives_the_same_rows(sample_repo: GitRepo, tmp_path: Path) -> None:
    records = records_for_sample(sample_repo)
    config = DatasetConfig()
    plain = _written(build_dataset(records, config, "kvstore"), tmp_path / "plain")
    build_dataset(records, config, "kvstore", tmp_path / "out")
    for data in (tmp_path / "out/cache/dataset").glob("outcomes-*.dat"):
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2 :] = b"\n" * (len(raw) - len(raw) // 2)  # torn: half the payloads garbled
        data.write_bytes(bytes(raw))
    assert _written(build_dataset(records, config, "kvstore", tmp_path / "out"), tmp_path / "again") == plain
    assert json.loads(plain[0].splitlines()[0])["prompt"][0]["content"] == system_message("kvstore")


def test_a_warm_cache_reruns_only_the_groups_of_changed_records(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing changed: no local task runs and nothing is bounded; one file changed: only groups holding it run."""
    records = records_for_sample(sample_repo)
    config = DatasetConfig()
    out = tmp_path / "out"
    build_dataset(records, config, "kvstore", out)
    plain = _written(build_dataset(records, config, "kvstore"), tmp_path / "plain")
    path = next(r.path for r in records if r.kind == "symbol")
    changed = [r.dated("f" * 40, r.time + 100) if r.path == path else r for r in records]
    fresh = _written(build_dataset(changed, config, "kvstore"), tmp_path / "fresh")
    runs: list[tuple[str, set[str]]] = []
    for name in task_cache.LOCAL_TASKS:
        task = task_cache.TASKS[name]

        def counted(index: RecordIndex, ctx: TaskContext, name: str = name, task: Any = task) -> Any:
            runs.append((name, {rec.path for kind in index.by_kind.values() for rec in kind}))
            return task(index, ctx)

        monkeypatch.setitem(task_cache.TASKS, name, counted)
    bounded: list[int] = []
    real_bound = task_cache.Bounder.bound
    monkeypatch.setattr(
        task_cache.Bounder, "bound", lambda self, exs: bounded.append(len(exs)) or real_bound(self, exs)
    )
    warm = build_dataset(records, config, "kvstore", out)
    assert runs == [] and sum(bounded) == 0
    assert _written(warm, tmp_path / "warm") == plain
    again = build_dataset(changed, config, "kvstore", out)
    groups = sum(len(task_cache._Groups(records, [n]).of(n)) for n in task_cache.LOCAL_TASKS)
    assert 0 < len(runs) < groups
    assert all(path in paths or name == "callers" for name, paths in runs)  # callers: the names it calls
    assert _written(again, tmp_path / "again") == fresh
