"""`ctxeng scan`: list where a build would redact secrets (path, line, rule; never the value)."""

from __future__ import annotations

import json
import re

import click

from ctxeng.commands import repo_path

# Characters that would break a line-per-hit listing or fool a terminal: C0/C1 controls and DEL.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]')
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def show_path(path: str) -> str:
    """`path` for one line of output: quoted and escaped like git does when it holds a newline, tab,
    control character, quote or backslash (`"new\\nline.py"`), else as it is."""
    if not _UNSAFE.search(path):
        return path
    return '"' + _UNSAFE.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), path) + '"'


@click.command()
@repo_path()
@click.option(
    "--history/--no-history",
    default=True,
    show_default=True,
    help="Also scan mined commit messages and patches.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--fail", is_flag=True, help="Exit 1 when anything would be redacted (for CI).")
def scan(path: str, history: bool, as_json: bool, fail: bool) -> None:
    """List where secrets in the repository at PATH would be redacted, so you can fix the source.

    Scans the files `ctxeng build` reads and, with --history, the commit messages and patches it
    mines. Shows path, line and rule, never the secret itself. Exit 0 whatever is found, unless --fail.
    """
    from ctxeng.secrets.scan import scan_repository

    report = scan_repository(path, history=history)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        for hit in report.files:
            click.echo(
                f"{show_path(hit.path)}:{hit.line}: {hit.rule}"
                + (" (file name)" if hit.where == "file-name" else "")
            )
        for hit in report.history:
            where = "message" if hit.where == "message" else f"{show_path(hit.path)}:{hit.line}"
            click.echo(f"commit {hit.commit[:12]} {where}: {hit.rule} ({hit.where})")
        for dropped, rule in report.dropped:
            click.echo(f"{show_path(dropped)}: dropped whole by name ({rule}), never read", err=True)
        click.echo(
            f"{len(report.hits)} to redact: {len(report.files)} in {report.files_scanned} files, "
            f"{len(report.history)} in {report.commits_scanned} commits", err=True,
        )  # fmt: skip
    if fail and report.hits:
        raise click.exceptions.Exit(1)
