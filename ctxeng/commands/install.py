"""`ctxeng install` / `ctxeng uninstall`: git hook, Claude Code integration and MCP server, reversibly."""

from __future__ import annotations

import click

from ctxeng.commands import repo_path

TARGET_HINT = "choose at least one of --git-hook, --claude, --mcp"


@click.command()
@repo_path()
@click.option(
    "--git-hook", is_flag=True, help="Refresh .ctxeng/ from git hooks (pre-commit and the post-* hooks)."
)
@click.option(
    "--claude", is_flag=True, help="Claude Code: pack skill, /ctxeng-refresh, SessionStart + prompt hooks."
)
@click.option("--mcp", is_flag=True, help="Claude Code: the `ctxeng mcp` server in the project's .mcp.json.")
@click.option(
    "--hook-type", "hook_types", multiple=True,
    type=click.Choice(("pre-commit", "post-commit", "post-merge", "post-checkout", "post-rewrite")),
    help="Only this git hook (repeatable): pre-commit, post-commit, post-merge, post-checkout, post-rewrite.",
)  # fmt: skip
@click.option(
    "--strict", is_flag=True, help="Let a failed refresh fail the commit (default: warn and go on)."
)
def install(
    path: str, git_hook: bool, claude: bool, mcp: bool, hook_types: tuple[str, ...], strict: bool
) -> None:
    """Add ctxeng's git hook, Claude Code integration and/or MCP server to the repository at PATH.

    Claude Code's hooks and MCP server run `.claude/hooks/ctxeng.sh`, which finds this ctxeng even when it
    is not on Claude Code's PATH; install runs it once that way to check.
    """
    if not (git_hook or claude or mcp):
        raise click.UsageError(f"nothing to install: {TARGET_HINT}")
    if mcp:  # before anything is written: a server without its packages would crash at every start
        from ctxeng.core.extras import require_extras

        require_extras("install --mcp", "serve", modules=("mcp",))
    if git_hook:
        from ctxeng.integrations.git_hook import DEFAULT_HOOK_TYPES, install_git_hook

        _report(install_git_hook(path, hook_types or DEFAULT_HOOK_TYPES, strict=strict))
    if claude:
        from ctxeng.integrations.claude_settings import install_claude

        _report(install_claude(path, check=not mcp))
    if mcp:
        from ctxeng.integrations.mcp_entry import install_mcp

        _report(install_mcp(path))


@click.command()
@repo_path()
@click.option(
    "--git-hook", is_flag=True, help="Remove ctxeng's git hooks and restore the ones they replaced."
)
@click.option(
    "--claude", is_flag=True, help="Remove ctxeng's Claude Code settings entries, command and skill."
)
@click.option("--mcp", is_flag=True, help="Remove the ctxeng entry from .mcp.json.")
def uninstall(path: str, git_hook: bool, claude: bool, mcp: bool) -> None:
    """Remove what `ctxeng install` added to the repository at PATH, and nothing else."""
    if not (git_hook or claude or mcp):
        raise click.UsageError(f"nothing to uninstall: {TARGET_HINT}")
    if git_hook:
        from ctxeng.integrations.git_hook import uninstall_git_hook

        _report(uninstall_git_hook(path))
    if claude:
        from ctxeng.integrations.claude_settings import uninstall_claude

        _report(uninstall_claude(path))
    if mcp:
        from ctxeng.integrations.mcp_entry import uninstall_mcp

        _report(uninstall_mcp(path))


def _report(lines: list[str]) -> None:
    for line in lines or ["nothing to do"]:
        click.echo(line, err=True)
