"""`ctxeng status`: how far records, dataset, pack and adapters lag behind HEAD."""

from __future__ import annotations

import json

import click

from ctxeng.commands import repo_path

LEGEND = """\
  built from/on: the commit (and its date) each output was made from
  commits: commits since then; files: tracked files changed since then
  defs: definitions in those files whose own lines changed"""


@click.command()
@repo_path()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON on stdout.")
@click.option(
    "--hook", is_flag=True, help="Claude Code SessionStart hook: read its JSON on stdin, print context."
)
def status(path: str, as_json: bool, hook: bool) -> None:
    """Show how far the outputs of the repository at PATH (default: .) lag behind HEAD and the work tree."""
    if hook:
        from ctxeng.integrations.claude_hooks import read_stdin, session_start_hook

        click.echo(session_start_hook(read_stdin()))
        return
    from ctxeng.core.config import load_config
    from ctxeng.core.repo import open_repo
    from ctxeng.pipeline.status import repo_status

    repo = open_repo(path)
    result = repo_status(repo, load_config(repo.root).refresh)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    _print(result)


def _print(result: object) -> None:
    from datetime import datetime, timezone

    from rich.box import SIMPLE
    from rich.console import Console
    from rich.table import Table

    from ctxeng.pipeline.status import Status

    assert isinstance(result, Status)
    table = Table(
        title=f"ctxeng status: {result.repository} @ {result.head[:12] or '(no commits)'}", box=SIMPLE
    )
    for column in ("output", "state", "built from", "built on", "commits", "files", "defs"):
        numeric = column in ("commits", "files", "defs")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True, min_width=len(column))
    for lag in result.outputs:
        when = datetime.fromtimestamp(lag.built_at, timezone.utc).strftime("%Y-%m-%d") if lag.built_at else ""
        counted = lag.state in ("fresh", "stale")
        numbers = [
            str(n) if counted else ""
            for n in (lag.commits_behind, lag.changed_files, lag.changed_definitions)
        ]
        table.add_row(lag.name, lag.state, lag.head[:8], when, *numbers)
    console = Console(highlight=False)  # the table is the result: stdout, unlike build's progress
    console.print(table)
    console.print(LEGEND, markup=False)
    if result.pending:
        shown = ", ".join(result.pending[:5]) + (
            f" and {len(result.pending) - 5} more" if len(result.pending) > 5 else ""
        )
        console.print(f"The prompt index already has the staged changes to {shown}.", markup=False)
    if result.hook_failures:
        console.print(
            f"Claude Code hook/MCP launcher, last failure: {result.hook_failures[-1]}", markup=False
        )
    for line in result.recommendations:
        console.print(f"- {line}", markup=False)
