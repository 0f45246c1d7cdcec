"""The build's record store: spilled to disk past its limit, with outputs byte for byte those of the in-memory path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ctxeng.core.record_store import CODE, DOCS, LIMIT_ENV, OTHERS, RecordStore, RecordsView, keep, of_kinds
from ctxeng.core.records import Record, dedupe_ids
from ctxeng.dataset.rows_write import ROWS_FILE
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo
from tests.sample_repo import make_sample_repo
from tests.spilled import read_back_traced

# Two definitions of one name in one file, and a method of that name (occurrences in ids, groups by name).
TWINS = '''"""Twins."""


def twin():
    return 1


def twin():  # noqa: F811
    return 2


class Box:
    def twin(self):
        return 3
'''


def _rec(kind: str, path: str, line: int, rid: str, text: str = "") -> Record:
    return Record(
        rid, kind, path, line, line, "c0ffee", 7, f"n{line}", text or f"t {path} {line}", {"k": [1, "ü"]}
    )


def _records() -> list[tuple[int, Record]]:
    return [
        (CODE, _rec("symbol", "b.py", 3, "sym-1")),
        (CODE, _rec("file", "b.py", 0, "fil-1")),
        (CODE, _rec("symbol", "a.py", 9, "sym-2")),
        (CODE, _rec("symbol", "a.py", 9, "sym-1")),  # same id as b.py's: renamed in sorted order
        (CODE, _rec("symbol", "a.py", 9, "sym-10")),
        (DOCS, _rec("doc", "README.md", 1, "doc-1", "naïve ☃ text")),
        (CODE, _rec("symbol", "a.py", 9, "sym-2")),  # the very same key twice: kept in added order
        (OTHERS, _rec("commit", "", 0, "com-1")),
        (OTHERS, _rec("symbol", "a.py", 9, "sym-2", "from others")),
        (DOCS, _rec("doc", "README.md", 1, "doc-1", "second")),
    ]


def _filled(limit: int) -> RecordStore:
    store = RecordStore(None, limit=limit)
    for source, rec in _records():
        store.add(rec, source)
    return store


def test_spilled_store_gives_dedupe_ids_order_and_ids() -> None:
    by_source: dict[int, list[Record]] = {CODE: [], DOCS: [], OTHERS: []}
    for source, rec in _records():
        by_source[source].append(rec)
    want = dedupe_ids([*by_source[CODE], *by_source[DOCS], *by_source[OTHERS]])
    held, spilled = _filled(100), _filled(3)
    assert not held.spilled and spilled.spilled
    assert list(held.iter_added((CODE, DOCS))) == list(spilled.iter_added((CODE, DOCS)))
    view = spilled.finish()
    assert isinstance(view, RecordsView)
    assert held.finish() == want
    assert list(view) == want and len(view) == len(want)
    assert [r.id for r in view].count("sym-2~2") == 1 and view[-1] == want[-1] and view[2] == want[2]
    assert list(view[1:4]) == want[1:4]
    assert [view.line(i) for i in range(len(view))] == [
        (json.dumps(r.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()
        for r in want
    ]
    assert list(view.of_kind("symbol")) == [r for r in want if r.kind == "symbol"]
    assert list(view.of_kind("glossary")) == []
    assert list(of_kinds(view, ["doc", "commit"])) == [r for r in want if r.kind in ("doc", "commit")]
    picked = keep(view.of_kind("symbol"), lambda r: r.path == "a.py")
    assert isinstance(picked, RecordsView) and list(picked) == [
        r for r in want if r.kind == "symbol" and r.path == "a.py"
    ]
    assert picked[1] == list(picked)[1]
    spilled.close()


def _timeless(value: Any) -> Any:
    """`value` without modification times (`mtime_ns`; `stamp`/`records`: [size, mtime])."""
    if isinstance(value, dict):
        return {
            k: [v[0]] if k in ("stamp", "records") and isinstance(v, list) and len(v) == 2 else _timeless(v)
            for k, v in value.items()
            if k not in ("mtime_ns", "built_at", "stages")
        }
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _outputs(root: Path) -> dict[str, bytes]:
    """Every file a build wrote (.ctxeng/ without timings and modification times, the skill, CLAUDE.md)
    by relative path; the caches (named by process id) are left out, and so is the dataset carry's rows
    index (`dataset.rows_write.ROWS_FILE`: it names the carry's process-named data file, and a spilled
    build, which does not carry, writes none)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel.startswith((".git/", ".ctxeng/cache/", ".ctxeng/tmp/")):
            continue
        if rel.endswith("/" + ROWS_FILE):
            continue
        data = path.read_bytes()
        if path.name in ("manifest.json", "pack-model.json", "records-spans.json"):
            value = _timeless(json.loads(data))
            value.get("outputs", {}).pop(ROWS_FILE, None)
            for stamped in ("pack-model.json", "state/records-spans.json"):  # they hold an mtime
                value.get("outputs", {}).get(stamped, {}).pop("sha256", None)
            data = json.dumps(value, sort_keys=True).encode()
        out[rel] = data
    return out


def _twin_repos(tmp_path: Path) -> tuple[GitRepo, GitRepo]:
    repos = []
    for side in ("held", "spilled"):
        repo = make_sample_repo(tmp_path / side / "kvstore")
        repo.commit("Add twins", {"kvstore/twins.py": TWINS})
        repos.append(repo)
    assert repos[0].head() == repos[1].head()
    return repos[0], repos[1]


def test_spilled_build_is_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    held, spilled = _twin_repos(tmp_path)
    build(held.path)
    monkeypatch.setenv(LIMIT_ENV, "5")  # the sample has a few hundred records: spilled
    build(spilled.path)
    first = _outputs(held.path)
    assert first[".ctxeng/records.jsonl"].count(b'"kind":"symbol"') > 20
    assert first == _outputs(spilled.path)
    # A second build after a commit: the records file's spans are reused, the caches hit.
    for repo in (held, spilled):
        repo.commit("Change compact", {"kvstore/twins.py": TWINS + "\n\ndef third():\n    return 4\n"})
    monkeypatch.delenv(LIMIT_ENV)
    build(held.path)
    monkeypatch.setenv(LIMIT_ENV, "5")
    build(spilled.path)
    assert _outputs(held.path) == _outputs(spilled.path)


def test_in_memory_build_after_spilled_one_carries_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spilled build skips the dataset carry (and leaves the one an earlier build saved): the next
    in-memory build, carrying from that older state, still gives what a build with no carry gives."""
    carried, fresh = _twin_repos(tmp_path)
    for repo in (carried, fresh):  # the same builds and commits on both sides
        monkeypatch.delenv(LIMIT_ENV, raising=False)
        build(repo.path)  # in memory: saves a carry
        repo.commit("Change twins", {"kvstore/twins.py": TWINS + "\n\ndef third():\n    return 4\n"})
        monkeypatch.setenv(LIMIT_ENV, "5")
        build(repo.path)  # spilled: no carry
        repo.commit("Change twins again", {"kvstore/twins.py": TWINS + "\n\ndef fourth():\n    return 5\n"})
    assert carried.head() == fresh.head()
    monkeypatch.delenv(LIMIT_ENV)
    build(carried.path)
    shutil.rmtree(fresh.path / ".ctxeng")  # no state, no caches: nothing to carry
    build(fresh.path)
    for name in ("dataset/train.jsonl", "dataset/eval.jsonl", "records.jsonl"):
        carried_bytes = (carried.path / ".ctxeng" / name).read_bytes()
        assert carried_bytes == (fresh.path / ".ctxeng" / name).read_bytes(), name
    assert b"fourth" in (carried.path / ".ctxeng/records.jsonl").read_bytes()


def test_a_huge_records_touched_paths_are_shared_as_it_is_parsed(tmp_path: Path) -> None:
    """The first commit of a 100,000-file repository touches ~700,000 definitions, ~7 per file: their
    paths and names were parsed as ~1,400,000 strings, made one per file and name only once the whole
    line was parsed."""

    names = ("__init__", "add", "get_value", "_evict", "Widget{}", "make_{}", "run_all")  # as methods repeat
    symbols = [
        {"name": names[i % 7].format(i // 7), "path": f"src/pkg{i // 2000}/mod_{i // 7}.py"}
        for i in range(70_000)
    ]
    files = [{"path": f"src/pkg{i // 2000}/mod_{i // 7}.py", "status": "A"} for i in range(0, 70_000, 7)]
    meta = {"diff": "", "diff_truncated": True, "files": files, "symbols": symbols}
    rec = Record("commit:" + "a" * 40, "commit", "", 0, 0, "a" * 40, 1, "Initial commit", "", meta)
    back, line, held, peak = read_back_traced(tmp_path, rec)
    assert back == rec
    rows = back.meta["symbols"]
    assert rows[0]["path"] is rows[6]["path"] is back.meta["files"][0]["path"]
    assert rows[1]["name"] is rows[8]["name"]
    # The line (parsed as text; its bytes let go first) and the objects kept; not a string per touched
    # definition's path and name.
    assert peak - held < 1.4 * len(line), (held, peak, len(line))
