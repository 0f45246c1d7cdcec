"""The pack stage's memo of distilled definitions and commits: the same facts, from fewer records."""

from __future__ import annotations

import json
import random
from pathlib import Path

from ctxeng.core.records import load_records
from ctxeng.pack.facts import facts_from_records
from ctxeng.pack.facts_memo import MEMO_FILE, FactsMemo
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo
from tests.test_records_write import _keys


def test_facts_through_the_memo_equal_facts_distilled_afresh(sample_repo: GitRepo, tmp_path: Path) -> None:
    build(sample_repo.path)
    records = load_records(sample_repo.path / ".ctxeng/records.jsonl")
    keys, ids = _keys(sample_repo.path)
    plain = facts_from_records("kvstore", records, head="h")
    assert any(c.symbols for c in plain.commits)  # so the equalities below cover touched definitions too
    out = tmp_path / "out"
    first = FactsMemo(out, keys, ids)
    assert facts_from_records("kvstore", records, head="h", memo=first) == plain
    assert first.hits == 0
    first.save()
    assert (out / MEMO_FILE).is_file()
    second = FactsMemo(out, keys, ids)
    assert facts_from_records("kvstore", records, head="h", memo=second) == plain
    files_with_defs = {r.path for r in records if r.kind == "symbol"}
    assert second.hits == len(files_with_defs) > 0
    # Records in another order (any order is allowed) give the same facts from the memo, a file's
    # symbol records in several runs too (shuffled: the memo takes the first, skips the rest).
    assert facts_from_records("kvstore", records[::-1], head="h", memo=FactsMemo(out, keys, ids)) == plain
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    assert facts_from_records("kvstore", shuffled, head="h", memo=FactsMemo(out, keys, ids)) == plain
    assert (
        facts_from_records("kvstore", shuffled, head="h", memo=FactsMemo(tmp_path / "cold", keys, ids))
        == plain
    )


def test_a_changed_file_is_distilled_again_and_a_torn_memo_is_empty(
    sample_repo: GitRepo, tmp_path: Path
) -> None:
    build(sample_repo.path)
    out = tmp_path / "out"
    records = load_records(sample_repo.path / ".ctxeng/records.jsonl")
    keys, ids = _keys(sample_repo.path)
    memo = FactsMemo(out, keys, ids)
    facts_from_records("kvstore", records, memo=memo)
    memo.save()
    sample_repo.commit("Add a flush", {"kvstore/cli.py": (sample_repo.path / "kvstore/cli.py").read_text()
                                       + "\n\ndef flush_all():\n    return 0\n"})  # fmt: skip
    build(sample_repo.path)
    records = load_records(sample_repo.path / ".ctxeng/records.jsonl")
    keys, ids = _keys(sample_repo.path)
    plain = facts_from_records("kvstore", records)
    again = FactsMemo(out, keys, ids)
    assert facts_from_records("kvstore", records, memo=again) == plain
    assert "flush_all" in {d.name for d in plain.defs}
    assert 0 < again.hits < len({r.path for r in records if r.kind == "symbol"})  # cli.py was not a hit
    (out / MEMO_FILE).write_bytes(b'{"salt": "x", "entr')
    assert facts_from_records("kvstore", records, memo=FactsMemo(out, keys, ids)) == plain


def test_a_build_that_finds_none_of_its_keys_replaces_the_table(sample_repo: GitRepo, tmp_path: Path) -> None:
    """Keys all new (an upgrade changes the extraction and history salts): the dead entries are dropped
    at once instead of being loaded by every later build; with some hits they are kept (a branch switch)."""
    import json

    build(sample_repo.path)
    records = load_records(sample_repo.path / ".ctxeng/records.jsonl")
    keys, ids = _keys(sample_repo.path)
    out = tmp_path / "out"
    memo = FactsMemo(out, keys, ids)
    plain = facts_from_records("kvstore", records, memo=memo)
    memo.save()

    def stored() -> set[str]:
        main = set(json.loads((out / MEMO_FILE).read_text())["entries"])
        journal = out / (MEMO_FILE + ".new")
        return main | (set(json.loads(journal.read_text())["entries"]) if journal.is_file() else set())

    first = stored()
    # Some keys known: nothing is dropped (the others may serve a later build on another branch).
    half = dict(list(keys.items())[: len(keys) // 2]) | {
        p: "new-" + k for p, k in list(keys.items())[len(keys) // 2 :]
    }
    partial = FactsMemo(out, half, ids)
    assert facts_from_records("kvstore", records, memo=partial) == plain
    partial.save()
    assert first <= stored()
    # No key known: the table holds this build's entries only.
    fresh = FactsMemo(out, {p: "up-" + k for p, k in keys.items()}, {i: "up-" + k for i, k in ids.items()})
    assert facts_from_records("kvstore", records, memo=fresh) == plain
    assert fresh.hits == fresh.commit_hits == 0
    fresh.save()
    assert stored() == fresh.used


def test_damaged_entries_are_distilled_again_and_replaced(sample_repo: GitRepo, tmp_path: Path) -> None:
    """A commit row or a file's definition rows of the wrong shape (a table salted right, its values
    not): those records are distilled afresh, the facts are the same, and the entries are good again."""
    build(sample_repo.path)
    records = load_records(sample_repo.path / ".ctxeng/records.jsonl")
    keys, ids = _keys(sample_repo.path)
    plain = facts_from_records("kvstore", records, head="h")
    out = tmp_path / "out"
    memo = FactsMemo(out, keys, ids)
    facts_from_records("kvstore", records, head="h", memo=memo)
    memo.save()
    table = json.loads((out / MEMO_FILE).read_text())
    commits = sorted(k for k in table["entries"] if k.startswith("c:"))
    files = sorted(k for k in table["entries"] if k.startswith("d:"))
    assert commits and files
    table["entries"][commits[0]] = ["too", "short"]
    table["entries"][files[0]] = [files[0], [[1, 2, "not a row"]]]
    (out / MEMO_FILE).write_text(json.dumps(table))
    damaged = FactsMemo(out, keys, ids)
    assert facts_from_records("kvstore", records, head="h", memo=damaged) == plain
    assert damaged.commit_hits == len(commits) - 1
    damaged.save()
    again = FactsMemo(out, keys, ids)
    assert facts_from_records("kvstore", records, head="h", memo=again) == plain
    assert again.commit_hits == len(commits)
