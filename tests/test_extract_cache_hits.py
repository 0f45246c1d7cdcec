"""Records read back from the extraction cache are the records extraction made, strings shared."""

from __future__ import annotations

import marshal
from pathlib import Path

from ctxeng.core.cache import ExtractCache
from ctxeng.core.config import DocsConfig, SecretsConfig
from ctxeng.core.provenance import Provenance
from ctxeng.extract.files import extract_files
from ctxeng.extract.selection import SourceFile
from ctxeng.secrets import Redactor

_PY = '''"""Module {n}."""

import os


class Store{n}:
    """A store."""

    def put(self, value):
        return os.path.join(value, helper())


def helper():
    return "x"
'''


def _files() -> list[SourceFile]:
    out = []
    for n in range(3):
        text = _PY.format(n=n)
        out.append(SourceFile(f"pkg/m{n}.py", f"blob-{n}", text, len(text), "utf-8"))
    doc = "# Guide\n\nHow to use the store.\n\n## Details\n\nMore about it.\n"
    out.append(SourceFile("docs/guide.md", "blob-doc", doc, len(doc), "utf-8"))
    return out


def test_cached_records_equal_extracted_ones_and_share_their_strings(tmp_path: Path) -> None:
    redactor = Redactor(SecretsConfig())
    cache = ExtractCache(tmp_path, {})
    cold = extract_files(_files(), DocsConfig(), redactor, cache, lambda *a: None)
    warm = extract_files(_files(), DocsConfig(), redactor, ExtractCache(tmp_path, {}), lambda *a: None)
    assert cold.cached == 0 and warm.cached == 4  # the second run read every file from the cache
    assert warm.code == cold.code and warm.docs == cold.docs and warm.code and warm.docs
    assert (
        warm.keys == cold.keys and warm.redactions == cold.redactions and warm.docs_stats == cold.docs_stats
    )
    # One object per repeated string across files, as for freshly extracted records.
    symbols = [r for r in warm.code if r.kind == "symbol" and r.name == "put"]
    assert len(symbols) == 3
    assert symbols[0].kind is symbols[1].kind and symbols[0].meta["language"] is symbols[2].meta["language"]
    calls = [r.meta["calls"] for r in symbols]
    assert calls[0] == calls[1] and all(a is b for a, b in zip(calls[0], calls[1], strict=True))
    files = [r for r in warm.code if r.kind == "file"]
    assert files[0].meta["imports"][0] is files[1].meta["imports"][0]


def test_a_damaged_cache_entry_is_a_miss(tmp_path: Path) -> None:
    redactor = Redactor(SecretsConfig())
    cache = ExtractCache(tmp_path, {})
    cold = extract_files(_files(), None, redactor, cache, lambda *a: None)
    entries = sorted((tmp_path / "cache/extract").rglob("*.marshal"))
    assert len(entries) == 4
    # A row of the wrong shape, a record whose meta is not a dict, other data, a torn entry.
    entries[0].write_bytes(marshal.dumps((1, [("x", "symbol")], {})))
    entries[1].write_bytes(marshal.dumps((1, [("x", "file", "p", 1, 1, "", 0, "n", "t", [])], {})))
    entries[2].write_bytes(marshal.dumps({"records": [], "counters": {}}))
    entries[3].write_bytes(entries[3].read_bytes()[:-7])
    warm = extract_files(_files(), None, redactor, ExtractCache(tmp_path, {}), lambda *a: None)
    assert warm.cached == 0 and sorted(warm.code, key=repr) == sorted(cold.code, key=repr)
    dated = extract_files(
        _files(), None, redactor, ExtractCache(tmp_path, {}), lambda *a: None, provenance=Provenance(head="h")
    )
    assert dated.cached == 4 and len(dated.code) == len(cold.code)


def test_cache_hits_dated_while_read_equal_stamped_ones(tmp_path: Path) -> None:
    redactor = Redactor(SecretsConfig())
    provenance = Provenance(
        head="h" * 40,
        head_time=30,
        file_commits={"pkg/m0.py": [("b" * 40, 20), ("a" * 40, 10)], "docs/guide.md": [("c" * 40, 5)]},
        symbol_commits={("pkg/m0.py", "put"): ("b" * 40, 20)},
        window={"b" * 40},
        staged={"pkg/m2.py"},
    )
    # A cold run: extracted records come dated, and the cache stores them undated.
    cold = extract_files(
        _files(), DocsConfig(), redactor, ExtractCache(tmp_path, {}), lambda *a: None, provenance=provenance
    )
    undated = extract_files(_files(), DocsConfig(), redactor, ExtractCache(tmp_path, {}), lambda *a: None)
    assert cold.cached == 0 and undated.cached == 4 and all(r.commit == "" for r in undated.code)
    assert sorted(cold.code, key=repr) == sorted(provenance.stamp(undated.code), key=repr)
    dated = extract_files(
        _files(), DocsConfig(), redactor, ExtractCache(tmp_path, {}), lambda *a: None, provenance=provenance
    )
    assert dated.cached == 4
    expected = provenance.stamp(undated.code)
    assert dated.code == expected and dated.docs == provenance.stamp(undated.docs)
    assert {(r.path, r.commit, r.time) for r in dated.code if r.kind == "file"} == {
        ("pkg/m0.py", "b" * 40, 20),
        ("pkg/m1.py", "h" * 40, 30),
        ("pkg/m2.py", "", 0),
    }
    assert all(
        a is b for a, b in zip(provenance.stamp(dated.code), dated.code, strict=True)
    )  # nothing to copy


def test_prune_drops_entries_of_the_older_json_format(tmp_path: Path) -> None:
    redactor = Redactor(SecretsConfig())
    cache = ExtractCache(tmp_path, {})
    extract_files(_files(), DocsConfig(), redactor, cache, lambda *a: None)
    current = sorted((tmp_path / "cache/extract").rglob("*.marshal"))
    old = current[0].with_suffix(".json")  # what an older ctxeng wrote for the same key
    old.write_bytes(b'{"records": [], "counters": {}}')
    assert cache.prune() == 1
    assert not old.exists() and sorted((tmp_path / "cache/extract").rglob("*.marshal")) == current
