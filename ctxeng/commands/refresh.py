"""`ctxeng refresh`: bring `.ctxeng/` up to date incrementally (also what the git hooks run)."""

from __future__ import annotations

import json

import click

from ctxeng.commands import repo_path


@click.command()
@repo_path()
@click.option(
    "--hook",
    is_flag=True,
    help="Run as a git hook: fast on staged changes, fail open, never wait on the lock.",
)
@click.option("--strict", is_flag=True, help="With --hook: a failed refresh fails the git command.")
@click.option(
    "--background", is_flag=True, help="Start the refresh detached and return at once (post-* hooks)."
)
@click.option("--json", "as_json", is_flag=True, help="Print what the refresh did as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless it fails.")
def refresh(path: str, hook: bool, strict: bool, background: bool, as_json: bool, quiet: bool) -> int:
    """Refresh records, dataset, pack and prompt index after changes (only changed files are re-read)."""
    from ctxeng.core.errors import CtxengError
    from ctxeng.pipeline.refresh import refresh as run_refresh
    from ctxeng.pipeline.refresh import spawn_background

    try:
        if background:
            pid = spawn_background(path)
            if not quiet:
                click.echo(
                    f"ctxeng: refresh started in the background (pid {pid}; log: .ctxeng/refresh.log)",
                    err=True,
                )
            return 0
        from ctxeng.core.allocator import keep_freed_memory

        keep_freed_memory()  # a short process where people wait: no page faulted in twice
        result = run_refresh(path, hook=hook)
    except CtxengError as exc:
        if not hook or strict:
            raise
        fix = f" ({exc.hint})" if exc.hint else ""
        click.echo(f"ctxeng: refresh did not run: {exc.message}{fix}; git goes on", err=True)
        return 0
    except Exception as exc:  # a hook fails open: a ctxeng bug must not block a commit
        if not hook or strict:
            raise
        click.echo(f"ctxeng: refresh failed ({type(exc).__name__}: {exc}); git goes on", err=True)
        return 0
    if as_json:
        click.echo(json.dumps(result.to_json(), sort_keys=True))
    elif not quiet:
        what = {"none": "up to date", "skipped": "skipped"}.get(result.mode, f"refreshed ({result.mode})")
        detail = f"{len(result.changed)} file(s), " if result.changed else ""
        click.echo(f"ctxeng: {what}: {result.note} ({detail}{result.seconds:.2f} s)", err=True)
    return 0
