"""The pack stage's memos on real refreshes: after each kind of commit every pack output (index,
details, model, pack.json, skill files, CLAUDE.md block) is byte-identical to a cold build's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ctxeng.pipeline.build import build
from ctxeng.pipeline.refresh import refresh
from tests.gitrepo import GitRepo

PACK_FILES = ("index.json", "index-details.jsonl", "pack-model.json", "pack.json", "claude-md-block.md")
# The memos a refresh reads: each step below must have found them written by the step before.
MEMOS = ("cache/pack/facts.json", "cache/memo/decisions.json", "cache/memo/index-docs.json")

OVERLOADS = '''"""Typed accessors."""

from typing import overload


class Reader:
    """Reads values."""

    @overload
    def read(self, key: int) -> int: ...
    @overload
    def read(self, key: str) -> str: ...
    def read(self, key):
        """Read one value."""
        return key

    @property
    def size(self) -> int:
        """How many values."""
        return 0

    @size.setter
    def size(self, value: int) -> None:
        pass
'''


def _pack_outputs(root: Path) -> dict[str, bytes]:
    gen = root / ".ctxeng" / "current"
    out = {rel: (gen / rel).read_bytes() for rel in PACK_FILES}
    model = json.loads(out["pack-model.json"])
    del model["stamp"]  # the size and mtime of records.jsonl: the only field a clone cannot share
    out["pack-model.json"] = json.dumps(model, sort_keys=True).encode()
    info = json.loads(out["pack.json"])
    for key in ("skill_changed", "claude_md"):  # what the work tree needed: all of it after a cold build
        del info[key]
    out["pack.json"] = json.dumps(info, sort_keys=True).encode()
    for path in sorted((gen / "skill").rglob("*")):
        if path.is_file():
            out[path.relative_to(gen).as_posix()] = path.read_bytes()
    return out


def _refresh_equals_cold(repo: GitRepo, tmp_path: Path, tag: str) -> dict[str, bytes]:
    for memo in MEMOS:
        assert (repo.path / ".ctxeng" / memo).is_file(), f"{tag}: {memo} was not written"
    assert refresh(repo.path).mode == "full"
    incremental = _pack_outputs(repo.path)
    clone = tmp_path / f"cold-{tag}" / repo.path.name  # same name: it appears in the pack
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    build(clone)
    cold = _pack_outputs(clone)
    assert sorted(incremental) == sorted(cold), tag
    for name in cold:
        assert incremental[name] == cold[name], f"{tag}: {name}"
    return incremental


def _text(repo: GitRepo, rel: str) -> str:
    return (repo.path / rel).read_text()


def test_every_pack_output_after_each_kind_of_commit_equals_a_cold_build(
    sample_repo: GitRepo, tmp_path: Path
) -> None:
    repo = sample_repo
    repo.commit("Ignore the pack", {".gitignore": ".claude/\nCLAUDE.md\n"})  # `commit` stages everything
    repo.commit("Add typed accessors", {"kvstore/typed.py": OVERLOADS})
    build(repo.path)
    # A definition renamed (its callers, unchanged, now name nothing).
    codec = _text(repo, "kvstore/codec.py")
    assert "def is_tombstone(" in codec
    repo.commit(
        "Rename the tombstone check", {"kvstore/codec.py": codec.replace("is_tombstone", "is_deleted")}
    )
    renamed = _refresh_equals_cold(repo, tmp_path, "rename")
    names = json.loads(renamed["index.json"])["names"]
    assert "is_deleted" in names and "is_tombstone" not in names
    # A second definer of a name that unchanged files reference: their edges change, their records do not.
    repo.commit("Add a codec shim", {"kvstore/shim.py": "def encode_record(key, value):\n    return b''\n"})
    _refresh_equals_cold(repo, tmp_path, "callee")
    # A file deleted: its definitions leave every output.
    repo.commit("Drop the command line", {"kvstore/cli.py": None})
    deleted = _refresh_equals_cold(repo, tmp_path, "delete")
    assert "kvstore/cli.py" not in json.loads(deleted["index.json"])["files"]["path"]
    # A doc section's text changed (same sections, same headings): the design notes and the index's
    # doc part are made again.
    arch = _text(repo, "docs/architecture.md")
    assert "drops dead ones" in arch
    repo.commit(
        "Explain compaction", {"docs/architecture.md": arch.replace("drops dead ones", "Merges old segments")}
    )
    documented = _refresh_equals_cold(repo, tmp_path, "docs")
    assert b"Merges old segments" in documented["skill/references/decisions.md"]
    assert b"Merges old segments" in documented["index-details.jsonl"]
    # Only a commit added (the overloads' file, unchanged since it was first distilled, comes from the memo).
    repo.commit("Nothing but a message")
    again = _refresh_equals_cold(repo, tmp_path, "empty")
    assert json.loads(again["index.json"])["commits"]["subject"][0] == "Nothing but a message"
