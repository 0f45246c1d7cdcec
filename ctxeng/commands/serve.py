"""`ctxeng serve`: the base model and adapters over an OpenAI-compatible HTTP API on loopback."""

from __future__ import annotations

from pathlib import Path

import click

from ctxeng.commands import repo_path
from ctxeng.core.errors import CtxengError


@click.command()
@repo_path()
@click.option(
    "--adapter",
    "adapters",
    multiple=True,
    metavar="NAME",
    help="Adapter to serve (repeatable; a name under .ctxeng/adapters/ or a folder). Default: all.",
)
@click.option("--base", default=None, metavar="MODEL", help="Serve only this base model, without adapters.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default)."
)
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one)."
)
@click.option(
    "--token",
    envvar="CTXENG_SERVE_TOKEN",
    default=None,
    metavar="TOKEN",
    help="Require `Authorization: Bearer TOKEN` on /v1 routes [env CTXENG_SERVE_TOKEN].",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also accept requests whose Host/Origin names NAME (repeatable; `*`: any). Default: loopback "
    "names and the --host address only, so web pages cannot reach the server by DNS rebinding.",
)
@click.option(
    "--max-queue",
    default=8,
    show_default=True,
    type=click.IntRange(min=0),
    help="Requests that may wait while one generates; more get HTTP 503.",
)
@click.option(
    "--max-tokens",
    default=512,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most tokens one answer may have (also the default when a request sets none).",
)
@click.option(
    "--threads", default=0, type=click.IntRange(min=0), help="CPU threads for torch (0: torch's default)."
)
def serve(
    path: str,
    adapters: tuple[str, ...],
    base: str | None,
    host: str,
    port: int,
    token: str | None,
    max_queue: int,
    max_tokens: int,
    threads: int,
    allow_hosts: tuple[str, ...],
) -> None:
    """Serve the repository's adapters on one base model; a request's `model` picks one (`base`: none).

    Routes: /v1/models, /v1/chat/completions (streaming too), /v1/completions, /health.
    """
    from ctxeng.core.extras import require_extras
    from ctxeng.core.repo import open_repo

    require_extras(
        "serve", "serve", "train", modules=("starlette", "uvicorn", "torch", "transformers", "peft")
    )
    from ctxeng.serve import server
    from ctxeng.serve.engine import load_engine

    if not server.is_loopback(host) and not token:
        raise CtxengError(
            f"{host} is reachable from other machines; the adapter knows this repository's code",
            hint="add --token (or CTXENG_SERVE_TOKEN), or keep the default 127.0.0.1",
        )
    root = open_repo(path).root if base is None else Path(path).resolve()
    sock = server.bind(host, port)  # before the slow model load: a busy port fails fast
    click.echo("ctxeng serve: loading the model and adapters…", err=True)
    engine = load_engine(root, adapters, base, max_queue, threads)

    def announce(url: str) -> None:
        click.echo(
            f"ctxeng serve: listening on {url}/v1 (models: {', '.join(engine.names)}); Ctrl-C stops", err=True
        )

    server.run(engine, sock, root, token, max_tokens, announce, allow_hosts)
