"""The `ctxeng` command line: a thin click group whose commands load lazily (so --help stays fast)."""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

import click

from ctxeng import __version__
from ctxeng.core.errors import EXIT_INTERRUPTED, CtxengError

# name -> (module under ctxeng.commands, one-line help). Modules are imported only when run.
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("build", "Mine the repository into records, a dataset and a context pack."),
    "scan": ("scan", "List where secrets would be redacted (path, line, rule; never the value)."),
    "pack": ("pack", "Write the Claude Code skill pack and CLAUDE.md block from the records."),
    "context": ("context", "Print the context most relevant to a prompt, within a token budget."),
    "refresh": ("refresh", "Incrementally update records, dataset and pack after changes."),
    "status": ("status", "Show how far records, pack, dataset and adapter lag behind HEAD."),
    "install": ("install", "Install the git hook, Claude Code integration or MCP config."),
    "uninstall": ("install", "Remove what `ctxeng install` added, and nothing else."),
    "train": ("train", "Train a LoRA adapter on the dataset from a recipe."),
    "eval": ("evaluate", "Compare base model and adapter on the held-out split."),
    "replay": ("replay", "Replay recent commits: how much of what each touched does the context name?"),
    "merge": ("merge", "Merge an adapter into a full model folder."),
    "adapters": ("adapters", "List trained adapters with their manifests."),
    "serve": ("serve", "Serve base model + adapters over an OpenAI-compatible HTTP API."),
    "ask": ("ask", "Answer a question with the adapter, grounded by retrieved context."),
    "mcp": ("mcp", "Run the MCP server over stdio."),
    "export": ("export", "Print vLLM / write Ollama configuration for an adapter."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"ctxeng.commands.{COMMANDS[name][0]}")
        command: click.Command = getattr(module, name if name != "eval" else "evaluate")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ctxeng")
def cli() -> None:
    """ctxeng turns a git repository into context for coding agents.

    Typical use, inside a repository: `ctxeng build .`
    """


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # same clean-up path as Ctrl-C: temp files go, last good output stays


def _interrupted() -> int:
    """The exit code and last line of a Ctrl-C: 130, unless this command's outputs were published."""
    from ctxeng.core.fsio import published

    if published(forget=True):  # after the switch: the outputs are new and whole, the run is done
        click.echo("interrupted after the new outputs were published (they are complete)", err=True)
        return 0
    click.echo("interrupted", err=True)
    return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 user error, 2 usage error, 130 interrupted.

    Without `argv` (the process's entry point: the `ctxeng` script, `python -m ctxeng`) a command
    that built outputs ends the process at once, not freeing them first (`ctxeng.core.teardown`)."""
    if argv is None:
        from ctxeng.core import teardown

        teardown.arm()
        return teardown.end(_main(argv))
    return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    signal.signal(signal.SIGTERM, _sigterm)
    if "ctxeng.core.fsio" in sys.modules:  # a program running several commands: this one starts afresh
        sys.modules["ctxeng.core.fsio"].published(forget=True)
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="ctxeng", standalone_mode=False
        )
    except CtxengError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        return _interrupted()
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BrokenPipeError:  # `ctxeng pack --stdout | head`
        sys.stderr.close()
        return 0
    except Exception as exc:
        if _caused_by_interrupt(exc):  # Ctrl-C inside code that wraps it (an import's __set_name__)
            return _interrupted()
        raise
    return result if isinstance(result, int) else 0


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether a Ctrl-C is somewhere in `exc`'s chain of causes (Python 3.11 wraps one that lands in a
    class body's `__set_name__`, as a lazily imported module defines its dataclasses, in a RuntimeError)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


if __name__ == "__main__":
    sys.exit(main())
