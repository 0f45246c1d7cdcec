"""Dataset task templates, diff parsing, commit filters and definition splitting, on schema-exact records.

Code records are cut from the sample project's real sources (spans found with `ast`, text sliced
like a tree-sitter node: from the definition's first byte); commit records carry real patches
from a real git repository. `records_for_sample` is shared with tests/test_dataset.py.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxeng.core.records import Record, record_id
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.counting import pieces
from ctxeng.dataset.diffs import parse_diff, render_side, strip_index_lines
from ctxeng.dataset.example import META_KEYS, Cut, fence, first_sentence, join, make_meta, pick
from ctxeng.dataset.filters import clean_subject, instruction_reason, message_reason, strip_trailers
from ctxeng.dataset.index import RecordIndex
from ctxeng.dataset.tasks_body import split_definition, symbol_body
from ctxeng.dataset.tasks_code import callers, file_contents, module_overview, symbol_lookup
from ctxeng.dataset.tasks_docs import doc_qa, glossary
from ctxeng.dataset.tasks_history import cochange, commit_instruction, commit_message
from tests import sample_repo as S
from tests.gitrepo import GitRepo

OLD, NEW = "1" * 40, "2" * 40


def rec(
    record_kind: str,
    path: str,
    name: str,
    text: str = "",
    /,
    *,
    start: int = 0,
    end: int = 0,
    commit: str = OLD,
    time: int = 100,
    key: str = "",
    **meta: object,
) -> Record:
    """A record exactly as the schema in ctxeng/core/records.py describes it (keyword arguments go to meta)."""
    rid = record_id(record_kind, path, key or name)
    return Record(rid, record_kind, path, start, end, commit, time, name, text, dict(meta))


def python_records(path: str, source: str, commit: str = OLD, time: int = 100) -> list[Record]:
    """The file record and symbol records of a Python source, as the code extractor emits them."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    out: list[Record] = []

    def walk(node: ast.AST, parent: str) -> None:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                continue
            qual = f"{parent}.{child.name}" if parent else child.name
            first = child.decorator_list[0] if child.decorator_list else child
            text = "".join(lines[first.lineno - 1 : child.end_lineno])[first.col_offset :]
            kind = "class" if isinstance(child, ast.ClassDef) else ("method" if parent else "function")
            calls = set()
            for call in ast.walk(child):
                if kind != "class" and isinstance(call, ast.Call):
                    func = call.func
                    calls.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
            if kind == "class":  # containers hold their header and docstring only
                body_start = child.body[1 if ast.get_docstring(child) else 0].lineno
                text = "".join(lines[first.lineno - 1 : body_start - 1])[first.col_offset :].rstrip() + "\n"
            out.append(
                rec(
                    "symbol",
                    path,
                    child.name,
                    text,
                    start=first.lineno,
                    end=child.end_lineno or 0,
                    commit=commit,
                    time=time,
                    key=qual,
                    language="python",
                    kind=kind,
                    qualname=qual,
                    signature=lines[child.lineno - 1].strip(),
                    doc=ast.get_docstring(child) or "",
                    parent=parent,
                    calls=sorted(c for c in calls if c),
                )
            )
            walk(child, qual)

    walk(tree, "")
    imports = [line.strip() for line in lines if line.startswith(("import ", "from "))]
    out.append(
        rec(
            "file",
            path,
            path,
            ast.get_docstring(tree) or "",
            start=1,
            end=len(lines),
            commit=commit,
            time=time,
            language="python",
            blob="0" * 40,
            bytes=len(source),
            lines=len(lines),
            definitions=[],
            imports=imports,
            refs={},
        )
    )
    return out


def commit_records(repo: GitRepo) -> list[Record]:
    """Commit records with real patches, as the history extractor emits them."""
    out = []
    for line in repo.git("log", "--format=%H %ct").splitlines():
        sha, when = line.split()
        message = repo.git("show", "-s", "--format=%B", sha).strip() + "\n"
        diff = repo.git("diff-tree", "-p", "--root", "--no-renames", "--full-index", "--no-commit-id", sha)
        status = repo.git("diff-tree", "--root", "--no-renames", "--name-status", "--no-commit-id", "-r", sha)
        files = [{"path": p, "status": s} for s, p in (row.split("\t") for row in status.splitlines())]
        out.append(
            Record(
                record_id("commit", sha),
                "commit",
                "",
                0,
                0,
                sha,
                int(when),
                message.splitlines()[0],
                message,
                {"date": when, "files": files, "symbols": [], "diff": diff, "diff_truncated": False},
            )
        )
    return out


def records_for_sample(repo: GitRepo) -> list[Record]:
    """Code, commit, co-change, doc and glossary records for the sample project (code dated by HEAD~1)."""
    head_time = int(repo.git("log", "-1", "--format=%ct", "HEAD~1"))
    head = repo.git("rev-parse", "HEAD~1").strip()
    out: list[Record] = []
    for path, source in (
        ("kvstore/store.py", S.STORE_V2),
        ("kvstore/codec.py", S.CODEC_V2),
        ("kvstore/cli.py", S.CLI),
    ):
        out += python_records(path, source, head, head_time)
    compact_sha = repo.head()
    out += python_records("kvstore/compact.py", S.COMPACT, compact_sha, head_time + 3600)
    out += commit_records(repo)
    out.append(
        rec(
            "cochange",
            "kvstore/store.py",
            "kvstore/store.py",
            commit=head,
            time=head_time,
            commits=3,
            partners=[
                {"path": "kvstore/codec.py", "count": 2, "share": 0.667},
                {"path": "kvstore/__init__.py", "count": 2, "share": 0.667},
            ],
        )
    )
    arch = S.ARCHITECTURE.split("## ")
    for section in arch[1:]:
        title, _, body = section.partition("\n")
        out.append(
            rec(
                "doc",
                "docs/architecture.md",
                f"Architecture > {title}",
                body.strip(),
                commit=head,
                time=head_time,
                doc_kind="architecture",
                level=2,
                title="Architecture",
            )
        )
    for section in S.ADR.split("## ")[1:]:
        title, _, body = section.partition("\n")
        out.append(
            rec(
                "doc",
                "docs/adr/0001-append-only-log.md",
                f"ADR 0001: Use an append-only log > {title}",
                body.strip(),
                commit=head,
                time=head_time,
                doc_kind="adr",
                level=2,
                title="ADR 0001: Use an append-only log",
            )
        )
    for n, line in enumerate(S.GLOSSARY.splitlines(), 1):
        if line.startswith("- **"):
            term, meaning = line[4:].split("**: ")
            out.append(
                rec(
                    "glossary",
                    "docs/glossary.md",
                    term,
                    meaning,
                    start=n,
                    end=n,
                    commit=head,
                    time=head_time,
                    source=f"docs/glossary.md:{n}",
                    also=["docs/architecture.md"],
                )
            )
    return out


@pytest.fixture
def ctx() -> TaskContext:
    return TaskContext(repo_name="kvstore", seed=0)


def code_index() -> RecordIndex:
    records = []
    for path, source in (
        ("kvstore/store.py", S.STORE_V2),
        ("kvstore/codec.py", S.CODEC_V2),
        ("kvstore/compact.py", S.COMPACT),
        ("kvstore/cli.py", S.CLI),
    ):
        records += python_records(path, source)
    return RecordIndex.build(records)


def by_symbol(examples: list, name: str) -> object:
    return next(e for e in examples if e.meta["symbol"] == name)


# --- example helpers -------------------------------------------------------------------------------


def test_fence_outgrows_backticks_inside_the_code() -> None:
    assert fence("x = 1", "python") == "```python\nx = 1\n```\n"
    inner = "doc:\n```\ncode\n```\n"
    fenced = fence(inner)
    assert fenced.startswith("````\n") and fenced.endswith("````\n") and inner in fenced


def test_first_sentence_takes_the_first_paragraphs_first_sentence() -> None:
    assert first_sentence("Open the store.\n\nMore detail.") == "Open the store."
    assert (
        first_sentence("Encode a record: crc32,\n  then bytes. Raises ValueError.")
        == "Encode a record: crc32, then bytes."
    )
    assert first_sentence("Use `x.y` for that. Then go") == "Use `x.y` for that."
    long = "word " * 200
    assert len(first_sentence(long, limit=50)) <= 50 and first_sentence(long, limit=50).endswith("...")
    assert first_sentence("") == ""
    assert first_sentence("```\npip install -e .\n```\n") == "pip install -e ."
    assert (
        first_sentence("- **Segment**: a data file.\n- **Keydir**: the index.") == "**Segment**: a data file."
    )


def test_meta_has_every_key_and_rejects_unknown_ones() -> None:
    assert make_meta(path="a.py") == {"answer_path": "", "expected": "", "path": "a.py", "symbol": ""}
    assert tuple(sorted(make_meta())) == META_KEYS
    with pytest.raises(ValueError, match="unknown meta keys"):
        make_meta(pth="a.py")


def test_pick_is_stable_and_varies_with_the_key() -> None:
    options = ("a", "b", "c")
    assert pick(options, 0, "task", "rec-1") == pick(options, 0, "task", "rec-1")
    assert len({pick(options, 0, "task", f"rec-{i}") for i in range(30)}) == 3
    assert [pick(options, 1, "t", str(i)) for i in range(20)] != [
        pick(options, 2, "t", str(i)) for i in range(20)
    ]


# --- token counting ---------------------------------------------------------------------------------

_ALPHABET = "ab_Z09 .,:;'\"(){}#/*-+=\n\n\n\t\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\u00e9\u00b2\u65e5\u0301"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=80))
def test_pieces_tokenize_exactly_as_the_whole_text(text: str) -> None:
    from ctxeng.core.tokens import count_many, count_tokens

    parts = pieces(text)
    assert "".join(parts) == text
    assert sum(count_many(parts)) == count_tokens(text)


def test_pieces_are_lines_with_their_leading_newline() -> None:
    assert pieces("def f():\n    return 1\n\n\nx = 2  \n") == [
        "def f():",
        "\n    return 1",
        "\n\n\nx = 2",
        "  \n",
    ]


# --- definition splitting --------------------------------------------------------------------------


def test_split_python_function_with_docstring() -> None:
    head = 'def put(self, key: str, value: bytes) -> None:\n    """Append a record."""\n'
    text = head + "    x = 1\n    return x\n"
    assert split_definition(text, "python") == (
        'def put(self, key: str, value: bytes) -> None:\n    """Append a record."""\n',
        "    x = 1\n    return x\n",
    )


def test_split_python_multiline_signature_decorator_and_multiline_docstring() -> None:
    text = (
        "@decorator(arg=':')\n"
        "def f(\n    a: dict[str, int] = {'k': 1},\n    b=lambda: 2,\n) -> int:\n"
        '    """Line one.\n\n    Line two: with a colon.\n    """\n'
        "    return a\n"
    )
    head, body = split_definition(text, "python")  # type: ignore[misc]
    assert head.endswith('    """\n') and body == "    return a\n"


def test_split_python_without_docstring_and_one_liners() -> None:
    assert split_definition("def f(x):\n    return x\n", "python") == ("def f(x):\n", "    return x\n")
    assert split_definition("def f(x): return x\n", "python") is None
    assert split_definition('def f(x):\n    """Only a docstring."""\n', "python") is None
    assert split_definition("x = 1\n", "python") is None


def test_split_brace_languages() -> None:
    go = "func (r Result) Rate() float64 {\n\treturn float64(r.Puts) / r.Duration.Seconds()\n}\n"
    assert split_definition(go, "go") == (
        "func (r Result) Rate() float64 {\n",
        "\treturn float64(r.Puts) / r.Duration.Seconds()\n}\n",
    )
    js = 'function f({a, b} = {}) {\n  // a { brace in a comment\n  return "}";\n}\n'
    head, body = split_definition(js, "javascript")  # type: ignore[misc]
    assert head == "function f({a, b} = {}) {\n" and body.endswith("}\n")
    assert split_definition("get(key) { return this.x; }\n", "javascript") is None
    assert split_definition("def f\n  1\nend\n", "ruby") is None  # no splitter for the language


def test_split_skips_comments_and_strings_that_hold_the_stop_character() -> None:
    py = "def f(a=\"):\", b=(1, 2),  # (: a comment\n      c='\\':'):\n    return a\n"
    assert split_definition(py, "python") == (py[: -len("    return a\n")], "    return a\n")
    c = "int f(int a /* { */, char *b) // {\n{\n  return a;\n}\n"
    assert split_definition(c, "c") == ("int f(int a /* { */, char *b) // {\n{\n", "  return a;\n}\n")
    assert split_definition("int f(int a) /* { never closed\n", "c") is None


# --- diffs --------------------------------------------------------------------------------------------


def test_parse_diff_of_real_commits(git_repo: GitRepo) -> None:
    git_repo.commit(
        "Add files", {"a.py": "one\ntwo\nthree\n", "gone.txt": "bye\n", "img.bin": b"\x00\x01\x02"}
    )
    sha = git_repo.commit(
        "Change files",
        {"a.py": "one\nTWO\nthree\nfour", "gone.txt": None, "new.md": "# New\n", "img.bin": b"\x00\x09"},
    )
    diff = git_repo.git("diff-tree", "-p", "--no-renames", "--full-index", "--no-commit-id", sha)
    files = {f.path: f for f in parse_diff(diff)}
    assert sorted(files) == ["a.py", "gone.txt", "img.bin", "new.md"]
    assert files["gone.txt"].status == "D" and files["new.md"].status == "A" and files["a.py"].status == "M"
    assert files["img.bin"].binary and not files["img.bin"].hunks
    (hunk,) = files["a.py"].hunks
    assert hunk.complete and hunk.old_start == 1 and hunk.new_start == 1
    assert hunk.old == ["one", "two", "three"] and hunk.new == ["one", "TWO", "three", "four"]
    old, new = render_side(list(files.values()), "old"), render_side(list(files.values()), "new")
    assert "`a.py` lines 1-3:\n```python\none\ntwo\nthree\n```" in old and "`new.md`: new file." in old
    assert "`a.py` lines 1-4:\n```python\none\nTWO\nthree\nfour\n```" in new and "`gone.txt`: deleted." in new
    assert "index " in diff and "index " not in strip_index_lines(diff)


def test_parse_diff_stops_at_a_truncated_hunk() -> None:
    diff = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,4 +1,4 @@\n a\n-b\n+B\n[diff cut]\n"
    (f,) = parse_diff(diff)
    assert f.hunks[0].old == ["a", "b"] and not f.hunks[0].complete


def test_parse_diff_keeps_removed_lines_that_look_like_headers() -> None:
    diff = "--- a/x.md\n+++ b/x.md\n@@ -1,2 +1,1 @@\n--- a rule\n keep\n"
    (f,) = parse_diff(diff)
    assert f.hunks[0].old == ["-- a rule", "keep"] and f.hunks[0].new == ["keep"] and f.hunks[0].complete


# --- filters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "cleaned"),
    [
        ("[core] Add compaction [skip ci]", "Add compaction"),
        ("store: Add tombstones", "Add tombstones"),
        ("fix(codec): Reject bad checksums", "Reject bad checksums"),
        ("Add compaction", "Add compaction"),
    ],
)
def test_clean_subject(subject: str, cleaned: str) -> None:
    assert clean_subject(subject) == cleaned


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        ("Support deletes with tombstones", ""),
        ("Add compaction of live records", ""),
        ("Merge branch 'main' into feature", "merge"),
        ('Revert "Add compaction"', "revert"),
        ("Bump version to 1.2.0", "bump"),
        ("Release the next version soon", "bump"),
        ("Update README", "low_information"),
        ("WIP on compaction", "low_information"),
        ("Add it", "subject_length"),
        ("Add compaction", "subject_words"),
        ("Compaction of live records", "not_imperative"),
        ("Fixed the compaction bug", "not_imperative"),
        ("Fix crash reported in #123", "issue_ref"),
        ("Fix issue 42 in the codec", "issue_ref"),
        ("Fix the codec for v1.2.3 files", "version"),
        ("Fix regression from 3f2a9c1d today", "hash"),
        ("Add link to https://example.com docs", "url"),
        ("Fix what i broke yesterday", "first_person"),
        ("Add tests, thanks to Bob for the idea", "thanks"),
        ("Update store.py with new code", "names_file"),
    ],
)
def test_instruction_filter(subject: str, reason: str) -> None:
    assert instruction_reason(subject, ["kvstore/store.py"]) == reason


def test_message_filter_is_lighter_than_the_instruction_filter() -> None:
    assert message_reason("Compaction of live records") == ""
    assert message_reason("Update store.py with new code") == ""
    assert message_reason("Merge pull request #4 from x/y") == "merge"
    assert message_reason("wip") == "low_information"
    assert message_reason("typo") == "low_information"
    assert message_reason("Fix it") == "subject_length"


def test_strip_trailers_removes_people_not_content() -> None:
    message = "Add compaction\n\nRewrites live keys.\n\nSigned-off-by: Ada <ada@example.com>\n"
    message += "Co-authored-by: B <b@x>\n"
    assert strip_trailers(message) == "Add compaction\n\nRewrites live keys."


# --- code tasks ---------------------------------------------------------------------------------------


def test_symbol_lookup_answers_with_path_lines_signature_and_doc(ctx: TaskContext) -> None:
    examples = symbol_lookup(code_index(), ctx)
    put = by_symbol(examples, "Store.put")
    assert "`Store.put`" in put.user_text()
    answer = put.answer_text()
    assert answer.startswith("`Store.put` is a method of `Store`, defined in `kvstore/store.py` (lines ")
    assert "```python\ndef put(self, key: str, value: bytes) -> None:\n```" in answer
    assert answer.endswith("Append a record for `key` and point the keydir at it.\n")
    assert put.meta == make_meta(
        path="kvstore/store.py",
        symbol="Store.put",
        answer_path="kvstore/store.py",
        expected="def put(self, key: str, value: bytes) -> None:",
    )
    assert len({e.meta["symbol"] for e in examples}) == len(examples)


def test_symbol_lookup_lists_every_definition_of_an_ambiguous_name(ctx: TaskContext) -> None:
    records = python_records("a/one.py", "def helper():\n    return 1\n")
    records += python_records(
        "b/two.py", 'def helper(x):\n    """Two."""\n    return x\n', commit=NEW, time=200
    )
    (example,) = symbol_lookup(RecordIndex.build(records), ctx)
    answer = example.answer_text()
    assert answer.startswith("`helper` is defined in 2 places.")
    assert "1. A function in `a/one.py`" in answer and "2. A function in `b/two.py`" in answer
    assert (example.commit, example.time) == (NEW, 200)  # dated by the newest definition


def test_file_contents_lists_public_definitions_only(ctx: TaskContext) -> None:
    source = 'def public():\n    """Do it."""\n    return 1\n\n\ndef _private():\n    return 2\n'
    (example,) = file_contents(RecordIndex.build(python_records("m.py", source)), ctx)
    answer = example.answer_text()
    assert "- `public` (function, line 1): Do it.\n" in answer and "_private" not in answer
    assert any(isinstance(p, Cut) for p in example.answer)


def test_visibility_from_the_extractor_decides_what_is_public(ctx: TaskContext) -> None:
    records = [
        rec("file", "bench.go", "bench.go", "Package bench.", language="go", imports=["time"]),
        rec(
            "symbol",
            "bench.go",
            "Rate",
            "func (r Result) Rate() float64 {}",
            start=3,
            end=3,
            language="go",
            kind="method",
            qualname="Result.Rate",
            signature="func (r Result) Rate() float64",
            doc="",
            parent="Result",
            calls=[],
            visibility="public",
        ),
        rec(
            "symbol",
            "bench.go",
            "rate",
            "func rate() {}",
            start=5,
            end=5,
            language="go",
            kind="function",
            qualname="rate",
            signature="func rate()",
            doc="",
            parent="",
            calls=[],
            visibility="private",
        ),
    ]
    (example,) = file_contents(RecordIndex.build(records), ctx)
    assert "`Result.Rate`" in example.answer_text() and "`rate`" not in example.answer_text()


def test_symbol_body_names_imported_modules(ctx: TaskContext) -> None:
    records = python_records("m.py", 'def f(x):\n    """F."""\n    y = x\n    return y\n')
    records = [
        replace(r, meta={**r.meta, "imports": ["os.path", "kvstore.codec"]}) if r.kind == "file" else r
        for r in records
    ]
    (example,) = symbol_body(RecordIndex.build(records), ctx)
    assert "`m.py` imports `os.path`, `kvstore.codec`.\n" in example.user_text()


def test_module_overview_needs_a_docstring(ctx: TaskContext) -> None:
    examples = module_overview(code_index(), ctx)
    assert {e.meta["path"] for e in examples} == {
        "kvstore/store.py",
        "kvstore/codec.py",
        "kvstore/compact.py",
        "kvstore/cli.py",
    }
    store = next(e for e in examples if e.meta["path"] == "kvstore/store.py").answer_text()
    assert store.startswith("`kvstore/store.py`:\n\nThe store: segments on disk plus the in-memory keydir.")
    assert "- `Store` (class, line 8)" in store and "Store.put" not in store  # top level only
    assert "```python\nfrom pathlib import Path\n" in store
    assert module_overview(RecordIndex.build(python_records("n.py", "def f():\n    return 1\n")), ctx) == []


def test_callers_skips_builtins_and_delegation(ctx: TaskContext) -> None:
    examples = callers(code_index(), ctx)
    names = {e.meta["symbol"] for e in examples}
    assert "open" not in names  # a builtin: `open(...)` cannot be told from `Store.open`
    close = by_symbol(examples, "close").answer_text()
    assert "`Store.__exit__`" in close and "`Store.close`" not in close  # not `self._log.close()` delegation
    get = by_symbol(examples, "get").answer_text()
    assert "- `main` in `kvstore/cli.py`" in get and "- `compact` in `kvstore/compact.py`" in get
    encode = by_symbol(examples, "encode_record")
    assert encode.meta["answer_path"] == "kvstore/store.py" and encode.meta["expected"] == "Store.put"


def test_symbol_body_gives_head_and_context_and_asks_for_the_body(ctx: TaskContext) -> None:
    examples = symbol_body(code_index(), ctx)
    get = by_symbol(examples, "Store.get")
    user = get.user_text()
    assert "`Store.get`" in user and "a method of `Store` in `kvstore/store.py`" in user
    assert (
        'def get(self, key: str) -> bytes:\n        """The newest value of `key`; KeyError if absent."""'
        in user
    )
    assert "from pathlib import Path\n" in user  # imports
    assert 'class Store:\n    """An append-only key-value store in one directory."""\n' in user  # parent head
    assert "def put(self, key: str, value: bytes) -> None:\n" in user  # an earlier sibling's signature
    assert "self._log.write" not in user  # never another member's body
    assert get.answer_text() == fence(
        "        offset = self.keydir[key]\n        self._log.seek(offset)\n"
        "        header = self._log.read(HEADER.size)\n"
        "        _, key_len, value_len = HEADER.unpack(header)\n"
        "        return decode_record(header + self._log.read(key_len + value_len))[1]\n",
        "python",
    )
    assert get.meta["expected"] == "offset = self.keydir[key]"
    context_cut = [p for p in get.user if isinstance(p, Cut)]
    assert len(context_cut) == 1 and context_cut[0].keep == "tail"
    # Bodies of one statement are too small, classes have none.
    assert {"Store.close", "Store.__exit__", "Store.__enter__", "Store"}.isdisjoint(
        {e.meta["symbol"] for e in examples}
    )
    assert ctx.dropped["symbol_body:body_size"] >= 3


def test_symbol_body_of_a_brace_language_adds_the_doc(ctx: TaskContext) -> None:
    text = "func (r Result) Rate() float64 {\n\tif r.Duration == 0 {\n\t\treturn 0\n\t}\n"
    text += "\treturn float64(r.Puts)\n}\n"
    record = rec(
        "symbol",
        "bench.go",
        "Rate",
        text,
        start=13,
        end=18,
        key="Result.Rate",
        language="go",
        kind="method",
        qualname="Result.Rate",
        signature="func (r Result) Rate() float64",
        doc="Rate returns puts per second.",
        parent="Result",
        calls=[],
    )
    (example,) = symbol_body(RecordIndex.build([record]), ctx)
    assert "```go\nfunc (r Result) Rate() float64 {\n```" in example.user_text()
    assert "Its documentation says: Rate returns puts per second." in example.user_text()
    assert example.answer_text().endswith("\treturn float64(r.Puts)\n}\n```\n")


# --- history tasks ------------------------------------------------------------------------------------


def test_commit_instruction_from_a_real_commit(sample_repo: GitRepo, ctx: TaskContext) -> None:
    examples = commit_instruction(RecordIndex.build(commit_records(sample_repo)), ctx)
    subjects = {e.meta["expected"] for e in examples}
    assert "Support deletes with tombstones" in subjects and "Add compaction of live records" in subjects
    assert "Add Makefile and CI workflow" not in subjects  # names a file it adds
    assert "Add store with put and get" in subjects  # a module's name is not a file name
    tomb = next(e for e in examples if e.meta["expected"] == "Support deletes with tombstones")
    user, answer = tomb.user_text(), tomb.answer_text()
    assert user.split("\n")[0].endswith(": Support deletes with tombstones")
    assert "The code before the change:" in user
    assert "from kvstore.codec import HEADER, decode_record, encode_record" in user
    assert "def delete" not in user and "    def delete(self, key: str) -> None:" in answer
    assert "from kvstore.codec import HEADER, TOMBSTONE, decode_record, encode_record" in answer
    assert "`kvstore/codec.py` lines 20-30:" in answer
    assert tomb.commit == next(
        r.commit for r in commit_records(sample_repo) if r.name == "Support deletes with tombstones"
    )
    assert ctx.dropped["commit_instruction:names_file"] >= 1


def test_commit_instruction_drops_truncated_wide_and_binary_commits(ctx: TaskContext) -> None:
    hunk = "@@ -1 +1 @@\n-a\n+b\n"
    one = "diff --git a/{0} b/{0}\n--- a/{0}\n+++ b/{0}\n" + hunk
    base = {"date": "1", "symbols": []}
    records = [
        rec(
            "commit",
            "",
            "Fix the parser for empty input",
            key="t",
            diff=one.format("p.py"),
            diff_truncated=True,
            files=[{"path": "p.py", "status": "M"}],
            **base,
        ),
        rec(
            "commit",
            "",
            "Fix the parser for empty input",
            key="w",
            diff="".join(one.format(f"f{i}.py") for i in range(4)),
            diff_truncated=False,
            files=[{"path": f"f{i}.py", "status": "M"} for i in range(4)],
            **base,
        ),
        rec(
            "commit",
            "",
            "Fix the parser for empty input",
            key="b",
            diff="diff --git a/x.png b/x.png\nBinary files a/x.png and b/x.png differ\n" + one.format("p.py"),
            diff_truncated=False,
            files=[{"path": "x.png", "status": "M"}, {"path": "p.py", "status": "M"}],
            **base,
        ),
        rec(
            "commit",
            "",
            "Fix the parser for empty input",
            key="ok",
            diff=one.format("p.py"),
            diff_truncated=False,
            files=[{"path": "p.py", "status": "M"}],
            **base,
        ),
        rec(
            "commit", "", "Fix the parser for empty input", key="old", **base, files=[], diff_truncated=False
        ),
    ]
    examples = commit_instruction(RecordIndex.build(records), ctx)
    assert [e.source for e in examples] == [records[3].id]
    assert ctx.dropped == Counter(
        {
            "commit_instruction:diff_truncated": 1,
            "commit_instruction:file_count": 1,
            "commit_instruction:file_status": 1,
        }
    )


def test_commit_message_targets_the_message_without_trailers(ctx: TaskContext) -> None:
    diff = "diff --git a/p.py b/p.py\nindex 1111111..2222222 100644\n"
    diff += "--- a/p.py\n+++ b/p.py\n@@ -1 +1 @@\n-a\n+b\n"
    message = "Rename a to b in p\n\nBecause b reads better.\n\nSigned-off-by: Ada <ada@example.com>\n"
    records = [
        rec(
            "commit",
            "",
            "Rename a to b in p",
            message,
            key="1",
            date="1",
            files=[{"path": "p.py", "status": "M"}],
            symbols=[],
            diff=diff,
            diff_truncated=False,
        ),
        rec(
            "commit",
            "",
            "Merge branch 'x'",
            "Merge branch 'x'\n",
            key="2",
            date="1",
            files=[],
            symbols=[],
            diff=diff,
            diff_truncated=False,
        ),
    ]
    (example,) = commit_message(RecordIndex.build(records), ctx)
    assert example.answer_text() == "Rename a to b in p\n\nBecause b reads better.\n"
    assert "```diff\ndiff --git a/p.py b/p.py\n--- a/p.py" in example.user_text()  # index line dropped
    assert example.meta["expected"] == "Rename a to b in p" and example.meta["path"] == "p.py"
    assert ctx.dropped["commit_message:merge"] == 1


def test_cochange_lists_partners_by_count(ctx: TaskContext) -> None:
    record = rec(
        "cochange",
        "a.py",
        "a.py",
        commits=4,
        partners=[
            {"path": "c.py", "count": 2, "share": 0.5},
            {"path": "b.py", "count": 3, "share": 0.75},
            {"path": "a_test.py", "count": 2, "share": 0.5},
        ],
    )
    (example,) = cochange(RecordIndex.build([record]), ctx)
    assert example.answer_text() == (
        "`a.py` changed in 4 commits. These files changed in the same commits:\n"
        "- `b.py` (3 commits, 75%)\n- `a_test.py` (2 commits, 50%)\n- `c.py` (2 commits, 50%)\n"
    )
    assert example.meta["answer_path"] == "b.py"
    assert cochange(RecordIndex.build([rec("cochange", "z.py", "z.py", commits=1, partners=[])]), ctx) == []


# --- doc tasks ----------------------------------------------------------------------------------------


def test_doc_qa_asks_decision_questions_of_adrs(sample_repo: GitRepo, ctx: TaskContext) -> None:
    docs = [r for r in records_for_sample(sample_repo) if r.kind == "doc"]
    examples = {e.user_text(): e for e in doc_qa(RecordIndex.build(docs), ctx)}
    assert "Why did the project decide to use an append-only log?" in examples
    assert 'What was decided in "ADR 0001: Use an append-only log"?' in examples
    assert "What are the consequences of the decision to use an append-only log?" in examples
    why = examples["Why did the project decide to use an append-only log?"]
    assert why.answer_text() == (
        "From `docs/adr/0001-append-only-log.md` (ADR 0001: Use an append-only log > Context):\n\n"
        "We need crash safety without a write-ahead log of our own.\n"
    )
    keydir = next(e for e in examples.values() if "Keydir" in e.user_text())
    assert (
        "Architecture > Keydir" in keydir.user_text() and keydir.meta["answer_path"] == "docs/architecture.md"
    )
    assert keydir.meta["expected"] == "The keydir is an in-memory dict from key to `(segment, offset, size)`."


def test_doc_qa_skips_empty_sections(ctx: TaskContext) -> None:
    empty = rec("doc", "README.md", "kvstore", "", doc_kind="readme", level=1, title="kvstore")
    assert doc_qa(RecordIndex.build([empty]), ctx) == []


def test_glossary_gives_meaning_and_where_it_is_defined(ctx: TaskContext) -> None:
    record = rec(
        "glossary",
        "docs/glossary.md",
        "Keydir",
        "the in-memory index from key to its newest record.",
        start=4,
        end=4,
        source="docs/glossary.md:4",
        also=["docs/architecture.md", "docs/glossary.md"],
    )
    (example,) = glossary(RecordIndex.build([record]), ctx)
    assert '"Keydir"' in example.user_text()
    assert example.answer_text() == (
        "Keydir: the in-memory index from key to its newest record.\n\n"
        "Defined in `docs/glossary.md` (line 4). Also used in `docs/architecture.md`.\n"
    )
    assert example.meta["symbol"] == "Keydir" and example.meta["answer_path"] == "docs/glossary.md"


def test_every_task_gives_uniform_meta_and_single_cut(sample_repo: GitRepo, ctx: TaskContext) -> None:
    from ctxeng.dataset.tasks import TASKS

    index = RecordIndex.build(records_for_sample(sample_repo))
    for name, task in TASKS.items():
        examples = task(index, ctx)
        assert examples, name
        assert len({e.id for e in examples}) == len(examples), name
        for e in examples:
            assert e.task == name and tuple(sorted(e.meta)) == META_KEYS
            assert all(isinstance(v, str) for v in e.meta.values())
            assert sum(isinstance(p, Cut) for p in [*e.user, *e.answer]) <= 1
            assert join(e.user).strip() and join(e.answer).strip()
