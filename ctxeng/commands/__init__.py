"""One module per CLI command; each is thin and calls the library."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
_DIR = click.Path(file_okay=False, path_type=str)


def repo_path(default: str | None = ".") -> Callable[[F], F]:
    """The repository argument every command shares: a positional `[PATH]` and its alias `-C/--root DIR`.

    The command receives one `path` keyword: PATH, else -C, else `default`. Both at once must agree
    (a usage error otherwise). After the command's own positional arguments (`context PROMPT [PATH]`).
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            path, root = kwargs.pop("path", None), kwargs.pop("root", None)
            if path is not None and root is not None and Path(path).resolve() != Path(root).resolve():
                raise click.UsageError(f"two repositories given ({path} and -C {root}): give one")
            return func(
                *args, path=path if path is not None else root if root is not None else default, **kwargs
            )

        wrapper = click.option(
            "-C", "--root", "root", default=None, type=_DIR, metavar="DIR", help="The repository, as PATH."
        )(wrapper)
        wrapper = click.argument("path", required=False, default=None, type=_DIR)(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate
