"""`ctxeng ask "question"`: the adapter's answer, grounded by retrieved context, and its sources."""

from __future__ import annotations

import sys

import click

from ctxeng.commands import repo_path


@click.command()
@click.argument("question")
@repo_path()
@click.option("--adapter", default=None, metavar="NAME", help="Adapter name or folder [default: the newest].")
@click.option(
    "--budget",
    default=1_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Tokens of retrieved context put before the question (0: none).",
)
@click.option(
    "--max-tokens", default=256, show_default=True, type=click.IntRange(min=1), help="Longest answer."
)
@click.option(
    "--deadline",
    default=None,
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Stop generating after this long and show the partial answer [default: no deadline].",
)
@click.option("--no-server", is_flag=True, help="Load the model here even if `ctxeng serve` is running.")
@click.option("--json", "as_json", is_flag=True, help="Print answer, model, route and sources as JSON.")
def ask(
    question: str,
    path: str,
    adapter: str | None,
    budget: int,
    max_tokens: int,
    deadline: float | None,
    no_server: bool,
    as_json: bool,
) -> None:
    """Answer QUESTION about the repository at PATH (default: .) with its adapter, grounded by retrieved
    context (--budget 0: closed-book); the answer streams, then its sources, and a note if it was cut off."""
    from ctxeng.core.repo import open_repo
    from ctxeng.serve.ask import ask as run

    def stream(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    result = run(
        open_repo(path).root,
        question,
        adapter,
        budget,
        max_tokens,
        use_server=not no_server,
        on_text=None if as_json else stream,
        deadline=deadline,
    )
    if as_json:
        from ctxeng.core.fsio import dumps_json

        click.echo(dumps_json(result.to_json()))
        return
    click.echo("" if result.answer.endswith("\n") else "\n", nl=False)
    click.echo(f"\n(model {result.model}, {result.via})", err=True)
    if not result.complete:
        click.echo(f"(answer cut off: {cut_reason(result.finish, max_tokens, deadline)})", err=True)
    click.echo(
        "\nSources:" if result.sources else "\nSources: none (nothing in the index matched the question)"
    )
    for source in result.sources:
        click.echo(f"  [{source.kind}] {source.label()}")


def cut_reason(finish: str, max_tokens: int, deadline: float | None) -> str:
    """Why an answer is incomplete, and what to change."""
    if finish == "length":
        return f"the {max_tokens}-token limit was reached; raise --max-tokens"
    if finish == "deadline":
        return f"the {deadline:g} s deadline passed; raise --deadline or drop it"
    return "the server went away before the answer ended"
