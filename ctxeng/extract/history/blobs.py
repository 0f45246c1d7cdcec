"""The blobs over the size cap, with the packed part remembered: `git cat-file --batch-all-objects` reads
every object of the repository (277k on sqlalchemy, ~0.45 CPU-s with the parsing) on every build.

Objects are immutable and a pack file's name is the hash of its content, so the large blobs among
the packed objects are a function of the set of pack names (and the cap): they are kept in
`large-blobs.json` beside the history cache. A build then looks only at the loose objects (the few
that commits since the last repack added), and of those only at the ones it has not seen (their
verdicts are remembered by id), reading their sizes from their own headers, or asking git when
there are many or one does not read as expected. Repositories with alternates, or where the
object folder cannot be listed, take the full walk. The answer is the set the full walk gives.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from pathlib import Path

from ctxeng.core.cache import CacheTable
from ctxeng.core.repo import RepoView
from ctxeng.extract.selection import large_blobs

MEMO_FILE = "large-blobs.json"
_HEX = frozenset("0123456789abcdef")
LOOSE_KEY = "loose"  # the memo's entry of loose objects' verdicts (id -> 1 if a blob over the cap, else 0)
MAX_LOOSE_READ = 256  # loose objects whose headers are read here; more are asked of git in one run
_KINDS = frozenset({b"blob", b"tree", b"commit", b"tag"})


def large_blobs_cached(repo: RepoView, max_bytes: int, folder: Path | None) -> frozenset[str]:
    """`ctxeng.extract.selection.large_blobs`, with the packed objects' part cached in `folder`."""
    objects = _objects_dir(repo) if folder is not None else None
    listed = _listing(objects) if objects is not None else None
    if folder is None or listed is None:
        return large_blobs(repo, max_bytes)
    packs, loose = listed
    table = CacheTable(folder / MEMO_FILE, f"large-blobs-1:{max_bytes}")
    key = hashlib.sha1("\n".join(packs).encode()).hexdigest()
    packed = table.entries.get(key)
    if not isinstance(packed, list):
        # All objects once (loose ones too: harmless, they are rechecked below and usually few).
        everything = large_blobs(repo, max_bytes)
        packed = sorted(everything)
        table.entries.clear()
        table.put(key, packed)
        table.save({key})
        return everything
    # Loose objects are immutable too: their verdicts are remembered by id, and only new ones are read.
    seen = table.entries.get(LOOSE_KEY)
    seen = seen if isinstance(seen, dict) else {}
    new = [oid for oid in loose if oid not in seen]
    if new:
        assert objects is not None
        big = _loose_large(objects, new, max_bytes)
        big = big if big is not None else _large_among(repo, new, max_bytes)
        seen.update((oid, int(oid in big)) for oid in new)
    verdicts = {oid: seen[oid] for oid in loose}  # objects packed or pruned since are forgotten
    if new or len(verdicts) != len(seen):
        table.put(LOOSE_KEY, verdicts)
        table.save({key, LOOSE_KEY})
    return frozenset(packed) | {oid for oid, large in verdicts.items() if large == 1}


def _objects_dir(repo: RepoView) -> Path | None:
    with contextlib.suppress(Exception):
        where = Path(repo.git.text(["rev-parse", "--git-path", "objects"]).strip())
        return where if where.is_absolute() else repo.root / where
    return None


def _listing(objects: Path) -> tuple[list[str], list[str]] | None:
    """(sorted pack names, sorted loose object ids), or None where the full walk must decide."""
    if (objects / "info" / "alternates").exists():
        return None
    try:
        packs = sorted(e.name for e in os.scandir(objects / "pack") if e.name.endswith(".pack"))
    except FileNotFoundError:
        packs = []
    except OSError:
        return None
    loose: list[str] = []
    try:
        for folder in os.scandir(objects):
            if len(folder.name) == 2 and set(folder.name) <= _HEX and folder.is_dir():
                loose.extend(
                    folder.name + e.name
                    for e in os.scandir(folder.path)
                    if len(e.name) >= 38 and set(e.name) <= _HEX
                )
    except OSError:
        return None
    return packs, sorted(loose)


def _loose_large(objects: Path, ids: list[str], max_bytes: int) -> frozenset[str] | None:
    """`_large_among` for loose objects, from their headers (a loose object is zlib-deflated
    `<type> <size>\\0<content>`: the first bytes tell), without a git process; None where a header is
    not as expected (git decides then). Used for a few objects only: those a commit since the last
    repack added."""
    if len(ids) > MAX_LOOSE_READ:
        return None
    big = set()
    for oid in ids:
        try:
            with open(objects / oid[:2] / oid[2:], "rb") as fh:
                head = zlib.decompressobj().decompress(fh.read(256), 64)
        except (OSError, zlib.error):
            return None
        kind, sep, rest = head.partition(b" ")
        size, nul, _ = rest.partition(b"\0")
        if not sep or not nul or kind not in _KINDS or not size.isdigit():
            return None
        if kind == b"blob" and int(size) > max_bytes:
            big.add(oid)
    return frozenset(big)


def _large_among(repo: RepoView, ids: list[str], max_bytes: int) -> frozenset[str]:
    """The blobs among object `ids` over `max_bytes` (ids git does not have are ignored)."""
    if not ids:
        return frozenset()
    out = repo.git.run(
        ["cat-file", "--batch-check=%(objecttype) %(objectsize) %(objectname)"],
        input="".join(f"{i}\n" for i in ids).encode(),
    )
    big = set()
    for line in out.splitlines():
        parts = line.split(b" ")
        if len(parts) == 3 and parts[0] == b"blob" and int(parts[1]) > max_bytes:
            big.add(parts[2].decode())
    return frozenset(big)
