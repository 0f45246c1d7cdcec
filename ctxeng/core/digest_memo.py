"""Results of whole-input computations kept by a digest of their input, for inputs that rarely change.

Some pack and glossary steps scan every documentation section with regular expressions (which
identifiers the docs mention, which words they use); sqlalchemy's 1,800 sections cost ~0.05 CPU-s
per step on every rebuild although a code commit leaves the docs as they were. `DigestMemo` keeps
a step's result under a SHA-1 of exactly the strings it reads, salted with the step's name and
code version: a hit is what computing gives. One small file per step; a torn one is a miss.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core.cache import CacheTable

MEMO_DIR = "cache/memo"


def digest(strings: Iterable[str]) -> str:
    """A SHA-1 of `strings` in order (each length-prefixed, so no two sequences share one)."""
    h = hashlib.sha1()
    for s in strings:
        data = s.encode("utf-8", "surrogatepass")
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


def source_version(*files: str) -> str:
    """A SHA-1 of the given source files' bytes (pass modules' `__file__`): their code's version."""
    return digest(Path(f).read_bytes().decode("utf-8", "surrogateescape") for f in files)


class DigestMemo:
    """One step's result by the digest of its input (`get` / `put`), stored under `cache/memo/<name>.json`."""

    def __init__(self, out_dir: Path, name: str, version: str) -> None:
        self.table = CacheTable(out_dir / MEMO_DIR / f"{name}.json", f"{__version__}\0{name}\0{version}")

    def get(self, key: str) -> Any:
        """The result stored for `key`, or None."""
        return self.table.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        """Store `value` as the result for `key`; only the latest results are kept."""
        self.table.put(key, value)
        self.table.save({key})
