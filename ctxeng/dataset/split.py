"""Leak control's comparison form: a completion normalised so trivially different copies compare equal.

The held-out split by time, the dedupe and the leak check themselves run streamed in
`ctxeng.dataset.store.Split`.
"""

from __future__ import annotations

import re
import string

_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*$", re.MULTILINE)
_COMMENT_MARK = re.compile(r"^[ \t]*(#+|//+|/\*+|\*+/|\*+|--|;+)[ \t]?", re.MULTILINE)
_EDGE = string.punctuation + string.whitespace + "…“”‘’"


def normalise(text: str) -> str:
    """Text for leak comparison: no fences or comment markers, lowercase, one space, no edge punctuation."""
    text = _FENCE_LINE.sub("", text)
    text = _COMMENT_MARK.sub("", text)
    return " ".join(text.lower().split()).strip(_EDGE)
