"""Reading the context index: what `ctxeng context` and hooks import (kept free of the build-time code)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from ctxeng.core.display import safe_text
from ctxeng.core.errors import CtxengError

INDEX_VERSION = 4
INDEX_FILE = "index.json"
DETAILS_FILE = "index-details.jsonl"
SCALE = 1_000_000  # scores are stored as integers in [0, SCALE]
STAGED_FILE = "index-staged.jsonl"  # see `ctxeng.pack.index.staged` (named here: the check costs no import)
DETAILS_BYTES = "_details_bytes"


def qualname(index: dict[str, Any], i: int) -> str:
    """The qualified name of definition row `i`, rebuilt from its parent links."""
    defs, names = index["defs"], index["names"]
    parts = [names[defs["name"][i]]]
    parent = defs["parent"][i]
    while parent >= 0 and len(parts) < 32:
        parts.append(names[defs["name"][parent]])
        parent = defs["parent"][parent]
    return ".".join(reversed(parts))


def load_index(root: Path) -> dict[str, Any]:
    """Read the current generation's `index.json` of the repository at `root`; a missing, unreadable
    or foreign-version index is a `CtxengError`. The generation is resolved once: `read_details`
    reads the details file of the same one (kept in `_dir`)."""
    from ctxeng.core.workdir import generation, workdir

    folder = generation(root)
    path = folder / INDEX_FILE
    shown = workdir(root) / INDEX_FILE
    staged = (folder / STAGED_FILE).is_file()  # a pre-commit refresh's changes, not folded in yet
    if staged:
        from ctxeng.pack.index.staged_cache import load_patched

        remembered = load_patched(folder, workdir(root))
        if remembered is not None:
            return _loaded(remembered, root, folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CtxengError(f"no context index at {shown}", hint=_rebuild_hint(root)) from None
    except RecursionError:
        raise CtxengError(f"cannot read {shown}: nested too deeply", hint=_rebuild_hint(root)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CtxengError(f"cannot read {shown}: {exc}", hint=_rebuild_hint(root)) from None
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        raise CtxengError(f"{shown} was written by another ctxeng version", hint=_rebuild_hint(root))
    if staged:
        from ctxeng.pack.index.staged import apply_staged
        from ctxeng.pack.index.staged_cache import save_patched

        data = apply_staged(data, folder)
        save_patched(folder, workdir(root), data)  # the next reader skips the patch
    return _loaded(data, root, folder)


def _loaded(data: dict[str, Any], root: Path, folder: Path) -> dict[str, Any]:
    """`data` (the index read from generation `folder`) made ready for its readers."""
    data["_root"] = str(root)
    data["_dir"] = str(folder)
    _display_safe(data)
    return data


def _rebuild_hint(root: Path) -> str:
    """A command that will work: `ctxeng pack` re-renders the index from records, which only a build makes."""
    if (root / ".ctxeng" / "records.jsonl").is_file():
        return f"run `ctxeng pack {root}` to write it from the records"
    return f"run `ctxeng build {root}` first"


_SHOWN = (("files", ("path", "summary")), ("docs", ("path", "heading")), ("commits", ("subject",)),
          ("glossary", ("term", "meaning", "source")))  # fmt: skip


def _display_safe(data: dict[str, Any]) -> None:
    """Escape control characters in the texts the context shows on one line (paths, headings, subjects):
    an index written before names were escaped must not let a file name start a Markdown heading."""
    for table, columns in _SHOWN:
        rows = data.get(table)
        if not isinstance(rows, dict):
            continue
        for column in columns:
            values = rows.get(column)
            if isinstance(values, list):
                rows[column] = [safe_text(v) if isinstance(v, str) else v for v in values]


def read_details(index: dict[str, Any], rows: list[int]) -> dict[int, list[Any]]:
    """Detail rows by number (definitions first, then doc sections), read by offset; a row that
    cannot be read is left out (the caller falls back to what the index itself holds)."""
    meta = index["details"]
    offsets = meta["offsets"]
    out: dict[int, list[Any]] = {}
    held = index.get(DETAILS_BYTES)
    if isinstance(held, bytes):  # patched in memory with staged changes (`ctxeng.pack.index.staged`)
        if len(held) == offsets[-1]:
            for n in sorted(set(rows)):
                if 0 <= n < len(offsets) - 1:
                    with contextlib.suppress(ValueError):
                        out[n] = json.loads(held[offsets[n] : offsets[n + 1]])
        return out
    folder = index.get("_dir") or Path(index["_root"]) / ".ctxeng"
    path = Path(folder) / meta["file"]
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size != offsets[-1]:
                return out  # a details file from another build (published between our two reads)
            for n in sorted(set(rows)):
                if 0 <= n < len(offsets) - 1:
                    fh.seek(offsets[n])
                    out[n] = json.loads(fh.read(offsets[n + 1] - offsets[n]))
    except (OSError, ValueError):
        pass
    return out
