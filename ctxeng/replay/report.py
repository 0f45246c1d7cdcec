"""Presenting a replay report: a Rich table and a PNG of recall against budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def report_table(report: dict[str, Any]) -> Any:
    """A Rich table: one row per variant and budget."""
    from rich.table import Table

    table = Table(
        title=(f"{report['repository']}: recall of what the next commit touched "
               f"({report['scored_commits']}/{report['commits']} commits, budgets in {report['counter']} tokens)")
    )  # fmt: skip
    for column in (
        "variant",
        "budget",
        "def recall",
        "pooled",
        "file recall",
        "tokens",
        "o200k",
        "over budget",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for variant, rows in report["table"].items():
        for budget, row in rows.items():
            table.add_row(
                variant, budget, f"{row['def_recall']:.1%}", f"{row['def_recall_pooled']:.1%}",
                f"{row['file_recall']:.1%}", f"{row['tokens']:.0f}",
                "n/a" if row["o200k"] is None else f"{row['o200k']:.0f}", f"{row['over_budget']:.0%}",
            )  # fmt: skip
    return table


def plot_recall(
    reports: list[dict[str, Any]], out: Path, extra: dict[str, dict[str, float]] | None = None
) -> Path:
    """Write a PNG: definition recall against budget, one line per repository and variant.

    `extra` adds lines measured elsewhere (label → {budget: recall}), e.g. a peer's map.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for report in reports:
        for variant, rows in report["table"].items():
            budgets = sorted(int(b) for b in rows)
            ax.plot(budgets, [rows[str(b)]["def_recall"] for b in budgets], marker="o",
                    label=f"{report['repository']} {variant}")  # fmt: skip
    for label, rows in sorted((extra or {}).items()):
        budgets = sorted(int(b) for b in rows)
        ax.plot(budgets, [rows[str(b)] for b in budgets], marker="x", linestyle="--", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"budget ({reports[0]['counter'] if reports else 'ctxeng'} tokens)")
    ax.set_ylabel("touched-definition recall")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
