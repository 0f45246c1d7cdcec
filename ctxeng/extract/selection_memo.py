"""What selection decided from each blob's content, kept so that a rebuild reads only new blobs.

`select_entries` reads every candidate blob to check its content (binary, empty, an LFS pointer,
generated, minified) and decode it; on sqlalchemy that is 900 blobs, ~20 MB, on every post-commit
refresh. The verdict depends on the bytes alone (the blob id) and on the settings the checks read
(`skip_generated`, `max_line_length`), so it is stored per blob under a salt of those settings and
the selection code: a hit is what reading the blob would decide. A selected file's text is then read
only if something asks for it (`SourceFile.text`; the code stage asks for its cache misses only,
in one batch: `load_texts`). A torn or unreadable table is empty, never wrong.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core.cache import CacheTable
from ctxeng.core.config import FilesConfig

MEMO_FILE = "cache/select/verdicts.json"


@functools.cache
def _code_salt() -> str:
    from ctxeng.core.digest_memo import source_version
    from ctxeng.extract import selection

    return f"{__version__}\0select-verdicts-1\0{source_version(str(selection.__file__), __file__)}"


class Verdicts:
    """Per blob id: (skip reason or "" when selected, size in bytes, encoding of the decoded text)."""

    def __init__(self, out_dir: Path, files: FilesConfig) -> None:
        settings = f"{int(files.skip_generated)}\0{files.max_line_length}"
        self.table = CacheTable(
            out_dir / MEMO_FILE, hashlib.sha1(f"{_code_salt()}\0{settings}".encode()).hexdigest()
        )
        self.used: set[str] = set()

    def get(self, blob: str) -> tuple[str, int, str] | None:
        """The verdict stored for `blob`, or None."""
        row: Any = self.table.entries.get(blob)
        if not (isinstance(row, list) and len(row) == 3):
            return None
        reason, size, encoding = row
        if not (isinstance(reason, str) and type(size) is int and isinstance(encoding, str)):
            return None
        self.used.add(blob)
        return reason, size, encoding

    def put(self, blob: str, reason: str, size: int, encoding: str) -> None:
        """Store the verdict reached by reading `blob`."""
        self.table.put(blob, [reason, size, encoding])
        self.used.add(blob)

    def save(self) -> None:
        """Write the table back when it changed (blobs unused by this build go once they pile up)."""
        self.table.save(self.used)
