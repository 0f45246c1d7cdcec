"""How a prompt's code identifiers pick out definitions: exact and qualified names, HTTP verb families.

A prompt that writes `Session.cookies` asks for that definition and no other `cookies`; one that
writes `ITER_CHUNK_SIZE` asks for the constant, not for every `__iter__` the word "iter" matches.
The `lines` context shows definitions best first and a small model copies the first line whose name
it matches (`pack.defline`), so such a definition must rank first.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any

from ctxeng.pack.index.reader import qualname as qualname_of
from ctxeng.pack.terms import name_terms

EXACT_IDENT = 6.0  # a definition named exactly like an identifier in the prompt (damped for data)
# ... named unmistakably: `Session.cookies` (not `cookies`), `ITER_CHUNK_SIZE`; undamped
SPECIFIC_IDENT = 20.0
HTTP_VERBS = frozenset({"get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"})
VERB_FAMILY = 4  # HTTP method names among a definition's siblings that make it a method handler ...
_INNER_CAPITAL = re.compile(r"[a-z][A-Z]")
VERB_WEAK = 0.2  # ... matched this weakly by a prompt word that is not written as the method (OPTIONS)


def member_names(idents: set[str]) -> frozenset[str]:
    """The last parts of the prompt's dotted identifiers (`LoadHTMLFS` of `Engine.LoadHTMLFS`)."""
    return frozenset(i.rsplit(".", 1)[-1] for i in idents if "." in i)


def ident_bonus(name: str, qualname: str, idents: set[str], members: frozenset[str]) -> tuple[float, float]:
    """(bonus the caller damps for fields and tests, bonus it must not damp) of a definition.

    Named unmistakably (its qualified name, or a compound identifier, snake_case or CamelCase, that
    is not just the member part of a qualified name the prompt wrote: `members`) it gets
    `SPECIFIC_IDENT` undamped: the prompt asked for exactly this one, field or constant. Named by a
    plain word that is also an identifier (`flush`) it gets the damped `EXACT_IDENT`.
    """
    if qualname != name and qualname in idents:
        return 0.0, SPECIFIC_IDENT
    exact = name in idents or qualname in idents
    # `LoadHTMLFS` is no more than a namesake when the prompt wrote `Engine.LoadHTMLFS` (`members`).
    if exact and _compound(name) and name not in members:
        return 0.0, SPECIFIC_IDENT
    return (EXACT_IDENT if exact else 0.0), 0.0


def _compound(name: str) -> bool:
    """A name of several words (`ITER_CHUNK_SIZE`, `FileSystem`, `getValue`): no prose word is it."""
    return "_" in name.strip("_") or _INNER_CAPITAL.search(name) is not None


def qualified_rows(index: dict[str, Any], identifiers: Iterable[str]) -> list[int]:
    """Definition rows whose qualified name the prompt writes (`DataKwargs.json`), found through
    their owner's name terms and its file's rows (the member's own name may have no term: `json`
    is a stopword, and a dotted token can read as a file name, `x.json`). Sorted rows."""
    table, defs, names = index["terms"].get("d", {}), index["defs"], index["names"]
    found: set[int] = set()
    for ident in identifiers:
        if "." not in ident:
            continue
        owner, last = ident.rsplit(".", 2)[-2:]
        rows: set[int] | None = None
        for term in name_terms(owner):
            rows = set(table.get(term, ())) if rows is None else rows & set(table.get(term, ()))
        for f in sorted({defs["file"][p] for p in rows or () if names[defs["name"][p]] == owner}):
            lo, hi = bisect_left(defs["file"], f), bisect_right(defs["file"], f)  # rows sorted by file
            found.update(
                i
                for i in range(lo, hi)
                if names[defs["name"][i]] == last
                and defs["parent"][i] >= 0
                and qualname_of(index, i) == ident
            )
    return sorted(found)


def verb_family(index: dict[str, Any], i: int) -> bool:
    """Whether definition `i` is one of a family of HTTP method handlers: `VERB_FAMILY` or more of its
    siblings (same file, same parent) are named for HTTP methods (`get`, `post`, `options` ...)."""
    defs, names = index["defs"], index["names"]
    f, parent = defs["file"][i], defs["parent"][i]
    lo, hi = bisect_left(defs["file"], f), bisect_right(defs["file"], f)  # rows are sorted by file
    verbs = {names[defs["name"][j]].lower() for j in range(lo, hi) if defs["parent"][j] == parent}
    return len(verbs & HTTP_VERBS) >= VERB_FAMILY
