"""Patching the prompt index for staged changes (`ctxeng.pack.patch_index`) against real builds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxeng.core.config import load_config
from ctxeng.core.fsio import dumps_json
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record
from ctxeng.core.repo import open_repo
from ctxeng.extract.files import extract_files
from ctxeng.extract.selection import select_entries
from ctxeng.pack import context_for_prompt, patch_index
from ctxeng.pack.index import json_rewrite as rejson
from ctxeng.pack.index.columns import lower_median
from ctxeng.pack.index.reader import load_index, qualname, read_details
from ctxeng.pipeline.build import build
from ctxeng.secrets import Redactor
from tests.gitrepo import GitRepo
from tests.sample_repo import make_sample_repo

FILES = ("index.json", "index-details.jsonl")
UTIL = '''"""Helpers for tools built on the store."""

from kvstore.codec import decode_record, encode_record


def roundtrip_size(key: str, value: bytes) -> int:
    """Size of the encoded record of `key` and `value`, checked by decoding it."""
    data = encode_record(key, value)
    decode_record(data)
    return len(data)
'''
FLUSH = '''    def flush(self) -> None:
        """Push buffered writes of the active segment to the operating system."""
        self._log.flush()

'''


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample repository, built once; tests work on copies (`work`)."""
    keys = (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_CONFIG_NOSYSTEM",
    )
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({"GIT_AUTHOR_NAME": "Ada Tester", "GIT_AUTHOR_EMAIL": "ada@example.com",
                       "GIT_COMMITTER_NAME": "Ada Tester", "GIT_COMMITTER_EMAIL": "ada@example.com",
                       "GIT_CONFIG_NOSYSTEM": "1"})  # fmt: skip
    try:
        repo = make_sample_repo(tmp_path_factory.mktemp("patch") / "kvstore")
        build(repo.path)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return repo.path


@pytest.fixture
def work(built: Path, tmp_path: Path) -> GitRepo:
    """A private copy of the built sample repository (same folder name: it appears in the index)."""
    target = tmp_path / built.name
    shutil.copytree(built, target, symlinks=True)
    repo = GitRepo.__new__(GitRepo)  # an existing repository: no `git init`
    repo.path, repo.commits = target, 0
    return repo


def staged_records(root: Path, paths: list[str]) -> dict[str, list[Record]]:
    """The records a pre-commit refresh makes of `paths`: staged content extracted without a cache,
    redacted, dated as uncommitted; a path no longer in the index gets [] (deleted)."""
    repo = open_repo(root)
    config = load_config(root)
    entries = [e for e in repo.index() if e.path in paths]
    selection = select_entries(repo, entries, config.files, config.secrets)
    docs = config.docs if config.docs.enabled else None
    extracted = extract_files(selection.files, docs, Redactor(config.secrets), None, lambda *_: None)
    replaced: dict[str, list[Record]] = {p: [] for p in paths}
    for rec in Provenance(head=repo.head, staged=set(paths)).stamp([*extracted.code, *extracted.docs]):
        replaced[rec.path].append(rec)
    return replaced


def _bytes(root: Path) -> dict[str, bytes]:
    return {name: (root / ".ctxeng" / name).read_bytes() for name in FILES}


def _stage_changes(repo: GitRepo) -> list[str]:
    """Rename `Store.close` to `shutdown`, add `Store.flush`, add kvstore/util.py, delete kvstore/cli.py,
    add a doc section; all staged. Returns the changed paths."""
    store = (repo.path / "kvstore/store.py").read_text()
    store = store.replace("def close(self)", "def shutdown(self)").replace("self.close()", "self.shutdown()")
    store = store.replace("    def shutdown(self)", FLUSH + "    def shutdown(self)")
    repo.write("kvstore/store.py", store)
    repo.write("kvstore/util.py", UTIL)
    arch = (repo.path / "docs/architecture.md").read_text()
    repo.write(
        "docs/architecture.md",
        arch + "\n## Flushing\n\nCall `Store.flush` to push buffered writes to the OS.\n",
    )
    repo.git("rm", "-q", "kvstore/cli.py")
    repo.git("add", "kvstore/store.py", "kvstore/util.py", "docs/architecture.md")
    return ["docs/architecture.md", "kvstore/cli.py", "kvstore/store.py", "kvstore/util.py"]


FIRST = '''"""A script at the top of the repository: it sorts before every other file."""

from kvstore.store import Store


def open_default() -> Store:
    """The store under ./data."""
    return Store.open("data")
'''


def _stage_edges(repo: GitRepo) -> list[str]:
    """Changes at the ends of every table: a new first file, the first file changed, the last file
    (and last definitions) deleted, a doc section added in the middle of README.md."""
    client = (repo.path / "clients/js/client.js").read_text()
    repo.write(
        "clients/js/client.js",
        client.replace("  get(key) {", "  has(key) {\n    return false;\n  }\n\n  get(key) {"),
    )
    repo.write("aaa.py", FIRST)
    readme = (repo.path / "README.md").read_text()
    repo.write(
        "README.md", readme.replace("## Usage", "## Status\n\nAlpha: the format may change.\n\n## Usage")
    )
    repo.git("rm", "-q", "tools/bench/bench.go")
    repo.git("add", "clients/js/client.js", "aaa.py", "README.md")
    return ["README.md", "aaa.py", "clients/js/client.js", "tools/bench/bench.go"]


def _table(index: dict[str, Any], section: str) -> list[tuple[Any, ...]]:
    """A section's rows as tuples, scores left out."""
    cols = {k: v for k, v in sorted(index[section].items()) if k != "score"}
    return list(zip(*cols.values()))


def _details(index: dict[str, Any]) -> list[Any]:
    n = len(index["details"]["offsets"]) - 1
    rows = read_details(index, list(range(n)))
    assert len(rows) == n  # every row read back at its offset: offsets and file agree
    return [rows[i] for i in range(n)]


def test_unchanged_records_reproduce_the_index_bytes(work: GitRepo) -> None:
    before = _bytes(work.path)
    paths = sorted(e.path for e in open_repo(work.path).index())
    for path in paths:
        assert patch_index(work.path, staged_records(work.path, [path])), path
        assert _bytes(work.path) == before, path
    assert patch_index(work.path, staged_records(work.path, paths))
    assert _bytes(work.path) == before


@pytest.mark.parametrize(
    ("stage", "new_file", "uses"),
    [(_stage_changes, "kvstore/util.py", "kvstore/codec.py"), (_stage_edges, "aaa.py", "kvstore/store.py")],
)
def test_patch_lays_out_changes_like_a_full_build(
    work: GitRepo, tmp_path: Path, stage: Any, new_file: str, uses: str
) -> None:
    changed = stage(work)
    old = load_index(work.path)
    assert patch_index(work.path, staged_records(work.path, changed))
    patched = load_index(work.path)
    oracle = tmp_path / "oracle" / work.path.name  # the same staged state, built in full
    shutil.copytree(work.path, oracle, symlinks=True)
    build(oracle)
    full = load_index(oracle)
    assert patched["files"]["path"] == full["files"]["path"]
    assert patched["files"]["summary"] == full["files"]["summary"]
    assert patched["names"] == full["names"]
    assert _table(patched, "defs") == _table(full, "defs")
    assert _table(patched, "docs") == _table(full, "docs")
    assert patched["terms"] == full["terms"]
    assert _details(patched) == _details(full)
    assert patched["details"] == full["details"]
    assert patched["commits"] == full["commits"]
    text = (work.path / ".ctxeng" / "index.json").read_text(encoding="utf-8")
    assert text == dumps_json(json.loads(text)) + "\n"  # reused member texts and new ones join up exactly
    for key in ("head", "repository", "tokenizer", "version", "commands", "glossary"):
        assert patched[key] == old[key]
    # The new file's neighbours are its references (nothing refers to it yet, it has no history):
    # the same as the build's; the file it uses lists it back.
    row = {p: i for i, p in enumerate(patched["files"]["path"])}
    new, used = row[new_file], row[uses]
    assert patched["near"][new] == full["near"][new] == [used, 1000]
    assert new in patched["near"][used][::2]


def test_scores_are_kept_by_qualified_name_else_neutral(work: GitRepo) -> None:
    changed = _stage_changes(work)
    old = load_index(work.path)
    assert patch_index(work.path, staged_records(work.path, changed))
    new = load_index(work.path)

    def scores(index: dict[str, Any]) -> dict[tuple[str, str], int]:
        paths, defs = index["files"]["path"], index["defs"]
        return {(paths[f], qualname(index, i)): defs["score"][i] for i, f in enumerate(defs["file"])}

    before, after = scores(old), scores(new)
    kept = {key: s for key, s in before.items() if key in after}
    assert kept and all(after[key] == s for key, s in kept.items())
    assert ("kvstore/store.py", "Store.close") not in after and ("kvstore/cli.py", "main") not in after
    store_public = [
        s for (p, q), s in before.items() if p == "kvstore/store.py" and not q.split(".")[-1].startswith("_")
    ]
    assert after[("kvstore/store.py", "Store.shutdown")] == lower_median(store_public)
    assert after[("kvstore/store.py", "Store.flush")] == lower_median(store_public)
    repo_public = [s for (p, q), s in before.items() if not q.split(".")[-1].startswith("_")]
    assert after[("kvstore/util.py", "roundtrip_size")] == lower_median(repo_public)
    paths = new["files"]["path"]
    assert new["files"]["score"][paths.index("kvstore/util.py")] == lower_median(old["files"]["score"])
    store = old["files"]["path"].index("kvstore/store.py")
    assert new["files"]["score"][paths.index("kvstore/store.py")] == old["files"]["score"][store]


def test_context_sees_the_patch(work: GitRepo) -> None:
    # Prompts whose context involves none of the changed files come out the same
    unrelated = (
        "what does the Go benchmark Result measure?",
        "what are the consequences in the ADR status?",
    )
    before = {p: context_for_prompt(work.path, p, 600) for p in unrelated}
    assert not any(p in text for text in before.values() for p in ("store.py", "cli.py", "architecture.md"))
    assert "def close(self) -> None" in context_for_prompt(work.path, "how is the store closed", 800)
    assert patch_index(work.path, staged_records(work.path, _stage_changes(work)))
    text = context_for_prompt(work.path, "what does `roundtrip_size` return?", 600)
    assert text.split("## Files\n\n", 1)[1].startswith(
        "- `kvstore/util.py` — Helpers for tools built on the store."
    )
    line = 1 + UTIL.splitlines().index("def roundtrip_size(key: str, value: bytes) -> int:")
    assert (f"- `kvstore/util.py:{line}` `roundtrip_size` `def roundtrip_size(key: str, value: bytes) -> int` — "
            "Size of the encoded record of `key` and `value`, checked by decoding it.") in text  # fmt: skip
    store = (work.path / "kvstore/store.py").read_text().splitlines()
    text = context_for_prompt(work.path, "how do I flush the store?", 800)
    assert (
        f"- `kvstore/store.py:{1 + store.index('    def flush(self) -> None:')}` `Store.flush` "
        "`def flush(self) -> None` — Push buffered" in text
    )
    text = context_for_prompt(work.path, "`shutdown` the store", 800)
    shutdown = 1 + store.index("    def shutdown(self) -> None:")
    assert f"- `kvstore/store.py:{shutdown}` `Store.shutdown` `def shutdown(self) -> None`" in text
    assert "**Architecture > Flushing** (`docs/architecture.md:" in context_for_prompt(
        work.path, "flushing", 800
    )
    for prompt in (
        "how is the store closed",
        "`close` the store",
        "the `main` command line in kvstore/cli.py",
    ):
        text = context_for_prompt(work.path, prompt, 800)
        assert "def close(" not in text and "kvstore/cli.py" not in text and "def main(" not in text
    assert {p: context_for_prompt(work.path, p, 600) for p in unrelated} == before


def test_patch_then_revert_restores_all_but_the_removed_scores(work: GitRepo) -> None:
    before = _bytes(work.path)
    old = load_index(work.path)
    original = staged_records(work.path, ["kvstore/store.py"])
    _stage_changes(work)
    assert patch_index(work.path, staged_records(work.path, ["kvstore/store.py"]))
    assert patch_index(work.path, original)
    new = load_index(work.path)
    differ = [i for i, (a, b) in enumerate(zip(old["defs"]["score"], new["defs"]["score"])) if a != b]
    assert [qualname(new, i) for i in differ] == ["Store.close"]  # gone in between: a neutral score now
    new["defs"]["score"] = old["defs"]["score"]
    assert new.pop("_dir") != old.pop("_dir")  # each patch is a generation of its own
    assert new == old
    assert _bytes(work.path)["index-details.jsonl"] == before["index-details.jsonl"]


def test_bytes_do_not_depend_on_hash_seeds(work: GitRepo, tmp_path: Path) -> None:
    _stage_changes(work)
    script = ("import sys; from pathlib import Path; from tests.test_pack_patch import staged_records;"
              "from ctxeng.pack import patch_index; root = Path(sys.argv[1]);"
              "assert patch_index(root, staged_records(root, sys.argv[2:]))")  # fmt: skip
    results = []
    for seed in ("1", "2"):
        copy = tmp_path / f"seed{seed}" / work.path.name
        shutil.copytree(work.path, copy, symlinks=True)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        changed = ["docs/architecture.md", "kvstore/cli.py", "kvstore/store.py", "kvstore/util.py"]
        subprocess.run([sys.executable, "-c", script, str(copy), *changed], check=True, env=env,
                       cwd=Path(__file__).resolve().parents[1])  # fmt: skip
        results.append(_bytes(copy))
    assert results[0] == results[1]


def test_missing_corrupt_or_foreign_index_is_left_alone(work: GitRepo, git_repo: GitRepo) -> None:
    git_repo.commit("Initial", {"a.py": "def f():\n    return 1\n"})
    assert patch_index(git_repo.path, staged_records(git_repo.path, ["a.py"])) is False
    assert not (git_repo.path / ".ctxeng").exists()
    replaced = staged_records(work.path, ["kvstore/store.py"])
    folder = work.path / ".ctxeng"
    good = _bytes(work.path)
    index = json.loads(good["index.json"])
    variants = {
        "garbage": (b'{"version": 4, "files": [', good[FILES[1]]),
        "other version": (json.dumps({**index, "version": index["version"] + 1}).encode(), good[FILES[1]]),
        "details of another build": (good["index.json"], good[FILES[1]] + b"[]\n"),
        "rows out of range": (
            json.dumps({**index, "near": [[99, 1]] * len(index["near"])}).encode(),
            good[FILES[1]],
        ),
        "postings out of range": (
            json.dumps({**index, "terms": {**index["terms"], "d": {"store": [10**6]}}}).encode(),
            good[FILES[1]],
        ),
        "not utf-8": (b"\xff\xfe" + good["index.json"], good[FILES[1]]),
    }
    for label, (text, details) in variants.items():
        (folder / FILES[0]).write_bytes(text)
        (folder / FILES[1]).write_bytes(details)
        assert patch_index(work.path, replaced) is False, label
        assert _bytes(work.path) == {FILES[0]: text, FILES[1]: details}, label
    (folder / FILES[1]).unlink()
    assert patch_index(work.path, replaced) is False
    for name, data in good.items():
        (folder / name).write_bytes(data)
    wrong_path = {"kvstore/cli.py": replaced["kvstore/store.py"]}
    bad_meta = {"kvstore/store.py": [Record(**{**r.to_json(), "meta": {**r.meta, "lines": "many"}})
                                     for r in replaced["kvstore/store.py"]]}  # fmt: skip
    for label, bad in (("records under another path", wrong_path), ("bad meta", bad_meta)):
        assert patch_index(work.path, bad) is False, label
        assert _bytes(work.path) == good, label


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), JSON, max_size=5), st.dictionaries(st.text(max_size=6), JSON, max_size=3),
       st.integers(0, 3))  # fmt: skip
def test_rewriting_json_reuses_unchanged_members_and_writes_what_dumps_json_writes(
    doc: dict[str, Any], changes: dict[str, Any], depth: int
) -> None:
    parsed = rejson.parse(dumps_json(doc), depth)
    assert parsed.value == doc
    assert rejson.dump(parsed.value, parsed) == dumps_json(doc)
    changed = {**parsed.value, **changes}
    for key, value in parsed.value.items():  # change inside nested objects too
        if isinstance(value, dict) and changes:
            changed[key] = {**value, **changes}
    assert rejson.dump(changed, parsed) == dumps_json(changed)
    assert rejson.parse(json.dumps(doc, indent=1), depth).value == doc


def test_rewriting_json_copies_only_the_very_objects_it_parsed() -> None:
    parsed = rejson.parse('{"a":1,"b":[1.0],"c":{"d":[0]}}')
    same_values = {"a": True, "b": [1], "c": {"d": [False]}}  # equal in Python, not in JSON
    assert (
        rejson.dump(same_values, parsed) == dumps_json(same_values) == '{"a":true,"b":[1],"c":{"d":[false]}}'
    )


def test_rewriting_json_rejects_what_is_not_one_object() -> None:
    for bad in ("[1]", '{"a":1} x', '{"a" 1}', '{"a":1,}', '{"a":1', '{"a":[1}', ""):
        with pytest.raises(ValueError):
            rejson.parse(bad)
