"""The domain glossary: explicit glossaries, prose definitions, documented domain types, and their ranking."""

from __future__ import annotations

import random

from ctxeng.core.config import DocsConfig, FilesConfig, SecretsConfig
from ctxeng.core.records import Record, record_id
from ctxeng.core.repo import open_repo
from ctxeng.extract.code import extract_code
from ctxeng.extract.definitions import plain
from ctxeng.extract.docs import extract_doc_file, extract_docs
from ctxeng.extract.glossary import MAX_CODE_TERMS, build_glossary, is_generic
from ctxeng.extract.selection import select_files
from tests.gitrepo import GitRepo
from tests.test_extract_docs import mine, provenance_of

SHA = "c" * 40


def docs(path: str, text: str, commit: str = SHA, time: int = 100) -> list[Record]:
    return extract_doc_file(path, text, commit, time, DocsConfig())


def symbol(
    name: str, path: str, doc: str = "", kind: str = "class", visibility: str = "public", line: int = 1
) -> Record:
    """A symbol record as the code extractor emits it (see ctxeng/core/records.py)."""
    meta = {"language": "python", "kind": kind, "qualname": name, "signature": f"class {name}:", "doc": doc,
            "parent": "", "calls": [], "visibility": visibility}  # fmt: skip
    return Record(record_id("symbol", path, name, "0"), "symbol", path, line, line + 9, "d" * 40, 50, name,
                  f"class {name}:", meta)  # fmt: skip


def file_record(path: str, refs: dict[str, int]) -> Record:
    meta = {"language": "python", "blob": "0" * 40, "bytes": 1, "lines": 1, "definitions": [], "imports": [],
            "refs": refs, "exports": []}  # fmt: skip
    return Record(record_id("file", path), "file", path, 1, 1, "d" * 40, 50, path, "", meta)


def by_term(records: list[Record]) -> dict[str, Record]:
    return {r.name: r for r in records}


def test_sample_repo_terms_come_from_its_glossary(sample_repo: GitRepo) -> None:
    terms = by_term(build_glossary(mine(sample_repo)))
    commit = sample_repo.git("log", "-1", "--format=%H", "--", "docs/glossary.md").strip()
    expected = {
        "Segment": ("an append-only data file holding encoded records.", 3, ["docs/architecture.md"]),
        "Keydir": (
            "the in-memory index from key to the location of its newest record.",
            4,
            ["docs/architecture.md"],
        ),
        "Tombstone": ("a record that marks a key as deleted.", 5, []),
    }
    for term, (meaning, line, also) in expected.items():
        rec = terms[term]
        assert (rec.text, rec.path, rec.start_line, rec.end_line, rec.commit) == (
            meaning, "docs/glossary.md", line, line, commit,
        )  # fmt: skip
        assert rec.meta == {"source": f"docs/glossary.md:{line}", "kind": "glossary", "also": also}
        assert rec.id == record_id("glossary", term.lower()) and rec.kind == "glossary"


def test_sample_repo_with_real_code_records_adds_domain_types_and_code_paths(sample_repo: GitRepo) -> None:
    selection = select_files(open_repo(sample_repo.path), FilesConfig(), SecretsConfig())
    provenance = provenance_of(sample_repo)
    code = extract_code(selection.files, provenance, lambda stage, done, total: None)
    terms = by_term(build_glossary([*code, *extract_docs(selection.files, provenance, DocsConfig())]))
    assert sorted(terms) == ["Keydir", "Segment", "Store", "Tombstone"]
    assert terms["Tombstone"].meta["also"] == ["kvstore/codec.py"]  # TOMBSTONE defines it in code
    store = terms["Store"]
    store_symbol = next(r for r in code if r.kind == "symbol" and r.name == "Store")
    assert (store.text, store.path, store.start_line, store.end_line, store.commit, store.meta) == (
        "An append-only key-value store in one directory.", "kvstore/store.py", store_symbol.start_line,
        store_symbol.end_line, store_symbol.commit, {"source": f"kvstore/store.py:{store_symbol.start_line}",
                                                     "kind": "code", "also": []},
    )  # fmt: skip
    # Client (JS) has no doc comment and Result (Go) is a generic word: neither is a term


def test_explicit_glossary_item_styles() -> None:
    text = (
        "# Terminology\n\n"
        "<!-- editors: keep this sorted -->\n"
        "- **Segment**: an append-only file.\n"
        "* **Keydir** — the in-memory index.\n"
        "  It is rebuilt on open.\n"
        "- `Hint file`: a compact index of a segment.\n"
        "- *Merge* - the act of compaction.\n"
        "- Epoch: a generation counter.\n"
        "**Compaction:** rewriting live records into a new segment.\n\n"
        "Tombstone\n: a deletion marker.\n\n"
        "| Term | Meaning |\n|------|---------|\n| Block | a 4 KB unit of a segment. |\n| **Frame** | a group of blocks. |\n\n"
        "```\n- **NotATerm**: inside a code block\n```\n"
    )
    terms = by_term(build_glossary(docs("docs/terms.md", text)))
    got = {name: (rec.text, rec.start_line, rec.end_line, rec.meta["kind"]) for name, rec in terms.items()}
    assert got == {
        "Segment": ("an append-only file.", 4, 4, "glossary"),
        "Keydir": ("the in-memory index. It is rebuilt on open.", 5, 6, "glossary"),
        "Hint file": ("a compact index of a segment.", 7, 7, "glossary"),
        "Merge": ("the act of compaction.", 8, 8, "glossary"),
        "Epoch": ("a generation counter.", 9, 9, "glossary"),
        "Compaction": ("rewriting live records into a new segment.", 10, 10, "glossary"),
        "Tombstone": ("a deletion marker.", 12, 13, "glossary"),
        "Block": ("a 4 KB unit of a segment.", 17, 17, "glossary"),
        "Frame": ("a group of blocks.", 18, 18, "glossary"),
    }


def test_glossary_with_one_subsection_per_term() -> None:
    text = (
        "# Concepts\n\n## Segment\n\nAn append-only file. It holds records. It rolls over when full.\n\n"
        "## How to read this page\n\nSkim it.\n\n## Keydir\n\nThe index of newest records.\n"
    )
    terms = by_term(build_glossary(docs("docs/concepts.md", text)))
    assert sorted(terms) == ["Keydir", "Segment"]
    assert terms["Segment"].text == "An append-only file. It holds records."
    assert (terms["Segment"].start_line, terms["Keydir"].start_line) == (3, 11)


def test_rst_glossary_directive_and_definition_lists() -> None:
    rst = (
        "Reference\n=========\n\nSome text.\n\n"
        ".. glossary::\n   :sorted:\n\n"
        "   segment\n   log file\n      An append-only data file. Segments roll over\n      when they grow too large.\n\n"
        "   keydir\n      The in-memory index.\n\n"
        "Definitions\n-----------\n\n"
        "tombstone : noun\n   A record marking a deleted key.\n"
        "hint\n   A compact copy of a segment's index.\n"
    )
    terms = by_term(build_glossary(docs("docs/reference.rst", rst)))
    got = {name: (rec.text, rec.start_line, rec.end_line) for name, rec in terms.items()}
    assert got == {
        "segment": ("An append-only data file. Segments roll over when they grow too large.", 9, 12),
        "log file": ("An append-only data file. Segments roll over when they grow too large.", 10, 12),
        "keydir": ("The in-memory index.", 14, 15),
        "tombstone": ("A record marking a deleted key.", 20, 21),
        "hint": ("A compact copy of a segment's index.", 22, 23),
    }


def test_prose_definitions_in_design_docs() -> None:
    architecture = (
        "# Architecture\n\n"
        "Data lives on disk. A *segment* is an append-only file of records; it is never\n"
        "modified in place.\n\n"
        "- **Keydir** is the in-memory map from key to offset. It is rebuilt on open, e.g. after a crash.\n"
        "- a *tombstone* is a deletion marker.\n"
        "- a *hint* marks a segment (not a defining verb).\n\n"
        "*Compaction* is mentioned here only as emphasis without an article; the *index* is mid-sentence.\n"
    )
    changelog = "# Changelog\n\n## 1.0\n\n**Fast path** is now the default.\n"
    records = [*docs("docs/architecture.md", architecture), *docs("CHANGELOG.md", changelog)]
    terms = by_term(build_glossary(records))
    assert sorted(terms) == ["Keydir", "segment", "tombstone"]
    assert terms["tombstone"].text == "a tombstone is a deletion marker."
    assert (
        terms["segment"].text == "A segment is an append-only file of records; it is never modified in place."
    )
    assert terms["segment"].start_line == 3 and terms["segment"].meta["kind"] == "doc"
    assert terms["Keydir"].text == (
        "Keydir is the in-memory map from key to offset. It is rebuilt on open, e.g. after a crash."
    )
    assert terms["Keydir"].start_line == 6


def test_explicit_glossary_wins_over_docs_and_code_case_insensitively() -> None:
    records = [
        *docs(
            "docs/architecture.md", "# Architecture\n\n## Segments\n\nA **segment** is a file of records.\n"
        ),
        *docs("docs/glossary.md", "# Glossary\n\n- **Segment**: an append-only data file.\n"),
        *docs("README.md", "# kv\n\nThe **SEGMENT** means the data file.\n"),
        symbol("Segment", "kv/segment.py", "One data file on disk."),
        symbol("segment", "kv/other.py", "Another.", kind="type"),
        file_record("kv/a.py", {"Segment": 2}),
        file_record("kv/b.py", {"Segment": 1}),
    ]
    shuffled = list(records)
    random.Random(3).shuffle(shuffled)
    glossary = build_glossary(records)
    assert glossary == build_glossary(shuffled)
    [segment] = glossary
    assert (segment.name, segment.text, segment.path, segment.meta["kind"]) == (
        "Segment", "an append-only data file.", "docs/glossary.md", "glossary",
    )  # fmt: skip
    assert segment.meta["also"] == ["README.md", "docs/architecture.md", "kv/other.py", "kv/segment.py"]


def test_code_terms_need_a_public_documented_domain_noun() -> None:
    readme = docs("README.md", "# kv\n\nUse a Journal to replay writes; the Ledger keeps totals.\n")
    code = [
        symbol("Journal", "kv/journal.py", "Write-ahead journal of puts.\n\nMore detail here."),
        symbol("Ledger", "kv/ledger.py", "", kind="struct"),  # undocumented
        symbol("Cursor", "kv/cursor.py", "Iterates keys in order. Second sentence."),  # referenced by 2 files
        symbol("Snapshot", "kv/snap.py", "A frozen view."),  # referenced by its own file and 1 other
        symbol("Batch", "kv/batch.py", "A group of writes.", visibility="private"),
        symbol("replay", "kv/journal.py", "Replay the journal.", kind="function"),
        symbol("JournalError", "kv/journal.py", "Raised on a torn journal."),
        symbol("TestJournal", "kv/journal.py", "Tests."),
        symbol("Config", "kv/config.py", "Settings."),
        symbol("Fixture", "tests/helpers.py", "A test fixture mentioned nowhere.", kind="class"),
        file_record("kv/a.py", {"Cursor": 3, "Snapshot": 1}),
        file_record("kv/b.py", {"Cursor": 1}),
        file_record("kv/snap.py", {"Snapshot": 4}),
    ]
    terms = by_term(build_glossary([*readme, *code]))
    assert sorted(terms) == ["Cursor", "Journal"]
    assert terms["Journal"].text == "Write-ahead journal of puts."
    assert terms["Cursor"].text == "Iterates keys in order."
    assert terms["Cursor"].meta == {"source": "kv/cursor.py:1", "kind": "code", "also": []}


def test_code_terms_are_capped_and_ranked_by_referencing_files() -> None:
    records: list[Record] = []
    count = MAX_CODE_TERMS + 5
    for n in range(count):
        name = f"Widget{n:03d}"
        records.append(symbol(name, f"pkg/w{n:03d}.py", f"Widget number {n}."))
        for k in range(2 + n % 7):  # 2..8 referencing files
            records.append(file_record(f"pkg/user{n:03d}_{k}.py", {name: 1}))
    terms = build_glossary(records)
    assert len(terms) == MAX_CODE_TERMS
    dropped = {f"Widget{n:03d}" for n in range(count)} - {t.name for t in terms}
    # the least referenced (2 files: n % 7 == 0) with the latest names go first
    assert dropped == {f"Widget{n:03d}" for n in (175, 182, 189, 196, 203)}


def test_generic_names() -> None:
    for name in ("Error", "Exception", "Base", "BaseStore", "Config", "TestStore", "StoreTest", "StoreMixin",
                 "Helper", "Utils", "StringUtils", "ChecksumError", "ID", "Ab"):  # fmt: skip
        assert is_generic(name), name
    for name in ("Segment", "Keydir", "Tester", "Basement", "Compactor"):
        assert not is_generic(name), name


def test_meaning_is_one_or_two_plain_sentences_capped() -> None:
    long_first = "An extremely " + "long " * 120 + "definition. Second sentence."
    text = (
        "# Glossary\n\n"
        f"- **Long**: {long_first}\n"
        "- **Short**: a [short](https://x.example) one. It has a *second* sentence. And a third.\n"
        "- **Abbrev**: used by tools, e.g. the CLI. Second.\n"
    )
    terms = by_term(build_glossary(docs("docs/glossary.md", text)))
    assert len(terms["Long"].text) <= 400 and terms["Long"].text.endswith("long…")
    assert terms["Short"].text == "a short one. It has a second sentence."
    assert terms["Abbrev"].text == "used by tools, e.g. the CLI. Second."
    assert plain(":term:`keydir <Keydir>` and ``code`` and __bold__") == "`keydir` and `code` and bold"
    assert plain("**b** *i* _u_ snake_case_name a*b ** x ** [ref][] [link](https://x.example)") == (
        "b i u snake_case_name a*b ** x ** ref link"
    )
    for hostile in ("_a " * 300_000, "*a " * 300_000, "[" * 1_000_000, "](" * 500_000):
        assert len(plain(hostile)) <= len(hostile)  # linear: a quadratic scan would not finish


def test_empty_and_huge_inputs() -> None:
    assert build_glossary([]) == []
    huge = "# Glossary\n\n" + "- **Term**: " + "word " * 200_000 + "\n" + "A *thing* is " * 50_000 + "\n"
    terms = by_term(build_glossary(docs("docs/glossary.md", huge)))
    assert len(terms["Term"].text) <= 400


def test_concepts_chapters_are_weaker_than_glossaries() -> None:
    text = (
        "# TLS concepts\n\n- **Handshake**: the opening exchange of a TLS session.\n- `in`: is the signed certificate\n\n"
        "## Session tickets\n\nThe server encrypts the session state. It sends it to the client.\n\n"
        "- `socket`: the server socket instance, equivalent to this.\n- Returns: an object or null.\n"
    )
    terms = by_term(build_glossary(docs("docs/api/tls.md", text)))
    assert sorted(terms) == ["Handshake", "Session tickets"]
    assert (
        terms["Session tickets"].text == "The server encrypts the session state. It sends it to the client."
    )


def test_item_parsing_edge_cases() -> None:
    text = (
        "# Glossary\n\n"
        "- ABI: [Application Binary Interface][] - the interface between two binary modules.\n"
        "- MDN means [Mozilla Developer Network](https://developer.mozilla.org) and it is a website.\n"
        "- [DHE][]: an ephemeral Diffie-Hellman key agreement.\n"
        "- Type: {string}\n"
        "- Returns: the value.\n"
    )
    terms = by_term(build_glossary(docs("docs/glossary.md", text)))
    assert {name: rec.text for name, rec in terms.items()} == {
        "ABI": "Application Binary Interface - the interface between two binary modules.",
        "DHE": "an ephemeral Diffie-Hellman key agreement.",
    }
