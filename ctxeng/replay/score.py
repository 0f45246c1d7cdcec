"""Scoring one context document against what the next commit touched.

A document is cut into file sections: a line that is exactly a tracked path — as a Markdown
heading (`## path`, `### `path``) or as aider's `path:` line — opens that file's section, and
any other heading closes it. A touched definition counts as found when its bare name appears as
a whole word inside a section of its own file (the same rule for every tool measured); a touched
file counts as found when it has a section.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ctxeng.replay.touched import Touched

_HEADING = re.compile(r"^#{1,6}\s+`?([^`]+?)`?\s*$")
_AIDER_FILE = re.compile(r"^(\S[^│⋮]*?):\s*$")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")
_O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def sections(text: str, tracked: set[str]) -> dict[str, str]:
    """Tracked path → the text of its sections in `text` (several sections of one path are joined)."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        path = heading.group(1) if heading else None
        if path is None and not line.startswith((" ", "\t", "│", "⋮", "-", "#")):
            aider = _AIDER_FILE.match(line)
            path = aider.group(1) if aider else None
        if path is not None and path in tracked:
            current = out.setdefault(path, [])
        elif heading:
            current = None
        elif current is not None:
            current.append(line)
    return {p: "\n".join(lines) for p, lines in out.items()}


@dataclass
class Score:
    """Recall of one document: definitions and files found, of those touched."""

    defs_found: int
    defs_total: int
    files_found: int
    files_total: int
    tokens: int
    o200k: int | None
    budget: int
    digest: str = ""  # sha1 of the scored text (first 12 hex digits): same bytes, same digest

    def to_json(self) -> dict[str, Any]:
        """Plain data for reports."""
        return {"defs_found": self.defs_found, "defs_total": self.defs_total, "files_found": self.files_found,
                "files_total": self.files_total, "tokens": self.tokens, "o200k": self.o200k,
                "budget": self.budget, "digest": self.digest}  # fmt: skip


def score(text: str, touched: Sequence[Touched], tracked: set[str], budget: int) -> Score:
    """Score `text` against the `touched` definitions (files = the files holding them)."""
    from ctxeng.core.tokens import count_tokens

    by_file = sections(text, tracked)
    words = {p: set(_WORD.findall(body)) for p, body in by_file.items()}
    found = sum(1 for t in touched if t.name in words.get(t.path, ()))
    files = {t.path for t in touched}
    return Score(
        defs_found=found, defs_total=len(touched), files_found=sum(1 for p in files if p in by_file),
        files_total=len(files), tokens=count_tokens(text), o200k=o200k_tokens(text), budget=budget,
        digest=hashlib.sha1(text.encode("utf-8")).hexdigest()[:12],
    )  # fmt: skip


@functools.lru_cache(maxsize=1)
def _o200k() -> Any:
    """tiktoken's o200k_base when it is installed and its BPE file is available offline, else None."""
    import os
    import tempfile

    folder = (
        os.environ.get("TIKTOKEN_CACHE_DIR")
        or os.environ.get("DATA_GYM_CACHE_DIR")
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    )
    if not os.path.isfile(os.path.join(folder, hashlib.sha1(_O200K_URL.encode()).hexdigest())):
        return None  # tiktoken would try to download it: no network at run time
    try:
        import tiktoken

        return tiktoken.get_encoding("o200k_base")
    except Exception:  # not installed, or the rank file would need a download: report ctxeng's count only
        return None


def o200k_available() -> bool:
    """Whether o200k_base counts are available (tiktoken plus its cached BPE file)."""
    return _o200k() is not None


def o200k_tokens(text: str) -> int | None:
    """Tokens of `text` in o200k_base (GPT-4o's encoding, what aider counts with), or None."""
    enc = _o200k()
    return len(enc.encode_ordinary(text)) if enc is not None else None


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean (0.0 for nothing)."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0
