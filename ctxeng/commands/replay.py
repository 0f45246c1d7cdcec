"""`ctxeng replay`: replay recent commits and score how much of what each touched the context names."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ctxeng.commands import repo_path
from ctxeng.replay.run import BUDGETS, COUNTERS, VARIANTS


@click.command()
@repo_path()
@click.option("--commits", type=click.IntRange(min=1), default=100, show_default=True,
              help="Newest non-merge commits to replay.")  # fmt: skip
@click.option("--skip", type=click.IntRange(min=0), default=0, show_default=True,
              help="Newest non-merge commits to pass over first.")  # fmt: skip
@click.option("--budget", "budgets", type=click.IntRange(min=64), multiple=True,
              help=f"Token budget (repeatable) [default: {', '.join(map(str, BUDGETS))}].")  # fmt: skip
@click.option("--variant", "variants", type=click.Choice(VARIANTS), multiple=True,
              help="pack (`pack --stdout`) and/or context (`context \"<subject>\"`) [default: both].")  # fmt: skip
@click.option("--tokens", "counter", type=click.Choice(COUNTERS), default="ctxeng", show_default=True,
              help="Tokenizer the budgets are counted in (o200k needs tiktoken and its cached file).")  # fmt: skip
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Extraction cache folder [default: the repository's .ctxeng/].")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a PNG of recall against budget.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def replay(
    path: str, commits: int, skip: int, budgets: tuple[int, ...], variants: tuple[str, ...], counter: str,
    cache_dir: Path | None, as_json: bool, plot_path: Path | None, quiet: bool,
) -> None:  # fmt: skip
    """Rebuild the repository at PATH (default: .) at the parent of each recent commit and score the pack
    map and the prompt context (prompt = the commit's subject) against the definitions the commit touched."""
    from ctxeng.core.ui import err_console
    from ctxeng.replay.report import plot_recall, report_table
    from ctxeng.replay.run import replay as run

    console = err_console()
    note = (lambda msg: None) if quiet else (lambda msg: console.print(f"[dim]{msg}[/dim]", highlight=False))
    report = run(path, commits, budgets or BUDGETS, variants or VARIANTS, counter, cache_dir, skip, note)
    if plot_path is not None:
        report["plot"] = str(plot_recall([report], plot_path))
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        console.print(report_table(report))
