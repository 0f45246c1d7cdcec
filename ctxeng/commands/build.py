"""`ctxeng build`: mine a repository into `.ctxeng/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON on stdout.")
@click.option("--no-pack", is_flag=True, help="Skip writing the Claude Code pack.")
@click.option(
    "--train", "train_after", is_flag=True, help="Train an adapter after mining (see `ctxeng train`)."
)
@click.option("--force", is_flag=True, help="Rebuild even when nothing the build reads has changed.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def build(path: str, as_json: bool, no_pack: bool, train_after: bool, force: bool, quiet: bool) -> None:
    """Mine the repository at PATH (default: .) into records, a dataset and a context pack."""
    from ctxeng.core.ui import err_console, stage_progress
    from ctxeng.pipeline.build import build as run_build

    if train_after:  # before minutes of mining, not after
        from ctxeng.core.extras import require_extras

        require_extras("build --train", "train")

    with stage_progress(enabled=not (quiet or as_json)) as progress:
        result = run_build(path, progress=progress, write_pack=not no_pack, force=force)
    manifest = result.manifest
    if train_after or manifest["config"]["train"]["after_build"]:
        from ctxeng.train.run import train_after_build

        manifest["adapter"] = train_after_build(result.out_dir.parent, quiet=quiet or as_json)
    if as_json:
        click.echo(json.dumps(manifest, indent=2, sort_keys=True))
    elif not quiet:
        _summary(manifest, err_console(), result.out_dir)


def _summary(manifest: dict[str, Any], console: object, out_dir: Path) -> None:
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
    table.caption = f"{wall:.1f} s"
    console.print(table)  # type: ignore[attr-defined]
    for line in _written(out_dir, manifest.get("pack") or {}):
        click.echo(line, err=True)  # whole paths, never wrapped


def _written(out_dir: Path, pack: dict[str, Any]) -> list[str]:
    """Where the outputs are: the work folder, and the files for Claude Code in the mined work tree."""
    lines = [f"outputs in {out_dir}/"]
    skill = pack.get("skill")
    if isinstance(skill, str) and skill:
        lines.append(f"Claude Code skill in {out_dir.parent / skill}/")
    claude_md = pack.get("claude_md")
    if claude_md in ("created", "updated", "unchanged"):
        from ctxeng.pack.claude_md import claude_md_path

        lines.append(f"ctxeng's CLAUDE.md block ({claude_md}) in {claude_md_path(out_dir.parent)}")
    return lines
