"""`ctxeng context "PROMPT"`: the definitions, files, docs and history most relevant to a prompt."""

from __future__ import annotations

import sys

import click

from ctxeng.commands import root_option


@click.command()
@click.argument("prompt", required=False, default="")
@click.option("--budget", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="Most tokens to print (SmolLM2 tokenizer that ctxeng ships).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(("markdown", "json")), default="markdown", show_default=True,
              help="markdown, or json: {\"context\": ...}.")  # fmt: skip
@root_option
@click.option("--hook", is_flag=True, help="Claude Code UserPromptSubmit mode: hook JSON on stdin, hook JSON out.")
def context(prompt: str, budget: int, fmt: str, root: str, hook: bool) -> None:
    """Print the context most relevant to PROMPT (read from stdin when PROMPT is "-" or omitted)."""
    if hook:
        from ctxeng.integrations.claude_hooks import prompt_hook, read_stdin

        click.echo(prompt_hook(read_stdin()), nl=False)
        return
    from pathlib import Path

    from ctxeng.pack import context_for_prompt

    if prompt in ("", "-"):
        prompt = sys.stdin.read()
    text = context_for_prompt(Path(root), prompt, budget)
    if fmt == "json":
        from ctxeng.core.fsio import dumps_json

        click.echo(dumps_json({"context": text}))
    elif text:
        click.echo(text, nl=False)
    else:
        click.echo("nothing in the index matches this prompt", err=True)
