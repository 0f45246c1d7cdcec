"""The index's doc-section part (detail rows and heading and body postings), kept by a digest of the sections.

Splitting sqlalchemy's 1,800 doc sections into search terms and excerpts is a sixth of the index's
CPU on every rebuild, although a code commit leaves the docs as they were. The part is a pure
function of each kept section's path, heading and text (in order) and of the code here and in
`ctxeng.pack.terms`, so `doc_parts` keeps it under a SHA-1 of exactly those strings
(`ctxeng.core.digest_memo`): a hit is what computing gives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from ctxeng.pack.facts import DocSection

DOC_EXCERPT = 360


@functools.cache
def _version() -> str:
    from ctxeng.core.digest_memo import source_version
    from ctxeng.pack import terms

    return source_version(str(terms.__file__), __file__)


def excerpt(text: str) -> str:
    """A section's text on one line, cut at a word near `DOC_EXCERPT` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= DOC_EXCERPT else flat[: DOC_EXCERPT - 1].rsplit(" ", 1)[0] + "…"


def compute(docs: Sequence[DocSection], text_terms: Callable[[str, int], list[str]]) -> dict[str, Any]:
    """{"rows": a detail row per section, "s": heading term → rows, "b": body term → rows}."""
    q = encode_basestring
    heads: dict[str, list[int]] = {}
    bodies: dict[str, list[int]] = {}
    for n, d in enumerate(docs):
        heading = text_terms(f"{d.heading} {d.path}", 24)
        for term in heading:
            heads.setdefault(term, []).append(n)
        for term in text_terms(d.text[:600], 40):
            if term not in heading:
                bodies.setdefault(term, []).append(n)
    return {"rows": [f"[{q(excerpt(d.text))}]" for d in docs], "s": heads, "b": bodies}


def _whole(value: Any, n: int) -> bool:
    """Whether a stored part has the shape `compute` gives for `n` sections."""
    if not isinstance(value, dict) or not isinstance(value.get("rows"), list) or len(value["rows"]) != n:
        return False
    return all(isinstance(value.get(kind), dict) for kind in ("s", "b"))


def doc_parts(
    docs: Sequence[DocSection], text_terms: Callable[[str, int], list[str]], out_dir: Path | None
) -> dict[str, Any]:
    """`compute(docs, text_terms)`, remembered under `out_dir`'s cache when given."""
    if out_dir is None:
        return compute(docs, text_terms)
    from ctxeng.core.digest_memo import DigestMemo, digest

    memo = DigestMemo(out_dir, "index-docs", _version())
    key = digest(s for d in docs for s in (d.path, d.heading, d.text))
    got = memo.get(key)
    if _whole(got, len(docs)):
        return dict(got)
    value = compute(docs, text_terms)
    memo.put(key, value)
    return value
