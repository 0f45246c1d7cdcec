"""Memory and hook time at scale: a synthetic many-file git repository, a cold build and a pre-commit refresh.

Usage: .venv/bin/python bench/scale.py [--files 100000] [--commits 300] [--work /tmp/ctxeng-scale] [--runs 3] [--json]

The repository is generated with `git fast-import` (deterministic: same --files/--commits, same
repository, byte for byte) and reused when it already exists. It holds mostly small Python,
JavaScript and Go modules (functions, classes, docstrings, imports of sibling modules) in nested
packages, a README and design docs per top-level package, and --commits commits after the first
one, each editing a handful of files of one package (so history, co-change and the time split
have data). Measured, each in a fresh process:

- a cold `ctxeng build` (the extraction cache deleted first; `--warm` keeps it): whole-process CPU (git children
  included), wall and peak RSS (`wait4`: the build and the children it waited for), and per stage
  the CPU, wall and running-maximum RSS from the manifest;
- the size of `.ctxeng/` (and of its largest parts);
- a pre-commit refresh after staging a one-function edit of one file: `ctxeng refresh --hook` run
  in the repository with GIT_INDEX_FILE set, as the git hook runs it (median of --runs, each run
  a new edit; the file and the state are restored afterwards by a commit-free `git reset`).

Targets (issue 12): 100,000 files build with peak RSS <= 1 GB and a pre-commit refresh <= 1 s.
The machine is shared: compare CPU seconds and RSS, and say so next to wall figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CTXENG = [sys.executable, "-m", "ctxeng"]
TARGET_RSS_MB = 1024
TARGET_HOOK_S = 1.0
EPOCH = 1_600_000_000
WORDS = (
    "cache", "buffer", "token", "widget", "router", "session", "parser", "stream", "record", "index",
    "queue", "worker", "config", "schema", "handler", "client", "server", "bundle", "layout", "filter",
)  # fmt: skip
LANGS = ("py", "py", "py", "py", "py", "js", "js", "go")  # mostly Python
PER_DIR = 50


def _word(n: int) -> str:
    return WORDS[n % len(WORDS)]


def rel_path(i: int) -> str:
    """File i's path: top/mid/leaf packages of at most PER_DIR files each."""
    leaf, top = i // PER_DIR, i // (PER_DIR * 400)
    ext = LANGS[(i * 7) % len(LANGS)]
    return f"src/{_word(top)}{top}/{_word(leaf // 20)}{(leaf // 20) % 20}/{_word(leaf)}_{leaf % 20}/m{i}_{_word(i * 3)}.{ext}"


def python_module(i: int, rev: int) -> str:
    """A plausible Python module of ~1-2 KB; `rev` changes one function's body."""
    w, w2 = _word(i), _word(i // 3)
    n = 2 + i % 3
    parts = [f'"""{w.title()} helpers for the {w2} layer (module {i})."""\n\nfrom __future__ import annotations\n\n'
             f"import os\nfrom .m{max(0, i - 1)}_{_word((i - 1) * 3)} import make_{_word(i - 1)}_{max(0, i - 1)}\n\n"]  # fmt: skip
    parts.append(
        f"class {w.title()}{i}:\n"
        f'    """A {w} that keeps {w2} entries by name."""\n\n'
        f"    def __init__(self, limit: int = {i % 50 + 8}) -> None:\n"
        f"        self.limit = limit\n        self.items: dict[str, int] = {{}}\n\n"
        f"    def add(self, name: str, value: int) -> int:\n"
        f'        """Store `value` under `name` and return how many entries there are."""\n'
        f"        if len(self.items) >= self.limit:\n            self.items.pop(next(iter(self.items)))\n"
        f"        self.items[name] = value + {rev}\n        return len(self.items)\n\n"
        f"    def _evict(self) -> None:\n        self.items.clear()\n\n\n"
    )
    for k in range(n):
        parts.append(
            f"def {_word(i + k)}_{k}_{i}(path: str, depth: int = {k}) -> str:\n"
            f'    """Resolve the {_word(i + k)} under `path`, {k + 1} levels deep."""\n'
            f"    for _ in range(depth):\n        path = os.path.dirname(path)\n"
            f"    return os.path.join(path, '{_word(i + k)}')\n\n\n"
        )
    parts.append(
        f"def make_{w}_{i}(limit: int = {i % 9}) -> {w.title()}{i}:\n"
        f'    """Build a {w} with the given limit."""\n'
        f"    return {w.title()}{i}(limit + {rev})\n"
    )
    return "".join(parts)


def js_module(i: int, rev: int) -> str:
    """A small ES module with a class and two functions."""
    w = _word(i)
    return (
        f"/**\n * {w.title()} utilities for the {_word(i // 3)} view (module {i}).\n */\n"
        f"import {{ helper{i % 17} }} from './m{max(0, i - 1)}_{_word((i - 1) * 3)}.js';\n\n"
        f"/** Keeps {w} entries in insertion order. */\n"
        f"export class {w.title()}{i} {{\n  constructor(limit = {i % 40 + 4}) {{\n    this.limit = limit;\n"
        f"    this.items = new Map();\n  }}\n\n  /** Add an entry and return the size. */\n"
        f"  add(name, value) {{\n    this.items.set(name, value + {rev});\n    return this.items.size;\n  }}\n}}\n\n"
        f"/** Format a {w} for display. */\nexport function format{w.title()}{i}(value) {{\n"
        f"  return `${{helper{i % 17}(value)}}:{w}`;\n}}\n\n"
        f"export function parse{w.title()}{i}(text) {{\n  return text.split(':')[0];\n}}\n"
    )


def go_module(i: int, rev: int) -> str:
    """A small Go file with a struct, a method and a function."""
    w = _word(i)
    return (
        f'// Package {w} holds {w} helpers (file {i}).\npackage {w}\n\nimport "strings"\n\n'
        f"// {w.title()}{i} keeps {w} entries.\ntype {w.title()}{i} struct {{\n\tLimit int\n\tItems []string\n}}\n\n"
        f"// Add stores an entry and returns the count.\nfunc (x *{w.title()}{i}) Add(name string) int {{\n"
        f"\tx.Items = append(x.Items, strings.TrimSpace(name))\n\treturn len(x.Items) + {rev}\n}}\n\n"
        f"// New{w.title()}{i} builds a {w} with a limit.\nfunc New{w.title()}{i}(limit int) *{w.title()}{i} {{\n"
        f"\treturn &{w.title()}{i}{{Limit: limit}}\n}}\n"
    )


def source(i: int, rev: int) -> str:
    """File i's text at revision `rev`."""
    ext = rel_path(i).rsplit(".", 1)[1]
    return {"py": python_module, "js": js_module, "go": go_module}[ext](i, rev)


def doc_text(top: int, rev: int) -> str:
    """A design note per top-level package."""
    w = _word(top)
    return (
        f"# The {w} package\n\nThe {w} package keeps {_word(top + 1)} state between requests.\n\n"
        f"## Design\n\nEntries are evicted oldest first once the limit (revision {rev}) is reached.\n"
        f"A **{w} limit** is the number of entries one {w} keeps.\n\n## Usage\n\nCall `make_{w}` and add entries.\n"
    )


def _blob(path: str, text: str) -> bytes:
    data = text.encode()
    return b"M 100644 inline " + path.encode() + b"\ndata " + str(len(data)).encode() + b"\n" + data + b"\n"


def _commit(n: int, message: str, body: list[bytes]) -> bytes:
    when = EPOCH + n * 3_600
    who = f"Dev {n % 7} <dev{n % 7}@example.com> {when} +0000".encode()
    msg = message.encode()
    head = (
        b"commit refs/heads/main\nmark :" + str(n + 1).encode() + b"\nauthor " + who + b"\ncommitter " + who
    )
    head += b"\ndata " + str(len(msg)).encode() + b"\n" + msg + b"\n"
    if n:
        head += b"from :" + str(n).encode() + b"\n"
    return head + b"".join(body) + b"\n"


def make_repo(root: Path, files: int, commits: int) -> float:
    """Create the repository (reused when it exists for the same sizes); returns seconds spent."""
    marker = root / ".git" / "ctxeng-scale"
    want = f"{files} {commits}\n"
    if marker.is_file() and marker.read_text() == want:
        return 0.0
    started = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    tops = (files - 1) // (PER_DIR * 400) + 1
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=root, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    first = [_blob("README.md", "# Synthetic\n\nA generated repository for ctxeng's scale benchmark.\n")]
    first += [_blob(f"docs/{_word(t)}{t}.md", doc_text(t, 0)) for t in range(tops)]
    first += [_blob(rel_path(i), source(i, 0)) for i in range(files)]
    first += [_blob(rel_path(i).rsplit("/", 2)[0] + "/README.md", doc_text(i // PER_DIR, 0).replace("# The", "# About the"))
              for i in range(0, files, PER_DIR * 20)]  # one README per mid-level package  # fmt: skip
    proc.stdin.write(_commit(0, "Add the generated packages\n", first))
    del first
    for c in range(1, commits + 1):
        base = (c * 7_919) % files
        touched = sorted({(base + k * 3) % files for k in range(2 + c % 6)})
        body = [_blob(rel_path(i), source(i, c)) for i in touched]
        if c % 10 == 0:
            body.append(_blob(f"docs/{_word(c % tops)}{c % tops}.md", doc_text(c % tops, c)))
        word = _word(touched[0])
        proc.stdin.write(_commit(c, f"Tune the {word} limit in {len(touched)} modules\n\nKeeps {word} entries bounded (batch {c}).\n", body))  # fmt: skip
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=root, check=True)
    (root / ".git" / "info" / "exclude").write_text(".ctxeng/\n.claude/\nCLAUDE.md\n")
    marker.write_text(want)
    return time.perf_counter() - started


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall and CPU seconds (waited-for children included) and peak RSS (MB, via wait4) of one command."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # not proc.wait(): wait4 also gives the peak RSS
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stderr[-2000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "stdout": stdout}  # fmt: skip


def sizes_mb(root: Path) -> dict[str, float]:
    """Sizes of `.ctxeng/` and its top-level parts (MB, apparent size)."""
    parts: dict[str, int] = {}
    total = 0
    for folder, _, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        top = rel.split(os.sep)[0] if rel != "." else ""
        for name in names:
            size = os.lstat(os.path.join(folder, name)).st_size
            total += size
            key = top or name
            parts[key] = parts.get(key, 0) + size
    out = {"total": round(total / 2**20, 1)}
    out.update({k: round(v / 2**20, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])[:8]})
    return out


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def hook_refresh(root: Path, files: int, runs: int) -> dict[str, Any]:
    """Median wall/CPU of `ctxeng refresh --hook` after staging a one-function edit (a new edit each run)."""
    rel = rel_path(files // 2)
    path = root / rel
    original = path.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {"GIT_INDEX_FILE": ".git/index"}
    samples = []
    try:
        for run in range(runs):
            path.write_text(
                original + f"\n\ndef bench_probe_{run}(value: int) -> int:\n    return value + {run}\n"
            )
            git(root, "add", rel)
            samples.append(timed([*CTXENG, "refresh", "--hook", "--json"], root, env))
            mode = json.loads(samples[-1]["stdout"])["mode"]
            if mode != "fast":
                raise SystemExit(f"the hook refresh took the {mode!r} path: {samples[-1]['stdout']}")
    finally:
        path.write_text(original)
        git(root, "add", rel)
        subprocess.run([*CTXENG, "refresh", "--hook"], cwd=root, env=env, capture_output=True, check=False)
    return {
        "wall_s": statistics.median(s["wall_s"] for s in samples),
        "cpu_s": statistics.median(s["cpu_s"] for s in samples),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in samples),
        "samples_wall_s": [s["wall_s"] for s in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ctxeng-scale"))
    parser.add_argument("--runs", type=int, default=3, help="pre-commit refreshes to time (median)")
    parser.add_argument("--no-build", action="store_true", help="reuse the existing .ctxeng/ (refresh only)")
    parser.add_argument(
        "--warm", action="store_true", help="keep the extraction cache (the code stage reads it)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = args.work / f"repo-{args.files}-{args.commits}"
    result: dict[str, Any] = {"files": args.files, "commits": args.commits}
    result["generate_s"] = round(make_repo(root, args.files, args.commits), 1)
    if not args.no_build:
        if args.warm and (root / ".ctxeng").is_dir():
            for entry in (root / ".ctxeng").iterdir():
                if entry.name != "cache":
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        else:
            shutil.rmtree(root / ".ctxeng", ignore_errors=True)
        build = timed([*CTXENG, "build", "--json", "-q", "."], root)
        manifest = json.loads((root / ".ctxeng" / "manifest.json").read_text())
        result["build"] = {k: build[k] for k in ("wall_s", "cpu_s", "peak_rss_mb")} | {"warm": args.warm}
        result["build"]["stages"] = manifest.get("stages", {})
        result["build"]["records"] = manifest.get("records", {})
        result["build"]["dataset_rows"] = {k: manifest.get("dataset", {}).get(k) for k in ("train", "eval")}
    result["ctxeng_dir_mb"] = sizes_mb(root / ".ctxeng")
    result["precommit_refresh"] = hook_refresh(root, args.files, args.runs)
    result["targets"] = {"peak_rss_mb": TARGET_RSS_MB, "precommit_refresh_s": TARGET_HOOK_S}
    result["load_avg_1m"] = round(os.getloadavg()[0], 1)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    build_info = result.get("build", {})
    for name, st in build_info.get("stages", {}).items():
        print(
            f"  {name:9s} cpu {st['cpu_s']:7.2f} s  wall {st['wall_s']:7.2f} s  peak rss {st['peak_rss_mb']:7.1f} MB"
        )
    print(json.dumps({k: v for k, v in result.items() if k != "build"} | {"build": {k: v for k, v in build_info.items() if k != "stages"}}, indent=2, sort_keys=True))  # fmt: skip
    print(
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus: wall times include waiting for a core",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
