"""The pre-commit refresh's side file: readers patch the index with it; the next build folds it in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ctxeng.pack import context_for_prompt, patch_index
from ctxeng.pack.index.reader import STAGED_FILE, load_index, read_details
from ctxeng.pack.index.staged import read_staged
from ctxeng.pipeline.build import build
from ctxeng.pipeline.refresh import refresh
from tests.gitrepo import GitRepo

PROBE = (
    '\n\ndef compact_segments_probe(store):\n    """Merge the old segments into one."""\n    return store\n'
)


def _stage_edit(repo: GitRepo, rel: str = "kvstore/cli.py", tail: str = PROBE) -> None:
    repo.write(rel, repo.path.joinpath(rel).read_text() + tail)
    repo.git("add", rel)


def _plain(index: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in index.items() if not k.startswith("_")}


def test_hook_writes_the_side_file_and_leaves_the_index(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    gen = (sample_repo.path / ".ctxeng/current").resolve()
    built_index = (gen / "index.json").read_bytes()
    _stage_edit(sample_repo)
    result = refresh(sample_repo.path, hook=True)
    assert result.mode == "fast" and result.note == "prompt index patched"
    now = (sample_repo.path / ".ctxeng/current").resolve()
    assert now != gen
    assert (now / "index.json").read_bytes() == built_index
    assert os.stat(now / "index.json").st_ino == os.stat(gen / "index.json").st_ino  # carried, not rewritten
    staged = read_staged(now)
    assert list(staged) == ["kvstore/cli.py"]
    assert any(r.name == "compact_segments_probe" for r in staged["kvstore/cli.py"])


def test_readers_see_what_patch_index_would_have_written(sample_repo: GitRepo, tmp_path: Path) -> None:
    """The index a reader loads equals the one `patch_index` writes for the same records, details included."""
    build(sample_repo.path)
    _stage_edit(sample_repo)
    refresh(sample_repo.path, hook=True)
    loaded = load_index(sample_repo.path)
    now = (sample_repo.path / ".ctxeng/current").resolve()
    replaced = read_staged(now)
    # The same patch written to disk the old way, from a copy of the generation before the hook.
    twin = tmp_path / "twin" / sample_repo.path.name  # same name: it is in the index
    subprocess.run(["git", "clone", "-q", str(sample_repo.path), str(twin)], check=True)
    build(twin)
    assert patch_index(twin, replaced)
    written = load_index(twin)
    assert _plain(loaded) == _plain(written)
    rows = list(range(len(loaded["details"]["offsets"]) - 1))
    assert read_details(loaded, rows) == read_details(written, rows)
    text = context_for_prompt(sample_repo.path, "How are old segments compacted into one?", budget=1500)
    assert "compact_segments_probe" in text


def test_later_edits_replace_earlier_lines_and_the_build_folds_them(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    _stage_edit(sample_repo)
    refresh(sample_repo.path, hook=True)
    _stage_edit(sample_repo, "kvstore/cli.py", "\n\ndef second_probe():\n    return 2\n")
    _stage_edit(sample_repo, "kvstore/store.py", "\n\ndef store_probe():\n    return 3\n")
    assert refresh(sample_repo.path, hook=True).mode == "fast"
    staged = read_staged((sample_repo.path / ".ctxeng/current").resolve())
    assert sorted(staged) == ["kvstore/cli.py", "kvstore/store.py"]
    names = {r.name for r in staged["kvstore/cli.py"]}
    assert {"compact_segments_probe", "second_probe"} <= names  # the newest staged content of the file
    sample_repo.git("commit", "-q", "--no-verify", "-m", "Add probes", env=sample_repo.date_env())
    assert refresh(sample_repo.path).mode == "full"
    gen = (sample_repo.path / ".ctxeng/current").resolve()
    assert not (gen / STAGED_FILE).exists()
    index = load_index(sample_repo.path)
    assert "store_probe" in index["names"] and "second_probe" in index["names"]


def test_a_torn_or_corrupt_side_file_is_survived(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    built = _plain(load_index(sample_repo.path))
    _stage_edit(sample_repo)
    _stage_edit(sample_repo, "kvstore/store.py", "\n\ndef store_probe():\n    return 3\n")
    refresh(sample_repo.path, hook=True)
    side = (sample_repo.path / ".ctxeng/current").resolve() / STAGED_FILE
    lines = side.read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[-1] == b""  # cli.py, store.py
    side.write_bytes(lines[0] + b"\n" + lines[1][: len(lines[1]) // 2])  # torn in the second line
    index = load_index(sample_repo.path)
    assert "compact_segments_probe" in index["names"] and "store_probe" not in index["names"]
    for junk in (b"\xff\xfe{not json\n", b'{"path": "kvstore/cli.py", "records": [{"id": 1}]}\n', b"[]\n"):
        side.write_bytes(junk)
        assert _plain(load_index(sample_repo.path)) == built
    # Records filed under another path are refused, not spliced into the wrong file's rows.
    row = json.loads(lines[0])
    row["path"] = "kvstore/store.py"
    side.write_text(json.dumps(row) + "\n")
    assert _plain(load_index(sample_repo.path)) == built
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        [sys.executable, "-m", "ctxeng", "context", "How are records encoded?"],
        cwd=sample_repo.path, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip()


def test_pack_drops_a_damaged_side_file_and_keeps_a_whole_one(sample_repo: GitRepo) -> None:
    from ctxeng.pack import write_pack

    build(sample_repo.path)
    _stage_edit(sample_repo)
    refresh(sample_repo.path, hook=True)
    write_pack(sample_repo.path)  # a whole side file is carried: the staged change stays visible
    assert "compact_segments_probe" in load_index(sample_repo.path)["names"]
    side = (sample_repo.path / ".ctxeng/current").resolve() / STAGED_FILE
    side.write_bytes(side.read_bytes()[:-10])  # torn: `pack` is not refused, and the file is dropped
    write_pack(sample_repo.path)
    assert not ((sample_repo.path / ".ctxeng/current").resolve() / STAGED_FILE).exists()
    assert "compact_segments_probe" not in load_index(sample_repo.path)["names"]
