"""One module per CLI command; each is thin and calls the library."""

from __future__ import annotations

import click

#: `-C/--root DIR`, for commands whose positional argument is not the repository (a prompt, a question).
root_option = click.option(
    "-C", "--root", "root", default=".", type=click.Path(file_okay=False, path_type=str),
    help="Repository (default: the current directory's).",
)  # fmt: skip
