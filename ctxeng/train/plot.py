"""A PNG summary of an adapter: its training loss curve and held-out loss per task, base vs adapter."""

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


def plot_report(report: dict[str, Any], log: dict[str, list[dict[str, Any]]], out: Path) -> Path:
    """Write the plot for an `evaluate_adapter` report and the adapter's training log to `out` (PNG)."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100)
    curves = loss_curve(log)
    offset = 0
    for stage, steps, losses in curves:  # stages follow each other on one step axis
        left.plot([s + offset for s in steps], losses, marker=".", label=stage)
        offset += steps[-1]
    left.set(title=f"training loss: {report['adapter']}", xlabel="step", ylabel="loss")
    if curves:
        left.legend()
    else:
        left.text(0.5, 0.5, "no training log", ha="center", va="center", transform=left.transAxes)
    tasks = [t for t in report["losses"] if t != "all"] + (["all"] if "all" in report["losses"] else [])
    xs = range(len(tasks))
    width = 0.4
    right.bar(
        [x - width / 2 for x in xs], [report["losses"][t]["base_loss"] for t in tasks], width, label="base"
    )
    right.bar(
        [x + width / 2 for x in xs],
        [report["losses"][t]["adapter_loss"] for t in tasks],
        width,
        label="adapter",
    )
    right.set_xticks(list(xs), tasks, rotation=30, ha="right")
    right.set(title="held-out completion loss per task", ylabel="loss (nats/token)")
    right.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:
        raise CtxengError(f"cannot write the plot to {out}: {exc.strerror}") from None
    return out
