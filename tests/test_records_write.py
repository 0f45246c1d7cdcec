"""records.jsonl after a commit: unchanged files' and commits' bytes are copied from the last generation."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ctxeng.core.records import Record, load_records
from ctxeng.pipeline.build import build
from ctxeng.pipeline.records_write import SPANS_FILE, load_spans, write_records
from ctxeng.pipeline.refresh import refresh
from tests.gitrepo import GitRepo


def _records(root: Path) -> bytes:
    return (root / ".ctxeng/records.jsonl").read_bytes()


def _cold(repo: GitRepo, tmp_path: Path, tag: str) -> bytes:
    clone = tmp_path / tag / repo.path.name  # same name: it appears in the records
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    build(clone)
    return _records(clone)


def _reused(root: Path) -> int:
    return int(json.loads((root / ".ctxeng/manifest.json").read_text())["files"]["records_reused"])


def test_a_refresh_after_a_commit_copies_unchanged_records(sample_repo: GitRepo, tmp_path: Path) -> None:
    build(sample_repo.path)
    assert _reused(sample_repo.path) == 0  # nothing to copy from on a first build
    before = load_records(sample_repo.path / ".ctxeng/records.jsonl")
    sample_repo.commit("Add a helper", {"kvstore/util.py": "def helper():\n    return 1\n"})
    assert refresh(sample_repo.path).mode == "full"
    reused = _reused(sample_repo.path)
    per_file = [r for r in before if r.kind in ("file", "symbol", "doc", "commit")]
    assert 0 < reused <= len(per_file)
    assert reused >= len(per_file) // 2  # one new file: most records are the old bytes
    assert _records(sample_repo.path) == _cold(sample_repo, tmp_path, "cold")


def test_an_edit_that_moves_lines_rewrites_that_file_only(sample_repo: GitRepo, tmp_path: Path) -> None:
    build(sample_repo.path)
    store = sample_repo.path / "kvstore/store.py"
    sample_repo.commit("Open with a banner", {"kvstore/store.py": '"""Banner."""\n\n' + store.read_text()})
    refresh(sample_repo.path)
    assert _reused(sample_repo.path) > 0
    assert _records(sample_repo.path) == _cold(sample_repo, tmp_path, "cold")


def test_a_table_that_does_not_fit_its_records_is_not_used(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Spans moved by one byte read as misses; a table for another records file is ignored."""
    build(sample_repo.path)
    gen = (sample_repo.path / ".ctxeng/current").resolve()
    records = load_records(gen / "records.jsonl")
    table_path = gen / SPANS_FILE
    table = json.loads(table_path.read_text())
    table["spans"] = {k: [off + 1, n - 1] for k, (off, n) in table["spans"].items()}
    table_path.write_text(json.dumps(table))
    spans, _ = load_spans(gen)
    assert spans  # readable: each span is refused when it is read
    _assert_rewritten_without_reuse(sample_repo.path, records, gen, tmp_path)
    # A records file written since the table (another size or time) makes the whole table unused.
    os.utime(gen / "records.jsonl", ns=(1, 1))
    assert load_spans(gen) == ({}, None)
    table_path.write_text("{not json")
    assert load_spans(gen) == ({}, None)


def test_adjacent_spans_copied_together_still_each_end_a_line(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Runs whose spans follow each other are copied in one read: a table whose boundaries between them
    are off by one byte (the spans still adjacent and covering the same bytes) reads as misses."""
    build(sample_repo.path)
    gen = (sample_repo.path / ".ctxeng/current").resolve()
    records = load_records(gen / "records.jsonl")
    table_path = gen / SPANS_FILE
    table = json.loads(table_path.read_text())
    ordered = sorted(table["spans"].items(), key=lambda item: item[1][0])
    moved = {}
    for i, (mark, (off, n)) in enumerate(ordered):
        start = off + (1 if i else 0)
        end = off + n + (1 if i < len(ordered) - 1 and ordered[i + 1][1][0] == off + n else 0)
        moved[mark] = [start, end - start]
    table["spans"] = moved
    table_path.write_text(json.dumps(table))
    _assert_rewritten_without_reuse(sample_repo.path, records, gen, tmp_path)


def _assert_rewritten_without_reuse(root: Path, records: list[Record], gen: Path, tmp_path: Path) -> None:
    """Writing the records with the generation's (damaged) spans table reuses nothing and still
    writes the same bytes."""
    keys, ids = _keys(root)
    out = tmp_path / "out" / "records.jsonl"
    out.parent.mkdir()
    stats = write_records(out, records, keys, ids, gen)
    assert stats["records_reused"] == 0
    assert out.read_bytes() == (gen / "records.jsonl").read_bytes()


def test_the_written_table_reproduces_the_file(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Writing the same records again from a generation copies every keyed run, byte for byte."""
    build(sample_repo.path)
    gen = (sample_repo.path / ".ctxeng/current").resolve()
    records = load_records(gen / "records.jsonl")
    keys, ids = _keys(sample_repo.path)
    out = tmp_path / "again" / "records.jsonl"
    out.parent.mkdir()
    stats = write_records(out, records, keys, ids, gen)
    keyed = [r for r in records if (r.kind in ("file", "symbol", "doc") and r.path in keys) or r.id in ids]
    assert stats["records_reused"] == len(keyed) > 0
    assert stats["records_encoded"] == len(records) - len(keyed)
    assert out.read_bytes() == (gen / "records.jsonl").read_bytes()
    spans = json.loads((out.parent / SPANS_FILE).read_text())["spans"]
    assert spans == json.loads((gen / SPANS_FILE).read_text())["spans"]


def _keys(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The keys a build of `root` passes to `write_records`, as the build computes them."""
    from ctxeng.core.cache import ExtractCache
    from ctxeng.core.config import load_config
    from ctxeng.core.progress import no_progress
    from ctxeng.core.repo import open_repo
    from ctxeng.core.workdir import workdir
    from ctxeng.extract.files import extract_files
    from ctxeng.extract.selection import select_files
    from ctxeng.pipeline.build import _history, extract_settings
    from ctxeng.secrets import Redactor

    repo = open_repo(root)
    config = load_config(repo.root)
    redactor = Redactor(config.secrets)
    cache = ExtractCache(workdir(repo.root), extract_settings(config))
    selection = select_files(repo, config.files, config.secrets)
    history = _history(
        repo, config, no_progress, workdir(repo.root), redactor, cache.salt, selection.outcomes
    )
    extracted = extract_files(selection.files, config.docs, redactor, cache, no_progress)
    return extracted.keys, history[5]


def test_boundaries_read_through_small_windows_reproduce_the_file(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old file's boundary bytes are read one mapped window at a time: spans across windows
    are checked and copied as with one window."""
    import mmap

    from ctxeng.pipeline import records_write

    monkeypatch.setattr(records_write._OldBytes, "WINDOW", mmap.ALLOCATIONGRANULARITY)
    build(sample_repo.path)
    gen = (sample_repo.path / ".ctxeng/current").resolve()
    assert (gen / "records.jsonl").stat().st_size > 4 * mmap.ALLOCATIONGRANULARITY
    records = load_records(gen / "records.jsonl")
    keys, ids = _keys(sample_repo.path)
    out = tmp_path / "windows" / "records.jsonl"
    out.parent.mkdir()
    stats = write_records(out, records, keys, ids, gen)
    assert stats["records_reused"] > len(records) // 2
    assert out.read_bytes() == (gen / "records.jsonl").read_bytes()
