"""Memory of the pack stage at 100,000 files (issue 12): the index written in parts, its detail rows
spelled as they are written, the touched definitions cut to what the index and the model use."""

from __future__ import annotations

import io
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from ctxeng.core.fsio import dumps_json_bytes
from ctxeng.core.records import Record, record_id
from ctxeng.pack.conventions import Conventions
from ctxeng.pack.facts import RepoFacts, facts_from_records
from ctxeng.pack.heat import WIDE_COMMIT
from ctxeng.pack.index import builder
from ctxeng.pack.index.builder import _write_json as write_json
from ctxeng.pack.index.builder import (
    build_index,
    shrink_touched,
    write_index,
)
from ctxeng.pack.index.reader import DETAILS_FILE, INDEX_FILE
from ctxeng.pack.model import trim
from ctxeng.pack.rank import rank


def _facts(files: int = 300, defs: int = 12) -> RepoFacts:
    """Code files with documented definitions (one vendored file) and commits touching 1, 10, 13
    (3 of them in a vendored file), 36 (in 3 files) and every definition."""
    records: list[Record] = []
    touched: list[tuple[str, str]] = []
    for f in range(files):
        path = f"vendor/lib{f}.py" if f == 0 else f"pkg/p{f % 7}/mod_{f}.py"
        meta = {"language": "python", "refs": {f"name_{(f + 1) % files}_0": 2}, "imports": [], "lines": 400}
        records.append(
            Record(record_id("file", path), "file", path, 1, 400, "", 0, path, f"Module {f}.", meta)
        )
        for i in range(defs):
            name = f"name_{f}_{i}"
            doc = (
                f"Do thing {i} of module {f} with the «{i}» widget."
                if i < 10
                else f"Shared sentence {i % 2}."
            )
            sig = (
                f"def {name}(x: int, é: str) -> None:"
                if i < 10
                else f"def {'get' if i % 2 else 'put'}(self) -> int:"
            )
            meta = {"kind": "function", "qualname": name, "signature": sig,
                    "doc": doc, "parent": "", "calls": []}  # fmt: skip
            records.append(Record(record_id("symbol", path, name, "0"), "symbol", path, 10 * i + 1, 10 * i + 9,
                                  "", 0, name, "", meta))  # fmt: skip
            touched.append((path, name))
    picks = {"one": touched[20:21], "ten": touched[20:30], "thirteen": touched[9:22], "all": touched,
             "narrow": touched[24:60]}  # fmt: skip
    for c, (subject, pairs) in enumerate(picks.items()):
        sha = f"{c + 1:040x}"
        meta = {"date": f"2024-0{c + 1}-01T00:00:00+00:00", "stats": {"added": 3, "deleted": 1},
                "files": [{"path": p} for p in sorted({p for p, _ in pairs})],
                "symbols": [{"path": p, "name": n} for p, n in pairs]}  # fmt: skip
        records.append(Record(record_id("commit", sha), "commit", "", 0, 0, sha, 1_700_000_000 + c, subject,
                              subject, meta))  # fmt: skip
    return facts_from_records("mem", records, head="f" * 40)


class _Pieces(io.BytesIO):
    """A binary file that remembers the largest piece written at once."""

    largest = 0

    def write(self, data: Any) -> int:
        self.largest = max(self.largest, len(data))
        return super().write(data)


def test_the_index_is_written_part_by_part_with_the_same_bytes(tmp_path: Path) -> None:
    facts = _facts()
    index, details = build_index(facts, rank(facts), Conventions())
    whole = dumps_json_bytes(index)
    write_index(tmp_path, index, details)
    assert (tmp_path / INDEX_FILE).read_bytes() == whole + b"\n"
    assert (tmp_path / DETAILS_FILE).read_text(encoding="utf-8") == "".join(f"{row}\n" for row in details)
    pieces = _Pieces()
    write_json(pieces, index, 2)
    # Never the whole text at once (before: `dumps_json_bytes(index)`, ~60 MB at 100,000 files).
    assert pieces.getvalue() == whole and pieces.largest < 0.4 * len(whole)


def test_writing_in_parts_spells_json_as_dumps_json(tmp_path: Path) -> None:
    values = [
        {},
        {"b": {}, "a": {"é": [1, 2.5, None], "z": {"y": 1e-05, "x": float("inf")}}, "ü": "ß\n"},
        {"k": {1: "int key"}, "j": [{"b": 1, "a": 2}], "i": {"a": True}},
        [{"a": 1}],
        "text",
    ]
    for n, value in enumerate(values):
        for depth in (0, 1, 2, 3):
            path = tmp_path / f"{n}-{depth}.json"
            with path.open("wb") as out:
                write_json(out, value, depth)
            assert path.read_bytes() == dumps_json_bytes(value), (value, depth)


def test_detail_rows_are_spelled_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = _facts()
    ranking = rank(facts)
    held = build_index(facts, ranking, Conventions())[1]
    monkeypatch.setattr(builder, "LAZY_DETAILS", 1_000)  # as past 100,000 definitions
    tracemalloc.start()
    try:
        index, details = build_index(facts, ranking, Conventions())
        before, _ = tracemalloc.get_traced_memory()
        rows = list(details)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows) == len(details) == len(facts.defs) - 12 and rows[5] == details[5] and details == rows
    assert (
        rows[0]
        == '["def name_105_0(x: int, é: str) -> None","Do thing 0 of module 105 with the «0» widget.","function",9]'
    )
    # Held as strings (before), listing them would have cost only the list's pointers.
    assert after - before > 0.9 * sum(map(sys.getsizeof, rows))
    assert details[-1] == rows[-1] and details[1:3] == rows[1:3] and details[3000] == rows[3000]
    assert held.held is not None and details.held is None and held == details


def test_touched_definitions_are_cut_to_what_the_index_tells() -> None:
    facts = _facts()
    ranking = rank(facts)
    full = build_index(facts, ranking, Conventions())
    before = {c.subject: c.symbols for c in facts.commits}
    shrink_touched(facts)
    after = {c.subject: c.symbols for c in facts.commits}
    # 13 touched, 3 of them in the vendored file: the index shows 10, so they all stay.
    assert after["one"] == before["one"] and after["ten"] == before["ten"]
    assert after["thirteen"] == before["thirteen"] and after["narrow"] == before["narrow"][:13]
    assert len(before["all"]) == 3600 and len(after["all"]) == 13
    assert build_index(facts, ranking, Conventions()) == full
    touched = dict(zip(full[0]["commits"]["subject"], full[0]["commits"]["touched"], strict=True))
    assert (
        touched["all"] == []
        and len(touched["ten"]) == 20
        and len(touched["thirteen"]) == 20 == len(touched["ten"])
    )


def test_the_model_keeps_no_wide_commits_touched_definitions() -> None:
    facts = _facts()
    model = trim(facts, rank(facts), Conventions())
    assert [c.subject for c in model.facts.commits] == ["narrow", "all", "thirteen", "ten", "one"]
    assert [len(c.symbols) for c in model.facts.commits] == [36, 0, 13, 10, 1]
    assert all(c.symbols for c in facts.commits)  # the full facts are left as they were


def test_before_ranking_only_what_ranking_ignores_is_cut() -> None:
    facts = _facts()
    before = {c.subject: c.symbols for c in facts.commits}
    ranking = rank(facts)
    shrink_touched(facts, wider_than=WIDE_COMMIT)  # as `publish.prepare` does
    after = {c.subject: c.symbols for c in facts.commits}
    assert len(after["all"]) == 13 and {k: v for k, v in after.items() if k != "all"} == {
        k: v for k, v in before.items() if k != "all"
    }
    assert rank(facts) == ranking  # the heat counts the narrow commits' definitions, as before


def test_equal_docstring_sentences_and_signatures_are_one_object() -> None:
    defs = _facts().defs
    shared = [d.doc for d in defs if d.doc.startswith("Shared sentence 0")]
    assert len(shared) == 300 and all(doc is shared[0] for doc in shared)
    puts = [d.signature for d in defs if d.signature == "def put(self) -> int"]
    assert len(puts) == 300 and all(sig is puts[0] for sig in puts)
