"""Nest one file's definitions: parents, qualified names, methods vs functions, who references what."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from ctxeng.extract.treesitter import RawDef

#: Kinds whose nested functions are methods.
CLASS_KINDS = frozenset(
    {"class", "interface", "struct", "trait", "enum", "record", "object", "impl", "scope"}
)
#: Kinds that hold code of their own: references in nested functions count as theirs too.
CALLABLE_KINDS = frozenset({"function", "method", "constructor"})
#: Kinds that only group names: a definition qualified by one of them is no method.
NAMESPACE_KINDS = frozenset({"module", "namespace"})
CALLS_LIMIT = 50
QUALNAME_LIMIT = 400  # characters; only code nested hundreds deep gets near it
_MERGE_LIMIT = 256  # distinct identifiers carried up to a parent (keeps deep nesting linear)


@dataclass(slots=True)
class Definition:
    """A definition placed in its file: qualified name, parent and the identifiers it references."""

    raw: RawDef
    kind: str
    qualname: str
    parent: str  # qualname of the enclosing definition or scope ("" at top level)
    parent_index: int  # index of the enclosing item in `Outline.items`, -1 at top level
    occurrence: int  # how many earlier definitions in the file share this qualname
    refs: Counter[str] = field(default_factory=Counter)
    children: list[int] = field(default_factory=list)

    @property
    def is_scope(self) -> bool:
        """Whether this is a naming-only container (no record of its own)."""
        return self.kind == "scope"


@dataclass
class Outline:
    """All definitions and scopes of a file in source order, nested."""

    items: list[Definition]


def _contains(outer: RawDef, inner: RawDef) -> bool:
    same = outer.start == inner.start and outer.end == inner.end
    return not same and outer.start <= inner.start and inner.end <= outer.end


def build_outline(
    raws: list[RawDef],
    ref_positions: list[int],
    ref_names: list[str],
    markers: list[tuple[int, str]] | None = None,
) -> Outline:
    """Nest `raws` (sorted by position) by span, attribute the references (`ref_names` at the sorted
    `ref_positions`) to the innermost one and put each definition in the visibility section
    (`markers`, sorted) of its container."""
    items = _nest(raws)
    kept = _drop_declarations(items)
    if len(kept) < len(items):
        items = _nest(kept)
    _number_occurrences(items)
    _attribute_refs(items, ref_positions, ref_names)
    if markers:
        _apply_sections(items, markers)
    return Outline(items)


def _innermost(items: list[Definition], positions: list[int]) -> list[int]:
    """For each byte offset (ascending), the index of the innermost item containing it (-1: none)."""
    out: list[int] = []
    stack: list[int] = []
    nxt = 0
    for pos in positions:
        while nxt < len(items) and items[nxt].raw.start <= pos:
            while stack and not _contains(items[stack[-1]].raw, items[nxt].raw):
                stack.pop()
            stack.append(nxt)
            nxt += 1
        while stack and items[stack[-1]].raw.end <= pos:
            stack.pop()
        out.append(stack[-1] if stack else -1)
    return out


def _apply_sections(items: list[Definition], markers: list[tuple[int, str]]) -> None:
    """A marker (`private:`, Ruby `private`) sets the visibility of the later members of its container."""
    by_container: dict[int, list[tuple[int, str]]] = {}
    for (pos, value), owner in zip(markers, _innermost(items, [pos for pos, _ in markers])):
        by_container.setdefault(owner, []).append((pos, value))
    for item in items:
        section = ""
        for pos, value in by_container.get(item.parent_index, ()):
            if pos >= item.raw.start:
                break
            section = value
        item.raw.marker = section


def _nest(raws: list[RawDef]) -> list[Definition]:
    """Place each definition under the innermost one whose span contains it (iteratively)."""
    items: list[Definition] = []
    stack: list[int] = []  # indices into items, outermost first; explicit so deep nesting never recurses
    namespaces: set[str] = set()
    for raw in raws:
        while stack and not _contains(items[stack[-1]].raw, raw):
            stack.pop()
        parent = items[stack[-1]] if stack else None
        prefix = [parent.qualname] if parent else []
        kind = raw.kind
        if kind == "function":
            if parent is not None and parent.kind in CLASS_KINDS:
                kind = "method"
            elif raw.qualifier and ".".join([*prefix, *raw.qualifier]) not in namespaces:
                kind = "method"  # C++ `Foo::bar` defined outside its class
        qualname = _cap_qualname(".".join([*prefix, *raw.qualifier, raw.name]))
        if kind in NAMESPACE_KINDS:
            namespaces.add(qualname)
        parent_name = _cap_qualname(".".join([*prefix, *raw.qualifier]))
        item = Definition(raw, kind, qualname, parent_name, stack[-1] if stack else -1, 0)
        if parent is not None:
            parent.children.append(len(items))
        items.append(item)
        stack.append(len(items) - 1)
    return items


def _cap_qualname(qualname: str) -> str:
    """A qualified name of pathological depth, shortened in the middle (`a.….y.z`)."""
    if len(qualname) <= QUALNAME_LIMIT:
        return qualname
    head, _, rest = qualname.partition(".")
    tail = rest[-(QUALNAME_LIMIT - len(head) - 3) :]
    tail = tail.partition(".")[2] if "." in tail else tail
    return f"{head}.….{tail}"


def _drop_declarations(items: list[Definition]) -> list[RawDef]:
    """The definitions minus body-less declarations (C prototypes, TS overloads) that the file also
    defines with a body in the same place; the definition takes the declaration's doc if it has none.

    A declaration in another place (a C++ member declared in its class, defined outside) stays:
    it is part of its class's outline.
    """
    with_body: dict[tuple[str, str], Definition] = {}
    for item in items:
        if item.raw.body >= 0:
            with_body.setdefault((item.qualname, item.kind), item)
    kept: list[RawDef] = []
    for item in items:
        full = with_body.get((item.qualname, item.kind)) if item.raw.body < 0 and not item.children else None
        if full is not None:
            if not full.raw.doc and item.raw.doc:
                full.raw.doc = item.raw.doc
            if full.parent_index == item.parent_index:
                continue
        kept.append(item.raw)
    return kept


def _number_occurrences(items: list[Definition]) -> None:
    seen: Counter[str] = Counter()
    for item in items:
        if item.is_scope:
            continue
        item.occurrence = seen[item.qualname]
        seen[item.qualname] += 1


def _attribute_refs(items: list[Definition], positions: list[int], names: list[str]) -> None:
    """Count each reference in its innermost definition; callables also absorb their nested ones."""
    if not items or not positions:
        return
    for item, ranges in zip(items, _owned_ranges(items, positions)):
        for lo, hi in ranges:
            if lo < hi:
                item.refs.update(names[lo:hi])
    for index in range(len(items) - 1, -1, -1):  # children come after parents: merge bottom-up
        item = items[index]
        if item.parent_index < 0:
            continue
        parent = items[item.parent_index]
        if parent.kind in CALLABLE_KINDS and item.refs:
            for name, count in item.refs.items():
                if name in parent.refs or len(parent.refs) < _MERGE_LIMIT:
                    parent.refs[name] += count


def _owned_ranges(items: list[Definition], positions: list[int]) -> list[list[tuple[int, int]]]:
    """Per item, the ranges of `positions` (sorted) that it is the innermost item for, in order.

    An item owns the positions inside its span that none of its children span. Of items with the
    same span (nested never, see `_contains`), the last one owns them. Linear in items plus
    ranges: counting the names of a range is then one C-level `Counter.update`.
    """
    bounds = [
        (bisect.bisect_left(positions, item.raw.start), bisect.bisect_left(positions, item.raw.end))
        for item in items
    ]
    owned: list[list[tuple[int, int]]] = []
    for index, item in enumerate(items):
        nxt = items[index + 1].raw if index + 1 < len(items) else None
        if nxt is not None and nxt.start == item.raw.start and nxt.end == item.raw.end:
            owned.append([])
            continue
        cursor, hi = bounds[index]
        ranges = []
        for child in item.children:
            child_lo, child_hi = bounds[child]
            if child_lo > cursor:
                ranges.append((cursor, child_lo))
            cursor = max(cursor, child_hi)
        ranges.append((cursor, hi))
        owned.append(ranges)
    return owned


def top_calls(refs: Counter[str]) -> list[str]:
    """The most referenced identifiers (at most `CALLS_LIMIT`), sorted by name."""
    if len(refs) <= CALLS_LIMIT:  # all of them: no ranking needed
        return sorted(refs)
    ranked = sorted(refs.items(), key=lambda kv: (-kv[1], kv[0]))[:CALLS_LIMIT]
    return sorted(name for name, _ in ranked)
