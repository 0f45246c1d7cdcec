"""A PNG summary of an adapter: its (smoothed) training loss, the knowledge 2×2, and held-out loss per task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import atomic_write_bytes


def loss_curve(log: dict[str, list[dict[str, Any]]]) -> list[tuple[str, list[int], list[float]]]:
    """(stage, steps, losses) for each stage of a training log, in training order."""
    curves = []
    for stage, entries in log.items():
        points = [(int(e["step"]), float(e["loss"])) for e in entries if "loss" in e and "step" in e]
        if points:
            curves.append((stage, [p[0] for p in points], [p[1] for p in points]))
    return curves


def smooth(values: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (the first points are not pulled to 0)."""
    out, avg = [], 0.0
    for i, value in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * value
        out.append(avg / (1 - weight**i))
    return out


def plot_report(report: dict[str, Any], log: dict[str, list[dict[str, Any]]], out: Path) -> Path:
    """Write the plot for an `evaluate_adapter` report and the adapter's training log to `out` (PNG)."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(17, 4.5), dpi=100)
    _loss_panel(left, report, log)
    _knowledge_panel(middle, report.get("knowledge"))
    _future_panel(right, report["losses"])
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:
        raise CtxengError(f"cannot write the plot to {out}: {exc.strerror}") from None
    return out


def _loss_panel(ax: Any, report: dict[str, Any], log: dict[str, list[dict[str, Any]]]) -> None:
    curves = loss_curve(log)
    offset = 0
    for stage, steps, losses in curves:  # stages follow each other on one step axis
        xs = [s + offset for s in steps]
        line = ax.plot(xs, losses, alpha=0.3, linewidth=1)[0]
        ax.plot(xs, smooth(losses), color=line.get_color(), linewidth=2, label=f"{stage} (smoothed)")
        offset += steps[-1]
    ax.set(title=f"training loss: {report['adapter']}", xlabel="step", ylabel="loss")
    if curves:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no training log", ha="center", va="center", transform=ax.transAxes)


def _knowledge_panel(ax: Any, knowledge: dict[str, Any] | None) -> None:
    ax.set(title="knowledge: definition -> file, exact (95 % CI)", ylabel="share right", ylim=(0, 1.12))
    if not knowledge:
        ax.text(0.5, 0.5, "no knowledge probe", ha="center", va="center", transform=ax.transAxes)
        return
    modes = list(knowledge["table"])
    width = 0.38
    for k, side in enumerate(("base", "adapter")):
        xs: list[float] = []
        heights: list[float] = []
        errors: list[list[float]] = [[], []]
        for i, mode in enumerate(modes):
            cell = knowledge["table"][mode].get(side)
            if not cell or cell.get("exact") is None:
                continue
            xs.append(i + (k - 0.5) * width)
            heights.append(cell["exact"])
            low, high = cell.get("ci95") or (cell["exact"], cell["exact"])
            errors[0].append(cell["exact"] - low)
            errors[1].append(high - cell["exact"])
        ax.bar(xs, heights, width, yerr=errors, capsize=4, label=side)
        for x, h in zip(xs, heights):
            ax.text(x, h + 0.02, f"{h:.0%}", ha="center", fontsize=9)
    ax.set_xticks(range(len(modes)), [m.replace("_", "-") for m in modes])
    ax.legend()


def _future_panel(ax: Any, losses: dict[str, Any]) -> None:
    tasks = [t for t in losses if t != "all"] + (["all"] if "all" in losses else [])
    tasks = [t for t in tasks if losses[t]["base_loss"] is not None and losses[t]["adapter_loss"] is not None]
    xs = range(len(tasks))
    width = 0.4
    ax.bar([x - width / 2 for x in xs], [losses[t]["base_loss"] for t in tasks], width, label="base")
    ax.bar([x + width / 2 for x in xs], [losses[t]["adapter_loss"] for t in tasks], width, label="adapter")
    ax.set_xticks(list(xs), tasks, rotation=30, ha="right")
    ax.set(title="future: held-out loss per task (newest commits)", ylabel="loss (nats/token)")
    if tasks:
        ax.legend()
