"""Token counting with the tokenizer ctxeng ships (SmolLM2's BPE; works offline, no torch)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any

TOKENIZER_NAME = "SmolLM2-135M BPE (ctxeng/data/tokenizer.json)"


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from tokenizers import Tokenizer  # ~25 ms import plus ~0.1 s to load the vocabulary

    path = resources.files("ctxeng.data") / "tokenizer.json"
    return Tokenizer.from_str(path.read_text(encoding="utf-8"))


def count_tokens(text: str) -> int:
    """Number of tokens in `text` (no special tokens added)."""
    if not text:
        return 0
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)


def count_many(texts: Sequence[str]) -> list[int]:
    """Token counts for many texts at once (batched in the tokenizer's native threads)."""
    if not texts:
        return []
    encoded = _tokenizer().encode_batch(list(texts), add_special_tokens=False)
    return [len(e.ids) for e in encoded]


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text`, cut at a line end when possible, with at most `limit` tokens."""
    if limit <= 0:
        return ""
    if count_tokens(text) <= limit:
        return text
    enc = _tokenizer().encode(text, add_special_tokens=False)
    end = enc.offsets[limit - 1][1] if limit - 1 < len(enc.offsets) else len(text)
    cut = text[:end]
    newline = cut.rfind("\n")
    if newline > len(cut) // 2:
        cut = cut[: newline + 1]
    while cut and count_tokens(cut) > limit:  # byte-level merges can shift by a token at the edge
        cut = cut[: max(0, len(cut) - max(1, len(cut) // 50))]
    return cut
