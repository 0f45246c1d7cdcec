"""`ctxeng context "PROMPT"`: the definitions, files, docs and history most relevant to a prompt."""

from __future__ import annotations

import sys

import click

from ctxeng.commands import repo_path


@click.command()
@click.argument("prompt", required=False, default="")
@repo_path()
@click.option("--budget", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="Most tokens to print (SmolLM2 tokenizer that ctxeng ships).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(("markdown", "json")), default="markdown", show_default=True,
              help="markdown, or json: {\"context\": ...}.")  # fmt: skip
@click.option(
    "--hook", is_flag=True, help="Claude Code UserPromptSubmit mode: hook JSON on stdin, hook JSON out."
)
def context(prompt: str, path: str, budget: int, fmt: str, hook: bool) -> None:
    """Print the context most relevant to PROMPT (read from stdin when PROMPT is "-" or omitted) from the
    repository at PATH (default: .)."""
    if hook:
        from ctxeng.integrations.claude_hooks import prompt_hook, read_stdin

        click.echo(prompt_hook(read_stdin()), nl=False)
        return
    from ctxeng.core.config import load_config
    from ctxeng.core.repo import open_repo
    from ctxeng.integrations.claude_hooks import rescan
    from ctxeng.pack import context_for_prompt

    root = open_repo(path).root
    config = load_config(root)  # a broken .ctxeng.toml is an error here as in every command
    if prompt in ("", "-"):
        prompt = sys.stdin.read()
    text = rescan(context_for_prompt(root, prompt, budget), config)  # the same secret rules as the hook
    if fmt == "json":
        from ctxeng.core.fsio import dumps_json

        click.echo(dumps_json({"context": text}))
    elif text:
        click.echo(text, nl=False)
    else:
        click.echo("nothing in the index matches this prompt", err=True)
