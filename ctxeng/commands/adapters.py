"""`ctxeng adapters`: list the trained adapters of a repository with their manifests."""

from __future__ import annotations

import json

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option("--json", "as_json", is_flag=True, help="Print the adapters and full manifests as JSON.")
def adapters(path: str, as_json: bool) -> None:
    """List adapters in .ctxeng/adapters/ (name, base model, recipe, steps, held-out loss, size)."""
    import sys

    from rich.console import Console
    from rich.table import Table

    from ctxeng.core.repo import open_repo
    from ctxeng.train.adapters import list_adapters

    root = open_repo(path).root
    found = list_adapters(root)
    if as_json:
        click.echo(json.dumps([a.to_json() for a in found], indent=2, sort_keys=True))
        return
    if not found:
        click.echo(
            f"no adapters in {root / '.ctxeng' / 'adapters'}: `ctxeng train` trains one "
            "(after `ctxeng build`; needs the [train] extra)",
            err=True,
        )
        return
    # the list is the result: stdout; piped, it keeps whole names instead of fitting 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 10_000)
    table = Table(title=f"{len(found)} adapter(s)")
    for column in ("name", "base model", "recipe", "steps", "held-out loss", "MB", "HEAD"):
        table.add_column(column)
    for info in found:
        m = info.manifest
        after = ((m.get("eval") or {}).get("after") or {}).get("all", {}).get("loss")
        before = ((m.get("eval") or {}).get("before") or {}).get("all", {}).get("loss")
        loss = f"{before:.3f} → {after:.3f}" if before is not None and after is not None else "-"
        table.add_row(
            info.name,
            m.get("base_model", {}).get("spec", "?"),
            m.get("recipe", {}).get("name", "?"),
            str(m.get("training", {}).get("steps", "-")),
            loss,
            f"{info.bytes / 1e6:.1f}",
            m.get("repository", {}).get("head", "")[:12],
        )
    console.print(table)
