"""How fast `ctxeng pack` and `ctxeng context` are on a built repository (targets: ≤ 1 s and ≤ 0.5 s).

Usage:
    git clone -q /work/repos/sqlalchemy /tmp/h7-sqla      # never build inside /work/repos
    ctxeng build /tmp/h7-sqla -q
    python bench/pack.py /tmp/h7-sqla [--runs 5] [--check]

Every timing is a fresh `python -m ctxeng.cli ...` process, so interpreter start-up, imports and the
tokenizer load are included. Reported: median wall seconds and median CPU seconds (user + sys of the
child), because on a shared machine wall time mostly measures the neighbours. `ctxeng pack` is timed
on its normal path (the ranked model saved by the build) and once on the slow path (model deleted,
records ranked again). `--check` exits 1 when a median wall time misses its target.
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

PROMPTS = (
    "how does the ORM session flush pending objects?",
    "fix the connection pool timeout when the database restarts",
    "where is `create_engine` defined and what does it accept?",
    "add a test for lib/sqlalchemy/sql/compiler.py label handling",
    "why was the objects parameter of flush deprecated",
)
TARGETS = {"pack": 1.0, "context": 0.5}


def timed(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one `ctxeng` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ctxeng.cli", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"ctxeng {' '.join(args)} failed: {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def summary(
    label: str, runs: list[tuple[float, float, str]], target: float | None = None
) -> dict[str, float]:
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    verdict = "" if target is None else ("  ok" if wall <= target else f"  OVER {target} s")
    print(f"{label:<44} wall {wall:6.3f} s (min {min(r[0] for r in runs):.3f})  cpu {cpu:6.3f} s{verdict}")
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "min_wall_s": round(min(r[0] for r in runs), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a median wall time misses its target"
    )
    args = parser.parse_args()
    root = args.repo.resolve()
    out = root / ".ctxeng"
    if not (out / "records.jsonl").is_file():
        raise SystemExit(f"{root} is not built: run `ctxeng build {root}` first")
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    print(
        f"repository {root.name}: {len(tracked.splitlines())} tracked files; load average {os.getloadavg()[0]:.2f}"
    )
    print("outputs: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items() if v > 100_000))
    results: dict[str, dict[str, float]] = {}

    timed(["pack", ".", "-q"], root)  # warm the page cache and make sure the model matches the records
    pack_runs = [timed(["pack", ".", "-q"], root) for _ in range(args.runs)]
    results["pack"] = summary("ctxeng pack (from the saved model)", pack_runs, TARGETS["pack"])
    info = json.loads((out / "pack.json").read_text())
    assert info["from"] == "model", info
    budget_runs = [
        timed(["pack", ".", "-q", "--budget", "4000"], root) for _ in range(max(1, args.runs // 2))
    ]
    results["pack_budget_4000"] = summary("ctxeng pack --budget 4000", budget_runs)
    (out / "pack-model.json").unlink()
    results["pack_from_records"] = summary(
        "ctxeng pack (model deleted: rank records)", [timed(["pack", ".", "-q"], root)]
    )
    timed(["pack", ".", "-q"], root)  # back to the build's state, and to the default budget

    context_runs = []
    for prompt in PROMPTS:
        context_runs += [timed(["context", prompt, "--budget", "2000"], root) for _ in range(args.runs)]
    results["context"] = summary(f"ctxeng context (x{len(PROMPTS)} prompts, budget 2000)", context_runs,
                                 TARGETS["context"])  # fmt: skip
    from ctxeng.core.tokens import count_tokens

    longest = max(count_tokens(r[2]) for r in context_runs)
    print(
        f"largest context output: {longest} tokens (budget 2000); pack total {info['total_tokens']} of {info['budget']}"
    )
    print(json.dumps({"repository": root.name, "load_average": round(os.getloadavg()[0], 2), **results}))
    missed = [k for k, target in TARGETS.items() if results[k]["wall_s"] > target]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
