"""`ctxeng export`: a `vllm serve` command line or an Ollama Modelfile for the repository's adapters."""

from __future__ import annotations

from pathlib import Path

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option(
    "--vllm", is_flag=True, help="Print a ready `vllm serve … --enable-lora --lora-modules …` command."
)
@click.option("--ollama", is_flag=True, help="Write an Ollama Modelfile (FROM base, ADAPTER adapter).")
@click.option(
    "--adapter",
    "adapters",
    multiple=True,
    metavar="NAME",
    help="Adapter to export (repeatable with --vllm) [default: the newest].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where --ollama writes the Modelfile [default: .ctxeng/export/ollama/<adapter>/Modelfile].",
)
def export(path: str, vllm: bool, ollama: bool, adapters: tuple[str, ...], output: Path | None) -> None:
    """Serve the adapters of the repository at PATH (default: .) with vLLM (multi-LoRA) or Ollama, on the
    exact base they were trained on."""
    from ctxeng.core.repo import open_repo
    from ctxeng.serve.export import ollama_export, vllm_command

    if vllm == ollama:
        raise click.UsageError("choose one of --vllm and --ollama")
    repo_root = open_repo(path).root
    if vllm:
        command, notes = vllm_command(repo_root, list(adapters))
        click.echo(command)
    else:
        if len(adapters) > 1:
            raise click.UsageError("an Ollama Modelfile holds one adapter: pass one --adapter")
        result = ollama_export(repo_root, adapters[0] if adapters else None, output)
        click.echo(f"wrote {result.modelfile}", err=True)
        click.echo("then run:" if len(result.steps) == 1 else "then run, in order:", err=True)
        for step in result.steps:
            click.echo(step)
        notes = result.notes
    for note in notes:
        click.echo(f"note: {note}", err=True)
