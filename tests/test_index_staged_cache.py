"""The index patched with the side file is remembered: later readers get the same index without patching."""

from __future__ import annotations

from typing import Any

import pytest

from ctxeng.pack import context_for_prompt
from ctxeng.pack.index import staged as staged_module
from ctxeng.pack.index.reader import load_index, read_details
from ctxeng.pack.index.staged_cache import CACHE_FILE
from ctxeng.pipeline.build import build
from ctxeng.pipeline.refresh import refresh
from tests.gitrepo import GitRepo

PROBE = (
    '\n\ndef compact_segments_probe(store):\n    """Merge the old segments into one."""\n    return store\n'
)


def _stage_edit(repo: GitRepo, rel: str, tail: str) -> None:
    repo.write(rel, repo.path.joinpath(rel).read_text() + tail)
    repo.git("add", rel)


def _plain(index: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in index.items() if not k.startswith("_")}


def _rows(index: dict[str, Any]) -> dict[int, list[Any]]:
    return read_details(index, list(range(len(index["details"]["offsets"]) - 1)))


def test_the_second_reader_gets_the_patched_index_without_patching(
    sample_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(sample_repo.path)
    _stage_edit(sample_repo, "kvstore/cli.py", PROBE)
    refresh(sample_repo.path, hook=True)
    patches: list[int] = []
    real = staged_module.apply_staged

    def counting(*args: Any) -> dict[str, Any]:
        patches.append(1)
        return real(*args)

    monkeypatch.setattr(staged_module, "apply_staged", counting)
    first = load_index(sample_repo.path)
    assert patches == [1] and (sample_repo.path / ".ctxeng" / CACHE_FILE).is_file()
    second = load_index(sample_repo.path)
    assert patches == [1]  # remembered: not patched again
    assert _plain(second) == _plain(first) and _rows(second) == _rows(first)
    assert any(first["names"][n] == "compact_segments_probe" for n in first["defs"]["name"])
    text = context_for_prompt(sample_repo.path, "How are old segments compacted into one?", budget=1500)
    assert "compact_segments_probe" in text and patches == [1]

    # Another staged edit makes a new side file: the remembered index is not used for it.
    _stage_edit(sample_repo, "kvstore/store.py", "\n\ndef store_probe_second():\n    return 3\n")
    assert refresh(sample_repo.path, hook=True).mode == "fast"
    third = load_index(sample_repo.path)
    assert patches == [1, 1] and any(third["names"][n] == "store_probe_second" for n in third["defs"]["name"])
    assert _plain(load_index(sample_repo.path)) == _plain(third) and patches == [1, 1]

    # A torn cache file is a miss, and the patch gives the same index again.
    cache = sample_repo.path / ".ctxeng" / CACHE_FILE
    cache.write_bytes(cache.read_bytes()[:1000])
    again = load_index(sample_repo.path)
    assert patches == [1, 1, 1] and _plain(again) == _plain(third) and _rows(again) == _rows(third)


def test_after_a_full_refresh_the_cache_is_not_read(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    _stage_edit(sample_repo, "kvstore/cli.py", PROBE)
    refresh(sample_repo.path, hook=True)
    load_index(sample_repo.path)
    sample_repo.git("commit", "-q", "-m", "probe")
    refresh(sample_repo.path)
    index = load_index(sample_repo.path)
    assert "_details_bytes" not in index  # read from the new generation's files, no side file
    assert any(index["names"][n] == "compact_segments_probe" for n in index["defs"]["name"])
