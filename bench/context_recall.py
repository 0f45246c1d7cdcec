"""Touched-definition recall of ctxeng's pack map and prompt context beside aider's RepoMap, on several repositories.

Usage: python bench/context_recall.py REPO [REPO ...] [--commits 100] [--budget 2048 --budget 4096 ...]
       [--aider /work/aider-venv/bin/python] [--out /tmp/context-recall]

For each repository, `ctxeng replay` (in process, budgets in o200k tokens) replays the newest
non-merge commits; where the aider venv exists, aider's RepoMap (no chat files, o200k counter,
target = the budget) is built at the same parents and scored by the same rule. Prints a Markdown
table and writes `<out>/<repo>.json`, `<out>/summary.json` and `<out>/recall.png`.
o200k counts need tiktoken's o200k_base file offline: litellm (in the aider venv) bundles it, and
TIKTOKEN_CACHE_DIR is pointed there when not set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

AIDER_PY = Path("/work/aider-venv/bin/python")
HERE = Path(__file__).resolve().parent


def _tiktoken_dir(aider_py: Path) -> None:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    for found in sorted(
        aider_py.parent.parent.glob("lib/python*/site-packages/litellm/litellm_core_utils/tokenizers")
    ):
        os.environ["TIKTOKEN_CACHE_DIR"] = str(found)


def aider_scores(
    repo: Path, report: dict[str, Any], budgets: list[int], aider_py: Path, out: Path
) -> dict[str, Any]:
    """Build aider's map at every replayed parent (or reuse the maps of the same job) and score them."""
    clone = out / "clones" / repo.name
    if not clone.exists():
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(repo), str(clone)], check=True)
    # Only commits that touched an existing definition score recall; aider is slow (seconds per map), so
    # its maps are built for those parents only (its tokens and over-budget share are over them too).
    parents = sorted({c["parent"] for c in report["per_commit"] if c["touched"]})
    jobs, maps_file = out / f"{repo.name}.aider-jobs.json", out / f"{repo.name}.aider-maps.json"
    job = {"parents": parents, "budgets": budgets}
    cached = json.loads(maps_file.read_text()) if maps_file.exists() else None
    if cached is not None and all(str(b) in cached.get(p, {}) for p in parents for b in budgets):
        return _score_aider(repo, report, budgets, cached, {})  # every map needed was built before: reuse
    jobs.write_text(json.dumps(job))
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "HOME": str(out / "home"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    started = time.process_time()
    t0 = time.perf_counter()
    proc = subprocess.run([str(aider_py), str(HERE / "aider_map.py"), str(clone), str(jobs), str(maps_file)], env=env,
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"aider failed on {repo.name}: {proc.stderr[-2000:]}")
    timing = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s_parent": round(time.process_time() - started, 1),
    }
    return _score_aider(repo, report, budgets, json.loads(maps_file.read_text()), timing)


def _score_aider(
    repo: Path, report: dict[str, Any], budgets: list[int], maps: dict[str, Any], timing: dict[str, float]
) -> dict[str, Any]:
    from ctxeng.replay.score import mean, score
    from ctxeng.replay.touched import Touched

    rows: dict[str, list[Any]] = {str(b): [] for b in budgets}
    every: dict[str, list[Any]] = {str(b): [] for b in budgets}
    for c in report["per_commit"]:
        if not c["touched"]:
            continue
        tracked = set(subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "-z", c["parent"]],
                                     capture_output=True, check=True).stdout.decode().split("\0"))  # fmt: skip
        touched = [Touched(p, q, q.rsplit(".", 1)[-1], line) for p, q, line in c["touched"]]
        for b in budgets:
            s = score(maps[c["parent"]][str(b)], touched, tracked, b)
            every[str(b)].append(s)
            if touched:
                rows[str(b)].append(s)
    table = {}
    for b in map(str, budgets):
        table[b] = {
            "def_recall": round(mean(s.defs_found / s.defs_total for s in rows[b]), 4),
            "def_recall_pooled": round(sum(s.defs_found for s in rows[b]) / max(1, sum(s.defs_total for s in rows[b])), 4),
            "file_recall": round(mean(s.files_found / s.files_total for s in rows[b]), 4),
            "o200k": round(mean(s.o200k or 0 for s in every[b]), 1),
            "over_budget": round(sum(1 for s in every[b] if (s.o200k or 0) > s.budget) / max(1, len(every[b])), 4),
        }  # fmt: skip
    return {"table": table, **timing}


def _pct(row: dict[str, Any] | None, key: str) -> str:
    return "–" if row is None else f"{row[key]:.1%}" if key != "o200k" else f"{row[key]:.0f}"


def markdown_table(summary: dict[str, Any], budgets: list[int]) -> str:
    """One row per repository and budget: recall of each variant, ratios to aider, file recall, tokens."""
    lines = ["| repo | commits (scored) | budget (o200k) | pack map | context (subject) | aider map | pack/aider | "
             "context/aider | file recall pack / context / aider | o200k used pack / context / aider |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, entry in summary.items():
        for b in map(str, budgets):
            p, c = entry["ctxeng"]["pack"][b], entry["ctxeng"]["context"][b]
            a = entry.get("aider", {}).get("table", {}).get(b)
            ratios = [
                f"{x['def_recall'] / a['def_recall']:.2f}×" if a and a["def_recall"] else "–" for x in (p, c)
            ]
            lines.append(
                f"| {name} | {entry['commits']} ({entry['scored']}) | {b} | {_pct(p, 'def_recall')} | "
                f"{_pct(c, 'def_recall')} | {_pct(a, 'def_recall')} | {ratios[0]} | {ratios[1]} | "
                f"{_pct(p, 'file_recall')} / {_pct(c, 'file_recall')} / {_pct(a, 'file_recall')} | "
                f"{_pct(p, 'o200k')} / {_pct(c, 'o200k')} / {_pct(a, 'o200k')} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--budget", type=int, action="append", dest="budgets")
    parser.add_argument("--aider", type=Path, default=AIDER_PY)
    parser.add_argument("--no-aider", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("/tmp/context-recall"))
    parser.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a ranking weight (ctxeng.pack.rank.Weights) for this run, e.g. history_share=0.3",
    )
    args = parser.parse_args()
    budgets = args.budgets or [2048, 4096, 8192]
    if args.weight:
        import dataclasses

        from ctxeng.pack import rank as rank_module

        changes = {k: float(v) for k, v in (w.split("=", 1) for w in args.weight)}
        rank_module.rank.__defaults__ = ((), dataclasses.replace(rank_module.DEFAULT_WEIGHTS, **changes))
    _tiktoken_dir(args.aider)
    from ctxeng.replay.report import plot_recall
    from ctxeng.replay.run import replay

    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    reports, extra = [], {}
    for repo in args.repos:
        t0 = time.perf_counter()
        report = replay(repo, args.commits, budgets, counter="o200k", cache_dir=args.out / "cache" / repo.name,
                        note=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
        report["wall_s"] = round(time.perf_counter() - t0, 1)
        reports.append(report)
        entry: dict[str, Any] = {"ctxeng": report["table"], "commits": report["commits"],
                                 "scored": report["scored_commits"], "wall_s": report["wall_s"]}  # fmt: skip
        if not args.no_aider and args.aider.exists():
            entry["aider"] = aider_scores(repo.resolve(), report, budgets, args.aider, args.out)
            extra[f"{repo.name} aider"] = {b: r["def_recall"] for b, r in entry["aider"]["table"].items()}
        (args.out / f"{repo.name}.json").write_text(json.dumps(report, indent=1, sort_keys=True))
        summary[repo.name] = entry
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    plot_recall(reports, args.out / "recall.png", extra)
    print(markdown_table(summary, budgets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
