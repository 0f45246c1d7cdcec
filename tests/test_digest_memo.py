"""Results kept by a digest of their input (doc mentions, the docs' words): reused only for the same input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ctxeng.core.digest_memo import MEMO_DIR, digest
from ctxeng.core.records import load_records
from ctxeng.extract.glossary import build_glossary
from ctxeng.pack.facts import facts_from_records
from ctxeng.pack.rank import cached_doc_mentions, doc_mentions
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo


def _poison(path: Path, value: object) -> None:
    data = json.loads(path.read_text())
    data["entries"] = {k: value for k in data["entries"]}
    path.write_text(json.dumps(data))


def test_digests_tell_sequences_apart() -> None:
    assert digest(["ab", "c"]) != digest(["a", "bc"]) != digest(["abc"])
    assert digest(["a", "b"]) == digest(iter(["a", "b"]))


def test_doc_mentions_are_kept_for_the_same_docs_only(sample_repo: GitRepo, tmp_path: Path) -> None:
    build(sample_repo.path)
    facts = facts_from_records("kvstore", load_records(sample_repo.path / ".ctxeng/records.jsonl"))
    plain = doc_mentions(facts)
    assert plain  # the sample's docs mention code
    out = tmp_path / "out"
    assert cached_doc_mentions(facts, out) == plain
    table = out / MEMO_DIR / "doc-mentions.json"
    _poison(table, {"Marked": 1.0})
    assert cached_doc_mentions(facts, out) == {"Marked": 1.0}  # the same docs: the kept result
    first = facts.docs[0]
    facts.docs[0] = dataclasses.replace(first, text=first.text + "\nSee `Store.compact`.\n")
    changed = cached_doc_mentions(facts, out)
    assert changed == doc_mentions(facts) and "compact" in changed  # other docs: computed again
    facts.docs[0] = dataclasses.replace(first, doc_kind="changelog")
    assert cached_doc_mentions(facts, out) == doc_mentions(facts)


def test_the_glossary_through_the_memo_is_the_same(sample_repo: GitRepo, tmp_path: Path) -> None:
    build(sample_repo.path)
    records = [r for r in load_records(sample_repo.path / ".ctxeng/records.jsonl") if r.kind != "glossary"]
    plain = build_glossary(records)
    assert any(r.meta["kind"] == "code" for r in plain)  # code terms: the step that reads the docs' words
    out = tmp_path / "out"
    assert build_glossary(records, out) == plain
    assert build_glossary(records, out) == plain  # from the memo
    table = out / MEMO_DIR / "doc-words.json"
    _poison(table, [])
    assert build_glossary(records, out) != plain  # the same docs: the kept (here emptied) words are used
    docs = [i for i, r in enumerate(records) if r.kind == "doc"]
    edited = list(records)
    edited[docs[0]] = dataclasses.replace(records[docs[0]], text=records[docs[0]].text + "\nMore words.\n")
    assert build_glossary(edited, out) == build_glossary(edited)  # other docs: the words are read again
