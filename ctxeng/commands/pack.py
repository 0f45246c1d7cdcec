"""`ctxeng pack`: re-render the Claude Code skill, CLAUDE.md block and context index from the records."""

from __future__ import annotations

import click

from ctxeng.commands import repo_path

FORMATS = ("markdown", "xml", "json")  # = ctxeng.pack.formats.FORMATS (not imported: keeps --help fast)


@click.command()
@repo_path()
@click.option("--budget", type=click.IntRange(min=1), default=None,
              help="Token budget of the whole pack (default: pack.budget in the config, 16000).")  # fmt: skip
@click.option(
    "--stdout", "to_stdout", is_flag=True, help="Print the pack as one document instead of writing files."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="Document format for --stdout.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def pack(path: str, budget: int | None, to_stdout: bool, fmt: str, quiet: bool) -> None:
    """Write the skill pack for the repository at PATH from its existing `.ctxeng/records.jsonl`.

    Budgets count tokens of the SmolLM2 tokenizer ctxeng ships; no output file exceeds 25k tokens.
    """
    from ctxeng.pack import pack_document, write_pack

    if to_stdout:
        click.echo(pack_document(path, budget, fmt), nl=False)
        return
    info = write_pack(path, budget)
    for warning in info.get("warnings", []):
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if not quiet:
        sizes = ", ".join(f"{name} {n}" for name, n in info["tokens"].items())
        click.echo(f"{info['skill']}: {info['total_tokens']} of {info['budget']} tokens ({sizes})", err=True)
        click.echo(f"CLAUDE.md: {info.get('claude_md', 'not managed (pack.claude_md = false)')}", err=True)
