"""The pack stage's memos and writers, each against the plain computation: a hit is what computing gives,
a changed input is a miss (never a stale result), a torn or foreign table is only a miss."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from ctxeng.core.digest_memo import MEMO_DIR
from ctxeng.core.fsio import dumps_floats, dumps_json, dumps_json_floatless
from ctxeng.core.record_runs import RecordRuns
from ctxeng.core.records import Record, dedupe_ids, load_records
from ctxeng.pack.decisions_memo import decisions_cached
from ctxeng.pack.facts import RepoFacts, facts_from_records
from ctxeng.pack.facts_memo import FactsMemo
from ctxeng.pack.index.docs_part import compute, doc_parts
from ctxeng.pack.index.terms_memo import Terms
from ctxeng.pack.sections import render_decisions
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo


def _poison(path: Path, value: object) -> None:
    data = json.loads(path.read_text())
    data["entries"] = {k: value for k in data["entries"]}
    path.write_text(json.dumps(data))


def _facts(repo: GitRepo) -> RepoFacts:
    build(repo.path)
    return facts_from_records("kvstore", load_records(repo.path / ".ctxeng/records.jsonl"))


def test_float_writers_spell_what_the_stdlib_spells() -> None:
    floats = [0.1, 1e-05, 1.5e-07, 5e-324, -0.0, 0.0, 1e16, 123456789012345.6, 0.30000000000000004, 2.5]
    assert dumps_floats(floats) == dumps_json(floats) == json.dumps(floats, separators=(",", ":"))
    assert dumps_floats([]) == "[]"
    for odd in (
        [math.nan, 1.0],
        [1.0, math.inf],
        [1, 2.0],
        [True],
    ):  # not all finite floats: the stdlib's text
        assert dumps_floats(odd) == dumps_json(odd)
    floatless = {
        "b": ["null", "[null", ":null", "0.00001", "e-5", None, True, 2**70],
        "a": "\ud800",
        "\u2028": {},
    }
    assert dumps_json_floatless(floatless) == dumps_json(
        floatless
    )  # ints beyond 64 bits, lone surrogates too


def test_decisions_are_kept_for_the_same_docs_and_glossary_only(sample_repo: GitRepo, tmp_path: Path) -> None:
    facts = _facts(sample_repo)
    out = tmp_path / "out"
    plain = render_decisions(facts, 4000)
    assert "Compaction" in plain
    assert decisions_cached(facts, 4000, out) == plain
    table = out / MEMO_DIR / "decisions.json"
    _poison(table, "marked")
    assert decisions_cached(facts, 4000, out) == "marked"  # the same inputs: the kept text
    assert decisions_cached(facts, 3000, out) == render_decisions(facts, 3000)  # another limit: a miss
    # A section's text edited in place (same headings, same count): rendered again.
    at = next(i for i, d in enumerate(facts.docs) if "drops dead ones" in d.text)
    facts.docs[at] = dataclasses.replace(facts.docs[at], text=facts.docs[at].text.replace("drops", "keeps"))
    _poison(table, "marked")
    edited = decisions_cached(facts, 3000, out)
    assert edited == render_decisions(facts, 3000) and "keeps dead ones" in edited
    # A glossary meaning edited: rendered again.
    assert facts.glossary
    facts.glossary[0] = dataclasses.replace(facts.glossary[0], meaning="A brand new meaning.")
    _poison(table, "marked")
    assert decisions_cached(facts, 3000, out) == render_decisions(facts, 3000)
    table.write_text("{torn")
    assert decisions_cached(facts, 3000, out) == render_decisions(facts, 3000)


def test_the_index_doc_part_is_kept_for_the_same_sections_only(sample_repo: GitRepo, tmp_path: Path) -> None:
    facts = _facts(sample_repo)
    docs = [d for d in facts.docs if d.text.strip()]
    out = tmp_path / "out"
    plain = compute(docs, Terms().text)
    assert plain["rows"] and plain["s"] and plain["b"]
    assert doc_parts(docs, Terms().text, out) == plain
    table = out / MEMO_DIR / "index-docs.json"
    marked = {"rows": ['["marked"]'] * len(docs), "s": {}, "b": {}}
    _poison(table, marked)
    assert doc_parts(docs, Terms().text, out) == marked  # the same sections: the kept part
    _poison(table, {"rows": ["[]"], "s": {}, "b": {}})  # the wrong shape for these sections: computed
    assert doc_parts(docs, Terms().text, out) == plain
    # A section's path changed, or its text: computed again.
    _poison(table, marked)
    moved = [dataclasses.replace(docs[0], path="docs/moved.md"), *docs[1:]]
    assert doc_parts(moved, Terms().text, out) == compute(moved, Terms().text)
    _poison(table, marked)
    edited = [dataclasses.replace(docs[0], text=docs[0].text + " compaction"), *docs[1:]]
    assert doc_parts(edited, Terms().text, out) == compute(edited, Terms().text)


def _symbol(path: str, line: int, name: str, qualname: str = "", parent: str = "", sig: str = "") -> Record:
    meta = {
        "qualname": qualname or name,
        "kind": "function",
        "signature": sig or f"def {name}():",
        "parent": parent,
    }
    return Record(f"sym-{path}-{line}-{name}", "symbol", path, line, line + 1, "", 0, name, "", meta)


def test_a_stored_run_is_replaced_when_its_file_changes_and_escaped_names_join_safely(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = [
        _symbol("a.py", 1, "alpha"), _symbol("a.py", 5, "read", sig="@overload\ndef read(x: int):"),
        _symbol("a.py", 7, "read"), _symbol("b.py", 3, "beta"), _symbol("c.py", 1, "gamma"),
    ]  # fmt: skip
    keys = {"a.py": "ka", "b.py": "kb", "c.py": "kc"}
    memo = FactsMemo(out, keys, {})
    assert facts_from_records("r", first, memo=memo) == facts_from_records("r", first)
    memo.save()
    # b.py renames its definition (a new key), c.py is deleted, a.py is unchanged (a hit, overloads folded).
    second = [r for r in first if r.path == "a.py"] + [_symbol("b.py", 3, "beta2")]
    memo = FactsMemo(out, {"a.py": "ka", "b.py": "kb2"}, {})
    got = facts_from_records("r", second, memo=memo)
    assert memo.hits == 1
    assert got == facts_from_records("r", second)
    assert [(d.path, d.name, d.variants) for d in got.defs] == [
        ("a.py", "alpha", 1),
        ("a.py", "read", 2),
        ("b.py", "beta2", 1),
    ]
    memo.save()
    # A file whose name holds a newline is shown as `x\\ny.py`, the very name of a stored file: the
    # stored run cannot be joined with it, and the facts are distilled from the records instead.
    memo = FactsMemo(out, {"a.py": "ka", "x\\ny.py": "kx"}, {})
    memo.save()
    literal = [_symbol("x\\ny.py", 2, "lit")]
    store = FactsMemo(out, {"x\\ny.py": "kx"}, {})
    facts_from_records("r", literal, memo=store)
    store.save()
    mixed = [_symbol("x\ny.py", 1, "escaped"), *literal, *second]
    memo = FactsMemo(out, {"a.py": "ka", "b.py": "kb2", "x\\ny.py": "kx", "x\ny.py": "ke"}, {})
    got = facts_from_records("r", mixed, memo=memo)
    assert got == facts_from_records("r", mixed)
    assert [d.name for d in got.defs if d.path == "x\\ny.py"] == ["escaped", "lit"]


class _Counted(list[Record]):
    """A list that notes which rows are read by index."""

    read: set[int]

    def __getitem__(self, at):  # type: ignore[no-untyped-def]
        self.read.add(at)
        return super().__getitem__(at)


def test_runs_found_before_a_fork_read_only_the_records_the_memo_lacks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    file_rec = Record("fil-a", "file", "a.py", 1, 9, "", 0, "a.py", "A module.", {"language": "python"})
    records = dedupe_ids(
        [_symbol("a.py", 1, "alpha"), _symbol("a.py", 5, "beta"), _symbol("b.py", 3, "gamma"), file_rec]
    )
    memo = FactsMemo(out, {"a.py": "ka", "b.py": "kb"}, {})
    facts_from_records("r", records, memo=memo)
    memo.save()
    counted = _Counted(records)
    counted.read = set()
    runs = RecordRuns(counted)
    assert [(kind, path, stop - start) for kind, path, start, stop in runs.runs] == [
        ("file", "a.py", 1),
        ("symbol", "a.py", 2),
        ("symbol", "b.py", 1),
    ]
    assert not counted.read  # finding the runs reads the list whole, not row by row
    # b.py changed (a new key): its record is read; a.py's definitions come from the memo, unread.
    memo = FactsMemo(out, {"a.py": "ka", "b.py": "kb2"}, {})
    got = facts_from_records("r", runs, memo=memo)
    assert memo.hits == 1 and got == facts_from_records("r", records)
    read = [records[i] for i in sorted(counted.read)]
    assert {r.path for r in read if r.kind == "symbol"} == {"b.py"}
    # Without the memo every run is read, and the facts are the same.
    assert facts_from_records("r", RecordRuns(list(records))) == facts_from_records("r", records)


def test_import_walks_are_kept_while_no_import_changes(sample_repo: GitRepo, tmp_path: Path) -> None:
    from ctxeng.pack.api import _inits, _reachable, import_orders, module_index, reexports

    sample_repo.commit(
        "Export the store",
        {"kvstore/__init__.py": "from kvstore.store import Store\n\n__all__ = ['Store']\n"},
    )
    facts = _facts(sample_repo)
    inits = _inits(facts)
    assert inits  # the package init re-exports names
    walked = {init: _reachable(init, facts, module_index(facts.files)) for init in inits}
    out = tmp_path / "out"
    assert import_orders(facts, out) == walked
    assert reexports(facts, import_orders(facts, out)) == reexports(facts)
    table = out / MEMO_DIR / "import-orders.json"
    _poison(table, {init: ["marked.py"] for init in inits})
    assert import_orders(facts, out) == {init: ["marked.py"] for init in inits}  # the same imports: kept
    # One file imports one more module: walked again.
    path = next(p for p in facts.files if p.endswith("cli.py"))
    facts.files[path] = dataclasses.replace(
        facts.files[path], imports=(*facts.files[path].imports, "kvstore.codec")
    )
    assert import_orders(facts, out) == {
        init: _reachable(init, facts, module_index(facts.files)) for init in inits
    }
    _poison(table, {"elsewhere/__init__.py": []})  # another set of inits: walked again
    assert import_orders(facts, out) == {
        init: _reachable(init, facts, module_index(facts.files)) for init in inits
    }


def test_rows_make_the_objects_the_constructors_make(sample_repo: GitRepo) -> None:
    from ctxeng.pack.facts import Commit, Definition
    from ctxeng.pack.facts_memo import _row, commit_from_row, definitions_from_rows

    facts = _facts(sample_repo)
    assert facts.defs and any(c.symbols for c in facts.commits)
    paths = sorted({d.path for d in facts.defs})
    entries = [[p, [_row(d) for d in facts.defs if d.path == p]] for p in paths]
    made = [d for entry in json.loads(json.dumps(entries)) for d in definitions_from_rows(entry)]  # as stored
    assert made == facts.defs and all(type(d) is Definition for d in made)
    assert [hash(d) for d in made] == [hash(d) for d in facts.defs] and repr(made) == repr(facts.defs)
    stored = [[c.sha, c.time, c.date, c.subject, c.body, list(c.files), c.added, c.deleted, c.bot,
               [list(p) for p in c.symbols]] for c in facts.commits]  # fmt: skip
    commits = [commit_from_row(row) for row in json.loads(json.dumps(stored))]
    assert commits == facts.commits and all(type(c) is Commit for c in commits)
    assert [hash(c) for c in commits] == [hash(c) for c in facts.commits]


def test_the_index_is_the_same_with_or_without_the_rankings_parent_rows(sample_repo: GitRepo) -> None:
    from ctxeng.pack.conventions import Conventions
    from ctxeng.pack.index.builder import build_index
    from ctxeng.pack.rank import rank

    facts = _facts(sample_repo)
    ranking = rank(facts)
    assert ranking.parents is not None and any(p >= 0 for p in ranking.parents)
    conv = Conventions(commands=[], entry_points=[], scripts=[], tools=[])
    reused = build_index(facts, ranking, conv)
    computed = build_index(facts, dataclasses.replace(ranking, parents=None), conv)
    assert reused == computed
    assert reused[0]["defs"]["parent"] == ranking.parents


def test_name_postings_split_each_name_once_and_post_every_row_in_order(sample_repo: GitRepo) -> None:
    from ctxeng.pack.index import builder
    from ctxeng.pack.terms import name_terms

    facts = _facts(sample_repo)
    names = sorted({d.name for d in facts.defs})
    name_col = [names.index(d.name) for d in facts.defs]
    assert len(set(name_col)) < len(name_col)  # some name is defined twice: its rows share one split
    split: list[str] = []
    postings = builder._name_postings(names, name_col, lambda name: split.append(name) or name_terms(name))
    assert sorted(split) == names  # each distinct name split once
    expected: dict[str, list[int]] = {}
    for row, k in enumerate(name_col):  # the plain definition: every term of every row's name, in row order
        for term in name_terms(names[k]):
            expected.setdefault(term, []).append(row)
    assert postings == expected
    assert postings and all(rows == sorted(rows) for rows in postings.values())


def test_the_model_is_written_as_dumps_json_writes_it(sample_repo: GitRepo, tmp_path: Path) -> None:
    from ctxeng.pack.conventions import Conventions
    from ctxeng.pack.model import dump, trim, write_model
    from ctxeng.pack.rank import rank

    facts = _facts(sample_repo)
    model = trim(facts, rank(facts), Conventions())
    model.ranking.def_score[0] = 1e-05  # a score orjson would spell otherwise
    text = dump(model, [1, 2])
    assert text == dumps_json(json.loads(text)) + "\n"  # the canonical (stdlib) spelling, part by part
    assert '"def_score":[1e-05,' in text
    write_model(tmp_path / "model.json", model, [1, 2])
    assert (tmp_path / "model.json").read_text(encoding="utf-8") == text
