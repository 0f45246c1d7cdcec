"""`ctxeng build`: mine a repository into `.ctxeng/`."""

from __future__ import annotations

import json

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON on stdout.")
@click.option("--no-pack", is_flag=True, help="Skip writing the Claude Code pack.")
@click.option("--train", "train_after", is_flag=True, help="Train an adapter after mining (see `ctxeng train`).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def build(path: str, as_json: bool, no_pack: bool, train_after: bool, quiet: bool) -> None:
    """Mine the repository at PATH (default: .) into records, a dataset and a context pack."""
    from ctxeng.core.ui import err_console, stage_progress
    from ctxeng.pipeline.build import build as run_build

    if train_after:  # before minutes of mining, not after
        from ctxeng.core.extras import require_extras

        require_extras("build --train", "train")

    with stage_progress(enabled=not (quiet or as_json)) as progress:
        result = run_build(path, progress=progress, write_pack=not no_pack)
    manifest = result.manifest
    if train_after or manifest["config"]["train"]["after_build"]:
        from ctxeng.train.run import train_after_build

        manifest["adapter"] = train_after_build(result.out_dir.parent, quiet=quiet or as_json)
    if as_json:
        click.echo(json.dumps(manifest, indent=2, sort_keys=True))
    elif not quiet:
        _summary(manifest, err_console())


def _summary(manifest: dict, console: object) -> None:
    from rich.table import Table

    table = Table(title=f"ctxeng build: {manifest['repository']} @ {manifest['head'][:12]}", show_lines=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for kind, n in manifest["records"].items():
        table.add_row(f"records: {kind}", str(n))
    ds = manifest["dataset"]
    table.add_row("dataset: train / eval", f"{ds.get('train', 0)} / {ds.get('eval', 0)}")
    table.add_row("files extracted", str(manifest["files"]["extracted"]))
    for reason, n in manifest["files"]["skipped"].items():
        table.add_row(f"skipped: {reason}", str(n))
    for rule, n in manifest["redactions"].items():
        table.add_row(f"redacted: {rule}", str(n))
    wall = sum(s["wall_s"] for s in manifest["stages"].values())
    table.caption = f"{wall:.1f} s; outputs in .ctxeng/"
    console.print(table)  # type: ignore[attr-defined]
