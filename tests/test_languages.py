"""Golden tests: every language folder's sample extracts to exactly its reviewed `expected.jsonl`.

Regenerate with CTXENG_UPDATE_GOLDENS=1 and review the diff by eye: names, qualnames, kinds,
signatures, docs and visibility must be right, not merely unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ctxeng.core.fsio import dumps_json
from ctxeng.core.provenance import Provenance
from ctxeng.extract.code import extract_file
from ctxeng.extract.languages import language_for, load_languages

EXTRACTORS = Path(__file__).resolve().parent.parent / "extractors"
SAMPLES = sorted(p for p in EXTRACTORS.glob("*/sample.*") if p.is_file())


def _golden_lines(sample: Path) -> str:
    spec = load_languages()[sample.parent.name]
    data = sample.read_bytes()
    file_record, symbols = extract_file(
        sample.name, data.decode("utf-8"), spec, Provenance(head="0" * 40, head_time=0), size=len(data)
    )
    return "".join(dumps_json(r.to_json()) + "\n" for r in [file_record, *symbols])


def test_every_language_has_a_sample() -> None:
    assert sorted(p.parent.name for p in SAMPLES) == sorted(load_languages())


def test_tsx_query_inherits_the_typescript_query_and_adds_jsx() -> None:
    specs = load_languages()
    assert specs["tsx"].tags.startswith(specs["typescript"].tags)
    assert "jsx_opening_element" in specs["tsx"].tags and "jsx_" not in specs["typescript"].tags


def test_inherits_cycles_are_refused(tmp_path: Path) -> None:
    from ctxeng.extract.languages import _tags_with_inherited

    for name, parent in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tags.scm").write_text(f"; inherits: {parent}\n")
    with pytest.raises(ValueError, match="inherits itself"):
        _tags_with_inherited(tmp_path, "a")


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_sample_matches_golden(sample: Path) -> None:
    spec = load_languages()[sample.parent.name]
    assert language_for(sample.name) == spec, "the sample's extension maps to another language"
    text = _golden_lines(sample)
    expected = sample.parent / "expected.jsonl"
    if os.environ.get("CTXENG_UPDATE_GOLDENS") == "1":
        expected.write_text(text, encoding="utf-8")
    assert expected.exists(), f"missing {expected}; run with CTXENG_UPDATE_GOLDENS=1 and review it"
    want = expected.read_text(encoding="utf-8").splitlines()
    got = text.splitlines()
    for i, (w, g) in enumerate(zip(want, got)):
        assert json.loads(g) == json.loads(w), f"{expected.name} line {i + 1} differs"
    assert len(got) == len(want)


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_sample_is_representative(sample: Path) -> None:
    """Each sample shows the features the goldens are meant to pin down."""
    rows = [json.loads(line) for line in _golden_lines(sample).splitlines()]
    file_row, symbols = rows[0], rows[1:]
    kinds = {s["meta"]["kind"] for s in symbols}
    assert file_row["text"], "a file doc (module docstring or header comment)"
    assert file_row["meta"]["imports"], "imports"
    assert file_row["meta"]["refs"], "references"
    assert kinds & {"class", "struct", "interface", "trait", "module", "namespace"}, "a container"
    assert kinds & {"function", "method"}, "functions or methods"
    assert any(s["meta"]["doc"] for s in symbols), "a documented definition"
    assert any(s["meta"]["parent"] for s in symbols), "a nested definition"
    assert any(s["meta"]["visibility"] == "private" for s in symbols), "a private definition"
    assert any(s["meta"]["calls"] for s in symbols), "calls inside a definition"


def test_language_for_picks_the_longest_extension_as_a_scan_of_the_table_does() -> None:
    """The per-length lookup gives what scanning every extension gives (longest match, never the whole name)."""
    import itertools

    from ctxeng.extract.languages import _by_extension

    table = _by_extension()

    def scanned(path: str) -> object:
        base = path.rsplit("/", 1)[-1].lower()
        best, best_len = None, 0
        for ext, spec in table.items():
            if base.endswith(ext) and len(ext) > best_len and len(base) > len(ext):
                best, best_len = spec, len(ext)
        return best

    exts = sorted(table)
    names = [f"src/x{e}" for e in exts] + [f"{e}" for e in exts] + [f"a/B{e.upper()}" for e in exts]
    names += [f"m{a}{b}" for a, b in itertools.product(exts[:40], exts[-40:])]
    names += ["Makefile", "README", "a.tar.gz", "x.d.ts", "x.min.js", "noext", ".hidden", ""]
    for name in names:
        assert language_for(name) is scanned(name), name
