"""Behaviour of the code extractor on real grammars: names, docs, visibility, references, robustness."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctxeng.core.config import load_config
from ctxeng.core.errors import CtxengError
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record, record_id, serialise
from ctxeng.core.repo import open_repo
from ctxeng.extract import code
from ctxeng.extract.code import extract_code, extract_file
from ctxeng.extract.languages import LanguageSpec, load_languages
from ctxeng.extract.selection import SourceFile, select_files
from tests.gitrepo import GitRepo

LANGS = load_languages()
SAMPLES = {
    p.parent.name: p for p in (Path(__file__).resolve().parent.parent / "extractors").glob("*/sample.*")
}
_EXT = {"python": "py", "javascript": "js", "typescript": "ts", "go": "go", "rust": "rs", "java": "java",
        "c": "c", "cpp": "cpp", "ruby": "rb", "csharp": "cs", "tsx": "tsx"}  # fmt: skip


def extract(language: str, text: str, path: str | None = None) -> tuple[Record, dict[str, Record]]:
    """The file record and the symbol records by qualname (first occurrence) of `text`."""
    file_record, symbols = extract_file(path or f"src/mod.{_EXT[language]}", text, LANGS[language])
    by_qualname: dict[str, Record] = {}
    for sym in symbols:
        by_qualname.setdefault(sym.meta["qualname"], sym)
    return file_record, by_qualname


def kinds(symbols: dict[str, Record]) -> dict[str, str]:
    return {q: s.meta["kind"] for q, s in symbols.items()}


# --- qualified names, methods vs functions -------------------------------------------------------


def test_python_qualnames_and_methods_vs_functions() -> None:
    _, syms = extract("python", (
        "class Store:\n"
        "    class Meta:\n"
        "        def label(self): pass\n"
        "    @staticmethod\n"
        "    def put(key):\n"
        "        def encode(v):\n"
        "            return v\n"
        "        return encode(key)\n"
        "def main():\n"
        "    class Local: pass\n"
    ))  # fmt: skip
    assert kinds(syms) == {
        "Store": "class", "Store.Meta": "class", "Store.Meta.label": "method", "Store.put": "method",
        "Store.put.encode": "function", "main": "function", "main.Local": "class",
    }  # fmt: skip
    assert syms["Store.put.encode"].meta["parent"] == "Store.put"
    assert syms["Store.put"].name == "put" and syms["Store.put"].start_line == 4  # the decorator starts it
    assert syms["Store"].meta["parent"] == ""


def test_go_methods_are_qualified_by_their_receiver_type() -> None:
    _, syms = extract("go", (
        "package p\n"
        "type Result struct{ N int }\n"
        "func (r *Result) Rate() float64 { return 1 }\n"
        "func (r Result) plain() {}\n"
        "func (b *Box[T]) Get() T { var t T; return t }\n"
        "func New() *Result { return &Result{} }\n"
    ))  # fmt: skip
    assert kinds(syms)["Result.Rate"] == "method" and syms["Result.Rate"].meta["parent"] == "Result"
    assert "Result.plain" in syms and "Box.Get" in syms
    assert kinds(syms)["New"] == "function"
    assert syms["Result.Rate"].meta["signature"] == "func (r *Result) Rate() float64"


def test_rust_impl_blocks_name_their_methods() -> None:
    _, syms = extract("rust", (
        "pub struct Foo<T> { x: T }\n"
        "impl<T> Foo<T> { pub fn bar(&self) {} fn baz() {} }\n"
        "impl std::fmt::Display for Foo<u8> { fn fmt(&self, f: &mut Formatter) -> Result { Ok(()) } }\n"
        "fn free() {}\n"
    ))  # fmt: skip
    assert kinds(syms) == {"Foo": "struct", "Foo.x": "field", "Foo.bar": "method", "Foo.baz": "method",
                           "Foo.fmt": "method", "free": "function"}  # fmt: skip
    assert "Foo" not in {s.meta["qualname"] for s in syms.values() if s.meta["kind"] == "scope"}
    assert syms["Foo.fmt"].meta["visibility"] == "public"  # a trait impl's methods are as public as the trait
    assert syms["Foo.baz"].meta["visibility"] == "private"


def test_cpp_out_of_line_definitions_join_their_class() -> None:
    file_record, syms = extract("cpp", (
        "namespace ns {\n"
        "class Foo {\n"
        " public:\n"
        "  void bar();\n"
        " private:\n"
        "  int hidden();\n"
        "};\n"
        "void Foo::bar() { hidden(); }\n"
        "int Foo::hidden() { return 1; }\n"
        "int ns_function() { return 0; }\n"
        "}\n"
        "int ns::later() { return 2; }\n"
        "Foo::~Foo() {}\n"
    ))  # fmt: skip
    assert kinds(syms)["ns.Foo.bar"] == "method"
    defs = [s for s in extract_file("a.cpp", "void Foo::bar() {}\n", LANGS["cpp"])[1]]
    assert [(d.meta["qualname"], d.meta["kind"], d.meta["parent"]) for d in defs] == [
        ("Foo.bar", "method", "Foo")
    ]
    assert kinds(syms)["ns.later"] == "function"  # qualified by a namespace, not a class
    assert kinds(syms)["ns.ns_function"] == "function"
    assert kinds(syms)["Foo.~Foo"] == "method"
    assert syms["ns.Foo.hidden"].meta["visibility"] == "private"
    # The in-class declaration and the out-of-line definition are both kept: the class outline
    # shows the first, the second has the body.
    _, symbols = extract_file(
        "a.cpp", "class Foo {\n  void bar();\n};\nvoid Foo::bar() { g(); }\n", LANGS["cpp"]
    )
    assert [(s.meta["qualname"], s.start_line, s.meta["calls"]) for s in symbols] == [
        ("Foo", 1, []),
        ("Foo.bar", 2, []),
        ("Foo.bar", 4, ["g"]),
    ]
    assert file_record.meta["definitions"].count("ns.Foo.bar") == 1


def test_ruby_and_typescript_nesting() -> None:
    _, rb = extract("ruby", "module A\n  class B::C\n    def go; end\n  end\n  def helper; end\nend\n")
    assert kinds(rb) == {"A": "module", "A.B.C": "class", "A.B.C.go": "method", "A.helper": "method"}
    _, ts = extract("typescript", "namespace N { export class K { m(): void {} } }\nfunction f(): void {}\n")
    assert kinds(ts) == {"N": "namespace", "N.K": "class", "N.K.m": "method", "f": "function"}


# --- docs ------------------------------------------------------------------------------------------


def test_python_docstrings_win_over_comments_and_comments_must_touch() -> None:
    _, syms = extract("python", (
        '"""Module doc."""\n'
        "x = 1  # trailing note about x\n"
        "def after_trailing(): pass\n"
        "\n"
        "# Explains documented.\n"
        "# Second line.\n"
        "def documented():\n"
        '    """The docstring wins."""\n'
        "\n"
        "# Detached comment.\n"
        "\n"
        "def detached(): pass\n"
        "\n"
        "# About commented.\n"
        "@decorator\n"
        "def commented(): pass\n"
        "def raw():\n"
        "    r'''Raw\n"
        "\n"
        "        indented body.\n"
        "    '''\n"
    ))  # fmt: skip
    assert syms["documented"].meta["doc"] == "The docstring wins."
    assert syms["after_trailing"].meta["doc"] == ""
    assert syms["detached"].meta["doc"] == ""
    assert syms["commented"].meta["doc"] == "About commented."
    assert syms["raw"].meta["doc"] == "Raw\n\nindented body."


def test_comment_markers_are_removed_in_every_style() -> None:
    _, js = extract(
        "javascript", "/**\n * Adds two numbers.\n *\n * @param a first\n */\nfunction add(a, b) {}\n"
    )
    assert js["add"].meta["doc"] == "Adds two numbers.\n\n@param a first"
    _, rs = extract("rust", "/// Line one.\n/// Line two.\n#[derive(Debug)]\n#[cfg(test)]\nstruct S;\n")
    assert rs["S"].meta["doc"] == "Line one.\nLine two."
    _, c = extract("c", "/* A counter.\n   Not thread-safe. */\nint counter(void) { return 0; }\n")
    assert c["counter"].meta["doc"] == "A counter.\nNot thread-safe."
    _, cs = extract(
        "csharp",
        'class K {\n  /// <summary>Gets <paramref name="k"/>.</summary>\n  int Get(int k) => k;\n}\n',
    )
    assert cs["K.Get"].meta["doc"] == "Gets k."
    _, rb = extract("ruby", "# Greets.\n# Politely.\ndef hi; end\n")
    assert rb["hi"].meta["doc"] == "Greets.\nPolitely."


def test_file_docs() -> None:
    py, _ = extract(
        "python", '#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n"""The module."""\nimport os\n'
    )
    assert py.text == "The module."
    go, _ = extract(
        "go", "// Copyright 2024 Example. All rights reserved.\n\n// Package p does things.\npackage p\n"
    )
    assert go.text == "Package p does things."
    js, _ = extract("javascript", "/* eslint-disable */\n// Helpers for dates.\nimport x from 'y';\n")
    assert js.text == "Helpers for dates."
    attached, _ = extract("javascript", "/** Doc of f only. */\nfunction f() {}\n")
    assert attached.text == ""  # the only comment documents the first definition
    licence, _ = extract("c", "/*\n * Licensed under the MIT License.\n */\nint x;\n")
    assert licence.text == ""
    plain, _ = extract("python", "import os\n")
    assert plain.text == ""


# --- exports and visibility --------------------------------------------------------------------------


def visibility(symbols: dict[str, Record]) -> dict[str, str]:
    return {q: s.meta["visibility"] for q, s in symbols.items()}


def test_python_all_and_underscores() -> None:
    f, syms = extract("python", (
        '__all__ = ["Api", "helper"]\n'
        "class Api:\n    def _p(self): pass\n    def __init__(self): pass\n"
        "def helper(): pass\ndef other(): pass\ndef _hidden(): pass\n"
    ))  # fmt: skip
    assert f.meta["exports"] == ["Api", "helper"]
    assert visibility(syms) == {
        "Api": "public", "Api._p": "private", "Api.__init__": "public",
        "helper": "public", "other": "private", "_hidden": "private",
    }  # fmt: skip
    f, syms = extract("python", "def f(): pass\ndef _g(): pass\nclass _Priv:\n    def m(self): pass\n")
    assert f.meta["exports"] == ["f"]
    assert visibility(syms) == {"f": "public", "_g": "private", "_Priv": "private", "_Priv.m": "private"}


def test_python_package_init_exports_what_it_imports() -> None:
    text = (
        "from .store import Store, open_store as open\nfrom . import _impl\nimport os\ndef version(): pass\n"
    )
    f, _ = extract("python", text, path="pkg/__init__.py")
    assert f.meta["exports"] == ["Store", "open", "version"]
    assert f.meta["imports"] == [".", ".store", "os"]


def test_javascript_exports() -> None:
    f, syms = extract("javascript", (
        "export function a() {}\nfunction b() {}\nconst c = () => 1;\nexport { b };\n"
        "export default class D { #x = 1; m() {} }\nmodule.exports.e = 1;\n"
    ))  # fmt: skip
    assert f.meta["exports"] == ["D", "a", "b", "e"]
    assert visibility(syms) == {
        "a": "public", "b": "public", "c": "private", "D": "public", "D.#x": "private", "D.m": "public",
    }  # fmt: skip
    script, syms = extract("javascript", "function run() {}\nfunction _util() {}\n")
    assert script.meta["exports"] == [] and visibility(syms) == {"run": "public", "_util": "private"}


def test_go_rust_java_csharp_ruby_c_visibility() -> None:
    f, syms = extract("go", "package p\nfunc Open() {}\nfunc close() {}\ntype T struct{ A int; b int }\n")
    assert f.meta["exports"] == ["Open", "T"]
    assert visibility(syms) == {
        "Open": "public",
        "close": "private",
        "T": "public",
        "T.A": "public",
        "T.b": "private",
    }
    f, syms = extract(
        "rust", "pub fn a() {}\nfn b() {}\npub(crate) fn c() {}\npub trait Tr { fn m(&self); }\n"
    )
    assert f.meta["exports"] == ["Tr", "a"]
    assert visibility(syms) == {
        "a": "public",
        "b": "private",
        "c": "private",
        "Tr": "public",
        "Tr.m": "public",
    }
    f, syms = extract(
        "java", "public class A { public void p() {} void q() {} private int r; interface I { void s(); } }\n"
    )
    assert visibility(syms) == {
        "A": "public", "A.p": "public", "A.q": "private",
        "A.r": "private", "A.I": "private", "A.I.s": "private",
    }  # fmt: skip
    assert f.meta["exports"] == ["A"]
    _, syms = extract(
        "csharp", "namespace N { public class C { public int P { get; } internal void Q() {} } }\n"
    )
    assert visibility(syms) == {"N": "public", "N.C": "public", "N.C.P": "public", "N.C.Q": "private"}
    f, syms = extract(
        "ruby",
        "class K\n  def a; end\n  private\n  def b; end\n  public\n  def c; end\n  private def d; end\nend\n",
    )
    assert visibility(syms) == {
        "K": "public",
        "K.a": "public",
        "K.b": "private",
        "K.c": "public",
        "K.d": "private",
    }
    header, syms = extract("c", "int api(void);\nstatic int helper(void) { return 0; }\n", path="lib/api.h")
    assert header.meta["exports"] == ["api"] and visibility(syms) == {"api": "public", "helper": "private"}
    source, _ = extract("c", "int api(void) { return 1; }\n", path="lib/api.c")
    assert source.meta["exports"] == []


# --- references ----------------------------------------------------------------------------------------


def test_reference_counts_calls_and_imports() -> None:
    f, syms = extract("python", (
        "import os, sys\nfrom os import path\nimport os\n"
        "def helper(x: Item) -> Item:\n    return x\n"
        "def run():\n    helper(1)\n    helper(2)\n    os.path.join('a')\n"
        "    def inner():\n        return helper(3)\n    return inner()\n"
        "class Thing(Base):\n    def m(self):\n        return run()\n"
    ))  # fmt: skip
    assert f.meta["imports"] == ["os", "sys"]
    assert f.meta["refs"]["helper"] == 3 and f.meta["refs"]["Item"] == 2 and f.meta["refs"]["join"] == 1
    assert f.meta["refs"]["Base"] == 1 and f.meta["refs"]["run"] == 1
    assert syms["run"].meta["calls"] == ["helper", "inner", "join"]  # a closure's calls are its function's
    assert syms["run.inner"].meta["calls"] == ["helper"]
    assert syms["Thing"].meta["calls"] == ["Base"]  # a class does not absorb its methods' calls
    assert syms["Thing.m"].meta["calls"] == ["run"]
    assert f.meta["definitions"] == ["helper", "run", "run.inner", "Thing", "Thing.m"]


def test_calls_keep_the_fifty_most_referenced() -> None:
    body = "".join(f"    f{i:03d}()\n" * (2 if i < 50 else 1) for i in range(80))
    _, syms = extract("python", "def big():\n" + body)
    calls = syms["big"].meta["calls"]
    assert calls == [f"f{i:03d}" for i in range(50)]


# --- records: ids, texts, caps, declarations --------------------------------------------------------


def test_ids_use_qualname_and_occurrence_never_lines() -> None:
    text = "def f(): pass\ndef f(): return 1\n"
    _, symbols = extract_file("m.py", text, LANGS["python"])
    assert [s.id for s in symbols] == [
        record_id("symbol", "m.py", "f", "0"),
        record_id("symbol", "m.py", "f", "1"),
    ]
    _, moved = extract_file("m.py", "\n\n\n" + text, LANGS["python"])
    assert [s.id for s in moved] == [s.id for s in symbols]
    file_record, _ = extract_file("m.py", text, LANGS["python"])
    assert file_record.id == record_id("file", "m.py") and file_record.meta["definitions"] == ["f"]


def test_container_text_lists_member_signatures_without_bodies() -> None:
    methods = "".join(f"    def m{i}(self, x):\n        return x + {i}\n\n" for i in range(3))
    _, syms = extract("python", 'class C(Base):\n    """Doc."""\n    size: int = 0\n\n' + methods)
    assert syms["C"].text == (
        'class C(Base):\n    """Doc."""\n    size: int = 0\n'
        "    def m0(self, x): …\n    def m1(self, x): …\n    def m2(self, x): …"
    )
    _, syms = extract("java", "class K {\n  int a;\n  void f() { g(); }\n}\n")
    assert syms["K"].text == "class K {\n  int a;\n  void f() …\n}"
    assert syms["K.f"].text == "void f() { g(); }"  # dedented to its own first line


def test_long_texts_and_signatures_are_capped() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(400))
    params = ", ".join(f"p{i}" for i in range(200))
    _, syms = extract("python", f"def long({params}):\n{body}")
    text = syms["long"].text
    assert text.endswith("\n…") and len(text.split("\n")) == 201
    assert len(syms["long"].meta["signature"]) <= 300 and syms["long"].meta["signature"].endswith("…")
    huge_line = "    s = '" + "x" * 20_000 + "'\n"
    _, syms = extract("python", "def wide():\n" + huge_line)
    assert len(syms["wide"].text.encode()) <= 12_000 + len("\n…".encode()) and syms["wide"].text.endswith(
        "\n…"
    )


def test_prototypes_and_overloads_merge_into_the_definition() -> None:
    text = "/* Adds. */\nint add(int a, int b);\nint add(int a, int b) { return a + b; }\n"
    _, symbols = extract_file("a.c", text, LANGS["c"])
    assert len(symbols) == 1 and symbols[0].start_line == 3 and symbols[0].meta["doc"] == "Adds."
    text = "export function f(a: string): void;\nexport function f(a: any) {}\n"
    _, symbols = extract_file("a.ts", text, LANGS["typescript"])
    assert [(s.meta["qualname"], s.start_line) for s in symbols] == [("f", 2)]


# --- robustness ----------------------------------------------------------------------------------------


DEPTH = 5000


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("python", "X = " + "(" * DEPTH + "g()" + ")" * DEPTH + "\n", ["X"]),
        ("javascript", "const x = " + "[" * DEPTH + "g()" + "]" * DEPTH + ";\n", []),
        ("javascript", "function f() " + "{" * DEPTH + "g();" + "}" * DEPTH + "\n", ["f"]),
    ],
    ids=["python-expression", "javascript-expression", "javascript-blocks"],
)
def test_deeply_nested_expressions_and_blocks(language: str, text: str, expected: list[str]) -> None:
    file_record, symbols = extract_file("deep." + _EXT[language], text, LANGS[language])
    assert file_record.meta["lines"] == 1 and file_record.meta["refs"] == {"g": 1}
    assert [s.meta["qualname"] for s in symbols] == expected
    assert all(s.meta["calls"] == ["g"] for s in symbols)


def test_deeply_nested_javascript_functions() -> None:
    text = "".join(f"function f{i}() {{\n" for i in range(DEPTH)) + "g();\n" + "}\n" * DEPTH
    file_record, symbols = extract_file("deep.js", text, LANGS["javascript"])
    assert len(symbols) == DEPTH and len({s.id for s in symbols}) == DEPTH
    assert symbols[0].meta["qualname"] == "f0" and symbols[1].meta["qualname"] == "f0.f1"
    deepest = symbols[-1].meta
    assert deepest["qualname"].startswith("f0.….") and deepest["qualname"].endswith(".f4998.f4999")
    assert len(deepest["qualname"]) <= 400 and deepest["calls"] == ["g"]
    assert symbols[0].meta["calls"] == ["g"]  # an enclosing function absorbs its nested functions' calls
    assert all(len(s.text) <= 12_002 for s in symbols)
    assert file_record.meta["lines"] == 2 * DEPTH + 1


def test_deeply_nested_python_definitions() -> None:
    # One space per level keeps the file at 12.5 MB. tree-sitter's Python grammar copes with a few
    # hundred levels only (it keeps the innermost ones), so the test asks for no crash and
    # consistent records, not for all 5,000.
    text = "".join(" " * i + f"def f{i}():\n" for i in range(DEPTH)) + " " * DEPTH + "pass\n"
    file_record, symbols = extract_file("deep.py", text, LANGS["python"])
    assert file_record.meta["lines"] == DEPTH + 1
    assert len(symbols) > 100 and len({s.id for s in symbols}) == len(symbols)
    assert symbols[-1].name == f"f{DEPTH - 1}" and symbols[-1].meta["parent"].endswith(f"f{DEPTH - 2}")
    for sym in symbols:
        assert re.fullmatch(r"f\d+", sym.name) and 1 <= sym.start_line <= sym.end_line <= DEPTH + 1


def test_invalid_syntax_keeps_what_is_found() -> None:
    file_record, syms = extract("python", (
        "def ok():\n    return 1\n\n"
        "def broken(:\n    pass\n\n"
        "class Fine:\n    def m(self):\n        return ok()\n"
    ))  # fmt: skip
    assert {"ok", "Fine", "Fine.m"} <= set(syms)
    assert file_record.meta["lines"] == 9
    _, syms = extract("javascript", "function a() { return 1; }\nfunction (( {\nclass B { m() {} }\n")
    assert "a" in syms


def test_non_ascii_identifiers_strings_and_spans() -> None:
    text = (
        '"""Modül — ünïcode docstring ✓."""\n'
        'GREETING = "héllo wörld 🌍"\n'
        "def grüße(名前: str) -> str:\n"
        '    """Sagt hallo — 你好."""\n'
        '    return f"{GREETING} {名前} ✓"\n'
        "class Ünïcode:\n"
        '    emoji = "🎉🎉🎉"; def méthode(self): return "∑"\n'
    )
    file_record, syms = extract("python", text)
    assert file_record.text == "Modül — ünïcode docstring ✓."
    sym = syms["grüße"]
    assert (sym.start_line, sym.end_line) == (3, 5)
    assert sym.meta["signature"] == "def grüße(名前: str) -> str:"
    assert sym.meta["doc"] == "Sagt hallo — 你好."
    assert sym.text == "\n".join(text.split("\n")[2:5])
    assert (syms["Ünïcode"].start_line, syms["Ünïcode"].end_line) == (6, 7)
    assert file_record.meta["bytes"] == len(text.encode("utf-8")) and file_record.meta["lines"] == 7


def test_crlf_files_extract_like_lf_files() -> None:
    lf = '"""Doc."""\n# About f.\ndef f(a,\n      b):\n    return g(a)\n\nclass C:\n    def m(self): pass\n'
    f_lf, syms_lf = extract_file("m.py", lf, LANGS["python"])
    f_crlf, syms_crlf = extract_file("m.py", lf.replace("\n", "\r\n"), LANGS["python"])
    assert f_crlf.text == f_lf.text == "Doc." and f_crlf.end_line == f_lf.end_line == 8
    for a, b in zip(syms_lf, syms_crlf, strict=True):
        assert (a.id, a.start_line, a.end_line, a.text) == (b.id, b.start_line, b.end_line, b.text)
        assert a.meta == b.meta and "\r" not in b.text + b.meta["signature"] + b.meta["doc"]


@pytest.mark.parametrize("text", ["", "\n", "   \n\n", "# only a comment\n"])
def test_empty_and_trivial_files(text: str) -> None:
    file_record, symbols = extract_file("e.py", text, LANGS["python"])
    assert symbols == []
    assert file_record.meta["lines"] == text.count("\n") and file_record.meta["definitions"] == []
    assert file_record.meta["refs"] == {} and file_record.meta["exports"] == []


def test_a_broken_query_is_a_clear_error() -> None:
    spec = LanguageSpec(
        name="broken", grammar="python", extensions=(".py",), tags="(no_such_node) @definition.function",
        diff_driver="", funcname="", definition_line=re.compile("x"),
    )  # fmt: skip
    with pytest.raises(CtxengError) as err:
        extract_file("a.py", "x = 1\n", spec)
    assert "broken" in err.value.message and "tags.scm" in (err.value.hint or "")


# --- the stage on a real repository --------------------------------------------------------------------


def _file_commits(repo: GitRepo, path: str) -> list[tuple[str, int]]:
    out = repo.git("log", "--format=%H %ct", "--", path)
    return [(sha, int(when)) for sha, when in (line.split() for line in out.splitlines())]


def test_code_stage_on_the_sample_repository(sample_repo: GitRepo) -> None:
    view = open_repo(sample_repo.path)
    selection = select_files(view, load_config(view.root).files, load_config(view.root).secrets)
    paths = [f.path for f in selection.files]
    provenance = Provenance(
        head=view.head, head_time=0, file_commits={p: _file_commits(sample_repo, p) for p in paths}
    )
    seen: list[tuple[str, int, int]] = []
    records = extract_code(selection.files, provenance, lambda *a: seen.append(a))
    files = [r for r in records if r.kind == "file"]
    assert {r.path for r in files} == {p for p in paths if p.endswith((".py", ".js", ".go"))}
    assert seen[0] == ("code", 0, len(files)) and seen[-1] == ("code", len(files), len(files))
    symbols = {(r.path, r.meta["qualname"]): r for r in records if r.kind == "symbol"}
    put = symbols[("kvstore/store.py", "Store.put")]
    assert put.meta["kind"] == "method" and put.meta["parent"] == "Store"
    assert (
        put.commit == _file_commits(sample_repo, "kvstore/store.py")[0][0]
    )  # no patch window: newest commit
    assert symbols[("tools/bench/bench.go", "Result.Rate")].meta["doc"] == "Rate returns puts per second."
    assert symbols[("clients/js/client.js", "Client.get")].meta["calls"] == ["getValue"]
    init = next(r for r in files if r.path == "kvstore/__init__.py")
    assert init.meta["exports"] == ["Store", "decode_record", "encode_record"]
    assert init.text == "kvstore: a tiny append-only key-value store."
    assert all(r.meta["blob"] for r in files) and len({r.id for r in records}) == len(records)
    # Records come file by file: each file record is followed by its own symbols.
    order = [r.path for r in records]
    assert order == sorted(order, key=paths.index)


def test_non_code_files_are_ignored() -> None:
    files = [
        SourceFile("README.md", "", "# Title\n", 8, "utf-8"),
        SourceFile("a.toml", "", "x = 1\n", 6, "utf-8"),
        SourceFile("a.py", "", "def f(): pass\n", 14, "utf-8"),
    ]
    records = extract_code(files, Provenance(), lambda *a: None)
    assert [(r.kind, r.path) for r in records] == [("file", "a.py"), ("symbol", "a.py")]


def test_output_is_deterministic_and_the_pool_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = {f"pkg/m{i}.{_EXT[lang]}": sample.read_text(encoding="utf-8")
             for i, (lang, sample) in enumerate(sorted(SAMPLES.items()))}  # fmt: skip
    files = [
        SourceFile(p, f"blob{i}", t, len(t.encode()), "utf-8")
        for i, (p, t) in enumerate(sorted(texts.items()))
    ]
    provenance = Provenance(head="f" * 40, head_time=7)
    serial = "".join(serialise(extract_code(files, provenance, lambda *a: None)))
    assert serial == "".join(serialise(extract_code(files, provenance, lambda *a: None)))
    monkeypatch.setattr(code, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(code, "_cores", lambda: 2)
    pooled = "".join(serialise(extract_code(files, provenance, lambda *a: None)))
    assert pooled == serial
    # A different hash seed must not change anything either (no set or dict-order leaks).
    script = (
        "import sys; from ctxeng.extract.code import extract_file;"
        "from ctxeng.extract.languages import load_languages;"
        "from ctxeng.core.records import serialise; L = load_languages();"
        "print(''.join(''.join(serialise([f, *s])) for f, s in (extract_file(p, open(p).read(), L[l]) "
        "for l, p in sorted((x.split('=')[0], x.split('=')[1]) for x in sys.argv[1:]))))"
    )
    args = [f"{lang}={path}" for lang, path in sorted(SAMPLES.items())]
    outputs = {
        subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }  # fmt: skip
    assert len(outputs) == 1 and next(iter(outputs))


# --- .h headers: C or C++ by the repository around them --------------------------------------------

_HEADER = "// The store.\nclass Store {\n public:\n  /// Put a value.\n  void put(int key);\n};\n"


def _sources(paths: list[str], blob: str = "") -> list[SourceFile]:
    texts = {".h": _HEADER, ".c": "int main(void) { return 0; }\n"}
    out = []
    for path in paths:
        text = texts.get(Path(path).suffix, "int f() { return 1; }\n")
        out.append(SourceFile(path, blob and f"{blob}-{path}", text, len(text), "utf-8"))
    return out


def _header_reading(records: list[Record]) -> tuple[str, list[tuple[str, str]]]:
    """The language the header was read as, and its symbols' (qualname, kind)."""
    header = next(r for r in records if r.kind == "file" and r.path.endswith(".h"))
    symbols = [
        (r.meta["qualname"], r.meta["kind"]) for r in records if r.kind == "symbol" and r.path == header.path
    ]
    return header.meta["language"], symbols


def test_h_headers_are_cpp_where_cpp_files_outnumber_c_files() -> None:
    cpp_repo = _sources(["main.c", "src/a.cpp", "include/b.hpp", "include/store.h"])
    language, symbols = _header_reading(extract_code(cpp_repo, Provenance(), lambda *a: None))
    assert language == "cpp" and symbols == [("Store", "class"), ("Store.put", "method")]
    # The decision depends on the set of files, not on their order.
    reordered = extract_code(cpp_repo[::-1], Provenance(), lambda *a: None)
    assert _header_reading(reordered) == (language, symbols)
    for c_repo in (
        ["main.c", "util.c", "src/a.cpp", "store.h"],
        ["main.c", "src/a.cpp", "store.h"],
        ["store.h"],
    ):
        assert _header_reading(extract_code(_sources(c_repo), Provenance(), lambda *a: None))[0] == "c"
    assert code.header_language(["a.c", "b.cc", "c.cxx", "x.h"]) == "cpp"
    assert code.header_language(["a.c", "b.cc", "x.h", "README.md"]) == "c"  # a tie stays C
    # Given the build's decision (a refresh extracting only the header), it is followed.
    only_header = _sources(["include/store.h"])
    assert _header_reading(extract_code(only_header, Provenance(), lambda *a: None, "cpp"))[0] == "cpp"


def test_the_extraction_cache_keeps_each_reading_of_a_header(tmp_path: Path) -> None:
    from ctxeng.core.cache import ExtractCache
    from ctxeng.core.config import SecretsConfig
    from ctxeng.extract.files import extract_files
    from ctxeng.secrets import Redactor

    cache = ExtractCache(tmp_path, {})
    redactor = Redactor(SecretsConfig())
    header = _sources(["store.h"], blob="v1")
    c_repo = _sources(["main.c", "util.c"], blob="v1") + header
    cpp_repo = _sources(["a.cpp", "b.cpp"], blob="v1") + header
    first = extract_files(c_repo, None, redactor, cache, lambda *a: None)
    assert _header_reading(first.code)[0] == "c" and first.cached == 0
    second = extract_files(cpp_repo, None, redactor, cache, lambda *a: None)
    assert _header_reading(second.code)[0] == "cpp" and second.cached == 0  # not the C reading from the cache
    third = extract_files(c_repo, None, redactor, cache, lambda *a: None)
    assert _header_reading(third.code)[0] == "c" and third.cached == 3


def test_a_fast_refresh_reads_a_staged_header_as_the_repository_does(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctxeng.pipeline.build import build
    from ctxeng.pipeline.refresh import refresh

    git_repo.commit("C++ sources and a header", {
        "src/a.cpp": "int a() { return 1; }\n", "src/b.cpp": "int b() { return 2; }\n", "include/store.h": _HEADER,
    })  # fmt: skip
    build(git_repo.path)
    git_repo.write("include/store.h", _HEADER + "struct Extra { int n; };\n")
    git_repo.git("add", "include/store.h")
    extracted: list[Record] = []
    real = code.extract_code_batches

    def spy(*args: object, **kwargs: object) -> Iterator[tuple[SourceFile, list[Record]]]:
        for source, records in real(*args, **kwargs):  # type: ignore[arg-type]
            extracted.extend(records)
            yield source, records

    monkeypatch.setattr("ctxeng.extract.files.extract_code_batches", spy)
    result = refresh(git_repo.path, hook=True)
    assert result.mode == "fast" and result.changed == ["include/store.h"]
    language, symbols = _header_reading(extracted)
    assert language == "cpp" and ("Store.put", "method") in symbols and ("Extra", "struct") in symbols


def test_long_decorators_do_not_crowd_the_definition_out_of_its_signature() -> None:
    options = "".join(f'@click.option("--opt{i}", default=None, help="{"word " * 8}")\n' for i in range(8))
    _, symbols = extract(
        "python", f"@click.command()\n{options}def run(opt0: str, opt1: int) -> None:\n    pass\n"
    )
    signature = symbols["run"].meta["signature"]
    assert signature == "… def run(opt0: str, opt1: int) -> None:"
    _, short = extract("python", "@dataclass\nclass Point:\n    x: int\n")
    assert short["Point"].meta["signature"] == "@dataclass class Point:"
