"""Ending the `ctxeng` process without freeing what a build held: the kernel takes its memory back at once.

Freeing sqlalchemy's 62k records (and their meta dicts, a million objects) one reference at a time
costs ~0.1 s, and the interpreter's own finalization ~0.03 s more, all of it after the outputs are
published. When the CLI is the process's entry point it `arm`s this module; the build then hands
what it would free last to `keep`, and `end` flushes stdout and stderr and leaves with `os._exit`.
Nothing is lost by that: every output is written and fsynced before the generation switch (files
are never left to a finalizer), locks are file locks the kernel releases, and no thread or child
process outlives a command. Unarmed (tests, `ctxeng.cli.main(argv)` called by a program, library
use) `keep` holds nothing and `end` returns: objects are freed as usual.
"""

from __future__ import annotations

import os
import sys

_armed = False
_kept: list[object] = []


def arm() -> None:
    """Let `keep` hold objects until the process ends (the CLI as the process's entry point only)."""
    global _armed
    _armed = True


def keep(*objects: object) -> None:
    """Hold `objects` until the process ends instead of freeing them as their last reference goes
    (only when armed)."""
    if _armed:
        _kept.extend(objects)


def release() -> None:
    """Free what `keep` holds now: a long phase follows (`build --train`) that needs the memory."""
    _kept.clear()


def end(code: int) -> int:
    """Leave the process now with `code` when armed and something was kept (stdout and stderr
    flushed first); else return `code` for the caller to return."""
    if not (_armed and _kept):
        return code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing more to say there
            pass
    os._exit(code)
