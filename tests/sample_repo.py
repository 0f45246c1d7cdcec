"""The sample project used across tests: `kvstore`, a tiny append-only key-value store.

Built commit by commit so history, co-change, provenance and the time split have real data.
"""

from __future__ import annotations

from pathlib import Path

from tests.gitrepo import GitRepo

README = """# kvstore

kvstore is a tiny **append-only key-value store**: every write appends a record to a *segment*
file and an in-memory *keydir* maps each key to the offset of its newest record.

## Install

```
pip install -e .
```

## Usage

```python
from kvstore import Store

with Store.open("data/") as db:
    db.put("answer", b"42")
    print(db.get("answer"))
```

## Development

Run `make test` to run the tests and `make lint` to lint.
"""

ARCHITECTURE = """# Architecture

## Segments

Data lives in segment files under the data directory. A segment is append-only; when it grows
past `max_segment_bytes` the store rolls over to a new one.

## Keydir

The keydir is an in-memory dict from key to `(segment, offset, size)`. It is rebuilt on open by
scanning every segment, which is why opening a large store takes time.

## Compaction

Compaction rewrites live records into a fresh segment and drops dead ones (tombstones and
overwritten values).
"""

ADR = """# ADR 0001: Use an append-only log

## Status

Accepted.

## Context

We need crash safety without a write-ahead log of our own.

## Decision

All writes append to the active segment; nothing is updated in place. A torn final record is
detected by its checksum and truncated on open.

## Consequences

Space is reclaimed only by compaction.
"""

GLOSSARY = """# Glossary

- **Segment**: an append-only data file holding encoded records.
- **Keydir**: the in-memory index from key to the location of its newest record.
- **Tombstone**: a record that marks a key as deleted.
"""

CONTRIBUTING = """# Contributing

Write commit subjects in the imperative mood ("Add compaction"), under 60 characters.
Every change needs a test under `tests/`.
"""

INIT_V1 = '''"""kvstore: a tiny append-only key-value store."""

from kvstore.store import Store

__all__ = ["Store"]
'''

INIT_V2 = '''"""kvstore: a tiny append-only key-value store."""

from kvstore.codec import decode_record, encode_record
from kvstore.store import Store

__all__ = ["Store", "encode_record", "decode_record"]
'''

CODEC_V1 = '''"""Encoding of records on disk: a header with a checksum, then key and value bytes."""

import struct
import zlib

HEADER = struct.Struct(">IHI")


def encode_record(key: str, value: bytes) -> bytes:
    """Encode one record: crc32, key length, value length, then the bytes."""
    raw_key = key.encode("utf-8")
    body = raw_key + value
    return HEADER.pack(zlib.crc32(body), len(raw_key), len(value)) + body


def decode_record(data: bytes) -> tuple[str, bytes]:
    """Decode a record produced by `encode_record`; raises ValueError on a bad checksum."""
    crc, key_len, value_len = HEADER.unpack_from(data)
    body = data[HEADER.size : HEADER.size + key_len + value_len]
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch")
    return body[:key_len].decode("utf-8"), body[key_len:]
'''

CODEC_V2 = (
    CODEC_V1
    + '''

TOMBSTONE = b"\\x00__tombstone__"


def is_tombstone(value: bytes) -> bool:
    """Whether a decoded value marks a deleted key."""
    return value == TOMBSTONE
'''
)

STORE_V1 = '''"""The store: segments on disk plus the in-memory keydir."""

from pathlib import Path

from kvstore.codec import HEADER, decode_record, encode_record


class Store:
    """An append-only key-value store in one directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keydir: dict[str, int] = {}
        self._log = open(path / "segment-0.log", "ab+")

    @classmethod
    def open(cls, path: str) -> "Store":
        """Open (or create) the store in `path`."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    def put(self, key: str, value: bytes) -> None:
        """Append a record for `key` and point the keydir at it."""
        offset = self._log.seek(0, 2)
        self._log.write(encode_record(key, value))
        self.keydir[key] = offset

    def get(self, key: str) -> bytes:
        """The newest value of `key`; KeyError if absent."""
        offset = self.keydir[key]
        self._log.seek(offset)
        header = self._log.read(HEADER.size)
        _, key_len, value_len = HEADER.unpack(header)
        return decode_record(header + self._log.read(key_len + value_len))[1]

    def close(self) -> None:
        """Flush and close the active segment."""
        self._log.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
'''

STORE_V2 = STORE_V1.replace(
    """    def close(self) -> None:""",
    '''    def delete(self, key: str) -> None:
        """Delete `key` by appending a tombstone."""
        self.put(key, TOMBSTONE)
        self.keydir.pop(key, None)

    def close(self) -> None:''',
).replace(
    "from kvstore.codec import HEADER, decode_record, encode_record",
    "from kvstore.codec import HEADER, TOMBSTONE, decode_record, encode_record",
)

COMPACT = '''"""Compaction: rewrite live records into a fresh segment."""

from kvstore.codec import is_tombstone
from kvstore.store import Store


def compact(store: Store) -> int:
    """Rewrite every live key into a new segment; returns the number of records kept."""
    live = {key: store.get(key) for key in sorted(store.keydir)}
    kept = 0
    for key, value in live.items():
        if not is_tombstone(value):
            store.put(key, value)
            kept += 1
    return kept
'''

CLI = '''"""Command line: `python -m kvstore.cli get|put DIR KEY [VALUE]`."""

import sys

from kvstore.store import Store


def main(argv: list[str]) -> int:
    """Run one command against the store in argv[1]."""
    command, folder, key = argv[0], argv[1], argv[2]
    with Store.open(folder) as db:
        if command == "put":
            db.put(key, argv[3].encode())
        else:
            print(db.get(key).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

TEST_STORE = """from kvstore import Store


def test_put_get(tmp_path):
    with Store.open(str(tmp_path)) as db:
        db.put("a", b"1")
        assert db.get("a") == b"1"
"""

TEST_CODEC = """from kvstore.codec import decode_record, encode_record


def test_roundtrip():
    assert decode_record(encode_record("k", b"v")) == ("k", b"v")
"""

CLIENT_JS = """// HTTP client for a kvstore server.

/**
 * Fetch the value of a key from the server at baseUrl.
 */
export async function getValue(baseUrl, key) {
  const response = await fetch(`${baseUrl}/keys/${encodeURIComponent(key)}`);
  if (!response.ok) throw new Error(`kvstore: ${response.status}`);
  return response.text();
}

export class Client {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  /** Read one key. */
  get(key) {
    return getValue(this.baseUrl, key);
  }
}
"""

BENCH_GO = """// Package bench measures put throughput of a kvstore server.
package bench

import "time"

// Result holds one benchmark run.
type Result struct {
	Puts     int
	Duration time.Duration
}

// Rate returns puts per second.
func (r Result) Rate() float64 {
	return float64(r.Puts) / r.Duration.Seconds()
}
"""

PYPROJECT = """[project]
name = "kvstore"
version = "0.1.0"
requires-python = ">=3.10"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

MAKEFILE = """test:
\tpytest -q

lint:
\truff check kvstore tests
"""

CI = """name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -e . pytest
      - run: pytest -q
"""

COMMITS: list[tuple[str, dict[str, str | None]]] = [
    ("Add record codec with checksums", {"kvstore/codec.py": CODEC_V1, "pyproject.toml": PYPROJECT}),
    ("Add store with put and get", {"kvstore/store.py": STORE_V1, "kvstore/__init__.py": INIT_V1}),
    ("Add README with usage", {"README.md": README}),
    ("Add tests for store and codec", {"tests/test_store.py": TEST_STORE, "tests/test_codec.py": TEST_CODEC}),
    ("Add Makefile and CI workflow", {"Makefile": MAKEFILE, ".github/workflows/ci.yml": CI}),
    ("Document the architecture", {"docs/architecture.md": ARCHITECTURE}),
    ("Record the append-only log decision", {"docs/adr/0001-append-only-log.md": ADR}),
    ("Add command line interface", {"kvstore/cli.py": CLI}),
    ("Add JavaScript client", {"clients/js/client.js": CLIENT_JS}),
    ("Add Go benchmark types", {"tools/bench/bench.go": BENCH_GO}),
    ("Add glossary and contributing guide", {"docs/glossary.md": GLOSSARY, "CONTRIBUTING.md": CONTRIBUTING}),
    ("Support deletes with tombstones", {"kvstore/codec.py": CODEC_V2, "kvstore/store.py": STORE_V2}),
    ("Export codec functions from the package", {"kvstore/__init__.py": INIT_V2}),
    ("Add compaction of live records", {"kvstore/compact.py": COMPACT}),
]


def make_sample_repo(path: Path) -> GitRepo:
    """Create the kvstore repository at `path` with its full history."""
    repo = GitRepo(path)
    for message, files in COMMITS:
        repo.commit(message, files)
    return repo
