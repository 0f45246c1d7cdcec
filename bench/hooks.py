"""Benchmark the paths people wait on: `ctxeng --help`, the Claude Code hooks and the refresh after an edit.

Usage: .venv/bin/python bench/hooks.py [--runs 7] [--repos requests,sqlalchemy] [--measures ...] [--work DIR] [--json]

Each repository under /work/repos is cloned to --work/<name> (default /tmp/ctxeng-bench; never written in
place) and built once. Every figure is the wall time of a fresh process, as a user or Claude Code sees it:
the median (and the minimum) of --runs runs, beside the median CPU time. Targets from issue 5: `--help`
<= 150 ms; the UserPromptSubmit hook <= 1 s on ~1,000 files; a refresh after editing one file <= 300 ms on
~200 files and <= 500 ms on ~1,000 files. From issue 13: the refresh after a one-file commit (what the
post-commit hook runs) <= 1 s on ~250 files and <= 2 s on sqlalchemy; a second `build` with nothing
changed <= 1 s.

--measures picks among help, prompt, session, status, refresh, commit, rebuild (default: all).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SOURCE = Path("/work/repos")
WORK = Path("/tmp/ctxeng-bench")
CTXENG = [sys.executable, "-m", "ctxeng"]
PROMPTS = {
    "flask": "How does the application context get pushed while a request is dispatched to a view?",
    "sqlalchemy": "Why does Session.flush fail when a relationship cascade deletes an orphan twice?",
    "requests": "How does a Session merge environment settings such as proxies into a request?",
    "express": "How does the router match a path and dispatch to the next middleware?",
}
EDITED = {
    "flask": "src/flask/helpers.py", "sqlalchemy": "lib/sqlalchemy/orm/scoping.py",
    "requests": "src/requests/help.py", "express": "lib/utils.js",
}  # fmt: skip
TARGETS_MS = {
    "help": 150, "prompt_hook:sqlalchemy": 1_000, "refresh:flask": 300, "refresh:sqlalchemy": 500,
    "commit_refresh:flask": 1_000, "commit_refresh:requests": 1_000, "commit_refresh:express": 1_000,
    "commit_refresh:sqlalchemy": 2_000, "rebuild:flask": 1_000, "rebuild:requests": 1_000,
    "rebuild:express": 1_000, "rebuild:sqlalchemy": 1_000,
}  # fmt: skip
MEASURES = ("help", "prompt", "session", "status", "refresh", "commit", "rebuild")


CPU: list[float] = []  # CPU seconds (user + sys) of each child run, parallel to the wall samples
OUT: list[str] = []  # stdout of each child run


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], cwd: Path, stdin: str = "", check: bool = True) -> float:
    """Wall seconds of one run of `cmd` (its CPU seconds go to `CPU`, its stdout to `OUT`)."""
    cpu, started = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    CPU.append(_children_cpu() - cpu)
    OUT.append(proc.stdout)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def figure(samples: list[float]) -> dict[str, float]:
    """Median and minimum wall milliseconds, and the median CPU milliseconds of the same runs.

    On a loaded machine wall time includes waiting for a core; CPU time shows the work itself.
    """
    cpu = CPU[-len(samples) :]
    return {"median_ms": round(1000 * statistics.median(samples), 1), "min_ms": round(1000 * min(samples), 1),
            "cpu_ms": round(1000 * statistics.median(cpu), 1)}  # fmt: skip


def prepare(name: str, work: Path = WORK) -> tuple[Path, float | None]:
    """Clone and build once; returns the clone and the build's wall seconds (None when reused)."""
    clone = work / name
    if not clone.exists():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(SOURCE / name), str(clone)], check=True)
    usable = (
        subprocess.run(
            [*CTXENG, "context", PROMPTS[name]], cwd=clone, capture_output=True, check=False
        ).returncode
        == 0
    )
    if (
        usable
    ):  # a build from an older ctxeng (another index version) is rebuilt, never timed as an empty answer
        subprocess.run([*CTXENG, "refresh", "-q", "."], cwd=clone, check=True)  # state brought to this HEAD
        return clone, None
    return clone, run([*CTXENG, "build", "-q", "."], clone)


def hook_event(clone: Path, event: str, prompt: str = "") -> str:
    data = {
        "session_id": "bench",
        "transcript_path": "/tmp/bench.jsonl",
        "cwd": str(clone),
        "hook_event_name": event,
    }
    return json.dumps({**data, "prompt": prompt} if prompt else {**data, "source": "startup"})


def bench_refresh(clone: Path, rel: str, runs: int) -> list[float]:
    """Stage a one-function edit of `rel`, time `ctxeng refresh --hook`; the file is restored afterwards."""
    path = clone / rel
    original = path.read_bytes()
    samples = []
    try:
        for i in range(runs):
            path.write_bytes(
                original + f"\n\ndef _ctxeng_bench_probe_{i}(value):\n    return value + {i}\n".encode()
            )
            subprocess.run(["git", "add", rel], cwd=clone, check=True)
            samples.append(run([*CTXENG, "refresh", "--hook", "--json"], clone))
            mode = json.loads(OUT[-1])["mode"]
            if mode != "fast":  # the pre-commit path after one edit; anything else would time something else
                raise SystemExit(f"refresh after one edit took the {mode!r} path: {OUT[-1]}")
    finally:
        path.write_bytes(original)
        subprocess.run(["git", "add", rel], cwd=clone, check=True)
        subprocess.run([*CTXENG, "refresh", "--hook"], cwd=clone, capture_output=True, check=False)
    return samples


def _probe(i: int, rel: str) -> bytes:
    """A one-function addition in the file's language."""
    if rel.endswith(".js"):
        return f"\n\nfunction ctxengBenchProbe{i}(value) {{\n  return value + {i};\n}}\n".encode()
    return f"\n\ndef _ctxeng_bench_probe_{i}(value):\n    return value + {i}\n".encode()


def bench_commit_refresh(clone: Path, rel: str, runs: int) -> list[float]:
    """Commit a one-function edit of `rel`, time `ctxeng refresh` (what the post-commit hook runs in the
    background); HEAD is reset to where it was afterwards, and brought back up to date."""
    start = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    )
    head = start.stdout.strip()
    path = clone / rel
    original = path.read_bytes()
    samples = []
    try:
        for i in range(runs):
            path.write_bytes(original + _probe(i, rel))
            subprocess.run(["git", "commit", "-q", "--no-verify", "-m", f"Add bench probe {i}", "--", rel],
                           cwd=clone, check=True)  # fmt: skip
            samples.append(run([*CTXENG, "refresh", "--json"], clone))
            out = json.loads(OUT[-1])
            if out["mode"] != "full":  # anything else would time something else
                raise SystemExit(f"refresh after a commit took the {out['mode']!r} path: {OUT[-1]}")
    finally:
        subprocess.run(["git", "reset", "-q", "--hard", head], cwd=clone, check=True)
        subprocess.run([*CTXENG, "refresh", "-q", "."], cwd=clone, capture_output=True, check=False)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--repos", default="requests,sqlalchemy")
    parser.add_argument("--measures", default=",".join(MEASURES), help=f"any of {', '.join(MEASURES)}")
    parser.add_argument("--work", type=Path, default=WORK, help="where the clones are made")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    measures = set(args.measures.split(","))
    results: dict[str, dict[str, float]] = {}
    if "help" in measures:
        run([*CTXENG, "--help"], Path.cwd())  # warm the file cache once, as on any machine in use
        results["help"] = figure([run([*CTXENG, "--help"], Path.cwd()) for _ in range(args.runs)])
    for name in args.repos.split(","):
        clone, built = prepare(name, args.work)
        files = len(
            subprocess.run(
                ["git", "ls-files"], cwd=clone, capture_output=True, text=True, check=True
            ).stdout.splitlines()
        )
        if built is not None:
            results[f"build:{name}"] = {"wall_s": round(built, 2), "files": files}
        if "prompt" in measures:
            prompt = hook_event(clone, "UserPromptSubmit", PROMPTS[name])
            answer = subprocess.run(
                [*CTXENG, "context", "--hook"],
                cwd=clone,
                input=prompt,
                capture_output=True,
                text=True,
                check=True,
            )
            chars = len(json.loads(answer.stdout)["hookSpecificOutput"]["additionalContext"])
            if chars < 200:
                raise SystemExit(
                    f"{name}: the prompt hook gave {chars} characters of context; the figures would mean nothing"
                )
            results[f"prompt_hook:{name}"] = figure(
                [run([*CTXENG, "context", "--hook"], clone, prompt) for _ in range(args.runs)]
            )
            results[f"prompt_hook:{name}"]["context_chars"] = chars
        if "session" in measures:
            start = hook_event(clone, "SessionStart")
            results[f"session_hook:{name}"] = figure(
                [run([*CTXENG, "status", "--hook"], clone, start) for _ in range(args.runs)]
            )
        if "status" in measures:
            results[f"status:{name}"] = figure(
                [run([*CTXENG, "status", "--json"], clone) for _ in range(args.runs)]
            )
        if "refresh" in measures:
            results[f"refresh:{name}"] = figure(bench_refresh(clone, EDITED[name], args.runs))
        if "commit" in measures:
            results[f"commit_refresh:{name}"] = figure(bench_commit_refresh(clone, EDITED[name], args.runs))
        if "rebuild" in measures:
            results[f"rebuild:{name}"] = figure(
                [run([*CTXENG, "build", "-q", "."], clone) for _ in range(args.runs)]
            )
        for key in [k for k in results if k.endswith(f":{name}") and "median_ms" in results[k]]:
            results[key]["files"] = files
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
        return
    print(f"{'measure':<28}{'median ms':>10}{'min ms':>9}{'cpu ms':>9}{'target':>12}  files")
    for key, value in results.items():
        if "median_ms" not in value:
            print(f"{key:<28}{'build ' + str(value['wall_s']) + ' s':>40}  {value['files']}")
            continue
        target = TARGETS_MS.get(key)
        verdict = (
            "" if target is None else (f"{target:>7} {'ok' if value['median_ms'] <= target else 'OVER'}")
        )
        row = f"{key:<28}{value['median_ms']:>10}{value['min_ms']:>9}{value['cpu_ms']:>9}{verdict:>12}"
        print(f"{row}  {value.get('files', '')}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
