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

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from tree_sitter import Node, Parser, Query, QueryCursor, QueryError

from ctxeng.errors import CtxengError
from ctxeng.extract.comments import clean_comments, clean_string
from ctxeng.extract.languages import LanguageSpec
from ctxeng.extract.leading import Comment, CommentIndex

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
    refs: list[tuple[int, str]] = field(default_factory=list)  # (byte offset, identifier), not imports
    imports: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    bindings: list[str] = field(default_factory=list)  # names bound by import statements
    markers: list[tuple[int, str]] = field(default_factory=list)  # (byte offset, "public"/"private") sections


_CAPTURE = re.compile(r"@([\w.]+)")


@dataclass(frozen=True)
class Compiled:
    """A language's parser and tags query, with what each pattern of the query is for."""

    parser: Parser
    query: Query
    # Per pattern: ("reference", capture name) for plain references (most matches take this fast
    # path), ("comment", "") for the automatic comment pattern, else ("other", "").
    roles: tuple[tuple[str, str], ...]


def _roles(query: Query, source: bytes) -> tuple[tuple[str, str], ...]:
    roles = []
    for i in range(query.pattern_count):
        text = source[query.start_byte_for_pattern(i) : query.end_byte_for_pattern(i)].decode("utf-8")
        captures = set(_CAPTURE.findall(text))
        refs = sorted(c for c in captures if c.startswith("reference.") and c != "reference.import")
        if captures == {"comment"}:
            roles.append(("comment", ""))
        elif refs and not any(c.startswith(("definition.", "scope", "export", "visib")) for c in captures):
            roles.append(("reference", refs[0]))
        else:
            roles.append(("other", ""))
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
    try:
        query = Query(language, source)
    except QueryError as exc:
        raise CtxengError(
            f"the tags query of language {spec.name!r} does not compile: {exc}",
            hint=f"fix extractors/{spec.name}/tags.scm (check node and field names with `tree-sitter parse`)",
        ) from exc
    parser = get_parser(spec.grammar)  # type: ignore[arg-type]
    return Compiled(parser, query, _roles(query, source.encode("utf-8")))


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
    found: dict[tuple[int, int], tuple[RawDef, list[Node]]] = {}
    module_docs: list[Node] = []
    comments: list[Comment] = []
    attributes: list[tuple[int, int]] = []
    ignored: set[tuple[int, int]] = set()
    roles = language.roles
    refs = tags.refs
    for pattern, caps in QueryCursor(language.query).matches(root):
        role, capture = roles[pattern]
        if role == "reference":
            for node in caps.get("name") or caps.get(capture, ()):
                refs.append((node.start_byte, _text(node)))
            continue
        if role == "comment":
            node = caps["comment"][0]
            if not comments or node.start_byte >= comments[-1].end:  # not inside the previous comment
                comments.append(_comment(node, data))
            continue
        for node in caps.get("ignore", ()):
            ignored.add((node.start_byte, node.end_byte))
        for node in caps.get("attribute", ()):
            attributes.append((node.start_point.row, _end_row(node)))
        _collect(pattern, caps, tags, found, module_docs)
    index = CommentIndex(comments, attributes)
    for key, (raw, doc_nodes) in found.items():
        if key in ignored:
            continue
        if doc_nodes and "comment" not in doc_nodes[0].type:
            raw.doc = clean_string(_text(doc_nodes[0]))
        elif doc_nodes:
            raw.doc = clean_comments([_text(n) for n in doc_nodes])
        else:
            raw.doc, lead = index.above(raw.start, raw.start_line - 1)
            raw.lead_line = lead + 1
        tags.defs.append(raw)
    tags.defs.sort(key=lambda d: (d.start, -d.end, d.pattern, d.name))
    if module_docs:
        tags.module_doc = clean_string(_text(min(module_docs, key=lambda n: n.start_byte)))
    else:
        tags.module_doc = _file_header(root, index, {d.start for d in tags.defs}, len(data))
    tags.refs = sorted(set(tags.refs))  # two patterns may capture the same identifier
    tags.markers.sort()
    return tags


def _comment(node: Node, data: bytes) -> Comment:
    line_start = node.start_byte - node.start_point.column
    return Comment(
        start=node.start_byte, end=node.end_byte, first_row=node.start_point.row, last_row=_end_row(node),
        starts_line=not data[line_start : node.start_byte].strip(), text=_text(node),
    )  # fmt: skip


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
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


def _collect(
    pattern: int,
    caps: dict[str, Any],
    tags: FileTags,
    found: dict[tuple[int, int], tuple[RawDef, list[Node]]],
    module_docs: list[Node],
) -> None:
    """Turn one query match into definitions, references, imports, exports or markers."""
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
            found[key] = (_definition(pattern, kind, node, name_node, caps), caps.get("doc") or [])
        tags.exports.extend(_text(n).strip(_QUOTES) for n in caps.get("export", ()))  # `export function f`
        return
    for cap, nodes in caps.items():
        if cap == "reference.import":
            for target in names or nodes:
                tags.imports.append(_text(target).strip(_QUOTES).strip())
        elif cap.startswith("reference."):
            for target in names or nodes:
                tags.refs.append((target.start_byte, _text(target)))
        elif cap == "export":
            tags.exports.extend(_text(n).strip(_QUOTES) for n in nodes)
        elif cap == "binding":
            tags.bindings.extend(_text(n) for n in nodes)
        elif cap.startswith("visibility."):
            tags.markers.extend((n.start_byte, cap[len("visibility.") :]) for n in nodes)
        elif cap == "doc" and len(caps) == 1:
            module_docs.extend(nodes)


def _definition(pattern: int, kind: str, node: Node, name_node: Node, caps: dict[str, Any]) -> RawDef:
    # `A::B::name` is qualified by `A.B`; quotes (TS `module "x"`) and Ruby's `:symbol` colon go.
    parts = [p.strip().strip(_QUOTES).lstrip(":") for p in _strip_type_args(_text(name_node)).split("::")]
    parts = [p for p in parts if p] or [_text(name_node)]
    qualifier = tuple(parts[:-1])
    if caps.get("receiver"):
        qualifier = tuple(_strip_type_args(_text(caps["receiver"][0])).strip("*& ").split("::")) + qualifier
    body = caps["body"][0] if caps.get("body") else _find_body(node)
    end_row = _end_row(node)
    explicit = "private" if caps.get("private") else "public" if caps.get("public") else ""
    return RawDef(
        kind=kind, name=parts[-1], qualifier=qualifier, start=node.start_byte, end=node.end_byte,
        start_line=node.start_point.row + 1, end_line=end_row + 1, lead_line=node.start_point.row + 1,
        line_start=node.start_byte - node.start_point.column,
        body=body.start_byte if body is not None else -1, doc="", explicit=explicit, marker="",
        pattern=pattern, name_key=(name_node.start_byte, name_node.end_byte),
        gaps=_comment_gaps(node, body.start_byte) if body is not None else (),
    )  # fmt: skip


def _comment_gaps(node: Node, body_start: int) -> tuple[tuple[int, int], ...]:
    """Comments among the definition's own children before its body (Ruby `module M # note`)."""
    gaps = []
    for child in node.children:
        if child.start_byte >= body_start:
            break
        if "comment" in child.type:
            gaps.append((child.start_byte, child.end_byte))
    return tuple(gaps)


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
