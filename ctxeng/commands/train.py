"""`ctxeng train`: train a LoRA adapter on `.ctxeng/dataset` from a recipe (and `build --train`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option(
    "--recipe",
    "recipe_name",
    default=None,
    metavar="NAME|PATH",
    help="Bundled recipe name or YAML file [default: config train.recipe, else cpu-default on a CPU].",
)
@click.option(
    "--base", default=None, metavar="MODEL", help="Base model: hub id or local folder (overrides the recipe)."
)
@click.option("--resume", is_flag=True, help="Continue the interrupted run from its last checkpoint.")
@click.option("--list", "list_recipes", is_flag=True, help="List the bundled recipes and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the adapter manifest as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def train(
    path: str,
    recipe_name: str | None,
    base: str | None,
    resume: bool,
    list_recipes: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Train a LoRA adapter for the repository at PATH into .ctxeng/adapters/<name>/.

    Ctrl-C stops at the next step and saves a checkpoint; `--resume` continues from it.
    """
    if list_recipes:
        _print_recipes()
        return
    from ctxeng.core.extras import require_extras
    from ctxeng.core.ui import err_console

    require_extras("train", "train")
    console = None if quiet or as_json else err_console()
    argv = [
        "train",
        path,
        *(["--recipe", recipe_name] if recipe_name else []),
        *(["--base", base] if base else []),
        *(["--resume"] if resume else []),
        *(["--json"] if as_json else []),
        *(["-q"] if quiet else []),
    ]
    from ctxeng.train.run import run_train

    result = run_train(Path(path), recipe_name, base, resume, console, argv)
    if isinstance(result, int):  # ran under `accelerate launch`, which printed its own output
        raise click.exceptions.Exit(result)
    if not result:  # a non-main process of a distributed run: the main one reports
        return
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    elif console is not None:
        console.print(summary_table(result))


def summary_table(manifest: dict[str, Any]) -> Any:
    """A rich table of an adapter manifest: cost of training and held-out loss before → after."""
    from rich.table import Table

    t, p = manifest["training"], manifest["parameters"]
    table = Table(title=f"adapter {manifest['name']} ({manifest['base_model']['spec']})", show_header=False)
    table.add_row("steps / tokens seen", f"{t['steps']} / {t['tokens_seen']:,}")
    table.add_row("train time / wall time", f"{t['train_s']:.0f} s / {t['wall_s']:.0f} s")
    table.add_row("tokens per second", f"{t['tokens_per_s']:,.0f}")
    table.add_row("peak RSS", f"{t['peak_rss_mb']:,.0f} MB")
    table.add_row("trainable parameters", f"{p['trainable']:,} ({100 * p['trainable_share']:.2f} %)")
    table.add_row("adapter size", f"{manifest.get('adapter_bytes', 0) / 1e6:.1f} MB")
    before, after = (
        (manifest.get("eval") or {}).get("before") or {},
        (manifest.get("eval") or {}).get("after") or {},
    )
    if not after:  # distributed runs leave the held-out measurement to `ctxeng eval`
        table.add_row("held-out loss", "not measured: run `ctxeng eval`")
    for task in sorted(after):
        table.add_row(
            f"held-out loss: {task}",
            f"{before.get(task, {}).get('loss', float('nan')):.3f} → {after[task]['loss']:.3f}",
        )
    return table


def _print_recipes() -> None:
    from ctxeng.train.recipe import bundled_dir, recipe_names

    for name in recipe_names():
        first = (bundled_dir() / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
        click.echo(f"{name:28} {first.lstrip('# ').split(': ', 1)[-1]}")
