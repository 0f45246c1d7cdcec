"""`ctxeng eval`: compare the base model and an adapter on the held-out split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option("--adapter", default=None, metavar="NAME", help="Adapter name or folder [default: the newest].")
@click.option(
    "--max-examples",
    type=click.IntRange(min=0),
    default=None,
    help="Held-out rows for the loss [default: the recipe's max_eval_examples; 0 = all].",
)
@click.option(
    "--probes",
    type=click.IntRange(min=0),
    default=16,
    show_default=True,
    help="Prompts per generation probe (0 = no probes).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG: training loss curve and per-task held-out loss.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def evaluate(
    path: str,
    adapter: str | None,
    max_examples: int | None,
    probes: int,
    as_json: bool,
    plot_path: Path | None,
    quiet: bool,
) -> None:
    """Held-out loss and perplexity per task, and generation probes, for base model vs adapter."""
    from ctxeng.core.extras import require_extras
    from ctxeng.core.ui import err_console

    require_extras("eval", "train")
    if plot_path is not None:
        require_extras("eval --plot", "train", modules=("matplotlib",))
    from ctxeng.train.evaluate import evaluate_adapter

    console = err_console()
    note = (lambda msg: None) if quiet or as_json else (lambda msg: console.print(f"[dim]{msg}[/dim]"))
    report = evaluate_adapter(path, adapter, max_examples, probes, note)
    if plot_path is not None:
        from ctxeng.train.manifest import TRAINING_LOG, read_json
        from ctxeng.train.plot import plot_report

        log_file = Path(report["path"]) / TRAINING_LOG
        report["plot"] = str(
            plot_report(report, read_json(log_file) if log_file.is_file() else {}, plot_path)
        )
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for table in report_tables(report):
            console.print(table)


def report_tables(report: dict[str, Any]) -> list[Any]:
    """Rich tables for an evaluation report: losses per task, then probe metrics."""
    from rich.table import Table

    losses = Table(
        title=f"held-out loss: base vs {report['adapter']} ({report['dataset']['examples']} examples)"
    )
    for column in ("task", "examples", "base loss", "adapter loss", "base ppl", "adapter ppl"):
        losses.add_column(column, justify="left" if column == "task" else "right")
    for task, row in report["losses"].items():
        losses.add_row(
            task,
            str(row["examples"]),
            f"{row['base_loss']:.3f}",
            f"{row['adapter_loss']:.3f}",
            f"{row['base_ppl']:.1f}",
            f"{row['adapter_ppl']:.1f}",
        )
    tables = [losses]
    if report["probes"]:
        probes = Table(title="generation probes (greedy)")
        for column in ("probe", "prompts", "metric", "base", "adapter"):
            probes.add_column(column, justify="right" if column in ("prompts", "base", "adapter") else "left")
        for task, row in report["probes"].items():
            for metric, value in row["adapter"].items():
                probes.add_row(
                    task, str(row["n"]), metric, f"{row['base'].get(metric, 0):.3f}", f"{value:.3f}"
                )
        tables.append(probes)
    if report["dataset"]["same_as_training"] is False:
        tables.append("[yellow]the dataset changed since this adapter was trained[/yellow]")
    return tables
