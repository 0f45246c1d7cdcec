"""The index patched with the side file, remembered so that only the first reader after a pre-commit refresh patches.

While `index-staged.jsonl` exists every reader of the index (`ctxeng context`, the prompt hook, MCP)
patched it in memory (`ctxeng.pack.index.staged.apply_staged`): on sqlalchemy +0.07 CPU-s in
process and ~0.1 per prompt with the imports. The first reader now writes the patched index and its
details bytes to `<workdir>/cache/index-staged.bin` (one file, atomic rename: the JSON index on the
first line, the details bytes after it), keyed by the generation folder, the index and details
files' identity (size, modification time, inode) and a digest of the side file's bytes; later
readers of the same generation and side file read that instead of `index.json` (the same parse
cost) and patch nothing. Any other key, or a torn file, is a miss: the reader patches again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ctxeng.pack.index.reader import DETAILS_BYTES, DETAILS_FILE, INDEX_FILE, INDEX_VERSION, STAGED_FILE

CACHE_FILE = "cache/index-staged.bin"


def patched_key(folder: Path) -> str | None:
    """What names the patched index of generation `folder` and its side file; None when a file is unreadable."""
    digest = hashlib.sha1(f"{INDEX_VERSION}\0{folder}".encode("utf-8", "surrogatepass"))
    try:
        for name in (INDEX_FILE, DETAILS_FILE):
            st = os.stat(folder / name)
            digest.update(f"\0{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}".encode())
        digest.update(b"\0")
        digest.update((folder / STAGED_FILE).read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def load_patched(folder: Path, out_dir: Path) -> dict[str, Any] | None:
    """The remembered patched index of `folder` (its details bytes under `DETAILS_BYTES`), or None."""
    key = patched_key(folder)
    if key is None:
        return None
    try:
        data = (out_dir / CACHE_FILE).read_bytes()
        head, sep, details = data.partition(b"\n")
        index = json.loads(head) if sep else None
        if not isinstance(index, dict) or index.pop("_patched_key", None) != key:
            return None
        offsets = index["details"]["offsets"]
        if not offsets or offsets[-1] != len(details):
            return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
        return None
    index[DETAILS_BYTES] = details
    return index


def save_patched(folder: Path, out_dir: Path, index: dict[str, Any]) -> None:
    """Remember `index` (patched from `folder` and its side file, details under `DETAILS_BYTES`);
    a cache that cannot be written only costs the next reader the patch."""
    details = index.get(DETAILS_BYTES)
    key = patched_key(folder)
    if not isinstance(details, bytes) or key is None:
        return
    row = {k: v for k, v in index.items() if k != DETAILS_BYTES}
    row["_patched_key"] = key
    target = out_dir / CACHE_FILE
    with contextlib.suppress(OSError, ValueError, TypeError):
        head = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".index-staged.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(head + b"\n" + details)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
