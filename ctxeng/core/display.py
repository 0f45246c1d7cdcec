"""Display-safe text: file names and user strings with control characters escaped before they reach Markdown."""

from __future__ import annotations

import unicodedata

# Controls, format characters (bidi overrides, zero-width), line/paragraph separators and lone surrogates
# (non-UTF-8 file names): a newline in a file name would otherwise start a Markdown heading of its own.
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe_text(text: str) -> str:
    """`text` with every control, format or separator character written as an escape (`\\n`, `\\x1b`, `\\u202e`).

    Printable text comes back unchanged (the common case costs one `isprintable` call).
    """
    if text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def shortened(text: str, limit: int = 200) -> str:
    """`safe_text(text)`, cut to about `limit` characters with a note of the full length (for echoing input)."""
    if len(text) <= limit:
        return safe_text(text)
    return safe_text(text[:limit]) + f"… ({len(text):,} characters)"
