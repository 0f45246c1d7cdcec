"""Accuracy against minutes of training: train a recipe under its time budget, snapshotting the adapter.

    python bench/adapter_curve.py train REPO --minutes 20 --every 4 --out DIR [--recipe cpu-default]
    python bench/adapter_curve.py eval REPO --out DIR [--questions 60] [--grounded-at-end] [--stride N]
    python bench/adapter_curve.py plot REPO --out DIR       # curve.png and the eval figure, report.png

`train` runs the real `ctxeng train` code path (recipe, weights, time budget) on REPO's built
dataset and saves the adapter every `--every` minutes of training into DIR/min-XX.X (plus the
published adapter at the end). `eval` asks every snapshot the knowledge probe's closed-book
questions (held-out phrasings) and writes DIR/curve.json; minute 0 is the base model. Run with
OMP_NUM_THREADS=1 and the malloc settings of .ci/run; figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any


def _train(args: argparse.Namespace) -> None:
    from transformers import TrainerCallback

    from ctxeng.core.ui import err_console
    from ctxeng.train.recipe import load_recipe
    from ctxeng.train.trainer import train

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    recipe = dataclasses.replace(load_recipe(args.recipe), max_minutes=args.minutes, output="curve")
    marks: list[dict[str, Any]] = []

    class Snapshot(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.started = 0.0
            self.next = args.every * 60

        def on_train_begin(self, a: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, a: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            elapsed = time.perf_counter() - self.started
            if elapsed >= self.next:
                folder = out / f"min-{elapsed / 60:04.1f}"
                model.save_pretrained(str(folder))
                marks.append(
                    {"minutes": round(elapsed / 60, 2), "step": state.global_step,
                     "tokens": int(state.num_input_tokens_seen or 0), "path": str(folder)}
                )  # fmt: skip
                (out / "snapshots.json").write_text(json.dumps(marks, indent=2) + "\n")
                self.next += args.every * 60

    result = train(args.repo, recipe, console=err_console(), callbacks=[Snapshot()])
    training = result.manifest["training"]
    marks.append({"minutes": round(training.get("train_s", 0) / 60, 2), "step": training["steps"],
                  "tokens": training.get("tokens_seen", 0), "path": str(result.path)})  # fmt: skip
    (out / "snapshots.json").write_text(json.dumps(marks, indent=2) + "\n")
    (out / "manifest.json").write_text(json.dumps(result.manifest, indent=2, sort_keys=True) + "\n")
    print(json.dumps(marks, indent=2))


def _eval(args: argparse.Namespace) -> None:
    from ctxeng.train.knowledge import knowledge_curve

    out = Path(args.out).resolve()
    marks = json.loads((out / "snapshots.json").read_text())
    marks = [*marks[:-1][args.stride - 1 :: args.stride], marks[-1]]  # every stride-th snapshot + the final
    curve = knowledge_curve(Path(args.repo), marks, args.questions, args.grounded_at_end,
                            note=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
    (out / "curve.json").write_text(json.dumps(curve, indent=2, sort_keys=True, allow_nan=False) + "\n")
    print(json.dumps(curve["points"], indent=2))


def _plot(args: argparse.Namespace) -> None:
    """curve.png: closed-book exact (95 % CI) against minutes; report.png: `ctxeng eval --plot`'s figure
    built from the curve's end points and the adapter's manifest (held-out loss before/after)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ctxeng.train.plot import plot_report

    out = Path(args.out).resolve()
    curve = json.loads((out / "curve.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    points = curve["points"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    xs = [p["minutes"] for p in points]
    ys = [p["closed_book"]["exact"] for p in points]
    lows = [y - p["closed_book"]["ci95"][0] for p, y in zip(points, ys)]
    highs = [p["closed_book"]["ci95"][1] - y for p, y in zip(points, ys)]
    ax.errorbar(xs, ys, yerr=[lows, highs], marker="o", capsize=4, label="closed-book (adapter; 0 = base)")
    grounded = [(p["minutes"], p["grounded"]["exact"]) for p in points if "grounded" in p]
    if grounded:
        ax.plot(*zip(*grounded), "s", label="grounded")
    ax.set(title=f"{curve['repo']}: definition -> file, held-out phrasings ({curve['questions']} q)",
           xlabel="minutes of training (2 shared CPU cores)", ylabel="exact", ylim=(0, 1))  # fmt: skip
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curve.png")
    plt.close(fig)
    first, last = points[0], points[-1]
    table = {
        mode: {"base": first.get(mode), "adapter": last.get(mode)} for mode in ("closed_book", "grounded")
    }
    before, after = manifest["eval"]["before"], manifest["eval"]["after"]
    losses = {t: {"base_loss": before[t]["loss"], "adapter_loss": after[t]["loss"]} for t in before}
    report = {"adapter": manifest["name"], "losses": losses, "knowledge": {"table": table}}
    log_file = Path(args.repo) / ".ctxeng" / "adapters" / manifest["name"] / "training-log.json"
    log = json.loads(log_file.read_text()) if log_file.is_file() else {}
    plot_report(report, log, out / "report.png")
    print(out / "curve.png", out / "report.png")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("repo")
    t.add_argument("--minutes", type=float, default=20)
    t.add_argument("--every", type=float, default=4)
    t.add_argument("--out", required=True)
    t.add_argument("--recipe", default="cpu-default")
    e = sub.add_parser("eval")
    e.add_argument("repo")
    e.add_argument("--out", required=True)
    e.add_argument("--questions", type=int, default=60)
    e.add_argument("--grounded-at-end", action="store_true")
    e.add_argument(
        "--stride", type=int, default=1, help="evaluate every n-th snapshot (and the final adapter)"
    )
    pl = sub.add_parser("plot")
    pl.add_argument("repo")
    pl.add_argument("--out", required=True)
    args = parser.parse_args()
    {"train": _train, "eval": _eval, "plot": _plot}[args.cmd](args)


if __name__ == "__main__":
    main()
