"""Paths in patch text: reading `diff --git` headers and deciding whose hunks are never kept."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from ctxeng.core.gitcli import decode
from ctxeng.extract.selection import ASSET_EXTENSIONS, LOCKFILES
from ctxeng.secrets import secret_file_rule

_BACKSLASH, _QUOTE = b"\\"[0], b'"'[0]
_C_ESCAPES = {b"a"[0]: 7, b"b"[0]: 8, b"t"[0]: 9, b"n"[0]: 10, b"v"[0]: 11, b"f"[0]: 12, b"r"[0]: 13}
_ASSET_SUFFIXES = tuple(sorted(ASSET_EXTENSIONS))


def omit_reason(path: str, drop_files: tuple[str, ...] = ()) -> str | None:
    """Why the hunks of `path` are never kept: "secret-file", "lockfile" or "asset" (else None).

    `drop_files` are the user's extra secret-file globs (`[secrets] drop_files`). The rules are
    those of file selection, so history never shows content that the code stage skipped.
    """
    if secret_file_rule(path, drop_files):
        return "secret-file"
    base = posixpath.basename(path).lower()
    if base in LOCKFILES:
        return "lockfile"
    if base.endswith(_ASSET_SUFFIXES):
        return "asset"
    return None


@dataclass(frozen=True)
class Omissions:
    """What else history leaves out, as file selection would: skipped paths and blobs over the size cap.

    `paths` maps a path to the selection's skip reason (vendored, ignored, generated, ...);
    `large_blobs` holds the ids of blobs over `files.max_file_bytes`: a diff with such a blob on
    either side is omitted as "too-large".
    """

    paths: Mapping[str, str] = field(default_factory=dict)
    large_blobs: frozenset[str] = frozenset()

    def blob_reason(self, index_line: bytes) -> str | None:
        """ "too-large" when the `index <old>..<new> [mode]` line names a blob over the cap."""
        if not self.large_blobs:
            return None
        ids = index_line[6:].split(b" ", 1)[0].rstrip(b"\n").split(b"..")
        return "too-large" if any(i.decode("ascii", "replace") in self.large_blobs for i in ids) else None


NO_OMISSIONS = Omissions()


def unquote_c(text: bytes) -> bytes:
    """Undo git's C-style quoting of a path (`"a/x\\ny"` → `a/x<newline>y`); `text` includes the quotes."""
    out = bytearray()
    i, end = 1, len(text) - 1
    while i < end:
        ch = text[i]
        if ch != _BACKSLASH:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if 48 <= nxt <= 55:  # \ooo: one byte in octal
            out.append(int(text[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(_C_ESCAPES.get(nxt, nxt))
            i += 2
    return bytes(out)


def header_path(line: bytes) -> str:
    """The path of a `diff --git a/P b/P` line (both sides are equal without rename detection).

    Decoded like every other git path (`ctxeng.core.gitcli.decode`), so it equals the path that
    `git log -z --name-status` reported for the same file.
    """
    rest = line[11:].rstrip(b"\n")
    if rest.startswith(b'"'):
        # "a/P" "b/P": the first quoted string ends at the first quote not escaped by a backslash.
        i = 1
        while i < len(rest) and rest[i] != _QUOTE:
            i += 2 if rest[i] == _BACKSLASH else 1
        return decode(unquote_c(rest[: i + 1])[2:])
    return decode(rest[2 : 2 + (len(rest) - 5) // 2])
