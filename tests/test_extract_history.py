"""The history stage on real repositories: commit and co-change records, provenance, odd histories."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctxeng.core.config import HistoryConfig
from ctxeng.core.fsio import dumps_json
from ctxeng.core.records import record_id
from ctxeng.core.repo import open_repo
from ctxeng.extract.history.parse import DEFINITION_HINTS, parse_patches
from ctxeng.extract.history.patches import patch_command, stream_patches
from ctxeng.extract.history.paths import header_path, omit_reason
from ctxeng.extract.history.stage import HistoryResult, mine_history
from ctxeng.extract.languages import MAX_DEFINITION_LINE, load_languages
from tests.gitrepo import BASE_TIME, GitRepo
from tests.sample_repo import COMMITS


def mine(repo: GitRepo, **options: int) -> HistoryResult:
    return mine_history(open_repo(repo.path), HistoryConfig(**options))


def by_subject(result: HistoryResult) -> dict[str, dict]:
    return {rec.name: rec.to_json() for rec in result.commits}


def serialised(result: HistoryResult) -> str:
    prov = result.provenance
    return "\n".join(
        [dumps_json(r.to_json()) for r in [*result.commits, *result.cochange]]
        + [dumps_json([prov.head, prov.head_time, prov.file_commits, sorted(prov.window)])]
        + [dumps_json(sorted([list(k), list(v)] for k, v in prov.symbol_commits.items()))]
        + [dumps_json(result.stats)]
    )


def numstat(repo: GitRepo, sha: str) -> tuple[int, int]:
    """Lines added and deleted according to git itself (binary files excluded)."""
    added = deleted = 0
    out = repo.git("-c", "core.quotepath=off", "show", "--numstat", "--no-renames", "--format=", sha)
    for line in out.splitlines():
        a, d, _ = line.split("\t", 2)
        if a != "-":
            added, deleted = added + int(a), deleted + int(d)
    return added, deleted


# -- the sample project -------------------------------------------------------------------------


def test_commit_records_follow_the_schema(sample_repo: GitRepo) -> None:
    result = mine(sample_repo)
    assert [r.name for r in result.commits] == [message for message, _ in reversed(COMMITS)]
    head = result.commits[0]
    assert head.commit == sample_repo.head() and head.id == record_id("commit", head.commit)
    assert (head.kind, head.path, head.start_line, head.end_line) == ("commit", "", 0, 0)
    assert head.time == BASE_TIME + 3600 * (len(COMMITS) - 1)
    assert head.meta["date"] == "2024-01-01T13:00:00+00:00"
    assert head.meta["files"] == [{"path": "kvstore/compact.py", "status": "A"}]
    assert head.meta["diff"].startswith("diff --git a/kvstore/compact.py b/kvstore/compact.py\nnew file mode")
    assert head.meta["diff_truncated"] is False
    assert head.meta["stats"] == {"files": 1, "added": 15, "deleted": 0}
    assert head.meta["symbols"] == [{"path": "kvstore/compact.py", "name": "compact"}]
    assert (
        result.stats["commits_seen"]
        == result.stats["commits"]
        == result.stats["patch_window"]
        == len(COMMITS)
    )


def test_line_counts_match_git_numstat(sample_repo: GitRepo) -> None:
    for rec in mine(sample_repo).commits:
        stats = rec.meta["stats"]
        assert (stats["added"], stats["deleted"]) == numstat(sample_repo, rec.commit), rec.name


def test_no_author_names_or_emails_anywhere(sample_repo: GitRepo) -> None:
    sample_repo.commit("Fix the codec\n\nFixes: #12\nSigned-off-by: Ada Tester <ada@example.com>\n"
                       "Co-authored-by: Bob <bob@example.org>", {"kvstore/codec.py": "X = 1\n"})  # fmt: skip
    result = mine(sample_repo)
    text = serialised(result)
    for personal in ("Ada Tester", "ada@example.com", "Bob", "bob@example.org"):
        assert personal not in text
    assert result.commits[0].text == "Fix the codec\n\nFixes: #12"


def test_touched_symbols_and_provenance(sample_repo: GitRepo) -> None:
    result = mine(sample_repo)
    records = by_subject(result)
    tombstones = records["Support deletes with tombstones"]
    symbols = {(s["path"], s["name"]) for s in tombstones["meta"]["symbols"]}
    # `delete` is new; `get` is only the hunk header above it and was not touched.
    assert ("kvstore/store.py", "delete") in symbols and ("kvstore/store.py", "get") not in symbols
    assert ("kvstore/codec.py", "is_tombstone") in symbols
    prov = result.provenance
    assert prov.head == sample_repo.head() and prov.head_time == result.commits[0].time
    assert prov.symbol_commits[("kvstore/store.py", "delete")][0] == tombstones["commit"]
    assert (
        prov.symbol_commits[("kvstore/store.py", "get")][0] == records["Add store with put and get"]["commit"]
    )
    assert prov.window == {r.commit for r in result.commits}
    codec = [sha for sha, _ in prov.file_commits["kvstore/codec.py"]]
    assert codec == [tombstones["commit"], records["Add record codec with checksums"]["commit"]]


def test_patch_window_sizes(sample_repo: GitRepo) -> None:
    newest_two = mine(sample_repo, patch_commits=2)
    assert [("diff" in r.meta) for r in newest_two.commits[:3]] == [True, True, False]
    assert newest_two.provenance.window == {r.commit for r in newest_two.commits[:2]}
    outside = newest_two.commits[2]
    assert outside.meta["symbols"] == [] and outside.meta["stats"] == {"files": 2}
    none = mine(sample_repo, patch_commits=0)
    assert not any("diff" in r.meta for r in none.commits) and none.provenance.window == set()
    assert none.stats["patch_window"] == 0 and none.provenance.symbol_commits == {}
    assert len(mine(sample_repo, max_commits=5).commits) == 5


def test_repeated_runs_are_byte_identical(sample_repo: GitRepo) -> None:
    assert serialised(mine(sample_repo)) == serialised(mine(sample_repo))


def test_progress_is_reported(sample_repo: GitRepo) -> None:
    calls: list[tuple[str, int, int]] = []
    mine_history(open_repo(sample_repo.path), HistoryConfig(), lambda *a: calls.append(a))
    assert calls and {c[0] for c in calls} == {"history"} and calls[-1] == ("history", 14, 14)


# -- co-change ------------------------------------------------------------------------------------


def test_cochange_partners(git_repo: GitRepo) -> None:
    for n in range(3):
        git_repo.commit(f"a and b {n}", {"a.py": f"A = {n}\n", "b.py": f"B = {n}\n"})
    git_repo.commit("a and c", {"a.py": "A = 9\n", "c.py": "C = 1\n"})
    git_repo.commit("a and gone", {"a.py": "A = 10\n", "gone.py": "G = 1\n"})
    git_repo.commit("a and gone again", {"a.py": "A = 11\n", "gone.py": "G = 2\n"})
    git_repo.commit("remove gone", {"gone.py": None})
    git_repo.commit(
        "wide", {f"w{i}.py": "W = 1\n" for i in range(5)} | {"a.py": "A = 12\n", "b.py": "B = 9\n"}
    )
    result = mine(git_repo, cochange_max_files=4)
    rows = {r.path: r for r in result.cochange}
    assert sorted(rows) == [
        "a.py",
        "b.py",
    ]  # c.py pairs once; gone.py is not at HEAD; w*.py only in a wide commit
    a = rows["a.py"]
    assert a.id == record_id("cochange", "a.py") and a.name == "a.py" and a.text == ""
    assert a.meta == {"commits": 6, "partners": [{"path": "b.py", "count": 3, "share": 0.5}]}
    assert rows["b.py"].meta == {"commits": 3, "partners": [{"path": "a.py", "count": 3, "share": 1.0}]}
    assert a.commit == git_repo.head() and a.time == result.commits[0].time  # the file's newest commit
    assert result.stats["cochange_ignored_commits"] == 1


def test_cochange_keeps_ten_partners_by_count_then_path(git_repo: GitRepo) -> None:
    for n in range(2):
        git_repo.commit(
            f"many {n}", {"hub.py": f"H = {n}\n"} | {f"p{i:02}.py": f"P = {n}\n" for i in range(12)}
        )
    git_repo.commit("hub and p11", {"hub.py": "H = 7\n", "p11.py": "P = 7\n"})
    partners = {r.path: r.meta for r in mine(git_repo).cochange}["hub.py"]["partners"]
    assert [p["path"] for p in partners] == ["p11.py", *[f"p{i:02}.py" for i in range(9)]]
    assert partners[0] == {"path": "p11.py", "count": 3, "share": 1.0}


# -- odd histories ---------------------------------------------------------------------------------


def test_merge_commits_are_skipped_and_counted(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"a.py": "A = 1\n"})
    git_repo.git("checkout", "-q", "-b", "side")
    git_repo.commit("side work", {"b.py": "B = 1\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("main work", {"a.py": "A = 2\n"})
    git_repo.git("merge", "-q", "--no-ff", "-m", "Merge side", "side", env=git_repo.date_env())
    result = mine(git_repo)
    assert sorted(r.name for r in result.commits) == ["base", "main work", "side work"]
    assert result.stats["merges_skipped"] == 1 and result.stats["commits_seen"] == 4
    assert git_repo.head() not in result.provenance.window


def test_shallow_clone_mines_what_is_there(git_repo: GitRepo, tmp_path: Path) -> None:
    def a(n: int) -> str:
        return "def one():\n    x = 1\n    y = 2\n    z = 3\n    w = 4\n" + f"    return {n}\n"

    git_repo.commit("one", {"a.py": a(1), "b.py": "B = 1\n"})
    git_repo.commit("two", {"a.py": a(2), "b.py": "B = 2\n"})
    git_repo.commit("three", {"b.py": "B = 3\n"})
    git_repo.commit("four", {"a.py": a(4), "b.py": "B = 4\n"})
    git_repo.commit("five", {"c.py": "C = 5\n"})
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "3", f"file://{git_repo.path}", str(clone)], check=True)
    result = mine_history(open_repo(clone), HistoryConfig())
    assert [r.name for r in result.commits] == ["five", "four", "three"]
    assert result.stats["shallow"] == 1 and result.stats["shallow_boundary"] == 1
    boundary = result.commits[-1]
    assert boundary.meta["shallow_boundary"] is True and boundary.meta["files"] == []
    assert boundary.commit not in result.provenance.window and "diff" not in boundary.meta
    # The boundary's whole-tree "diff" pairs nothing: only `four` changed a.py and b.py together.
    assert result.cochange == []
    assert ("a.py", "one") in result.provenance.symbol_commits
    assert result.provenance.symbol_commits[("a.py", "one")][0] == result.commits[1].commit
    # Files untouched since the boundary are dated by it, the oldest commit the clone has.
    assert result.provenance.file_commits["a.py"][-1][0] == boundary.commit


def test_detached_head(sample_repo: GitRepo) -> None:
    target = sample_repo.git("rev-parse", "HEAD~3").strip()
    sample_repo.git("checkout", "-q", "--detach", target)
    result = mine(sample_repo)
    assert result.provenance.head == target and result.commits[0].commit == target
    assert len(result.commits) == len(COMMITS) - 3


def test_single_commit_repository(git_repo: GitRepo) -> None:
    git_repo.commit(
        "Initial import", {"m.py": "class Box:\n    def open(self):\n        pass\n", "README": "hi\n"}
    )
    [rec] = mine(git_repo).commits
    assert [f["status"] for f in rec.meta["files"]] == ["A", "A"]
    assert rec.meta["symbols"] == [{"path": "m.py", "name": "Box"}, {"path": "m.py", "name": "open"}]
    assert rec.meta["stats"] == {"files": 2, "added": 4, "deleted": 0}


def test_empty_commit_and_rename(git_repo: GitRepo) -> None:
    git_repo.commit("add", {"old.py": "X = 1\n"})
    git_repo.git("mv", "old.py", "new.py")
    git_repo.commit("rename")
    git_repo.commit("nothing")
    records = by_subject(mine(git_repo))
    assert records["nothing"]["meta"]["files"] == [] and records["nothing"]["meta"]["diff"] == ""
    assert records["rename"]["meta"]["files"] == [
        {"path": "new.py", "status": "A"},
        {"path": "old.py", "status": "D"},
    ]


def test_commit_dates_out_of_order(git_repo: GitRepo) -> None:
    git_repo.commit("first", {"a.py": "A = 1\n"})
    git_repo.commit("second", {"a.py": "A = 2\n"})
    late = f"{BASE_TIME - 86400} +0000"  # committed "yesterday", on top of a newer parent
    git_repo.write("a.py", "A = 3\n")
    git_repo.git("commit", "-q", "-am", "third", env={"GIT_AUTHOR_DATE": late, "GIT_COMMITTER_DATE": late})
    result = mine(git_repo)
    assert [r.name for r in result.commits] == ["third", "second", "first"]  # children before parents
    assert result.commits[0].time == BASE_TIME - 86400
    assert [sha for sha, _ in result.provenance.file_commits["a.py"]] == [r.commit for r in result.commits]
    assert serialised(result) == serialised(mine(git_repo))


def test_secret_in_message_is_carried_for_the_secret_stage(git_repo: GitRepo) -> None:
    token = "ghp_" + "x1Y2z3" * 6
    git_repo.commit(f"Rotate token\n\nold token was {token}", {"a.py": "A = 1\n"})
    assert token in mine(git_repo).commits[0].text


def test_odd_file_names(git_repo: GitRepo) -> None:
    names = [
        "new\nline.py",
        "with space.py",
        'quote"back\\slash.py',
        "tab\there.py",
        "naïve ünïcödé.py",
        "日本.py",
    ]
    raw_name = b"latin-\xe9.py"  # not UTF-8
    for round_ in range(2):
        for name in names:
            git_repo.write(name, f"def f{round_}():\n    return {round_}\n")
        with open(os.path.join(os.fsencode(git_repo.path), raw_name), "wb") as fh:
            fh.write(f"def g{round_}():\n    pass\n".encode())
        git_repo.commit(f"round {round_}")
    result = mine(git_repo)
    expected = sorted([*names, "latin-\\xe9.py"])
    assert [f["path"] for f in result.commits[0].meta["files"]] == expected
    touched = {(s["path"], s["name"]) for s in result.commits[0].meta["symbols"]}
    # Renaming f0 to f1 touches both: one definition line removed, one added.
    assert touched == {(n, f) for n in names for f in ("f0", "f1")} | {
        ("latin-\\xe9.py", g) for g in ("g0", "g1")
    }
    assert sorted(r.path for r in result.cochange) == expected
    assert result.provenance.symbol_commits[("new\nline.py", "f1")][0] == git_repo.head()
    assert "\\xe9" in dumps_json(result.commits[0].to_json())  # escaped, so it can be written as UTF-8


def test_binary_secret_lock_and_asset_content_is_left_out(git_repo: GitRepo) -> None:
    files = {
        "blob.dat": b"\x00\x01\x02binary\x00" * 50,
        ".env": "API_TOKEN=hunter2-very-secret\n",
        "poetry.lock": "locked-dependency-content\n",
        "logo.svg": "<svg>vector-asset-content</svg>\n",
        "app.py": "VISIBLE = 1\n",
    }
    git_repo.commit("everything", files)
    result = mine(git_repo)
    rec = result.commits[0]
    diff = rec.meta["diff"]
    assert "\x00" not in diff and "Binary files /dev/null and b/blob.dat differ" in diff
    for hidden in ("hunter2", "locked-dependency", "vector-asset"):
        assert hidden not in diff
    assert "diff --git a/.env b/.env" in diff and "+VISIBLE = 1" in diff
    assert [f["path"] for f in rec.meta["files"]] == sorted(files)
    assert result.stats["patch_files_omitted"] == 4
    assert (
        omit_reason("x/.env") == "secret-file" and omit_reason("conf/prod.cfg", ("*.cfg",)) == "secret-file"
    )
    assert (
        omit_reason("yarn.lock") == "lockfile"
        and omit_reason("a/b.PNG") == "asset"
        and omit_reason("a.py") is None
    )


def test_configured_drivers_never_run(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "driver-ran"
    script = tmp_path / "driver.sh"
    script.write_text(f'#!/bin/sh\necho ran >> {marker}\ncat "$1" 2>/dev/null\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    git_repo.write(".gitattributes", "*.txt diff=evil\n")
    git_repo.git("config", "diff.evil.textconv", str(script))
    git_repo.git("config", "diff.evil.command", str(script))
    git_repo.commit("one", {"a.txt": "one\n"})
    git_repo.commit("two", {"a.txt": "two\n"})
    # Proof that the traps are armed: plain git runs the external diff, and the textconv without it.
    for args in (["log", "-p", "-1"], ["log", "-p", "--no-ext-diff", "-1"]):
        git_repo.git(*args)
        assert marker.exists(), args
        marker.unlink()
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", str(script))
    result = mine(git_repo, patch_commits=-1)
    assert not marker.exists()
    assert "-one\n+two" in result.commits[0].meta["diff"]


def test_hunk_headers_use_the_language_drivers(git_repo: GitRepo) -> None:
    body = "".join(f"      const v{i} = x + {i};\n" for i in range(10))
    js = (
        "export class Bar {\n  run() {\n    const handler = (x) => {\n"
        + body
        + "      return x;\n    };\n  }\n}\n"
    )
    py = (
        "class Store:\n    def put(self, key):\n"
        + "".join(f"        k{i} = key\n" for i in range(10))
        + "        return key\n"
    )
    git_repo.commit("add", {"bar.js": js, "store.py": py})
    git_repo.commit(
        "edit", {"bar.js": js.replace("x + 7", "x * 7"), "store.py": py.replace("k7 = key", "k7 = 7")}
    )
    rec = mine(git_repo).commits[0]
    # git's default hunk header would name the unindented `export class Bar {` / `class Store:`.
    assert "@@ const handler = (x) => {" in rec.meta["diff"] and "@@ def put(self, key):" in rec.meta["diff"]
    assert rec.meta["symbols"] == [{"path": "bar.js", "name": "handler"}, {"path": "store.py", "name": "put"}]


def test_huge_diff_is_bounded_and_streamed(git_repo: GitRepo) -> None:
    git_repo.commit("small", {"keep.py": "K = 1\n"})
    lines = "".join(f"value_{i:05d} = {i} * 2  # {'padding ' * 22}\n" for i in range(20_000))  # 4 MB
    minified = "var a=" + "1+" * 300_000 + "1;\n"  # one 600 KB line
    git_repo.commit("huge", {"big.py": lines, "min.js": minified, "later.py": "def after():\n    pass\n"})
    repo = open_repo(git_repo.path)
    list(stream_patches(repo, [git_repo.head()], 32_000))  # warm the caches (languages, paths) untraced
    tracemalloc.start()
    try:
        [patch] = list(stream_patches(repo, [git_repo.head()], 32_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Streamed: the cap plus a couple of read buffers, never the whole patch.
    assert patch.bytes > 4_000_000 and peak < 1_500_000
    assert patch.truncated and len(patch.diff.encode()) <= 32_000 and patch.diff.endswith("\n")
    assert (patch.added, patch.deleted) == (20_000 + 1 + 2, 0)
    assert patch.symbols == [("later.py", "after")]  # found past the cut
    rec = mine(git_repo).commits[0]
    assert rec.meta["diff_truncated"] is True and rec.meta["stats"]["added"] == 20_003


def test_missing_objects_degrade_to_fewer_patches(git_repo: GitRepo) -> None:
    git_repo.commit("old", {"a.py": "A = 'old content'\n"})
    git_repo.commit("new", {"b.py": "B = 1\n"})
    blob = git_repo.git("rev-parse", "HEAD:a.py").strip()
    obj = git_repo.path / ".git" / "objects" / blob[:2] / blob[2:]
    obj.chmod(0o644)
    obj.unlink()  # as in a partial clone: the patch of "old" needs this blob, that of "new" does not
    (git_repo.path / "a.py").unlink()  # else git reads the identical work-tree file instead
    result = mine(git_repo, patch_commits=-1)
    assert result.stats["patch_error"] == 1 and result.stats["patch_window"] == 1
    new, old = result.commits
    assert "+B = 1" in new.meta["diff"] and "diff" not in old.meta
    assert old.meta["files"] == [{"path": "a.py", "status": "A"}]  # stream 1 needs no blobs
    assert result.provenance.window == {new.commit}


def test_empty_repository_has_no_history(git_repo: GitRepo) -> None:
    result = mine_history(open_repo(git_repo.path), HistoryConfig())
    assert result.commits == [] and result.cochange == [] and result.stats["commits_seen"] == 0


# -- the parser on its own ---------------------------------------------------------------------------


def patch_stream(repo: GitRepo, tmp_path: Path) -> bytes:
    """The raw patch text of every commit, from the very command the history stage runs."""
    shas = repo.git("rev-list", "--date-order", "HEAD")
    argv = patch_command(tmp_path)
    return subprocess.run(argv, cwd=repo.path, input=shas.encode(), capture_output=True, check=True).stdout


@pytest.mark.parametrize("block", [1, 7, 64, 4096])
def test_block_boundaries_do_not_change_results(sample_repo: GitRepo, tmp_path: Path, block: int) -> None:
    text = patch_stream(sample_repo, tmp_path)
    whole = list(parse_patches(io.BytesIO(text).read, 2_000, block=1 << 20))
    assert [p.sha for p in whole] == sample_repo.git("rev-list", "--date-order", "HEAD").split()
    pieces = list(parse_patches(io.BytesIO(text).read, 2_000, block=block))
    assert pieces == whole


def test_header_paths() -> None:
    assert header_path(b"diff --git a/x y.py b/x y.py\n") == "x y.py"
    assert header_path(b"diff --git a/a b/c b/a b/c\n") == "a b/c"
    assert (
        header_path(b'diff --git "a/new\\nline \\"q\\" \\\\.py" "b/new\\nline \\"q\\" \\\\.py"\n')
        == 'new\nline "q" \\.py'
    )
    assert header_path(b'diff --git "a/tab\\there\\001.py" "b/tab\\there\\001.py"\n') == "tab\there\x01.py"
    assert header_path(b"diff --git a/caf\xe9.py b/caf\xe9.py\n") == "caf\\xe9.py"


@pytest.mark.parametrize("language", sorted(DEFINITION_HINTS))
def test_definition_hints_are_in_every_definition_line(language: str) -> None:
    assert language in load_languages(), f"a definition hint for {language} without extractors/{language}"
    spec = load_languages()[language]

    @settings(max_examples=150, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(spec.definition_line))
    def check(line: str) -> None:
        if len(line) > MAX_DEFINITION_LINE:  # such lines never start a definition (bounded regex time)
            assert spec.definition_name(line) is None
            return
        assert spec.definition_name(line)
        assert any(hint.decode() in line for hint in DEFINITION_HINTS[language]), line

    check()
