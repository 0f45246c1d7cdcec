"""`ctxeng mcp`: the MCP server over stdio (Claude Code starts it from `.mcp.json`)."""

from __future__ import annotations

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path(default=None)
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
