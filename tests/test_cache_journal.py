"""JournalTable: additions go to a side file, folded into the main file once they are a share of it."""

from __future__ import annotations

from pathlib import Path

from ctxeng.core.cache_journal import JOURNAL_SHARE, JournalTable


def _fill(path: Path, n: int) -> None:
    table = JournalTable(path, "s")
    for i in range(n):
        table.put(f"k{i}", [i, "v"])
    table.save({f"k{i}" for i in range(n)})


def test_additions_are_journaled_then_folded(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    _fill(path, 80)  # a first save writes the main file
    assert path.is_file() and not (tmp_path / "t.json.new").exists()
    main = path.read_bytes()
    used = {f"k{i}" for i in range(80)}
    table = JournalTable(path, "s")
    table.put("extra", [1])
    table.save(used | {"extra"})
    assert path.read_bytes() == main  # one addition: the main file is not rewritten
    assert (tmp_path / "t.json.new").is_file()
    again = JournalTable(path, "s")
    assert again.entries["extra"] == [1] and again.entries["k3"] == [3, "v"] and len(again.entries) == 81
    for i in range(80 // JOURNAL_SHARE):  # past an eighth of the main file: folded into it
        again.put(f"more{i}", [i])
    again.save(used | {"extra"} | {f"more{i}" for i in range(10)})
    assert not (tmp_path / "t.json.new").exists()
    assert path.read_bytes() != main
    assert len(JournalTable(path, "s").entries) == 81 + 80 // JOURNAL_SHARE


def test_unused_entries_are_dropped_and_a_torn_journal_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    _fill(path, 40)
    table = JournalTable(path, "s")
    table.put("new", [0])
    table.save({"new"})  # 41 entries, 1 used: the unused ones go, into the main file
    assert set(JournalTable(path, "s").entries) == {"new"}
    assert not (tmp_path / "t.json.new").exists()
    _fill(path, 40)
    table = JournalTable(path, "s")
    table.put("late", [9])
    table.save(set(table.entries))
    (tmp_path / "t.json.new").write_bytes(b'{"salt": "s", "entries": {"late": [')
    assert "late" not in JournalTable(path, "s").entries
    assert len(JournalTable(path, "s").entries) == 41  # "new" and the 40 added again
    (tmp_path / "t.json.new").write_text('{"salt": "other", "entries": {"late": [9]}}')
    assert "late" not in JournalTable(path, "s").entries
