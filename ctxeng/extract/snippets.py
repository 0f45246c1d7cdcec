"""Source snippets of definitions: signatures, full texts, and container outlines."""

from __future__ import annotations

import re

from ctxeng.extract.outline import CALLABLE_KINDS, Definition
from ctxeng.extract.treesitter import RawDef

SIGNATURE_LIMIT = 300  # characters
_SIGNATURE_BYTES = 8192  # source read for a signature (whitespace collapses, so more than the limit)
TEXT_LINES = 200
TEXT_BYTES = 12_000
ELIDED = "…"
TYPE_KINDS = frozenset({"type", "type_alias", "typedef"})  # kinds a type alias is extracted as
MEMBER_KINDS = frozenset({"field", "constant", "variable", "property", "enum_member"})
_CLOSER = re.compile(r"^\s*(?:[}\])]+[;,]?|end;?)\s*$")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


class Source:
    """A file's UTF-8 bytes, sliced into text by byte offsets.

    ASCII source (the usual case) is decoded once and sliced as text, and CRLF is looked for only
    in files that have one; the text is what `_decode` of the byte slice gives either way.
    """

    __slots__ = ("data", "_text", "_crlf")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._text = data.decode("ascii") if data.isascii() else None
        self._crlf = b"\r\n" in data

    def text(self, start: int, end: int) -> str:
        """The bytes `start:end` as text, CRLF line ends as LF."""
        if self._text is None:
            return _decode(self.data[start:end])
        piece = self._text[start:end]
        return piece.replace("\r\n", "\n") if self._crlf else piece


def _without_gaps(src: Source, start: int, stop: int, gaps: tuple[tuple[int, int], ...]) -> str:
    """The text of bytes `start:stop` with the comment ranges `gaps` cut out."""
    pieces, pos = [], start
    for gap_start, gap_end in gaps:
        if gap_start >= stop:
            break
        pieces.append(src.data[pos:gap_start])
        pos = max(pos, gap_end)
    pieces.append(src.data[pos:stop])
    return _decode(b"".join(pieces))


def _is_alias(src: Source, raw: RawDef) -> bool:
    """Whether a body-less definition is a type alias (`type X = ...`, TS/Go/Python 3.12/Rust)."""
    if raw.kind not in TYPE_KINDS:
        return False
    after = src.data[raw.name_key[1] : min(raw.end, raw.name_key[1] + 200)].lstrip()
    if after.startswith(b"<") or after.startswith(b"["):  # type parameters: `type Pair<T> = ...`
        close = after.find(b">" if after.startswith(b"<") else b"]")
        after = after[close + 1 :].lstrip() if close >= 0 else b""
    return after.startswith(b"=")


_MEMBER_END = re.compile(r"[\w)\]>'\"`?]$")
_MEMBER_START = re.compile(r"^(?:readonly\s+)?[\w'\"\[]")


def _members(text: str) -> str:
    """A type alias's lines, with `; ` where a line break alone separates two members
    (`{\n  a: number\n  b: string\n}` reads `{ a: number; b: string }` once flattened)."""
    lines = [line.strip() for line in text.split("\n")]
    out = lines[0] if lines else ""
    for previous, line in zip(lines, lines[1:]):
        if not line:
            continue
        joint = "; " if _MEMBER_END.search(previous) and _MEMBER_START.match(line) else " "
        out += joint + line
    return out


def signature(src: Source, raw: RawDef) -> str:
    """Source from the definition's start to its body, whitespace-collapsed and capped; comments
    inside it (`a: int,  # type: ignore`) are left out.

    A type alias (`type Handler = | A | B`) is shown whole. Other definitions without a body: the
    lines through the one with the name, continued while parentheses stay open (at most 8 lines).
    """
    if raw.body > raw.start and not raw.gaps:
        head = src.text(raw.start, min(raw.body, raw.start + _SIGNATURE_BYTES))
    elif raw.body > raw.start:
        head = _without_gaps(src, raw.start, min(raw.body, raw.start + _SIGNATURE_BYTES), raw.gaps)
    elif _is_alias(src, raw):
        head = _members(_without_gaps(src, raw.start, min(raw.end, raw.start + _SIGNATURE_BYTES), raw.gaps))
    else:
        text = _without_gaps(src, raw.start, min(raw.end, raw.start + _SIGNATURE_BYTES), raw.gaps)
        lines = text.split("\n", 8)
        taken: list[str] = []
        depth = 0
        for line in lines[:8]:  # through the name (past annotations), then until parentheses close
            taken.append(line)
            depth += line.count("(") - line.count(")")
            if depth <= 0 and raw.name in "\n".join(taken):
                break
        head = "\n".join(taken)
    flat = " ".join(head.split())  # whitespace collapsed (str.split's whitespace is re's \s)
    if raw.gaps and " ," in flat:
        flat = flat.replace(" ,", ",")  # `a /* note */, b`: the comment's place is no space
    if len(flat) > SIGNATURE_LIMIT:
        # Long decorators or annotations above the name (a click command's option stack) would
        # crowd the definition itself out of the cap: start at the name's line, marking the cut.
        name_line = src.data.rfind(b"\n", raw.start, raw.name_key[0]) + 1
        if name_line > raw.start and raw.body > name_line:
            rest = " ".join(
                _decode(src.data[name_line : min(raw.body, name_line + _SIGNATURE_BYTES)]).split()
            )
            flat = f"{ELIDED} {rest}"
    if len(flat) > SIGNATURE_LIMIT:
        flat = flat[: SIGNATURE_LIMIT - 1].rstrip() + ELIDED
    return flat


def _indent_of(data: bytes, raw: RawDef) -> str | None:
    """The whitespace before the definition on its first line, or None when code precedes it."""
    prefix = data[raw.line_start : raw.start]
    return None if prefix.strip() else prefix.decode("ascii")  # ASCII whitespace within one line


def _dedent(lines: list[str], indent: str) -> list[str]:
    if not indent:
        return lines
    # Lines indented less than the first one (continuation lines, string contents) stay as they are.
    return [line[len(indent) :] if line.startswith(indent) else line.strip() and line for line in lines]


def _source_lines(src: Source, raw: RawDef, end: int, limit: int = -1) -> tuple[list[str], str]:
    """The definition's lines up to byte `end` (at most `limit` lines when it is not -1), dedented by
    its first line's indentation."""
    indent = _indent_of(src.data, raw)
    start = raw.line_start if indent is not None else raw.start
    # Decode no more than the capped text can show (a huge definition costs no more than a small one).
    end = min(end, start + 2 * TEXT_BYTES + (TEXT_LINES + 1) * (raw.start - start + 1))
    lines = src.text(start, end).split("\n", limit)
    if limit >= 0:
        del lines[limit:]
    return _dedent(lines, indent or ""), indent or ""


def cap_text(lines: list[str]) -> str:
    """Join `lines`, keeping at most `TEXT_LINES` lines and `TEXT_BYTES` bytes, marked with `…` when cut."""
    cut = len(lines) > TEXT_LINES
    text = "\n".join(lines[:TEXT_LINES]).rstrip()
    if len(text) > TEXT_BYTES // 4:  # only then can it exceed the byte cap
        raw = text.encode("utf-8", "replace")
        if len(raw) > TEXT_BYTES:
            raw = raw[:TEXT_BYTES]
            newline = raw.rfind(b"\n")
            raw = raw[:newline] if newline > TEXT_BYTES // 2 else raw
            text, cut = raw.decode("utf-8", "ignore").rstrip(), True
    return f"{text}\n{ELIDED}" if cut else text


def _line_offset(data: bytes, raw: RawDef, line: int) -> int:
    """Byte offset where 1-based `line` begins (`line` within or just after the definition)."""
    pos = raw.line_start
    for _ in range(line - raw.start_line):
        nxt = data.find(b"\n", pos, raw.end)
        if nxt < 0:
            return raw.end
        pos = nxt + 1
    return pos


def symbol_text(src: Source, index: int, items: list[Definition], signatures: list[str]) -> str:
    """The source of definition `items[index]`; a container (class, impl, module...) shows its header,
    its direct member lines up to the first nested definition, then each nested definition's
    signature (`signatures[i]` is that of `items[i]`)."""
    item = items[index]
    raw = item.raw
    children = [i for i in item.children if not items[i].is_scope]
    if item.kind in CALLABLE_KINDS or not children:
        # cap_text shows TEXT_LINES lines and needs to know only whether there are more.
        lines, _ = _source_lines(src, raw, raw.end, TEXT_LINES + 1)
        return cap_text(lines)
    # Fields and constants are member lines: the header runs to the first nested function or type.
    nested = [items[i] for i in children if items[i].kind not in MEMBER_KINDS]
    if not nested or nested[0].raw.lead_line <= raw.start_line:  # nothing to elide on a one-line container
        lines, _ = _source_lines(src, raw, raw.end, TEXT_LINES + 1)
        return cap_text(lines)
    children = [i for i in children if items[i].raw.start >= nested[0].raw.start]
    header_end = max(nested[0].raw.lead_line, raw.start_line + 1)
    lines, indent = _source_lines(src, raw, _line_offset(src.data, raw, header_end))
    if lines and not lines[-1].strip():
        lines.pop()
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    for child in children:
        child_raw = items[child].raw
        child_indent = _indent_of(src.data, child_raw) or ""
        pad = child_indent[len(indent) :] if child_indent.startswith(indent) else "    "
        sig = signatures[child]
        lines.append(f"{pad}{sig} {ELIDED}" if child_raw.body >= 0 else f"{pad}{sig}")
    last = src.text(max(raw.start, src.data.rfind(b"\n", raw.start, raw.end)), raw.end).rsplit("\n", 1)
    if len(last) == 2 and _CLOSER.match(last[1]):
        lines.append(last[1].strip() if not indent else _dedent([last[1]], indent)[0])
    return cap_text(lines)
