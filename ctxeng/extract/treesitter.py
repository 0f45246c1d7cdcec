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
from ctxeng.extract.comments import clean_comments, clean_string, is_directive, is_license
from ctxeng.extract.languages import LanguageSpec

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
    container: int  # id of the node's parent in the tree, to find its visibility section
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
    has_error: bool = False


@functools.lru_cache(maxsize=None)
def compiled(spec: LanguageSpec) -> tuple[Parser, Query]:
    """The parser and compiled tags query of a language (built once per process)."""
    from tree_sitter_language_pack import get_language, get_parser

    language = get_language(spec.grammar)  # type: ignore[arg-type]
    try:
        query = Query(language, spec.tags)
    except QueryError as exc:
        raise CtxengError(
            f"the tags query of language {spec.name!r} does not compile: {exc}",
            hint=f"fix extractors/{spec.name}/tags.scm (check node and field names with `tree-sitter parse`)",
        ) from exc
    return get_parser(spec.grammar), query  # type: ignore[arg-type]


def line_count(data: bytes) -> int:
    """Lines as tree-sitter counts them (LF-terminated; a last line without LF counts)."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def parse_tags(spec: LanguageSpec, data: bytes) -> FileTags:
    """Parse `data` (UTF-8) and collect its definitions, references, imports and exports."""
    parser, query = compiled(spec)
    tree = parser.parse(data)
    root = tree.root_node
    tags = FileTags(lines=line_count(data), has_error=root.has_error)
    markers: dict[int, list[tuple[int, str]]] = {}
    found: dict[tuple[int, int], RawDef] = {}
    module_docs: list[Node] = []
    ignored: set[tuple[int, int]] = set()
    for pattern, caps in QueryCursor(query).matches(root):
        for node in caps.get("ignore", ()):
            ignored.add((node.start_byte, node.end_byte))
        _collect(pattern, caps, data, tags, markers, found, module_docs)
    for marks in markers.values():
        marks.sort()
    tags.defs = [raw for key, raw in found.items() if key not in ignored]
    tags.defs.sort(key=lambda d: (d.start, -d.end, d.pattern, d.name))
    if markers:
        _apply_markers(tags.defs, markers)
    if module_docs:
        first = min(module_docs, key=lambda n: n.start_byte)
        tags.module_doc = clean_string(_text(first))
    else:
        tags.module_doc = _leading_file_comment(root, {d.start for d in tags.defs})
    tags.refs = sorted(set(tags.refs))  # two patterns may capture the same identifier
    return tags


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


def _collect(
    pattern: int,
    caps: dict[str, Any],
    data: bytes,
    tags: FileTags,
    markers: dict[int, list[tuple[int, str]]],
    found: dict[tuple[int, int], RawDef],
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
        if known is None or pattern < known.pattern:
            found[key] = _definition(pattern, kind, node, name_node, caps, data)
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
            for n in nodes:
                parent = n.parent
                if parent is not None:
                    markers.setdefault(parent.id, []).append((n.start_byte, cap[len("visibility.") :]))
        elif cap == "doc" and len(caps) == 1:
            module_docs.extend(nodes)


def _definition(pattern: int, kind: str, node: Node, name_node: Node, caps: dict[str, Any], data: bytes) -> RawDef:
    # `A::B::name` is qualified by `A.B`; quotes (TS `module "x"`) and Ruby's `:symbol` colon go.
    parts = [p.strip().strip(_QUOTES).lstrip(":") for p in _strip_type_args(_text(name_node)).split("::")]
    parts = [p for p in parts if p] or [_text(name_node)]
    qualifier = tuple(parts[:-1])
    if caps.get("receiver"):
        qualifier = tuple(_strip_type_args(_text(caps["receiver"][0])).strip("*& ").split("::")) + qualifier
    body = caps["body"][0] if caps.get("body") else _find_body(node)
    docs = caps.get("doc") or []
    lead_line = node.start_point.row + 1
    if docs and "comment" not in docs[0].type:
        doc = clean_string(_text(docs[0]))
    else:
        comments, lead_line = _leading_comments(node, data)
        doc = clean_comments(comments) if comments else ""
        if not comments and docs:
            doc = clean_comments([_text(n) for n in docs])
    end_row = _end_row(node)
    explicit = "private" if caps.get("private") else "public" if caps.get("public") else ""
    return RawDef(
        kind=kind, name=parts[-1], qualifier=qualifier, start=node.start_byte, end=node.end_byte,
        start_line=node.start_point.row + 1, end_line=end_row + 1, lead_line=lead_line,
        line_start=node.start_byte - node.start_point.column, body=body.start_byte if body is not None else -1,
        doc=doc, explicit=explicit, marker="", pattern=pattern, name_key=(name_node.start_byte, name_node.end_byte),
        container=node.parent.id if node.parent is not None else -1,
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


def _starts_line(node: Node, data: bytes) -> bool:
    line_start = node.start_byte - node.start_point.column
    return not data[line_start : node.start_byte].strip()


def _leading_comments(node: Node, data: bytes) -> tuple[list[str], int]:
    """The contiguous comment block right above `node` (attributes between them skipped), top first."""
    target = node
    for _ in range(3):  # a definition wrapped in a construct that starts on its line (`export`, `pub`)
        parent = target.parent
        if target.prev_named_sibling is not None or parent is None or parent.start_point.row != target.start_point.row:
            break
        target = parent
    row = target.start_point.row
    lead = row
    comments: list[str] = []
    prev = target.prev_sibling
    while prev is not None:
        kind = prev.type
        if "comment" in kind:
            if _end_row(prev) < row - 1 or not _starts_line(prev, data):
                break
            text = _text(prev)
            if is_directive(text):
                break
            comments.append(text)
            row = lead = prev.start_point.row
        elif not comments and ("attribute" in kind or "decorator" in kind or "annotation" in kind):
            if _end_row(prev) < row - 1:
                break
            row = prev.start_point.row
        else:
            break
        prev = prev.prev_sibling
    comments.reverse()
    return comments, lead + 1


def _leading_file_comment(root: Node, def_starts: set[int]) -> str:
    """The file's header comment: the first comment block that is not a licence, directive or a definition's doc.

    A block directly above a `package` clause is that package's doc (Go, Java) and wins.
    """
    blocks: list[list[Node]] = []
    first_code: Node | None = None
    for i in range(root.child_count):
        child = root.child(i)
        if child is None:
            break
        if "comment" not in child.type:
            first_code = child
            break
        if is_directive(_text(child)):
            blocks.append([])
            continue
        if blocks and blocks[-1] and _end_row(blocks[-1][-1]) >= child.start_point.row - 1:
            blocks[-1].append(child)
        else:
            blocks.append([child])
    blocks = [b for b in blocks if b]
    if not blocks:
        return ""
    attached = first_code is not None and _end_row(blocks[-1][-1]) >= first_code.start_point.row - 1
    if attached and first_code is not None and "package" in first_code.type:
        text = clean_comments([_text(n) for n in blocks[-1]])
        return "" if is_license(text) else text
    if attached and first_code is not None and (
        first_code.start_byte in def_starts or "attribute" in first_code.type or "decorator" in first_code.type
    ):
        blocks = blocks[:-1]  # that block documents the first definition
    for block in blocks:
        text = clean_comments([_text(n) for n in block])
        if text and not is_license(text):
            return text
    return ""


def _apply_markers(defs: list[RawDef], markers: dict[int, list[tuple[int, str]]]) -> None:
    """Give each definition the visibility section (`private:`) it sits in, if any."""
    for raw in defs:
        section = ""
        for pos, value in markers.get(raw.container, ()):
            if pos >= raw.start:
                break
            section = value
        raw.marker = section
