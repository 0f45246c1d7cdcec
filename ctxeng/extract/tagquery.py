"""Compile a language's tags query once per process, and decide what each of its patterns is for.

A pattern's role (a plain reference, the automatic comment pattern, a definition, or anything
else) lets `ctxeng.extract.treesitter` take most matches apart without Python code per match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tree_sitter import Parser, Query, QueryError

from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import deferred_interrupts
from ctxeng.extract.languages import LanguageSpec

_CAPTURE = re.compile(r"@([\w.]+)")

# What a query pattern is for (`Compiled.roles`); most matches take the first two fast paths.
REFERENCE, COMMENT, DEFINITION, OTHER = range(4)


@dataclass(frozen=True)
class Role:
    """What one pattern of a tags query yields, decided once when the query is compiled."""

    role: int  # REFERENCE, COMMENT, DEFINITION or OTHER
    capture: str = ""  # REFERENCE: its `reference.<kind>` capture; DEFINITION: `definition.<kind>` / `scope`
    named: bool = False  # REFERENCE: every match has exactly one `@name` (the fast path reads only that)
    kind: str = ""  # DEFINITION: the definition's kind (`function` ..., `scope`)


@dataclass(frozen=True)
class Compiled:
    """A language's parser and tags query, with what each pattern of the query is for."""

    parser: Parser
    query: Query
    roles: tuple[Role, ...]
    # Per pattern, which of the three ways `_split` sends its matches.
    plain_ref: tuple[bool, ...] = ()  # a reference with exactly one `@name`: only that name is read
    comment: tuple[bool, ...] = ()  # the automatic comment pattern
    other: tuple[bool, ...] = ()  # everything else, read match by match


def _pattern_captures(query: Query, source: bytes) -> list[dict[str, str]]:
    """Per pattern: its capture names and their quantifiers ("" one, "?", "*", "+")."""
    index = {query.capture_name(i): i for i in range(query.capture_count)}
    out: list[dict[str, str]] = []
    for i in range(query.pattern_count):
        text = source[query.start_byte_for_pattern(i) : query.end_byte_for_pattern(i)].decode("utf-8")
        names = {c for c in _CAPTURE.findall(text) if c in index}
        quantifiers: dict[str, str] = {c: query.capture_quantifier(i, index[c]) for c in sorted(names)}
        out.append(quantifiers)
    return out


def _roles(query: Query, source: bytes) -> tuple[Role, ...]:
    """Each pattern's role; also disables reference captures whose node is never read.

    A `@reference.call` that always comes with one `@name` is only a label: the pattern index says
    it, so the query need not hand over its node (one Python object fewer per reference).
    """
    captures = _pattern_captures(query, source)
    roles: list[Role] = []
    for caps in captures:
        refs = sorted(c for c in caps if c.startswith("reference.") and c != "reference.import")
        defs = [c for c in caps if c.startswith("definition.") or c == "scope"]
        if set(caps) == {"comment"}:
            roles.append(Role(COMMENT))
        elif refs and not any(c.startswith(("definition.", "scope", "export", "visib")) for c in caps):
            roles.append(Role(REFERENCE, refs[0], caps.get("name") == ""))
        elif len(defs) == 1 and caps[defs[0]] == "" and caps.get("name") == "":
            roles.append(Role(DEFINITION, defs[0], kind=defs[0].removeprefix("definition.")))
        else:
            roles.append(Role(OTHER))
    for name in {c for caps in captures for c in caps if c.startswith("reference.")}:
        users = [role for role, caps in zip(roles, captures) if name in caps]
        if all(role.role == REFERENCE and role.named and role.capture == name for role in users):
            query.disable_capture(name)
    return tuple(roles)


@functools.cache
def compiled(spec: LanguageSpec) -> Compiled:
    """The parser and compiled tags query of a language (built once per process)."""
    from tree_sitter_language_pack import get_language, get_parser

    language = get_language(spec.grammar)  # type: ignore[arg-type]
    # Every comment node, for docs: found by the query so that no code walks the tree.
    kinds = sorted(
        {
            kind
            for i in range(language.node_kind_count)
            if (kind := language.node_kind_for_id(i))
            and kind.endswith("comment")
            and kind != "doc_comment"
            and language.node_kind_is_named(i)
            and language.node_kind_is_visible(i)
        }
    )
    comments = f"\n[{' '.join(f'({k})' for k in kinds)}] @comment\n" if kinds else ""
    source = spec.tags + comments
    failed: QueryError | None = None
    with deferred_interrupts() as interrupted:
        try:
            query = Query(language, source)
        except QueryError as exc:  # a Ctrl-C inside the compile's regex callbacks also ends here
            failed = exc
    if interrupted:
        raise KeyboardInterrupt
    if failed is not None:
        raise CtxengError(
            f"the tags query of language {spec.name!r} does not compile: {failed}",
            hint=f"fix extractors/{spec.name}/tags.scm (check node and field names with `tree-sitter parse`)",
        ) from failed
    parser = get_parser(spec.grammar)  # type: ignore[arg-type]
    roles = _roles(query, source.encode("utf-8"))
    plain_ref = tuple(r.role == REFERENCE and r.named for r in roles)
    comment = tuple(r.role == COMMENT for r in roles)
    other = tuple(not (a or b) for a, b in zip(plain_ref, comment))
    return Compiled(parser, query, roles, plain_ref, comment, other)
