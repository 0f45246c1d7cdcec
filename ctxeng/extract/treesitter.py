"""Run a language's tags query over one file and return plain data (no tree-sitter node escapes).

Capture names (see extractors/README.md): `@definition.<kind>` + `@name` (+ optional `@doc`,
`@body`, `@receiver`, `@public`, `@private`), `@scope` + `@name` (a container such as a Rust
`impl` that names its members but is no definition itself), `@reference.<kind>` (+ `@name`),
`@reference.import`, `@export`, `@binding`, `@visibility.public` / `@visibility.private`
(section markers such as C++ `private:` or a Ruby bare `private`), `@ignore` (a name node that
is no definition, e.g. the tag of a typedef'd C struct). Captures starting with `_` are helpers
for predicates and are ignored.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, compress
from operator import attrgetter, itemgetter
from typing import Any

from tree_sitter import Node, QueryCursor

from ctxeng.extract.comment_text import clean_comments, clean_string
from ctxeng.extract.languages import LanguageSpec
from ctxeng.extract.leading_comments import Comment, CommentIndex
from ctxeng.extract.tagquery import DEFINITION, REFERENCE, Compiled, Role, compiled

_TEMPLATE_ARGS = re.compile(r"<[^<>]*>|\[[^\[\]]*\]")
_QUOTES = "\"'`<>"


@dataclass(slots=True)
class RawDef:
    """A definition (or a naming scope) found in one file, as byte offsets and text."""

    kind: str  # "class", "function" ... ("scope" for a naming-only container)
    name: str
    qualifier: tuple[str, ...]  # Go receiver type or the `A::B` of `A::B::name`
    start: int  # byte offsets of the definition node
    end: int
    start_line: int  # 1-based, inclusive
    end_line: int
    lead_line: int  # first line of its leading comment / attributes (== start_line if none)
    line_start: int  # byte offset where start_line begins
    body: int  # byte offset of the body's start, -1 when it has none
    doc: str
    explicit: str  # "public" / "private" from a modifier captured with it, else ""
    marker: str  # the visibility section (`private:`) it sits in, else ""
    pattern: int  # index of the query pattern that found it; lower wins on duplicates
    name_key: tuple[int, int]  # byte range of the name node: one definition per name node
    gaps: tuple[tuple[int, int], ...] = ()  # byte ranges of comments between its start and its body


@dataclass
class FileTags:
    """Everything the tags query found in one file."""

    lines: int
    module_doc: str = ""
    defs: list[RawDef] = field(default_factory=list)
    # References (not imports) sorted by (byte offset, identifier): the offsets and the identifiers.
    ref_positions: list[int] = field(default_factory=list)
    ref_names: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    bindings: list[str] = field(default_factory=list)  # names bound by import statements
    markers: list[tuple[int, str]] = field(default_factory=list)  # (byte offset, "public"/"private") sections


Match = tuple[int, dict[str, list[Node]]]


def line_count(data: bytes) -> int:
    """Lines as tree-sitter counts them (LF-terminated; a last line without LF counts)."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def parse_tags(spec: LanguageSpec, data: bytes) -> FileTags:
    """Parse `data` (UTF-8) and collect its definitions, references, imports and exports."""
    language = compiled(spec)
    tree = language.parser.parse(data)
    root = tree.root_node
    tags = FileTags(lines=line_count(data))
    found: dict[tuple[int, int], tuple[RawDef, list[Node], Node]] = {}
    module_docs: list[Node] = []
    attributes: list[tuple[int, int]] = []
    ignored: set[tuple[int, int]] = set()
    roles = language.roles
    ref_spans, comment_nodes, rest = _split(language, QueryCursor(language.query).matches(root))
    for pattern, caps in rest:
        role = roles[pattern]
        if role.role == REFERENCE:  # a reference pattern whose `@name` may be missing
            ref_spans.update(node.byte_range for node in caps.get("name") or caps.get(role.capture) or [])
            continue
        if "ignore" in caps:
            ignored.update(node.byte_range for node in caps["ignore"])
        if "attribute" in caps:
            attributes.extend((node.start_point.row, _end_row(node)) for node in caps["attribute"])
        if role.role == DEFINITION:
            _add_definition(pattern, role, caps, tags, found)
        else:
            _collect(pattern, caps, tags, found, module_docs, ref_spans)
    comments = _comments(comment_nodes, data)
    starts = [c.start for c in comments]
    index = CommentIndex(comments, attributes)
    for key, (raw, doc_nodes, _node) in found.items():
        if key in ignored:
            continue
        if doc_nodes and "comment" not in doc_nodes[0].type:
            raw.doc = clean_string(_text(doc_nodes[0]))
        elif doc_nodes:
            raw.doc = clean_comments([_text(n) for n in doc_nodes])
        else:
            raw.doc, lead = index.above(raw.start, raw.start_line - 1)
            raw.lead_line = lead + 1
        # Comments between the start and the body (or the end, for a body-less type alias) are cut out
        # of the signature, however deep they sit (`a: int,  # type: ignore` inside the parameters).
        stop = raw.body if raw.body >= 0 else raw.end
        first, last = bisect.bisect_left(starts, raw.start), bisect.bisect_left(starts, stop)
        if first < last:
            raw.gaps = tuple((c.start, min(c.end, stop)) for c in comments[first:last])
        tags.defs.append(raw)
    tags.defs.sort(key=lambda d: (d.start, -d.end, d.pattern, d.name))
    if module_docs:
        tags.module_doc = clean_string(_text(min(module_docs, key=lambda n: n.start_byte)))
    else:
        tags.module_doc = _file_header(root, index, {d.start for d in tags.defs}, len(data))
    tags.ref_positions, tags.ref_names = _references(ref_spans, data)
    tags.markers.sort()
    return tags


_PATTERN, _CAPTURES = itemgetter(0), itemgetter(1)
_NAME, _COMMENT, _FIRST_NODE = itemgetter("name"), itemgetter("comment"), itemgetter(0)
_BYTE_RANGE = attrgetter("byte_range")


def _split(
    language: Compiled, matches: list[Match]
) -> tuple[set[tuple[int, int]], list[Node], Iterator[Match]]:
    """Byte ranges of the plain references' names, the comment nodes, and the other matches (in order).

    Plain references are most matches; they and the comments are taken apart by C-level iteration
    (map, compress, chain) with no Python code run per match.
    """
    patterns = list(map(_PATTERN, matches))
    refs = compress(matches, map(language.plain_ref.__getitem__, patterns))
    spans = set(map(_BYTE_RANGE, chain.from_iterable(map(_NAME, map(_CAPTURES, refs)))))
    comments = compress(matches, map(language.comment.__getitem__, patterns))
    nodes = list(map(_FIRST_NODE, map(_COMMENT, map(_CAPTURES, comments))))
    return spans, nodes, compress(matches, map(language.other.__getitem__, patterns))


def _references(spans: set[tuple[int, int]], data: bytes) -> tuple[list[int], list[str]]:
    """The start and text of each reference's byte range, sorted by (start, text).

    Two patterns may capture the same identifier: the set holds it once. ASCII source (the usual
    case) is decoded once, and there sorting the ranges sorts by text too: names that start at one
    offset are prefixes of each other.
    """
    if data.isascii():
        text = data.decode("ascii")
        ranges = sorted(spans)
        return [start for start, _ in ranges], [text[start:end] for start, end in ranges]
    pairs = sorted({(start, data[start:end].decode("utf-8", "replace")) for start, end in spans})
    return [start for start, _ in pairs], [name for _, name in pairs]


def _comments(nodes: list[Node], data: bytes) -> list[Comment]:
    """The comment nodes as `Comment`s, in query order, leaving out any inside the previous one."""
    out: list[Comment] = []
    end = -1
    for node in nodes:
        start, stop = node.byte_range
        if start < end:
            continue
        end = stop
        first_row, column = node.start_point
        last_row, last_column = node.end_point
        if last_column == 0 and last_row > first_row:  # ends with its newline: on the line before
            last_row -= 1
        starts_line = not data[start - column : start].strip()
        text = data[start:stop].decode("utf-8", "replace")
        out.append(Comment(start, stop, first_row, last_row, starts_line, text))
    return out


def _file_header(root: Node, index: CommentIndex, def_starts: set[int], size: int) -> str:
    """The file's doc comment (see `CommentIndex.file_header`), given the first code node."""
    first: Node | None = None
    for i in range(root.child_count):  # top-level children only: no deep walk
        child = root.child(i)
        if child is not None and not child.type.endswith("comment"):
            first = child
            break
    if first is None:
        return index.file_header(size + 1, 1 << 30, False, False)
    kind = first.type
    is_def = first.start_byte in def_starts or "attribute" in kind or "decorator" in kind
    return index.file_header(first.start_byte, first.start_point.row, is_def, "package" in kind)


def _text(node: Node) -> str:
    text = node.text  # each read copies the bytes: read it once
    return text.decode("utf-8", "replace") if text is not None else ""


def _collect(
    pattern: int,
    caps: dict[str, Any],
    tags: FileTags,
    found: dict[tuple[int, int], tuple[RawDef, list[Node], Node]],
    module_docs: list[Node],
    ref_spans: set[tuple[int, int]],
) -> None:
    """Turn one query match into definitions, references (their byte ranges), imports, exports or markers."""
    names = caps.get("name") or []
    kind, node = "", None
    for cap, nodes in caps.items():
        if cap.startswith("definition."):
            kind, node = cap[len("definition.") :], nodes[0]
        elif cap == "scope":
            kind, node = "scope", nodes[0]
    if node is not None and names:
        name_node = names[0]
        key = (name_node.start_byte, name_node.end_byte)
        known = found.get(key)
        if known is None or pattern < known[0].pattern:
            found[key] = (_definition(pattern, kind, node, name_node, caps), caps.get("doc") or [], node)
        tags.exports.extend(_text(n).strip(_QUOTES) for n in caps.get("export", ()))  # `export function f`
        return
    for cap, nodes in caps.items():
        if cap == "reference.import":
            for target in names or nodes:
                tags.imports.append(_text(target).strip(_QUOTES).strip())
        elif cap.startswith("reference."):
            ref_spans.update(target.byte_range for target in names or nodes)
        elif cap == "export":
            tags.exports.extend(_text(n).strip(_QUOTES) for n in nodes)
        elif cap == "binding":
            tags.bindings.extend(_text(n) for n in nodes)
        elif cap.startswith("visibility."):
            tags.markers.extend((n.start_byte, cap[len("visibility.") :]) for n in nodes)
        elif cap == "doc" and len(caps) == 1:
            module_docs.extend(nodes)


def _add_definition(
    pattern: int,
    role: Role,
    caps: dict[str, Any],
    tags: FileTags,
    found: dict[tuple[int, int], tuple[RawDef, list[Node], Node]],
) -> None:
    """A definition match: one definition per name node, found by the earliest pattern."""
    name_node = caps["name"][0]
    key = name_node.byte_range
    known = found.get(key)
    if known is None or pattern < known[0].pattern:
        node = caps[role.capture][0]
        found[key] = (_definition(pattern, role.kind, node, name_node, caps), caps.get("doc") or [], node)
    if "export" in caps:  # `export function f`
        tags.exports.extend(_text(n).strip(_QUOTES) for n in caps["export"])


def _definition(pattern: int, kind: str, node: Node, name_node: Node, caps: dict[str, Any]) -> RawDef:
    name = _text(name_node)
    if name.isidentifier():  # the usual case: nothing to strip or split
        parts = [name]
    else:  # `A::B::name` is qualified by `A.B`; quotes (TS `module "x"`) and Ruby's `:symbol` colon go.
        parts = [p.strip().strip(_QUOTES).lstrip(":") for p in _strip_type_args(name).split("::")]
        parts = [p for p in parts if p] or [name]
    qualifier = tuple(parts[:-1])
    if caps.get("receiver"):
        qualifier = tuple(_strip_type_args(_text(caps["receiver"][0])).strip("*& ").split("::")) + qualifier
    body = caps["body"][0] if caps.get("body") else _find_body(node)
    start, end = node.byte_range
    row, column = node.start_point
    end_row, end_column = node.end_point
    if end_column == 0 and end_row > row:  # see _end_row
        end_row -= 1
    explicit = "private" if caps.get("private") else "public" if caps.get("public") else ""
    return RawDef(
        kind=kind, name=parts[-1], qualifier=qualifier, start=start, end=end,
        start_line=row + 1, end_line=end_row + 1, lead_line=row + 1, line_start=start - column,
        body=body.start_byte if body is not None else -1, doc="", explicit=explicit, marker="",
        pattern=pattern, name_key=name_node.byte_range,
    )  # fmt: skip


def _strip_type_args(name: str) -> str:
    """`Store<std::vector<T>>::put` → `Store::put` (generic arguments removed, innermost first)."""
    for _ in range(8):
        stripped = _TEMPLATE_ARGS.sub("", name)
        if stripped == name:
            break
        name = stripped
    return name


def _find_body(node: Node) -> Node | None:
    """The node's `body` field, or that of a wrapped declaration (decorators, `export`), else None."""
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    for field_name in ("definition", "declaration", "value"):
        inner = node.child_by_field_name(field_name)
        if inner is not None:
            body = inner.child_by_field_name("body")
            if body is not None:
                return body
    return None


def _end_row(node: Node) -> int:
    """The last line a node occupies (a comment that ends with its newline ends on the line before)."""
    row = node.end_point.row
    return row - 1 if node.end_point.column == 0 and row > node.start_point.row else row
