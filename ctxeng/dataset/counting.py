"""Exact token counts for many texts, sharing the work of repeated lines (imports, signatures, fences).

The shipped tokenizer pre-tokenizes with GPT-2's regex before byte-level BPE: a pre-token is
either all whitespace or holds no whitespace except one leading space, so a run of whitespace that
follows a non-whitespace character always starts a new pre-token. A text split just before such
runs that contain a newline therefore has exactly as many tokens as its pieces together, and a
piece seen before is never tokenized again. (Python's `\\s` is a superset of the tokenizer's, so
the look-behind below never splits where the tokenizer would not.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ctxeng.tokens import count_many

BATCH = 2048  # texts per tokenizer call: its encodings hold ~100 bytes per token until released
_PIECE_START = re.compile(r"(?<!\s)(?=[ \t\r\f\v]*\n)")


def pieces(text: str) -> list[str]:
    """`text` split before each whitespace run that holds a newline and follows a non-space (~lines)."""
    return [p for p in _PIECE_START.split(text) if p]


class TokenCounter:
    """Counts tokens like `ctxeng.tokens.count_many`, caching the count of every piece it has seen."""

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def _fill(self, texts: Sequence[str]) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            self._cache.update(zip(batch, count_many(batch)))

    def count_pieces(self, parts: Sequence[str]) -> list[int]:
        """Token counts of pieces (as returned by `pieces`)."""
        self._fill(parts)
        return [self._cache[p] for p in parts]

    def count(self, texts: Sequence[str]) -> list[int]:
        """Token counts of whole texts (exactly `count_many(texts)`)."""
        split = [pieces(t) for t in texts]
        self._fill([p for group in split for p in group])
        cache = self._cache
        return [sum(cache[p] for p in group) for group in split]
