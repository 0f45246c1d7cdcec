"""Segment storage for kvstore: append-only files of encoded records."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

from .codec import decode, encode as enc

__all__ = ["Segment", "open_segment", "MAX_SEGMENT_BYTES"]

MAX_SEGMENT_BYTES = 64 * 1024 * 1024
_HEADER = b"KVS1"


@dataclass(frozen=True)
class Entry:
    """Where a record lives: its segment and byte offset."""

    segment: int
    offset: int


# A segment is one append-only data file.
class Segment:
    """An append-only file of records."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._size = os.path.getsize(path) if os.path.exists(path) else 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, key: bytes, value: bytes) -> Entry:
        """Append one record and return where it went."""
        data = enc(key, value)
        with open(self.path, "ab") as fh:
            fh.write(data)
        entry = Entry(0, self._size)
        self._size += len(data)
        return entry

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield every (key, value) in file order."""

        def chunks(fh) -> Iterator[bytes]:
            while block := fh.read(65536):
                yield block

        with open(self.path, "rb") as fh:
            yield from decode(b"".join(chunks(fh)))

    def _check(self) -> bool:
        return self._size <= MAX_SEGMENT_BYTES


# Opening never truncates: a torn tail is dropped when scanned.
def open_segment(path: str) -> Segment:
    return Segment(path)
