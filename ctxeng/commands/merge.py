"""`ctxeng merge`: merge an adapter into its base model, for engines without adapter support."""

from __future__ import annotations

from pathlib import Path

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option("--adapter", default=None, metavar="NAME", help="Adapter name or folder [default: the newest].")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder [default: .ctxeng/merged/<adapter>].",
)
def merge(path: str, adapter: str | None, out: Path | None) -> None:
    """Write base + adapter as one model folder that plain transformers loads (tokenizer included)."""
    from ctxeng.core.extras import require_extras
    from ctxeng.core.repo import open_repo
    from ctxeng.core.ui import err_console

    require_extras("merge", "train", modules=("torch", "transformers", "peft"))
    from ctxeng.train.merge import merge_adapter

    target = merge_adapter(open_repo(path).root, adapter, out)
    err_console().print(f"merged model written to {target}")
    click.echo(str(target))
