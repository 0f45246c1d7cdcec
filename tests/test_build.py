"""`ctxeng build` end to end on hostile repositories: defined behaviour, nothing from outside, atomic output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ctxeng.cli import main
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo

OUTSIDE = "OUTSIDE-THE-REPOSITORY-7f3a"


def _all_output_bytes(root: Path) -> bytes:
    """Every file ctxeng wrote into the repository (.ctxeng/, the skill, CLAUDE.md)."""
    paths = [p for p in (root / ".ctxeng").rglob("*") if p.is_file()]
    paths += [p for p in (root / ".claude").rglob("*") if p.is_file()] if (root / ".claude").exists() else []
    if (root / "CLAUDE.md").exists():
        paths.append(root / "CLAUDE.md")
    return b"\n".join(p.read_bytes() for p in sorted(paths))


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctxeng", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_not_a_repository(tmp_path: Path) -> None:
    proc = _run(["build", str(tmp_path)])
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: not a git repository") and lines[1].startswith("hint: ")
    assert "Traceback" not in proc.stderr


def test_empty_repository(git_repo: GitRepo) -> None:
    proc = _run(["build", str(git_repo.path)])
    assert proc.returncode == 1
    assert "has no commits yet" in proc.stderr and "hint: " in proc.stderr
    assert not (git_repo.path / ".ctxeng" / "records.jsonl").exists()


def test_hostile_repository(git_repo: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "secret-outside.txt"
    outside.write_text(OUTSIDE + "\n")
    sub = GitRepo(tmp_path / "sub")
    sub.commit("Sub", {"lib.py": "def sub():\n    return 1\n"})
    git_repo.commit("Start", {"app.py": '"""The app."""\n\n\ndef main():\n    return 1\n'})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("Add feature", {"feature.py": "def feature():\n    return 2\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("Touch app", {"app.py": '"""The app."""\n\n\ndef main():\n    return 3\n'})
    git_repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature", env=git_repo.date_env())
    git_repo.commits += 1
    big_diff = "".join(f"line_{i} = {i}\n" for i in range(20_000))
    deep = "x = " + "(\n" * 5000 + "1" + "\n)" * 5000 + "\n"  # short lines: one long line is "minified"
    deep_js = "function f0() {\n" + "".join(f"function f{i}() {{\n" for i in range(1, 5000)) + "}\n" * 5000
    files: dict[str, str | bytes | None] = {
        "generated_table.py": big_diff,
        "deep.py": deep,
        "deep.js": deep_js,
        "binary.dat": bytes(range(256)) * 10,
        "huge.txt": b"x" * (50 * 1024 * 1024),
        "latin1.py": "# caf\xe9\nname = 'na\xefve'\n".encode("latin-1"),
        "new\nline.py": "def odd():\n    return 1\n",
        "ünï/cødé 😀.py": "def unicode_name():\n    return 'ü'\n",
        "data/model-weights": "version https://git-lfs.github.com/spec/v1\noid sha256:"
        + "a" * 64
        + "\nsize 12345\n",
    }
    git_repo.commit("Add hostile files", files)
    os.symlink(outside, git_repo.path / "link-outside.txt")
    git_repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendored-sub")
    git_repo.commit("Add a link and a submodule")
    result = build(git_repo.path)
    manifest = result.manifest
    skipped = manifest["files"]["skipped"]
    assert skipped["symlink"] == 1 and skipped["submodule"] == 1 and skipped["too-large"] == 1
    assert skipped["lfs-pointer"] == 1 and skipped["binary"] == 1
    records = [
        json.loads(line) for line in (git_repo.path / ".ctxeng/records.jsonl").read_text().splitlines()
    ]
    paths = {r["path"] for r in records if r["kind"] in ("file", "symbol")}
    assert {"app.py", "deep.py", "deep.js", "latin1.py", "new\nline.py", "ünï/cødé 😀.py"} <= paths
    commits = [r for r in records if r["kind"] == "commit"]
    assert "Merge feature" not in {c["name"] for c in commits}  # merges are skipped (and counted)
    assert manifest["history"]["merges_skipped"] == 1
    big = next(c for c in commits if c["name"] == "Add hostile files")
    assert big["meta"]["diff_truncated"] is True
    assert len(big["meta"]["diff"]) <= 40_000
    assert OUTSIDE.encode() not in _all_output_bytes(git_repo.path)


def test_shallow_clone_and_detached_head(sample_repo: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "3", f"file://{sample_repo.path}", str(clone)], check=True
    )
    subprocess.run(["git", "checkout", "-q", "--detach", "HEAD~1"], cwd=clone, check=True)
    manifest = build(clone).manifest
    assert manifest["shallow"] is True and manifest["branch"] == ""
    assert manifest["history"]["shallow"] == 1
    assert (
        manifest["records"]["commit"] == 2
    )  # the boundary commit and its child; the rest is not in the clone


def test_builds_are_byte_identical_across_hash_seeds(sample_repo: GitRepo) -> None:
    outputs = []
    for seed in ("1", "4242"):
        proc = _run(["build", "-q", str(sample_repo.path)], env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        out = sample_repo.path / ".ctxeng"
        outputs.append(
            [(out / n).read_bytes() for n in ("records.jsonl", "dataset/train.jsonl", "dataset/eval.jsonl")]
        )
        for cached in (out / "cache").glob("*"):  # the second build must not just replay the first's cache
            subprocess.run(["rm", "-rf", str(cached)], check=True)
    assert outputs[0] == outputs[1]


def test_ctrl_c_keeps_the_last_good_output(sample_repo: GitRepo) -> None:
    assert main(["build", "-q", str(sample_repo.path)]) == 0
    out = sample_repo.path / ".ctxeng"
    good = {n: (out / n).read_bytes() for n in ("records.jsonl", "dataset/train.jsonl", "manifest.json")}
    sample_repo.commit("Add more", {f"more_{i}.py": f"def f{i}():\n    return {i}\n" for i in range(200)})
    for cached in (out / "cache").glob("*"):
        subprocess.run(["rm", "-rf", str(cached)], check=True)
    env = {**os.environ, "CTXENG_PAUSE_AT": "code", "CTXENG_PAUSE_SECONDS": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "ctxeng", "build", "-q", str(sample_repo.path)],
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # inside its stages, with a staging folder: a Ctrl-C mid-build, every run
        if line.strip() == "ctxeng: paused at code":
            break
    assert any((out / "tmp").glob("stage-*"))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert {n: (out / n).read_bytes() for n in good} == good
    assert not any((out / "tmp").iterdir())


def test_second_concurrent_build_waits_for_the_lock(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    out = sample_repo.path / ".ctxeng"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import time; from pathlib import Path; from ctxeng.core.fsio import Lock\nwith Lock(Path({str(out)!r})):\n"
         "    print('locked', flush=True); time.sleep(3)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        build(sample_repo.path)  # waits (up to 30 s) instead of interleaving writes
        assert time.monotonic() - started >= 1.0
    finally:
        holder.wait()


def test_build_and_refresh_leave_no_file_unclosed(sample_repo: GitRepo) -> None:
    """Python's development mode reports a file left for the collector to close (the dataset's spill file was)."""
    run = [sys.executable, "-X", "dev", "-m", "ctxeng"]
    for args in (["build", "-q"], ["refresh", "-q"]):
        proc = subprocess.run([*run, *args, str(sample_repo.path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "ResourceWarning" not in proc.stderr, proc.stderr
        sample_repo.commit(f"Add {args[0]}", {f"{args[0]}_mod.py": "def added():\n    return 1\n"})
