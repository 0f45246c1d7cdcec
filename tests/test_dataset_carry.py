"""The dataset carried from the last build (`dataset.carry`) and rows copied from the last generation
(`dataset.rows_write`): always the bytes and statistics a run without caches gives, reused only where exact."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from ctxeng.core.config import DatasetConfig
from ctxeng.core.records import Record, sort_key
from ctxeng.dataset import build_dataset, carry, task_cache
from ctxeng.dataset.builder import DatasetResult
from ctxeng.dataset.prints import PER_FILE_KINDS, RecordKeys
from ctxeng.dataset.rows_write import ROWS_FILE
from tests.gitrepo import GitRepo
from tests.test_dataset_tasks import records_for_sample


def _keys(records: list[Record]) -> RecordKeys:
    """What a build's extraction and history cache keys say: one key per file's and per commit's content
    (less the dating, which the keys leave to the records)."""
    paths: dict[str, Any] = {}
    commits = {}
    for rec in sorted(records, key=sort_key):
        row = {**rec.to_json(), "commit": "", "time": 0}
        line = json.dumps(row, sort_keys=True).encode()
        if rec.kind in PER_FILE_KINDS:
            paths.setdefault(rec.path, hashlib.sha1()).update(line)
        elif rec.kind == "commit":
            commits[rec.id] = hashlib.sha1(line).hexdigest()
    return RecordKeys({p: h.hexdigest() for p, h in paths.items()}, commits)


def _write(
    result: DatasetResult, folder: Path, base: Path | None = None
) -> tuple[bytes, bytes, dict[str, int]]:
    (folder / "dataset").mkdir(parents=True, exist_ok=True)
    train, held = folder / "dataset/train.jsonl", folder / "dataset/eval.jsonl"
    stats = result.write(train, held, base, folder / ROWS_FILE)
    return train.read_bytes(), held.read_bytes(), stats


def _newest(records: list[Record]) -> int:
    return max(r.time for r in records)


def _edit_file(path: str) -> Callable[[list[Record]], list[Record]]:
    """A commit to `path`: its file and symbol records get new text and the newest dating."""

    def change(records: list[Record]) -> list[Record]:
        when = _newest(records) + 60
        return [
            dataclasses.replace(r, text=r.text + "\n# edited", commit="e" * 40, time=when)
            if r.path == path and r.kind in ("file", "symbol")
            else r
            for r in records
        ]

    return change


def _call_across_files(records: list[Record]) -> list[Record]:
    """A symbol of one file starts calling a function another (unchanged) file defines: a callers group
    whose definition is elsewhere gains a user."""
    target = next(
        r
        for r in records
        if r.kind == "symbol" and r.path == "kvstore/codec.py" and r.meta.get("kind") == "function"
    )
    caller = next(r for r in records if r.kind == "symbol" and r.path == "kvstore/cli.py")
    calls = [*(caller.meta.get("calls") or []), target.name]
    return [dataclasses.replace(r, meta={**r.meta, "calls": calls}) if r is caller else r for r in records]


def _new_commit(records: list[Record]) -> list[Record]:
    """A newer commit record (a copy of the newest with another sha): the held-out split moves."""
    newest = max((r for r in records if r.kind == "commit" and r.meta.get("diff")), key=lambda r: r.time)
    sha = "c" * 40
    copy = dataclasses.replace(newest, id=f"commit:{sha}", commit=sha, time=_newest(records) + 120,
                               meta={**newest.meta, "subject": "Add the newest feature"})  # fmt: skip
    return sorted([*records, copy], key=sort_key)


def _redate(records: list[Record]) -> list[Record]:
    """Records dated anew with their content (so their keys) unchanged, as a moved history window does."""
    return [
        r.dated(r.commit, r.time + 7) if r.kind == "symbol" and r.path == "kvstore/store.py" else r
        for r in records
    ]


def _drop_file(records: list[Record]) -> list[Record]:
    return [r for r in records if r.path != "kvstore/compact.py"]


@pytest.mark.parametrize("eval_share", [0.3, 0.0])
def test_each_kind_of_change_gives_the_rows_of_a_fresh_run(
    sample_repo: GitRepo, tmp_path: Path, eval_share: float
) -> None:
    """A sequence of changes, each carried from the last: rows, statistics and written bytes equal a run
    without caches; rows are copied from the last generation's files where they read the same."""
    config = DatasetConfig(eval_share=eval_share)
    original = records_for_sample(sample_repo)
    changes: list[tuple[str, Callable[[list[Record]], list[Record]]]] = [
        ("one file", _edit_file("kvstore/store.py")),
        ("a call across files", _call_across_files),
        ("a new commit", _new_commit),
        ("dating only", _redate),
        ("a file removed", _drop_file),
        ("back to the start", lambda _: original),
    ]
    out = tmp_path / "out"
    records = original
    _write(build_dataset(records, config, "kvstore", out, _keys(records)), tmp_path / "g0")
    base = tmp_path / "g0"
    splits = []
    for n, (what, change) in enumerate(changes, 1):
        records = change(records)
        fresh = build_dataset(records, config, "kvstore")
        carried = build_dataset(records, config, "kvstore", out, _keys(records))
        assert carried.stats == fresh.stats, what
        train, held, stats = _write(carried, tmp_path / f"g{n}", base)
        plain = _write(fresh, tmp_path / f"plain{n}")
        assert (train, held) == plain[:2], what
        assert stats["rows_reused"] > 0, what
        splits.append(held)
        base = tmp_path / f"g{n}"
    if eval_share:
        assert splits[1] != splits[2]  # the new commit moved rows into the held-out split


def test_only_groups_of_changed_runs_are_run_again(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With keys: nothing changed runs no local task; one file's commit runs only groups that hold its records."""
    config = DatasetConfig()
    records = records_for_sample(sample_repo)
    out = tmp_path / "out"
    build_dataset(records, config, "kvstore", out, _keys(records))
    runs: list[tuple[str, str]] = []
    real = task_cache._local

    def spy(name: str, groups: Iterable[tuple[str, Any, Any]], *args: Any) -> Any:
        groups = list(groups)
        runs.extend((name, key) for key, _, _ in groups)
        return real(name, groups, *args)

    monkeypatch.setattr(carry, "_local", spy)
    build_dataset(records, config, "kvstore", out, _keys(records))
    assert runs == []
    changed = _edit_file("kvstore/cli.py")(records)
    again = build_dataset(changed, config, "kvstore", out, _keys(changed))
    assert ("file_contents", "kvstore/cli.py") in runs
    assert all(key == "kvstore/cli.py" for name, key in runs if name in ("file_contents", "symbol_body"))
    cli_names = {
        q
        for r in changed
        if r.path == "kvstore/cli.py" and r.kind == "symbol"
        for q in task_cache._qualname_group(r)
    }
    assert {key for name, key in runs if name == "symbol_lookup"} <= cli_names
    assert not any(name.startswith("commit_") for name, _ in runs)
    fresh = build_dataset(changed, config, "kvstore")
    assert (again.train, again.eval, again.stats) == (fresh.train, fresh.eval, fresh.stats)


def test_no_carry_where_it_would_not_be_exact(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Another setting, a damaged carry, or a repeated example id: the run ignores the carry; a changed
    generation file is not copied from."""
    records = records_for_sample(sample_repo)
    out = tmp_path / "out"
    build_dataset(records, DatasetConfig(), "kvstore", out, _keys(records))
    # Another setting: the carry's salt differs.
    other = DatasetConfig(max_tokens=300)
    got = build_dataset(records, other, "kvstore", out, _keys(records))
    fresh = build_dataset(records, other, "kvstore")
    assert (got.train, got.eval, got.stats) == (fresh.train, fresh.eval, fresh.stats)
    # A damaged carry index reads as none.
    index = out / f"{carry.CARRY_FILE}.idx"
    raw = bytearray(index.read_bytes())
    raw[len(raw) // 2 :] = b"\0" * (len(raw) - len(raw) // 2)
    index.write_bytes(bytes(raw))
    got = build_dataset(records, other, "kvstore", out, _keys(records))
    assert (got.train, got.eval, got.stats) == (fresh.train, fresh.eval, fresh.stats)
    # A repeated id (two symbols share one): a fresh run counts duplicates in store order, so no carry.
    sym = next(r for r in records if r.kind == "symbol" and r.path == "kvstore/cli.py")
    twin = dataclasses.replace(
        sym, path="kvstore/twin.py", meta={**sym.meta, "qualname": "twin_of_" + sym.name}
    )
    repeated = sorted([*records, twin], key=sort_key)
    fresh = build_dataset(repeated, other, "kvstore")
    assert fresh.stats["dropped"].get("duplicate_id")
    got = build_dataset(repeated, other, "kvstore", out, _keys(repeated))
    assert (got.train, got.eval, got.stats) == (fresh.train, fresh.eval, fresh.stats)
    # A generation file written since its table: nothing is copied from it, the bytes are still right.
    first = build_dataset(records, other, "kvstore", out, _keys(records))
    _write(first, tmp_path / "g1")
    train = tmp_path / "g1/dataset/train.jsonl"
    train.write_bytes(train.read_bytes().replace(b"kvstore", b"KVSTORE"))
    again = build_dataset(records, other, "kvstore", out, _keys(records))
    written = _write(again, tmp_path / "g2", tmp_path / "g1")
    assert written[2]["rows_reused"] == 0
    plain = _write(build_dataset(records, other, "kvstore"), tmp_path / "plain")
    assert written[:2] == plain[:2]
    # A damaged table of the rows a generation wrote: nothing copied either.
    table = tmp_path / "g2" / ROWS_FILE
    raw = bytearray(table.read_bytes())
    raw[-40:] = b"\0" * 40
    table.write_bytes(bytes(raw))
    again = build_dataset(records, other, "kvstore", out, _keys(records))
    assert _write(again, tmp_path / "g3", tmp_path / "g2") == (
        *plain[:2],
        {"rows_reused": 0, "bytes_reused": 0},
    )
    assert _write(again, tmp_path / "g4", tmp_path / "g3")[2]["rows_reused"] == len(again.train) + len(
        again.eval
    )


def test_the_fragment_file_is_compacted(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows run again are appended to the fragment file; once mostly dead it is rewritten, and rows still
    come out the same (copying from a generation written before is then refused: another file)."""
    from ctxeng.dataset import carry_file

    records = records_for_sample(sample_repo)
    config = DatasetConfig()
    out = tmp_path / "out"
    _write(build_dataset(records, config, "kvstore", out, _keys(records)), tmp_path / "g0")
    before = list((out / "cache/dataset").glob("carry-*.dat"))
    real = carry_file.save

    def compacting(base: Path, salt: str, data: str, fd: int, store: Any, run: Any) -> None:
        store.end = lambda: 10**9  # as if the file were mostly dead rows
        real(base, salt, data, fd, store, run)

    monkeypatch.setattr(carry, "save", compacting)
    changed = _edit_file("kvstore/store.py")(records)
    got = build_dataset(changed, config, "kvstore", out, _keys(changed))
    after = list((out / "cache/dataset").glob("carry-*.dat"))
    assert len(after) == 1 and after != before
    written = _write(got, tmp_path / "g1", tmp_path / "g0")
    assert written[2]["rows_reused"] == 0
    assert written[:2] == _write(build_dataset(changed, config, "kvstore"), tmp_path / "plain")[:2]
    monkeypatch.setattr(carry, "save", real)
    again = build_dataset(changed, config, "kvstore", out, _keys(changed))
    assert _write(again, tmp_path / "g2", tmp_path / "g1")[:2] == written[:2]


def test_a_refresh_after_a_commit_carries_and_equals_a_cold_build(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build passes its cache keys: after a one-file commit only that file's groups run, most rows are
    copied from the last generation, and the dataset is byte for byte a cold build's."""
    import subprocess

    from ctxeng.dataset import rows_write
    from ctxeng.pipeline.build import build
    from ctxeng.pipeline.refresh import refresh

    root = sample_repo.path
    build(root)
    store = root / "kvstore/store.py"
    sample_repo.commit(
        "Add a sync method", {"kvstore/store.py": store.read_text() + "\n\ndef sync():\n    return 1\n"}
    )
    runs: list[str] = []
    real_local = task_cache._local
    monkeypatch.setattr(  # groups: a list of (key, members, digest) in key order
        carry,
        "_local",
        lambda name, groups, *a: runs.extend(key for key, _, _ in groups) or real_local(name, groups, *a),
    )
    copied: list[dict[str, int]] = []
    real_write = rows_write.write_rows
    monkeypatch.setattr(rows_write, "write_rows", lambda *a: copied.append(real_write(*a)) or copied[-1])
    assert refresh(root).mode == "full"
    assert "kvstore/store.py" in runs and "kvstore/cli.py" not in runs
    assert copied and copied[0]["rows_reused"] > 0
    clone = tmp_path / "elsewhere" / root.name
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    build(clone)
    for name in ("dataset/train.jsonl", "dataset/eval.jsonl"):
        assert (root / ".ctxeng" / name).read_bytes() == (clone / ".ctxeng" / name).read_bytes(), name


def test_rows_are_copied_where_the_kernel_cannot_copy(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `copy_file_range` (another file system, an old kernel) unchanged rows are read and written."""
    import os

    def refuse(*args: Any) -> int:
        raise OSError(38, "not implemented")

    records = records_for_sample(sample_repo)
    config = DatasetConfig(eval_share=0.3)
    out = tmp_path / "out"
    _write(build_dataset(records, config, "kvstore", out, _keys(records)), tmp_path / "g0")
    monkeypatch.setattr(os, "copy_file_range", refuse)
    changed = _edit_file("kvstore/codec.py")(records)
    got = _write(
        build_dataset(changed, config, "kvstore", out, _keys(changed)), tmp_path / "g1", tmp_path / "g0"
    )
    assert got[2]["rows_reused"] > 0
    assert got[:2] == _write(build_dataset(changed, config, "kvstore"), tmp_path / "plain")[:2]


def test_a_function_added_reruns_only_the_groups_of_its_records(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's key changes with any edit, but only the records whose content changed (here: the file
    record and one new definition) make their name groups run again."""
    config = DatasetConfig()
    records = records_for_sample(sample_repo)
    out = tmp_path / "out"
    build_dataset(records, config, "kvstore", out, _keys(records))
    model = max(
        (r for r in records if r.kind == "symbol" and r.path == "kvstore/store.py"),
        key=lambda r: r.start_line,
    )
    line = model.end_line + 3
    added = dataclasses.replace(
        model, id="sym-added", name="sync_all", start_line=line, end_line=line + 1, commit="a" * 40,
        time=_newest(records) + 60, text="def sync_all(store):\n    return store.flush()\n",
        meta={**model.meta, "qualname": "sync_all", "parent": "", "calls": ["flush"], "kind": "function"},
    )  # fmt: skip
    changed = sorted(
        [
            r.dated("a" * 40, added.time) if r.kind == "file" and r.path == "kvstore/store.py" else r
            for r in [*records, added]
        ],
        key=sort_key,
    )
    runs: list[tuple[str, str]] = []
    real = task_cache._local

    def spy(name: str, groups: Iterable[tuple[str, Any, Any]], *args: Any) -> Any:
        groups = list(groups)
        runs.extend((name, key) for key, _, _ in groups)
        return real(name, groups, *args)

    monkeypatch.setattr(carry, "_local", spy)
    got = build_dataset(changed, config, "kvstore", out, _keys(changed))
    assert {key for name, key in runs if name == "symbol_lookup"} == {"sync_all"}
    assert {key for name, key in runs if name == "callers"} <= {"flush", "sync_all"}
    fresh = build_dataset(changed, config, "kvstore")
    assert (got.train, got.eval, got.stats) == (fresh.train, fresh.eval, fresh.stats)


@pytest.mark.parametrize(("name", "calls", "reruns"), [("_sync_helper", [], False), ("sync_helper", [], True),
                                                       ("_sync_helper", ["get"], True)])  # fmt: skip
def test_facts_rerun_only_when_a_change_can_matter_to_them(
    sample_repo: GitRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    calls: list[str],
    reruns: bool,
) -> None:
    """A private helper that calls nothing public leaves facts and grounded as they were (carried, not
    run); a public one, or one calling a public definition's name, makes them run. Rows equal a fresh run."""
    from ctxeng.dataset import tasks

    config = DatasetConfig()
    records = records_for_sample(sample_repo)
    assert any(r.name == "get" and task_cache.qualname(r) for r in records if r.kind == "symbol")
    out = tmp_path / "out"
    build_dataset(records, config, "kvstore", out, _keys(records))
    model = max(
        (r for r in records if r.kind == "symbol" and r.path == "kvstore/cli.py"), key=lambda r: r.start_line
    )
    line = model.end_line + 3
    added = dataclasses.replace(
        model, id=f"sym-{name}", name=name, start_line=line, end_line=line + 1, commit="b" * 40,
        time=_newest(records) + 60, text=f"def {name}():\n    return 1\n",
        meta={**model.meta, "qualname": name, "parent": "", "calls": calls, "kind": "function"},
    )  # fmt: skip
    changed = sorted([*records, added], key=sort_key)
    ran: list[str] = []
    for task in ("facts", "grounded"):
        real = tasks.TASKS[task]
        monkeypatch.setitem(
            tasks.TASKS, task, lambda index, ctx, real=real, task=task: ran.append(task) or real(index, ctx)
        )
    got = build_dataset(changed, config, "kvstore", out, _keys(changed))
    assert (ran == ["facts", "grounded"]) is reruns and (ran == []) is not reruns
    monkeypatch.undo()
    fresh = build_dataset(changed, config, "kvstore")
    assert (got.train, got.eval, got.stats) == (fresh.train, fresh.eval, fresh.stats)
