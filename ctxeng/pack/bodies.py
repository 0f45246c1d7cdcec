"""Source bodies of the few definitions most relevant to a prompt, read at prompt time and redacted.

The index holds signatures, not code; a prompt about an error message or a branch needs the lines
themselves. They are read from the work tree (or, in a replay, from the commit being replayed),
cut to a few dozen lines and passed through the secret redactor like every record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_LINES = 40  # a body longer than this shows its first lines and an ellipsis
MAX_FILE_BYTES = 1_000_000
ReadSource = Callable[[str], "str | None"]


def work_tree_reader(root: Path) -> ReadSource:
    """Read a repository-relative path from the work tree at `root` (no symlinks, nothing outside it)."""
    base = root.resolve()

    @functools.lru_cache(maxsize=16)
    def read(path: str) -> str | None:
        target = base / path
        try:
            if target.is_symlink() or not target.resolve().is_relative_to(base) or not target.is_file():
                return None
            if target.stat().st_size > MAX_FILE_BYTES:
                return None
            return target.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    return read


@functools.lru_cache(maxsize=4)
def _redactor(root: str) -> Any:
    from ctxeng.core.config import load_config
    from ctxeng.secrets import Redactor

    try:
        secrets = load_config(Path(root)).secrets
    except Exception:  # a broken config must not cost the prompt its context: the built-in rules still apply
        from ctxeng.core.config import SecretsConfig

        secrets = SecretsConfig()
    return Redactor(secrets)


def body(read: ReadSource, root: str, path: str, line: int, end: int, language: str = "") -> str:
    """A fenced code block of lines `line`..`end` of `path` (at most `MAX_LINES`), redacted; "" if unreadable."""
    text = read(path)
    if text is None or end < line:
        return ""
    lines = text.split("\n")[line - 1 : end]
    if not lines:
        return ""
    cut = len(lines) > MAX_LINES
    shown = "\n".join(lines[:MAX_LINES]).rstrip() + ("\n…" if cut else "")
    shown = _redactor(root).text(shown)
    fence = "````" if "```" in shown else "```"
    return f"{fence}{language}\n{shown}\n{fence}\n"
