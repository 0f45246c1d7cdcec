"""Time a full `ctxeng build` stage by stage beside the floor of the same work on this machine.

Usage: .venv/bin/python bench/build.py PATH [--patch-commits N] [--repeat 1] [--warm] [--in-place] [--json]

PATH is cloned (hardlinked, fast) to a temporary folder and built there, so the repository is never
written; `--in-place` builds PATH itself. `--patch-commits` is written to the clone's `.ctxeng.toml`
(`[history] patch_commits`; -1 = every commit, the default config mines the newest 1,000).
The build runs as `python -m ctxeng build` in its own process: its CPU seconds include its git
children, and its peak RSS is its own (git's is reported apart). Stage figures come from the
manifest the build writes (`.ctxeng/manifest.json` "stages"). Every run is cold: the extraction
cache (`.ctxeng/cache/`) is deleted first, so `--repeat` compares like with like; `--warm` keeps it
and measures a rebuild of unchanged files instead (the first run still fills it).

Floors, measured on the same machine right before each build:
  (a) `git ls-files` + reading every tracked file;
  (b) the git CLI's history streams alone: `git log --name-status` over the commits the build sees,
      and `git log -p` over the commits it mines with patches; plus, for reference, the exact
      `git diff-tree` command of the history stage (with the hunk-header drivers) over those commits.
Targets (issue): build without full patches <= 10 CPU-s; history with patch_commits = -1 <= 1.5x
floor (b); peak RSS of the build <= 400 MB. Compare CPU seconds, not wall: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ctxeng.extract.history.log import LOG_FORMAT
from ctxeng.extract.history.patches import patch_command
from ctxeng.pipeline.build import STAGES

TARGET_BUILD_CPU_S = 10.0
TARGET_HISTORY_RATIO = 1.5
TARGET_PEAK_RSS_MB = 400.0


@dataclass
class Measure:
    """CPU seconds (user + system), wall seconds and peak RSS (MB) of one child process."""

    cpu_s: float
    wall_s: float
    rss_mb: float


def run_measured(
    argv: list[str], cwd: Path, stdin: Path | None = None, stdout: Any = subprocess.DEVNULL
) -> Measure:
    """Run `argv` and measure that one child with wait4 (its own reaped children included)."""
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as feed:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=feed, stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed ({proc.returncode}): {err.strip()[-500:]}")
    return Measure(usage.ru_utime + usage.ru_stime, time.perf_counter() - start, usage.ru_maxrss / 1024)


def floor_read(repo: Path) -> Measure:
    """(a): list the tracked files with git and read each regular one, in a fresh Python process."""
    code = (
        "import os, subprocess, sys\n"
        "out = subprocess.run(['git', 'ls-files', '-z'], capture_output=True, check=True).stdout\n"
        "paths = out.split(b'\\0')\n"
        "n = 0\n"
        "for p in filter(None, paths):\n"
        "    if os.path.isfile(p) and not os.path.islink(p):\n"
        "        with open(p, 'rb') as fh:\n"
        "            n += len(fh.read())\n"
    )
    return run_measured([sys.executable, "-S", "-c", code], repo)


def _lines(repo: Path, *args: str) -> list[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, text=True).stdout.split()


def floor_history(repo: Path, max_commits: int, patch_commits: int, tmp: Path) -> dict[str, Measure]:
    """(b): the history streams alone, over the same commits as the build (merges carry no patch)."""
    limit = [f"--max-count={max_commits}"] if max_commits > 0 else []
    log = ["git", "log", "-z", "--name-status", "--no-renames", "--date-order", f"--format={LOG_FORMAT}"]
    out = {"git log --name-status": run_measured([*log, *limit, "HEAD"], repo)}
    if patch_commits == 0:
        return out
    merges = set(_lines(repo, "rev-list", "--merges", *limit, "HEAD"))
    window = [s for s in _lines(repo, "rev-list", "--date-order", *limit, "HEAD") if s not in merges]
    window = window if patch_commits < 0 else window[:patch_commits]
    listing = tmp / "window.txt"
    listing.write_text("".join(f"{s}\n" for s in window))
    log_p = ["git", "log", "-p", "--no-renames", "--no-walk=unsorted", "--stdin"]
    out["git log -p"] = run_measured(log_p, repo, listing)
    out["git diff-tree -p + drivers"] = run_measured(patch_command(tmp), repo, listing)
    return out


def build_once(repo: Path) -> tuple[Measure, dict[str, Any]]:
    """Run `ctxeng build` in its own process; return its measure and the manifest it wrote."""
    measure = run_measured([sys.executable, "-m", "ctxeng", "build", str(repo), "--json", "-q"], repo)
    manifest = json.loads((repo / ".ctxeng" / "manifest.json").read_text(encoding="utf-8"))
    return measure, manifest


def prepare(path: Path, patch_commits: int | None, in_place: bool, tmp: Path) -> Path:
    """The repository to build: a hardlinked clone (default) with the patch window configured."""
    if in_place:
        if patch_commits is not None:
            raise SystemExit("--patch-commits needs a clone (it writes .ctxeng.toml); drop --in-place")
        return path
    clone = tmp / path.resolve().name
    subprocess.run(["git", "clone", "-q", str(path.resolve()), str(clone)], check=True)
    if patch_commits is not None:
        (clone / ".ctxeng.toml").write_text(f"[history]\npatch_commits = {patch_commits}\n", encoding="utf-8")
    return clone


def bench(
    path: Path, patch_commits: int | None, repeat: int, in_place: bool, warm: bool = False
) -> dict[str, Any]:
    """Best-of-`repeat` build and floors (by CPU); returns every figure. Cold builds unless `warm`."""
    with tempfile.TemporaryDirectory(prefix="ctxeng-bench-build-") as name:
        tmp = Path(name)
        repo = prepare(path, patch_commits, in_place, tmp)
        best: dict[str, Any] = {}
        for _ in range(repeat):
            if not warm:
                shutil.rmtree(repo / ".ctxeng" / "cache", ignore_errors=True)
            reading = floor_read(repo)
            measure, manifest = build_once(repo)
            history_cfg = manifest["config"]["history"]
            floors = floor_history(repo, history_cfg["max_commits"], history_cfg["patch_commits"], tmp)
            if not best or measure.cpu_s < best["build"]["cpu_s"]:
                best = {"build": asdict(measure), "manifest": manifest}
            for key, value in [("read", reading), *floors.items()]:
                old = best.setdefault("floors", {}).get(key)
                if old is None or value.cpu_s < old["cpu_s"]:
                    best["floors"][key] = asdict(value)
    return summarise(path, best)


def summarise(path: Path, best: dict[str, Any]) -> dict[str, Any]:
    """Stage table, floors and the ratios against the targets."""
    manifest, floors = best["manifest"], best["floors"]
    stages = manifest["stages"]
    history = stages.get("history", {"cpu_s": 0.0})
    history_floor = (
        floors["git log --name-status"]["cpu_s"] + floors.get("git log -p", {"cpu_s": 0.0})["cpu_s"]
    )
    python_rss = max(s["peak_rss_mb"] for s in stages.values())
    patch_commits = manifest["config"]["history"]["patch_commits"]
    own_git = (
        floors["git log --name-status"]["cpu_s"]
        + floors.get("git diff-tree -p + drivers", {"cpu_s": 0.0})["cpu_s"]
    )
    checks = {
        "history_vs_floor": round(history["cpu_s"] / history_floor, 2) if history_floor else None,
        # The same, against the git commands the stage itself must run (hunk-header drivers included).
        "history_vs_own_git": round(history["cpu_s"] / own_git, 2) if own_git else None,
        "peak_rss_mb": python_rss,
        "build_cpu_s": round(best["build"]["cpu_s"], 2),
    }
    return {
        "repository": str(path),
        "head": manifest["head"],
        "files": manifest["files"]["extracted"],
        "cached": manifest["files"]["cached"],
        "history": manifest["history"],
        "patch_commits": patch_commits,
        "build": best["build"],
        "stages": stages,
        "floors": floors,
        "checks": checks,
        "targets": {
            "build_cpu_s": TARGET_BUILD_CPU_S if patch_commits >= 0 else None,
            "history_vs_floor": TARGET_HISTORY_RATIO if patch_commits < 0 else None,
            "history_vs_own_git": None,
            "peak_rss_mb": TARGET_PEAK_RSS_MB,
        },
    }


def render(result: dict[str, Any]) -> str:
    """The human-readable table."""
    hist = result["history"]
    title = (
        f"ctxeng build of {result['repository']} @ {result['head'][:12]}: {result['files']} files extracted "
        f"({result['cached']} from the cache), {hist.get('commits_seen', 0)} commits seen, {hist.get('patch_window', 0)} with patches "
        f"(patch_commits={result['patch_commits']})"
    )
    lines = [
        title,
        "",
        f"{'stage':<34}{'CPU s':>9}{'wall s':>9}{'peak RSS MB':>13}",
    ]
    order = sorted(result["stages"], key=lambda n: (STAGES.index(n) if n in STAGES else len(STAGES), n))
    for name in order:
        stage = result["stages"][name]
        lines.append(f"{name:<34}{stage['cpu_s']:>9.2f}{stage['wall_s']:>9.2f}{stage['peak_rss_mb']:>13.1f}")
    build = result["build"]
    lines.append(f"{'whole process':<34}{build['cpu_s']:>9.2f}{build['wall_s']:>9.2f}{build['rss_mb']:>13.1f}"
                 "  (RSS: max of the build and its git children)")  # fmt: skip
    lines += ["", "floors (git alone, or a bare read)"]
    for name, floor in result["floors"].items():
        label = "(a) git ls-files + read all" if name == "read" else f"(b) {name}"
        lines.append(f"{label:<34}{floor['cpu_s']:>9.2f}{floor['wall_s']:>9.2f}{floor['rss_mb']:>13.1f}")
    checks, targets = result["checks"], result["targets"]
    lines += ["", "targets"]
    rows = [
        ("build CPU s (no full patches)", checks["build_cpu_s"], targets["build_cpu_s"]),
        ("history CPU / floor (b)", checks["history_vs_floor"], targets["history_vs_floor"]),
        ("  ... / its own git commands", checks["history_vs_own_git"], None),
        ("peak RSS MB (build process)", checks["peak_rss_mb"], targets["peak_rss_mb"]),
    ]
    for label, value, target in rows:
        verdict = "" if target is None or value is None else ("ok" if value <= target else "MISSED")
        goal = f"target <= {target}" if target is not None else "(no target for this window)"
        lines.append(f"  {label:<32}{value if value is not None else '-':>8}  {goal}  {verdict}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print the table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--patch-commits", type=int, default=None, help="history.patch_commits (-1 = all)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (by CPU)")
    parser.add_argument("--warm", action="store_true", help="keep the extraction cache between runs")
    parser.add_argument("--in-place", action="store_true", help="build PATH itself instead of a clone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = bench(args.path, args.patch_commits, max(1, args.repeat), args.in_place, args.warm)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
