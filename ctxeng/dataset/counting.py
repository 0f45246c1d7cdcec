"""The pieces (about lines) a cuttable text is shortened by.

The shipped tokenizer pre-tokenizes with GPT-2's regex before byte-level BPE: a pre-token is either
all whitespace or holds no whitespace but one leading space, so a whitespace run that follows a
non-whitespace character always starts a new pre-token. Split just before such runs that contain a
newline, a text has exactly as many tokens as its pieces together: cutting at a piece boundary
never changes how the kept pieces tokenize. (Python's `\\s` is a superset of the tokenizer's, so the
look-behind below never splits where the tokenizer would not.)
"""

from __future__ import annotations

import re

_PIECE_START = re.compile(r"(?<!\s)(?=[ \t\r\f\v]*\n)")


def pieces(text: str) -> list[str]:
    """`text` split before each whitespace run that holds a newline and follows a non-space (~lines)."""
    return [p for p in _PIECE_START.split(text) if p]
