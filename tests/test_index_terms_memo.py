"""The index's stored search terms: the same index as splitting every string, splitting only new ones."""

from __future__ import annotations

import json
from pathlib import Path

from ctxeng.core.records import load_records
from ctxeng.pack.conventions import Conventions
from ctxeng.pack.facts import facts_from_records
from ctxeng.pack.index.builder import build_index
from ctxeng.pack.index.terms_memo import MEMO_FILE, Terms
from ctxeng.pack.rank import rank
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo


def _index(root: Path, terms: Terms | None) -> tuple[object, list[str]]:
    facts = facts_from_records("kvstore", load_records(root / ".ctxeng/records.jsonl"), head="h")
    return build_index(facts, rank(facts), Conventions(), terms)


def test_stored_terms_give_the_same_index(sample_repo: GitRepo, tmp_path: Path) -> None:
    build(sample_repo.path)
    plain = _index(sample_repo.path, None)
    out = tmp_path / "out"
    first = Terms(out)
    assert _index(sample_repo.path, first) == plain
    assert first.new > 0
    first.save()
    assert (out / MEMO_FILE).is_file()
    second = Terms(out)
    assert _index(sample_repo.path, second) == plain
    assert second.new == 0  # every string was split by the first build
    # After a commit only the new strings are split; the index is what splitting everything gives.
    sample_repo.commit(
        "Teach the store to compact segments",
        {"kvstore/extra.py": 'def compact_segments():\n    """Merge old segments."""\n    return 0\n'},
    )
    build(sample_repo.path)
    third = Terms(out)
    assert _index(sample_repo.path, third) == _index(sample_repo.path, None)
    assert 0 < third.new < len(third.names) + len(third.texts)


def test_terms_stored_by_other_code_are_not_used(sample_repo: GitRepo, tmp_path: Path) -> None:
    """A table under another salt (other `ctxeng.pack.terms` code) reads as empty; a torn one too."""
    build(sample_repo.path)
    plain = _index(sample_repo.path, None)
    out = tmp_path / "out"
    memo = Terms(out)
    _index(sample_repo.path, memo)
    memo.save()
    data = json.loads((out / MEMO_FILE).read_text())
    poisoned = {k: {s: ["zzz"] for s in v} for k, v in data["entries"].items()}
    (out / MEMO_FILE).write_text(json.dumps({"salt": data["salt"], "entries": poisoned}))
    assert _index(sample_repo.path, Terms(out)) != plain  # same salt: the table is what is used
    (out / MEMO_FILE).write_text(json.dumps({"salt": "other", "entries": poisoned}))
    assert _index(sample_repo.path, Terms(out)) == plain
    (out / MEMO_FILE).write_text('{"salt": "' + data["salt"] + '", "entries": {"names": {"a"')
    assert _index(sample_repo.path, Terms(out)) == plain
