"""`decisions.md` kept by a digest of the doc sections and glossary it is made from.

The design notes section reads only the repository's name, its doc sections and its glossary, which
a code commit leaves as they were; on sqlalchemy (1,800 sections) rendering it is most of the skill's
CPU on every refresh. `decisions_cached` keeps the rendered text under a SHA-1 of exactly those
inputs and the token limit, salted with the code that renders it (`ctxeng.core.digest_memo`): a hit
is what rendering gives.
"""

from __future__ import annotations

import functools
from itertools import chain
from pathlib import Path

from ctxeng.core.digest_memo import DigestMemo, digest, source_version
from ctxeng.pack.facts import RepoFacts

#: The modules whose code decides the section's text (its renderer, fitting, token counts, doc filters).
_MODULES = ("sections", "section_fit", "budget", "doc_filter", "prose", "paths", "commit_filter", "facts")


@functools.cache
def _version() -> str:
    import importlib

    from ctxeng.core import tokens

    files = [str(importlib.import_module(f"ctxeng.pack.{name}").__file__) for name in _MODULES]
    return source_version(*files, str(tokens.__file__), __file__)


def decisions_key(facts: RepoFacts, limit: int) -> str:
    """The digest of everything `render_decisions(facts, limit)` reads."""
    docs = ((d.path, str(d.line), d.heading, d.title, d.doc_kind, str(d.level), d.text) for d in facts.docs)
    terms = ((t.term, t.meaning, t.source, t.kind) for t in facts.glossary)
    head = (facts.name, str(limit), str(len(facts.docs)), str(len(facts.glossary)))
    return digest(chain(head, chain.from_iterable(docs), chain.from_iterable(terms)))


def decisions_cached(facts: RepoFacts, limit: int, out_dir: Path) -> str:
    """`render_decisions(facts, limit)`, remembered under `out_dir`'s cache."""
    from ctxeng.pack.sections import render_decisions

    memo = DigestMemo(out_dir, "decisions", _version())
    key = decisions_key(facts, limit)
    got = memo.get(key)
    if isinstance(got, str):
        return got
    text = render_decisions(facts, limit)
    memo.put(key, text)
    return text
