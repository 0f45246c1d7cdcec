"""A disk-backed cache of byte payloads by key: only an index is held in memory, payloads are read on use.

The dataset caches hold every example's finished form (tens of MB on sqlalchemy, GBs at 100,000
files), so unlike `core.cache.CacheTable` they are never loaded whole: `<name>.dat` holds the
payloads back to back, `<name>.idx` the salt, the data file's name and, per key, its offset and
length. A build appends new payloads to the data file and rewrites the (small) index atomically;
bytes a crash left after the indexed end are never read. Once unused payloads make up most of the
file, the used ones are copied into a new data file (compaction). A payload that cannot be read
back (a torn or replaced file) reads as missing: it is a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import zlib
from pathlib import Path

_KEY = 12  # bytes of the sha1 key kept: 96 bits, no collision among millions of entries
_ROW = struct.Struct(f"<{_KEY}sQII")  # key, offset, length, crc32 of the payload
_MAGIC = b"ctxeng-blobtable-2\n"


def blob_key(*parts: str) -> int:
    """A key for `parts` (each prefixed by its length, so different sequences give different keys)."""
    data = "".join(f"{len(part)}:{part}" for part in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha1(data).digest()[:_KEY], "little")


class BlobTable:
    """Payloads by key under `path` (`<path>.idx`, `<path>-<n>.dat`), salted like `CacheTable`."""

    def __init__(self, path: Path, salt: str) -> None:
        self.path, self.salt = path, salt
        self._where: dict[int, int] = {}  # key -> offset << 64 | crc32 << 32 | length
        self._data_name = ""
        self._fd = -1
        self._end = 0  # where the next payload goes
        self._live = 0  # bytes of payloads indexed
        self._dirty = False  # a payload was put since the index was read
        self._load()

    def _load(self) -> None:
        try:
            raw = (self.path.parent / f"{self.path.name}.idx").read_bytes()
        except OSError:
            return
        head, _, rows = raw.partition(b"\n\n")
        lines = head.split(b"\n")
        if len(lines) != 4 or lines[0] + b"\n" != _MAGIC or lines[1].decode("utf-8", "replace") != self.salt:
            return
        name, end = lines[2].decode("ascii", "replace"), int(lines[3] or 0)
        if len(rows) % _ROW.size or "/" in name:
            return
        try:
            fd = os.open(self.path.parent / name, os.O_RDWR)
        except OSError:
            return
        self._fd, self._data_name, self._end = fd, name, end
        where = self._where
        for key, offset, length, crc in _ROW.iter_unpack(rows):
            where[int.from_bytes(key, "little")] = offset << 64 | crc << 32 | length
            self._live += length

    def __len__(self) -> int:
        return len(self._where)

    def get(self, key: int) -> bytes | None:
        """The payload of `key`, or None."""
        packed = self._where.get(key)
        if packed is None:
            return None
        length = packed & 0xFFFFFFFF
        try:
            data = os.pread(self._fd, length, packed >> 64)
        except OSError:
            return None
        # A torn or garbled file reads as missing, never as a wrong payload.
        return data if len(data) == length and zlib.crc32(data) == (packed >> 32) & 0xFFFFFFFF else None

    def put(self, key: int, payload: bytes) -> None:
        """Store `payload` under `key` (appended to the data file now; indexed by `save`)."""
        if len(payload) >= 1 << 32:
            return  # too large to index: simply recomputed next time
        if self._fd < 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._data_name = f"{self.path.name}-{os.getpid()}-{os.urandom(4).hex()}.dat"
            self._fd = os.open(self.path.parent / self._data_name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            self._end = 0
        os.pwrite(self._fd, payload, self._end)
        self._where[key] = self._end << 64 | zlib.crc32(payload) << 32 | len(payload)
        self._end += len(payload)
        self._live += len(payload)
        self._dirty = True

    def save(self, used: set[int]) -> None:
        """Index what was put; keep only `used` keys, compacting once dead bytes dominate the file."""
        if self._fd < 0 or (not self._dirty and all(key in used for key in self._where)):
            return
        self._dirty = False
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            where = {key: self._where[key] for key in used if key in self._where}
            live = sum(packed & 0xFFFFFFFF for packed in where.values())
            if self._end > 3 * live + (1 << 20):
                where = self._compact(where)
            rows = bytearray()
            for key, packed in where.items():
                rows += _ROW.pack(
                    key.to_bytes(_KEY, "little"),
                    packed >> 64,
                    packed & 0xFFFFFFFF,
                    (packed >> 32) & 0xFFFFFFFF,
                )
            head = b"".join((_MAGIC, self.salt.encode(), b"\n", self._data_name.encode(), b"\n"))
            tmp = self.path.parent / f".{self.path.name}.idx.{os.getpid()}"
            tmp.write_bytes(head + str(self._end).encode() + b"\n\n" + bytes(rows))
            os.replace(tmp, self.path.parent / f"{self.path.name}.idx")
            self._where, self._live = where, live
            self._remove_others(keep=self._data_name)

    def _compact(self, where: dict[int, int]) -> dict[int, int]:
        """Copy the payloads of `where` into a new data file; returns their new places."""
        name = f"{self.path.name}-{os.getpid()}-{os.urandom(4).hex()}.dat"
        fd = os.open(self.path.parent / name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        out: dict[int, int] = {}
        end = 0
        for key, packed in where.items():
            length = packed & 0xFFFFFFFF
            data = os.pread(self._fd, length, packed >> 64)
            if len(data) != length:
                continue
            os.pwrite(fd, data, end)
            out[key] = end << 64 | (packed & 0xFFFFFFFFFFFFFFFF)
            end += length
        os.close(self._fd)
        self._fd, self._data_name, self._end = fd, name, end
        return out

    def _remove_others(self, keep: str) -> None:
        for entry in self.path.parent.glob(f"{self.path.name}-*.dat"):
            if entry.name != keep:
                with contextlib.suppress(OSError):
                    entry.unlink()

    def close(self) -> None:
        """Release the data file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
