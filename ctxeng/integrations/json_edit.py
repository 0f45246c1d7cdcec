"""Reversible edits of a JSON file the user owns (`.claude/settings.json`, `.mcp.json`).

Install writes the file in its own style (indentation, line ends, final newline) and, on the first
install, keeps the bytes it had before under `.ctxeng/install/`. Uninstall writes those bytes back when,
ctxeng's entries aside, nothing changed meanwhile (so even hand-formatted JSON survives byte for byte),
removes the file when ctxeng created it, and otherwise keeps the user's later changes in their style.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import atomic_write_text
from ctxeng.core.repo import RepoView
from ctxeng.core.workdir import ensure_workdir, workdir


def load_object(path: Path, label: str) -> tuple[dict[str, Any], str | None]:
    """The file's JSON object and its text; ({}, None) when there is no file. Never rewrites anything."""
    if not path.exists():
        return {}, None
    text = path.read_bytes().decode("utf-8", "replace")  # no newline translation: CRLF files stay CRLF
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise CtxengError(f"{label} is not valid JSON: {exc}", hint="fix it (nothing was changed)") from None
    if not isinstance(data, dict):
        raise CtxengError(f"{label} must hold a JSON object", hint="fix it (nothing was changed)")
    return data, text


def dump_like(data: dict[str, Any], original: str | None) -> str:
    """Serialise `data` with the indentation, line ends and final newline of `original` (else: 2 spaces)."""
    indent: str | None = "  "
    if original is not None:
        lines = original.splitlines()
        indented = next((ln for ln in lines[1:] if ln.strip()), None)
        indent = indented[: len(indented) - len(indented.lstrip())] if indented else None
        indent = indent or None
    text = json.dumps(data, indent=indent, ensure_ascii=False)  # raw newlines only between tokens
    text += "\n" if original is None or original.endswith("\n") else ""
    return text.replace("\n", "\r\n") if original is not None and "\r\n" in original else text


def write_installed(repo: RepoView, path: Path, backup: str, data: dict[str, Any], text: str | None) -> None:
    """Write `data` in the style of the current `text`, remembering the pre-install bytes the first time."""
    kept = ensure_workdir(repo) / backup
    if not kept.exists():  # the state before the *first* install is the one to restore
        atomic_write_text(kept, json.dumps({"existed": text is not None, "text": text or ""}))
    atomic_write_text(path, dump_like(data, text))


def write_uninstalled(
    repo: RepoView,
    path: Path,
    backup: str,
    stripped: dict[str, Any],
    text: str,
    unchanged: Callable[[dict[str, Any]], bool],
) -> None:
    """Write `stripped` (the file without ctxeng's entries) back, as exactly as possible.

    `unchanged(before)` says whether `stripped` is what install found (`before` is {} when there was
    no file): then the old bytes come back, or the file goes. Otherwise `stripped` is written in the
    file's current style. The remembered bytes are forgotten either way.
    """
    kept = workdir(repo.root) / backup
    before = _remembered(kept)
    if before is not None and unchanged(before[0]):
        if before[1] is None:
            path.unlink()
        else:
            atomic_write_text(path, before[1])
    else:
        atomic_write_text(path, dump_like(stripped, text))
    kept.unlink(missing_ok=True)


def forget(repo: RepoView, backup: str) -> None:
    """Drop the remembered pre-install bytes (nothing of ours is left in the file)."""
    (workdir(repo.root) / backup).unlink(missing_ok=True)


def _remembered(path: Path) -> tuple[dict[str, Any], str | None] | None:
    """(object, text) the file held before install ((`{}`, None) when it did not exist); None if unknown."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        existed, text = data["existed"], data["text"]
        if not (isinstance(existed, bool) and isinstance(text, str)):
            return None
        before = json.loads(text) if existed and text.strip() else {}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (before, text if existed else None) if isinstance(before, dict) else None
