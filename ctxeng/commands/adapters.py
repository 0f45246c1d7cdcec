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
    from rich.table import Table

    from ctxeng.core.repo import open_repo
    from ctxeng.core.ui import err_console
    from ctxeng.train.adapters import list_adapters

    found = list_adapters(open_repo(path).root)
    if as_json:
        click.echo(json.dumps([a.to_json() for a in found], indent=2, sort_keys=True))
        return
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
    err_console().print(table)
