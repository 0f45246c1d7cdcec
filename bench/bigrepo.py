"""Build a synthetic repository of many small files and measure memory, output size and refresh times.

Usage: .venv/bin/python bench/bigrepo.py [--files 100000] [--commits 20] [--work /tmp/ctxeng-bigrepo] [--json]

The repository (made once, reused when it exists with the same --files) holds Python modules of
a few small functions and classes spread over nested packages, committed in --commits commits
(each later commit edits a slice of the files, so history, co-change and the split have data).
Measured, each in a fresh process: the cold `ctxeng build` (CPU seconds with git children, peak
RSS of the build process, per-stage figures from the manifest), the size of `.ctxeng/`, a
pre-commit refresh after staging a one-file edit (`ctxeng refresh --hook`), and the refresh after
committing it. Target (issue 12): a 100,000-file repository builds with peak RSS <= 1 GB and a
pre-commit refresh <= 1 s. The machine is shared: compare CPU seconds, and say so next to figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CTXENG = [sys.executable, "-m", "ctxeng"]
TARGET_RSS_MB = 1024
TARGET_HOOK_S = 1.0


def module_text(i: int, revision: int) -> str:
    """A small, plausible Python module (~0.6 KB); `revision` changes one function's body."""
    return (
        f'"""Module {i}: helpers for widget group {i % 97}."""\n\n'
        f"import os\nfrom pkg{i % 13} import common\n\n\n"
        f"class Widget{i}:\n"
        f'    """A widget of group {i % 97}."""\n\n'
        f"    def __init__(self, size: int) -> None:\n        self.size = size\n\n"
        f"    def grow(self, by: int) -> int:\n"
        f'        """Grow the widget and return its new size."""\n'
        f"        self.size += by + {revision}\n        return self.size\n\n\n"
        f"def make_widget_{i}(size: int = {i % 10}) -> Widget{i}:\n"
        f'    """Build a widget of the given size."""\n'
        f"    return Widget{i}(size)\n\n\n"
        f"def path_of_{i}(name: str) -> str:\n    return os.path.join('w{i}', name)\n"
    )


def rel_path(i: int) -> str:
    """Nested packages of at most ~100 modules each."""
    return f"src/pkg{i // 10_000}/sub{(i // 100) % 100}/mod_{i}.py"


def git(root: Path, *args: str, stdin: bytes | None = None) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    subprocess.run(["git", *args], cwd=root, input=stdin, env=env, check=True, capture_output=True)


def make_repo(root: Path, files: int, commits: int) -> None:
    """Create the repository: commit 0 adds every file, later commits edit a slice each."""
    marker = root / ".bench-files"
    if marker.is_file() and marker.read_text().strip() == f"{files} {commits}":
        return
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# Synthetic widgets\n\nA generated repository for benchmarks.\n")
    for i in range(files):
        path = root / rel_path(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(module_text(i, 0))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Add the widget modules")
    step = max(1, files // max(1, commits))
    for c in range(1, commits):
        changed = [rel_path(i) for i in range((c * 7919) % files, files, step)][:25]
        for rel in changed:
            i = int(rel.rsplit("_", 1)[1][:-3])
            (root / rel).write_text(module_text(i, c))
        git(root, "add", *changed)
        git(root, "commit", "-q", "-m", f"Grow widgets faster in batch {c}")
    marker.write_text(f"{files} {commits}\n")
    (root / ".git" / "info" / "exclude").write_text(".bench-files\n.ctxeng/\n.claude/\nCLAUDE.md\n")


def timed(argv: list[str], cwd: Path) -> dict[str, Any]:
    """Wall and CPU seconds (children included) of one command, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "stdout": proc.stdout}


def du_mb(path: Path) -> float:
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return round(total / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ctxeng-bigrepo"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = args.work / f"widgets-{args.files}"
    started = time.perf_counter()
    make_repo(root, args.files, args.commits)
    made = round(time.perf_counter() - started, 1)
    subprocess.run(["rm", "-rf", str(root / ".ctxeng")], check=True)
    rss_file = args.work / "rss.txt"
    build = timed(["/usr/bin/time", "-o", str(rss_file), "-f", "%M", *CTXENG, "build", "-q", "."], root)
    manifest = json.loads((root / ".ctxeng" / "manifest.json").read_text())
    result: dict[str, Any] = {
        "files": args.files, "commits": args.commits, "made_s": made,
        "build": {"wall_s": build["wall_s"], "cpu_s": build["cpu_s"],
                  "peak_rss_mb": round(int(rss_file.read_text().split()[-1]) / 1024, 1),
                  "stages": manifest.get("stages", {})},
        "ctxeng_dir_mb": du_mb(root / ".ctxeng"),
    }  # fmt: skip
    rel = rel_path(args.files // 2)
    path = root / rel
    original = path.read_text()
    path.write_text(original + "\n\ndef bench_probe(value):\n    return value + 1\n")
    git(root, "add", rel)
    hook = timed([*CTXENG, "refresh", "--hook", "--json"], root)
    result["precommit_refresh"] = {k: hook[k] for k in ("wall_s", "cpu_s")} | {
        "mode": json.loads(hook["stdout"])["mode"]
    }
    git(root, "commit", "-q", "-m", "Add a probe", "--", rel)
    post = timed([*CTXENG, "refresh", "--json"], root)
    result["postcommit_refresh"] = {k: post[k] for k in ("wall_s", "cpu_s")} | {
        "mode": json.loads(post["stdout"])["mode"]
    }
    again = timed([*CTXENG, "build", "-q", "."], root)
    result["rebuild_nothing_changed"] = {k: again[k] for k in ("wall_s", "cpu_s")}
    git(root, "reset", "-q", "--hard", "HEAD~1")
    result["targets"] = {"peak_rss_mb": TARGET_RSS_MB, "precommit_refresh_s": TARGET_HOOK_S}
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    print(json.dumps({k: v for k, v in result.items() if k != "build"}, indent=2, sort_keys=True))
    print(json.dumps(result["build"], indent=2, sort_keys=True))
    print(
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus: wall times include waiting for a core",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
