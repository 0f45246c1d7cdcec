"""`ctxeng eval`: base model vs adapter — what it knows (closed-book / grounded) and how it does on new commits."""

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
    default=8,
    show_default=True,
    help="Held-out prompts per generation probe (0 = no probes).",
)
@click.option(
    "--knowledge",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Definition -> file questions about trained facts, in phrasings reserved for eval (0 = none).",
)
@click.option(
    "--budget",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Tokens of retrieved context for the grounded questions (0 = closed-book only).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="CPU threads for the model (0 = torch's default; 1 keeps a shared machine from stalling).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the report as JSON on stdout (progress stays on stderr; -q hides it).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG: the smoothed training loss, the knowledge 2x2, per-task held-out loss.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def evaluate(
    path: str,
    adapter: str | None,
    max_examples: int | None,
    probes: int,
    knowledge: int,
    budget: int,
    threads: int,
    as_json: bool,
    plot_path: Path | None,
    quiet: bool,
) -> None:
    """Base model vs adapter: knowledge of trained facts asked closed-book and grounded (the 2x2, with
    95 % intervals), and loss and probes on the held-out newest commits."""
    from ctxeng.core.extras import require_extras
    from ctxeng.core.ui import err_console

    require_extras("eval", "train")
    if plot_path is not None:
        require_extras("eval --plot", "train", modules=("matplotlib",))
    from ctxeng.train.evaluate import evaluate_adapter

    console = err_console()
    # Progress (with ETA) goes to stderr, so --json keeps stdout pure JSON and still shows it.
    note = (lambda msg: None) if quiet else (lambda msg: console.print(f"[dim]{msg}[/dim]"))
    report = evaluate_adapter(path, adapter, max_examples, probes, note, knowledge, budget, threads)
    if plot_path is not None:
        from ctxeng.train.manifest import TRAINING_LOG, read_json
        from ctxeng.train.plot import plot_report

        log_file = Path(report["path"]) / TRAINING_LOG
        report["plot"] = str(
            plot_report(report, read_json(log_file) if log_file.is_file() else {}, plot_path)
        )
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True, allow_nan=False))
    else:
        for table in report_tables(report):
            console.print(table)


def _num(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def knowledge_table(report: dict[str, Any]) -> Any:
    """The 2x2: closed-book / grounded x base / adapter, exact rate with its 95 % interval."""
    from rich.table import Table

    know = report["knowledge"]
    table = Table(
        title=f"knowledge: where is X defined? ({know['questions']} trained facts, held-out phrasings)"
    )
    for column in ("", "base", "adapter"):
        table.add_column(column, justify="left" if not column else "right")
    for mode, row in know["table"].items():
        cells = []
        for side in ("base", "adapter"):
            cell = row.get(side)
            if not cell:
                cells.append("-")
                continue
            low, high = cell["ci95"] or (None, None)
            text = f"{cell['exact_hits']}/{cell['n']} = {_num(cell['exact'], '.0%')} [{_num(low, '.0%')}-{_num(high, '.0%')}]"
            if cell.get("answerable") and cell["answerable"]["n"] < cell["n"]:
                ok = cell["answerable"]
                text += f"; answer in context: {ok['exact_hits']}/{ok['n']} = {_num(ok['exact'], '.0%')}"
            cells.append(text)
        table.add_row(mode.replace("_", "-"), *cells)
    return table


def report_tables(report: dict[str, Any]) -> list[Any]:
    """Rich tables for an evaluation report: the knowledge 2x2, losses per task, probe metrics, samples."""
    from rich.table import Table

    tables: list[Any] = []
    if report.get("knowledge"):
        tables.append(knowledge_table(report))
        if report.get("base_cached"):
            tables.append(
                "[dim]base model: answers reused from .ctxeng/cache/eval-base (same model, same questions)[/dim]"
            )
        for sample in report["knowledge"]["examples"][:2]:
            tables.append(f"[dim]{sample['question']}  (right: {sample['path']})[/dim]")
            for mode in ("closed_book", "grounded"):
                for side, answer in (sample.get(mode) or {}).items():
                    tables.append(
                        f"[dim]  {mode.replace('_', '-')} {side}: {answer.splitlines()[0] if answer else ''}[/dim]"
                    )
    if report["losses"]:
        losses = Table(
            title=f"future: held-out newest commits, base vs {report['adapter']} ({report['dataset']['examples']} examples)"
        )
        for column in ("task", "examples", "base loss", "adapter loss", "base ppl", "adapter ppl"):
            losses.add_column(column, justify="left" if column == "task" else "right")
        for task, row in report["losses"].items():
            losses.add_row(
                task,
                str(row["examples"]),
                _num(row["base_loss"], ".3f"),
                _num(row["adapter_loss"], ".3f"),
                _num(row["base_ppl"], ".1f"),
                _num(row["adapter_ppl"], ".1f"),
            )
        tables.append(losses)
    if report["probes"]:
        probes = Table(title="future: generation probes on held-out rows (greedy)")
        for column in ("probe", "prompts", "metric", "base", "adapter"):
            probes.add_column(column, justify="right" if column in ("prompts", "base", "adapter") else "left")
        for task, row in report["probes"].items():
            for metric, value in row["adapter"].items():
                probes.add_row(
                    task, str(row["n"]), metric, _num(row["base"].get(metric), ".3f"), _num(value, ".3f")
                )
        tables.append(probes)
    if report["dataset"]["same_as_training"] is False:
        tables.append("[yellow]the dataset changed since this adapter was trained[/yellow]")
    return tables
