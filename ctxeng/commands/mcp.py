"""`ctxeng mcp`: the MCP server over stdio (Claude Code starts it from `.mcp.json`)."""

from __future__ import annotations

import click


@click.command()
@click.argument("path", default=None, required=False, type=click.Path(file_okay=False, path_type=str))
def mcp(path: str | None) -> None:
    """Serve this repository's context as MCP tools over stdio (PATH, else $CTXENG_ROOT, else .).

    Tools: find_symbol, related_files, repo_context, staleness, and ask_adapter when an adapter exists.
    """
    import os

    from ctxeng.core.extras import require_extras
    from ctxeng.core.repo import open_repo

    require_extras("mcp", "serve", modules=("mcp",))
    from ctxeng.mcp.server import run_stdio

    run_stdio(open_repo(path or os.environ.get("CTXENG_ROOT") or ".").root)
