"""A disk-backed cache of byte payloads by key: only an index is held in memory, payloads are read on use.

The dataset caches hold every example's finished form (tens of MB on sqlalchemy, GBs at 100,000
files), so unlike `core.cache.CacheTable` they are never loaded whole: `<name>.dat` holds the
payloads back to back, `<name>.idx` the salt, the data file's name and, per key, its offset,
length and checksum; payloads are zlib-compressed (level 1). A build appends new payloads to the data file and rewrites the (small) index atomically;
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
_MAGIC = b"ctxeng-blobtable-3\n"


def blob_key(*parts: str) -> int:
    """A key for `parts` (each prefixed by its length, so different sequences give different keys)."""
    data = "".join(f"{len(part)}:{part}" for part in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha1(data).digest()[:_KEY], "little")


_USED = 1 << 127  # marks an indexed entry read by this build (kept by `save`)
_LOW32 = 0xFFFFFFFF


class BlobTable:
    """Payloads by key under `path` (`<path>.idx`, `<path>-<n>.dat`), salted like `CacheTable`.

    Memory: the index read at the start (a dict entry per key) and 28 bytes per payload put; a
    cold build, which puts every payload, holds no dict of them.
    """

    def __init__(self, path: Path, salt: str) -> None:
        self.path, self.salt = path, salt
        self._where: dict[int, int] = {}  # key -> [_USED |] offset << 64 | crc32 << 32 | length
        self._new = bytearray()  # index rows (`_ROW`) of the payloads put by this build
        self._data_name = ""
        self._fd = -1
        self._end = 0  # where the next payload goes
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

    def __len__(self) -> int:
        return len(self._where) + len(self._new) // _ROW.size

    def get(self, key: int) -> bytes | None:
        """The payload of `key` stored by an earlier build, or None; a payload read is kept by `save`."""
        packed = self._where.get(key)
        if packed is None:
            return None
        length = packed & _LOW32
        try:
            data = os.pread(self._fd, length, (packed & ~_USED) >> 64)
        except OSError:
            return None
        # A torn or garbled file reads as missing, never as a wrong payload.
        if len(data) != length or zlib.crc32(data) != (packed >> 32) & _LOW32:
            return None
        try:
            payload = zlib.decompress(data)
        except zlib.error:
            return None
        self._where[key] = packed | _USED
        return payload

    def put(self, key: int, payload: bytes) -> None:
        """Store `payload` under `key` (appended to the data file now; indexed by `save`)."""
        payload = zlib.compress(payload, 1)  # rows of JSON shrink ~4x; level 1 costs little CPU
        if len(payload) >= 1 << 32:
            return  # too large to index: simply recomputed next time
        if self._fd < 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._data_name = f"{self.path.name}-{os.getpid()}-{os.urandom(4).hex()}.dat"
            self._fd = os.open(self.path.parent / self._data_name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            self._end = 0
        os.pwrite(self._fd, payload, self._end)
        self._new += _ROW.pack(key.to_bytes(_KEY, "little"), self._end, len(payload), zlib.crc32(payload))
        self._end += len(payload)

    def save(self) -> None:
        """Index the payloads put and those read; the rest are dropped (their bytes once they dominate)."""
        if self._fd < 0 or (not self._new and all(packed & _USED for packed in self._where.values())):
            return
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            rows = bytearray()
            for key, packed in self._where.items():
                if packed & _USED:
                    rows += _ROW.pack(key.to_bytes(_KEY, "little"), (packed & ~_USED) >> 64, packed & _LOW32,
                                      (packed >> 32) & _LOW32)  # fmt: skip
            rows += self._new
            self._where, self._new = {}, bytearray()
            if self._end > 3 * sum(row[2] for row in _ROW.iter_unpack(rows)) + (1 << 20):
                rows = self._compact(rows)
            head = b"".join((_MAGIC, self.salt.encode(), b"\n", self._data_name.encode(), b"\n"))
            tmp = self.path.parent / f".{self.path.name}.idx.{os.getpid()}"
            tmp.write_bytes(head + str(self._end).encode() + b"\n\n" + bytes(rows))
            os.replace(tmp, self.path.parent / f"{self.path.name}.idx")
            self._remove_others(keep=self._data_name)

    def _compact(self, rows: bytearray) -> bytearray:
        """Copy the payloads of index `rows` into a new data file; returns their new rows."""
        name = f"{self.path.name}-{os.getpid()}-{os.urandom(4).hex()}.dat"
        fd = os.open(self.path.parent / name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        out = bytearray()
        end = 0
        for key, offset, length, crc in _ROW.iter_unpack(rows):
            data = os.pread(self._fd, length, offset)
            if len(data) != length:
                continue
            os.pwrite(fd, data, end)
            out += _ROW.pack(key, end, length, crc)
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
