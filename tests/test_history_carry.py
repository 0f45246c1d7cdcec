"""The carried history result: commits on top cost alone, and every result equals a cold pass's, byte for byte.

Each step mines with the output folder of the steps before (so the carried result of the last pass is
there) and compares with a pass in a fresh folder (no cache, no carry). A poisoned carry (a marked record
written back with a valid digest) shows whether a pass used it.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ctxeng.core.config import FilesConfig, HistoryConfig, SecretsConfig
from ctxeng.core.fsio import dumps_json
from ctxeng.core.repo import open_repo
from ctxeng.extract.history import carry
from ctxeng.extract.history.stage import HistoryResult, mine_history
from ctxeng.secrets import Redactor
from tests.gitrepo import GitRepo
from tests.secret_cases import Fake

MARK = "Marked in the carried result"


def _mine(repo: GitRepo | Path, out: Path, options: dict[str, int] | None = None) -> HistoryResult:
    root = repo.path if isinstance(repo, GitRepo) else repo
    config = HistoryConfig(**(options or {}))  # type: ignore[arg-type]
    return mine_history(
        open_repo(root), config, files=FilesConfig(), head_skips={}, out_dir=out,
        redactor=Redactor(SecretsConfig()), salt="test-salt",
    )  # fmt: skip


def _text(result: HistoryResult) -> str:
    """Everything the history stage hands on, as text (records, provenance, stats, counts, keys)."""
    prov = result.provenance
    parts: list[Any] = [
        [r.to_json() for r in result.commits], [r.to_json() for r in result.cochange], prov.head, prov.head_time,
        prov.file_commits, sorted(prov.window), sorted([list(k), list(v)] for k, v in prov.symbol_commits.items()),
        result.stats, dict(result.redactions), result.keys,
    ]  # fmt: skip
    return dumps_json(parts)


def _check(
    repo: GitRepo | Path,
    out: Path,
    tmp_path: Path,
    options: dict[str, int] | None = None,
    carried: bool | None = None,
) -> HistoryResult:
    """Mine with `out` and in a fresh folder; assert both give the same; return the result. With `carried`,
    the carried result is poisoned first and the pass must (True) or must not (False) have used it; the
    poisoned name is put back before comparing."""
    if carried is not None:
        _poison(out)
    got = _mine(repo, out, options)
    cold_dir = tmp_path / f"cold-{len(list(tmp_path.glob('cold-*')))}"
    cold = _mine(repo, cold_dir, options)
    if carried is not None:
        assert _used(got) == carried
        if carried:
            got.commits[-1] = dataclasses.replace(got.commits[-1], name=cold.commits[-1].name)
    assert _text(got) == _text(cold)
    return got


def _folder(out: Path) -> Path:
    return out / "cache" / "history"


def _poison(out: Path) -> None:
    """Rename the oldest carried commit record, keeping the file valid: a result showing `MARK` used it."""
    path = _folder(out) / carry.CARRY_FILE
    key = path.read_bytes().split(b"\n", 1)[0].split(b" ")[1].decode()
    state = carry.load(_folder(out), key)
    assert state is not None
    state.records[-1] = (*state.records[-1][:7], MARK, *state.records[-1][8:])
    carry.save(_folder(out), state, whole=True)


def _used(result: HistoryResult) -> bool:
    return any(rec.name == MARK for rec in result.commits)


def _edit(repo: GitRepo, rel: str, tail: str) -> dict[str, str | bytes | None]:
    return {rel: repo.path.joinpath(rel).read_text() + tail}


def test_commits_on_top_are_carried_and_equal_a_cold_pass(sample_repo: GitRepo, tmp_path: Path) -> None:
    repo, out = sample_repo, tmp_path / "out"
    opts = {"patch_commits": 3, "cochange_max_files": 3}  # the window slides; three-file commits are too wide
    _check(repo, out, tmp_path, opts)
    assert (_folder(out) / carry.CARRY_FILE).exists()
    repo.commit("Add a flush helper", _edit(repo, "kvstore/store.py", "\n\ndef flush_all():\n    return 1\n"))
    _check(repo, out, tmp_path, opts, carried=True)
    # A new file and an edit together, then several commits at once (a pull's fast-forward).
    repo.commit("Add utilities", {"kvstore/util.py": "def helper():\n    return 2\n",
                                  **_edit(repo, "kvstore/store.py", "\n\ndef helper2():\n    return 3\n")})  # fmt: skip
    repo.commit("Tweak util", _edit(repo, "kvstore/util.py", "\n\ndef tweak():\n    return 4\n"))
    repo.commit(
        "Tweak both",
        {**_edit(repo, "kvstore/util.py", "\n# a\n"), **_edit(repo, "kvstore/store.py", "\n# b\n")},
    )
    _check(repo, out, tmp_path, opts, carried=True)
    # A wide commit (ignored for co-change) and a deletion (leaves HEAD: its partners' records change).
    repo.commit("Touch many", {f"extra/f{i}.py": f"x = {i}\n" for i in range(4)})
    repo.commit("Remove util", {"kvstore/util.py": None})
    _check(repo, out, tmp_path, opts, carried=True)
    # A secret in a message and in a patch: redacted alike, counted alike.
    dsn = f"postgres://admin:{Fake('carry').b62(16)}@db.example.com/app"
    # With a binary file: the patch omits it, and its reason is counted alike from the cache (it was lost).
    repo.commit(f"Connect to {dsn}", {**_edit(repo, "kvstore/store.py", f"\n\nDSN = '{dsn}'\n"),
                                      "kvstore/blob.bin": bytes(range(256))})  # fmt: skip
    _check(repo, out, tmp_path, opts, carried=True)
    assert dsn.encode() not in (_folder(out) / carry.CARRY_FILE).read_bytes()
    # The file back at HEAD after older commits touched it: only a full pass counts those.
    repo.commit("Bring util back", {"kvstore/util.py": "def helper():\n    return 5\n"})
    _check(repo, out, tmp_path, opts, carried=False)
    repo.commit("One more", _edit(repo, "kvstore/store.py", "\n# c\n"))
    _check(repo, out, tmp_path, opts, carried=True)


def test_every_window_size_and_a_same_head_pass(sample_repo: GitRepo, tmp_path: Path) -> None:
    repo = sample_repo
    for n, opts in enumerate(({"patch_commits": 0}, {"patch_commits": -1}, {"patch_commits": 1000})):
        out = tmp_path / f"out{n}"
        _check(repo, out, tmp_path, opts)
        _check(repo, out, tmp_path, opts, carried=True)  # the same HEAD again (a forced rebuild)
        repo.commit(f"Step {n}", _edit(repo, "kvstore/store.py", f"\n# step {n}\n"))
        _check(repo, out, tmp_path, opts, carried=True)


def test_a_commit_limit_reached_is_mined_again(sample_repo: GitRepo, tmp_path: Path) -> None:
    repo, out = sample_repo, tmp_path / "out"
    count = int(repo.git("rev-list", "--count", "HEAD"))
    opts = {"max_commits": count + 1, "patch_commits": 3}
    _check(repo, out, tmp_path, opts)
    repo.commit("Within the limit", _edit(repo, "kvstore/store.py", "\n# within\n"))
    _check(repo, out, tmp_path, opts, carried=True)
    repo.commit("Past the limit", _edit(repo, "kvstore/store.py", "\n# past\n"))  # the oldest drops out
    _check(repo, out, tmp_path, opts, carried=False)


def test_rewritten_history_is_mined_again(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Amend, reset, a branch switch, rebase, a merge on top: the carry is not used, the result is a cold one."""
    repo, out = sample_repo, tmp_path / "out"
    opts = {"patch_commits": 3}
    repo.commit("Add a helper", _edit(repo, "kvstore/store.py", "\n\ndef helper():\n    return 1\n"))
    _check(repo, out, tmp_path, opts)

    def rewritten() -> None:
        _check(repo, out, tmp_path, opts, carried=False)

    repo.write(
        "kvstore/store.py", repo.path.joinpath("kvstore/store.py").read_text().replace("return 1", "return 0")
    )
    repo.git("commit", "-q", "-a", "--amend", "-m", "Add a zero helper", env=repo.date_env())
    rewritten()
    base = repo.git("rev-parse", "HEAD~1").strip()
    repo.git("checkout", "-q", "-b", "feature", base)
    repo.commit("Document helpers", _edit(repo, "docs/architecture.md", "\n## Helpers\n"))
    rewritten()
    repo.git("checkout", "-q", "main")
    repo.commit("Log helpers", _edit(repo, "kvstore/store.py", "\n\ndef log_helpers():\n    pass\n"))
    rewritten()
    repo.git("checkout", "-q", "feature")
    rewritten()
    repo.git("rebase", "-q", "main", env=repo.date_env())
    rewritten()
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature", env=repo.date_env())
    rewritten()
    repo.git("reset", "-q", "--hard", "HEAD~2")
    rewritten()


def test_a_shallow_clone_is_never_carried(sample_repo: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "3", f"file://{sample_repo.path}", str(clone)], check=True
    )
    out = tmp_path / "out"
    _check(clone, out, tmp_path)
    assert not (_folder(out) / carry.CARRY_FILE).exists()
    shallow = GitRepo(clone)
    shallow.commit("On a shallow clone", _edit(shallow, "kvstore/store.py", "\n# shallow\n"))
    _check(clone, out, tmp_path)
    assert not (_folder(out) / carry.CARRY_FILE).exists()


def test_a_damaged_or_foreign_carry_is_a_miss(sample_repo: GitRepo, tmp_path: Path) -> None:
    repo, out = sample_repo, tmp_path / "out"
    _check(repo, out, tmp_path)
    path = _folder(out) / carry.CARRY_FILE
    good = path.read_bytes()
    key = good.split(b"\n", 1)[0].split(b" ")[1].decode()
    header, payload = good.split(b"\n", 1)
    state = carry.load(_folder(out), key)
    assert state is not None
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0x55
    wrong_shape = carry.Carry(**{**vars(state), "records": [("x",) * 9 + ({},)] * 3, "window": [("x",)]})
    damage: dict[str, Callable[[], object]] = {
        "truncated": lambda: path.write_bytes(good[: len(good) // 2]),
        "flipped": lambda: path.write_bytes(header + b"\n" + bytes(flipped)),
        "empty": lambda: path.write_bytes(b""),
        "shape": lambda: carry.save(_folder(out), wrong_shape, whole=True),
    }
    for name, spoil in damage.items():
        spoil()
        if name != "shape":
            assert carry.load(_folder(out), key) is None, name
        repo.commit(f"After {name}", _edit(repo, "kvstore/store.py", f"\n# {name}\n"))
        _check(repo, out, tmp_path)
        assert carry.load(_folder(out), key) is not None  # written again by the full pass
    # Other settings: another key; the carried result is not read.
    repo.commit("Other settings", _edit(repo, "kvstore/store.py", "\n# settings\n"))
    _check(repo, out, tmp_path, {"cochange_min_count": 1}, carried=False)


def test_many_refreshes_keep_few_segments_and_a_damaged_segment_is_a_miss(
    sample_repo: GitRepo, tmp_path: Path
) -> None:
    """Each refresh writes the new commits' records to a segment; past `MAX_SLICES` slices all are written to
    one again, and segments no longer used are removed. A damaged or missing segment reads as no carry."""
    repo, out = sample_repo, tmp_path / "out"
    opts = {"patch_commits": 2}
    _check(repo, out, tmp_path, opts)
    for i in range(carry.MAX_SLICES // 2 + 2):
        repo.commit(f"Step {i}", _edit(repo, "kvstore/store.py", f"\n# step {i}\n"))
        _mine(repo, out, opts)
        assert len(list(_folder(out).glob("carry-*.marshal"))) <= carry.MAX_SLICES + 2
    repo.commit("Last step", _edit(repo, "kvstore/store.py", "\n# last\n"))
    _check(repo, out, tmp_path, opts, carried=True)
    for spoil in ("flip", "remove"):
        segment = max(_folder(out).glob("carry-*.marshal"), key=lambda p: p.stat().st_size)
        if spoil == "flip":
            data = bytearray(segment.read_bytes())
            data[-10] ^= 0x55
            segment.write_bytes(bytes(data))
        else:
            segment.unlink()
        key = (_folder(out) / carry.CARRY_FILE).read_bytes().split(b"\n", 1)[0].split(b" ")[1].decode()
        assert carry.load(_folder(out), key) is None
        repo.commit(f"After {spoil}", _edit(repo, "kvstore/store.py", f"\n# {spoil}\n"))
        _check(repo, out, tmp_path, opts)
        _check(repo, out, tmp_path, opts, carried=True)  # written whole again by the full pass


def test_long_file_and_definition_lists_are_written_in_frames(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are written a few at a time, and a commit's long lists (a whole tree added: 100,000 files) a
    frame at a time, and read back whole; here three records a frame, every list over two items."""
    monkeypatch.setattr(carry, "BIG_LIST", 2)
    monkeypatch.setattr(carry, "ROWS_PER_FRAME", 3)
    repo, out = sample_repo, tmp_path / "out"
    _check(repo, out, tmp_path, {"patch_commits": 5})
    repo.commit("Several files", {f"kvstore/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(5)})
    _check(repo, out, tmp_path, {"patch_commits": 5}, carried=True)
