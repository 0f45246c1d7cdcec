"""`ctxeng context`: prompt-seeded selection from the compact index, budgets, failure modes, the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.core.errors import CtxengError
from ctxeng.core.tokens import count_tokens
from ctxeng.pack import context_for_prompt
from ctxeng.pack.context import Query
from ctxeng.pack.index.reader import INDEX_VERSION
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo
from tests.sample_repo import make_sample_repo


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample repository, built once for this module (tests here only read it)."""
    env = {k: os.environ.get(k) for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                                          "GIT_COMMITTER_EMAIL", "GIT_CONFIG_NOSYSTEM")}  # fmt: skip
    os.environ.update({"GIT_AUTHOR_NAME": "Ada Tester", "GIT_AUTHOR_EMAIL": "ada@example.com",
                       "GIT_COMMITTER_NAME": "Ada Tester", "GIT_COMMITTER_EMAIL": "ada@example.com",
                       "GIT_CONFIG_NOSYSTEM": "1"})  # fmt: skip
    try:
        repo = make_sample_repo(tmp_path_factory.mktemp("ctx") / "kvstore")
        build(repo.path)
    finally:
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return repo.path


def test_query_parsing() -> None:
    q = Query.parse("Why does `Store.put` call encode_record in kvstore/store.py for tombstones?")
    assert {"Store.put", "put", "encode_record"} <= set(q.identifiers)
    assert q.paths == ["kvstore/store.py"]
    assert {"tombston", "encod", "record", "stor"} <= set(q.terms)  # stemmed
    assert "why" not in q.terms and "for" not in q.terms


def test_prompt_words_select_definitions_docs_history_and_terms(built: Path) -> None:
    text = context_for_prompt(built, "how are tombstones encoded when a key is deleted?", 900)
    assert count_tokens(text) <= 900
    assert text.startswith("# Context from ctxeng for this prompt (kvstore @ ")
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## Files", "## Definitions"]
    assert "`def is_tombstone(value: bytes) -> bool`" in text
    assert "**Tombstone** — a record that marks a key as deleted." in text
    assert "Support deletes with tombstones" in text  # the commit that introduced them
    assert "def delete(self, key: str) -> None" in text  # "deleted" and `delete` share a stem
    assert "**Glossary** (`docs/glossary.md:1`)" in text  # a doc section whose body defines tombstones


def test_exact_identifiers_and_paths_rank_first(built: Path) -> None:
    text = context_for_prompt(built, "what does `decode_record` return?", 400)
    defs = text.split("## Definitions", 1)[1]
    assert "def decode_record(data: bytes) -> tuple[str, bytes]" in defs.split("\n###", 2)[1]
    files = context_for_prompt(built, "explain kvstore/compact.py", 300).split("## Files", 1)[1]
    assert files.split("\n")[2].startswith("- `kvstore/compact.py`")


def test_seeded_ranking_reaches_files_the_prompt_does_not_name(built: Path) -> None:
    # compact.py never says "checksum", but it is a neighbour of the codec that does (it imports the store
    # which uses the codec, and they changed together)
    text = context_for_prompt(built, "checksum of encoded records", 800)
    files = [
        line for line in text.split("## Files", 1)[1].split("##", 1)[0].splitlines() if line.startswith("- ")
    ]
    assert files[0].startswith("- `kvstore/codec.py`")
    assert any("kvstore/store.py" in line for line in files[1:])


@pytest.mark.parametrize("budget", [1, 63, 64, 100, 250, 1000, 4000])
def test_budget_is_hard(built: Path, budget: int) -> None:
    text = context_for_prompt(built, "store segment keydir compaction tombstone record codec", budget)
    assert count_tokens(text) <= budget
    if budget < 64:
        assert text == ""


def test_nothing_relevant_gives_nothing(built: Path) -> None:
    assert context_for_prompt(built, "the and of to", 500) == ""
    assert context_for_prompt(built, "quantum chromodynamics lattice", 500) == ""


def test_same_answer_every_time(built: Path) -> None:
    prompt = "how does compaction drop dead records from segments?"
    first = context_for_prompt(built, prompt, 700)
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    code = f"from ctxeng.pack import context_for_prompt; print(context_for_prompt({str(built)!r}, {prompt!r}, 700), end='')"
    other = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert first == other and first


def test_subdirectory_root_finds_the_index(built: Path) -> None:
    assert context_for_prompt(built / "kvstore", "tombstone", 300) == context_for_prompt(
        built, "tombstone", 300
    )


def test_missing_and_broken_index(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit("Initial", {"a.py": "x = 1\n"})
    assert context_for_prompt(git_repo.path, "anything", 500, safe=True) == ""
    with pytest.raises(CtxengError) as err:
        context_for_prompt(git_repo.path, "anything", 500)
    assert "ctxeng build" in (err.value.hint or "")
    (git_repo.path / ".ctxeng").mkdir()
    (git_repo.path / ".ctxeng" / "index.json").write_text("{not json")
    assert context_for_prompt(git_repo.path, "anything", 500, safe=True) == ""
    with pytest.raises(CtxengError, match="cannot read"):
        context_for_prompt(git_repo.path, "anything", 500)
    (git_repo.path / ".ctxeng" / "index.json").write_text('{"version": 999}')
    with pytest.raises(CtxengError, match="another ctxeng version") as err:
        context_for_prompt(git_repo.path, "anything", 500)
    assert "`ctxeng build " in (err.value.hint or "")  # no records: `ctxeng pack` would fail too
    (git_repo.path / ".ctxeng" / "records.jsonl").write_text("")
    with pytest.raises(CtxengError) as err:
        context_for_prompt(git_repo.path, "anything", 500)
    assert "`ctxeng pack " in (err.value.hint or "")  # records there: pack rewrites the index
    (git_repo.path / ".ctxeng" / "index.json").write_text(
        f'{{"version": {INDEX_VERSION}, "files": 3}}'
    )  # right version, wrong shape
    assert context_for_prompt(git_repo.path, "anything", 500, safe=True) == ""
    assert context_for_prompt(tmp_path / "no-such-dir", "anything", 500, safe=True) == ""


def test_a_stale_details_file_degrades_to_names(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    (copy / ".ctxeng").mkdir(parents=True)
    for name in ("index.json", "index-details.jsonl"):
        (copy / ".ctxeng" / name).write_bytes((built / ".ctxeng" / name).read_bytes())
    with open(copy / ".ctxeng" / "index-details.jsonl", "a") as fh:
        fh.write("[]\n")  # another build's details: sizes no longer match the offsets
    text = context_for_prompt(copy, "is_tombstone", 400)
    assert "`is_tombstone`" in text and "def is_tombstone" not in text


def test_cli(built: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["context", "tombstones", "--budget", "300", "-C", str(built)]) == 0
    out = capsys.readouterr().out
    assert "is_tombstone" in out and count_tokens(out) <= 300
    assert main(["context", "tombstones", "--format", "json", "-C", str(built)]) == 0
    assert "is_tombstone" in json.loads(capsys.readouterr().out)["context"]
    assert main(["context", "zzz qqq", "-C", str(built)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "nothing in the index matches" in captured.err


def test_cli_reads_the_prompt_from_stdin_and_fails_clearly_without_index(
    built: Path, git_repo: GitRepo
) -> None:
    cli = [sys.executable, "-m", "ctxeng.cli", "context"]
    proc = subprocess.run([*cli, "--budget", "200"], input="codec checksum", cwd=built, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.returncode == 0 and "codec" in proc.stdout
    git_repo.commit("Initial", {"a.py": "x = 1\n"})
    proc = subprocess.run([*cli, "anything"], cwd=git_repo.path, capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "no context index" in proc.stderr and "ctxeng build" in proc.stderr


def test_the_best_matches_show_their_redacted_source(built: Path) -> None:
    text = context_for_prompt(built, "what does `decode_record` return?", 1500)
    code = text.split("## Code\n", 1)[1]
    assert code.startswith("\n### kvstore/codec.py\n\nL")
    assert "```python\ndef decode_record(data: bytes) -> tuple[str, bytes]:" in code
    assert count_tokens(text) <= 1500
    assert "## Code" not in context_for_prompt(
        built, "what does `decode_record` return?", 900
    )  # too small for bodies


def test_source_bodies_are_redacted(git_repo: GitRepo) -> None:
    key = "AKIA" + "Z7Q3XK2LMN4PRS6T"
    git_repo.commit("Add settings", {"app/settings.py": f'def load_settings():\n    """Load settings."""\n'
                                                           f'    return {{"aws": "{key}"}}\n'})  # fmt: skip
    build(git_repo.path)
    text = context_for_prompt(git_repo.path, "how does `load_settings` work?", 1500)
    assert "def load_settings():" in text and key not in text


def test_past_commit_messages_point_at_the_files_they_changed(built: Path) -> None:
    from ctxeng.pack.associations import past_changes
    from ctxeng.pack.context import idf_table
    from ctxeng.pack.index.reader import load_index

    index = load_index(built)
    paths = index["files"]["path"]
    seeds, _ = past_changes(index, idf_table(index, Query.parse("support tombstones for deletes")))
    # "Support deletes with tombstones" changed exactly these two files
    assert sorted(paths[f] for f in seeds) == ["kvstore/codec.py", "kvstore/store.py"]
    assert past_changes(index, idf_table(index, Query.parse("quantum chromodynamics"))) == ({}, {})


def test_the_repository_is_positional_or_dash_c_and_the_config_is_read(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["context", "tombstones", str(built), "--budget", "300"]) == 0
    positional = capsys.readouterr().out
    assert main(["context", "tombstones", "-C", str(built), "--budget", "300"]) == 0
    assert capsys.readouterr().out == positional and "is_tombstone" in positional
    assert main(["context", "tombstones", str(built), "-C", str(tmp_path)]) == 2  # two different repositories
    assert "give one" in capsys.readouterr().err
    config = built / ".ctxeng.toml"
    config.write_text("[pakc]\n")
    try:
        assert main(["context", "tombstones", str(built)]) == 1
        err = capsys.readouterr().err
        assert "unknown configuration key 'pakc'" in err and "did you mean 'pack'?" in err
    finally:
        config.unlink()


def test_lines_layout_puts_path_and_line_on_every_definition(built: Path) -> None:
    """`ask`, `serve` grounding and the eval read the `lines` layout; agents get one heading per file."""
    grouped = context_for_prompt(built, "what does `decode_record` return?", 400)
    lines = context_for_prompt(built, "what does `decode_record` return?", 400, layout="lines")
    assert "\n### " in grouped.split("## Definitions", 1)[1]
    defs = lines.split("## Definitions", 1)[1].split("\n## ", 1)[0]
    rows = [row for row in defs.splitlines() if row.strip()]
    assert "\n### " not in defs and rows
    assert all(re.match(r"- `[^`]+:\d+` `[\w.]+`", row) for row in rows), rows
    assert any(row.startswith("- `kvstore/") and "`decode_record`" in row for row in rows)
