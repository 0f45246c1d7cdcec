"""Rewriting a large JSON object cheaply: parse it remembering where each member's text lies, then write
it back (sorted keys, compact, as `ctxeng.core.fsio.dumps_json`) reusing the text of members left unchanged.

A patch of the context index changes a few columns of a 3.5 MB document; serialising the untouched
rest again (names, commits, most postings tables) would cost more than the change itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from ctxeng.core.fsio import dumps_json

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass
class Parsed:
    """A parsed JSON object with the text span and the parsed value of each member down to `depth` levels."""

    value: dict[str, Any]
    text: str
    depth: int
    members: dict[tuple[str, ...], tuple[int, int, Any]] = field(
        default_factory=dict
    )  # path → start, end, value


def parse(text: str, depth: int = 2) -> Parsed:
    """`json.loads(text)` of a document holding one object, remembering members `depth` levels deep."""
    parsed = Parsed(value={}, text=text, depth=depth)
    start = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    parsed.value, end = _object(parsed, start, (), depth)
    if _SPACE.match(text, end).end() != len(text):  # type: ignore[union-attr]
        raise ValueError("extra data after the JSON object")
    return parsed


def _object(parsed: Parsed, pos: int, path: tuple[str, ...], depth: int) -> tuple[dict[str, Any], int]:
    text = parsed.text
    if text[pos : pos + 1] != "{":
        raise ValueError(f"expected an object at {pos}")
    out: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if text[pos : pos + 1] == "}":
        return out, pos + 1
    while True:
        if text[pos : pos + 1] != '"':
            raise ValueError(f"expected a key at {pos}")
        key, pos = scanstring(text, pos + 1)
        pos = _skip(text, pos)
        if text[pos : pos + 1] != ":":
            raise ValueError(f"expected ':' at {pos}")
        pos = _skip(text, pos + 1)
        if depth > 1 and text[pos : pos + 1] == "{":
            value, end = _object(parsed, pos, (*path, key), depth - 1)
        else:
            value, end = _DECODER.raw_decode(text, pos)
        out[key] = value
        parsed.members[(*path, key)] = (pos, end, value)
        pos = _skip(text, end)
        if text[pos : pos + 1] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos : pos + 1] == "}":
            return out, pos + 1
        else:
            raise ValueError(f"expected ',' or '}}' at {pos}")


def _skip(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()  # type: ignore[union-attr]


def dump(value: dict[str, Any], parsed: Parsed, path: tuple[str, ...] = ()) -> str:
    """`dumps_json(value)`, where each member that still is the very object parsed at the same path is
    copied from the parsed text (byte-identical when that text was written by `dumps_json`). Identity,
    not equality: `1 == 1.0 == True`, but their JSON differs."""
    parts = []
    for key in sorted(value):
        child, where = value[key], (*path, key)
        member = parsed.members.get(where)
        if member is not None and child is member[2]:
            text = parsed.text[member[0] : member[1]]
        elif (
            isinstance(child, dict)
            and member is not None
            and isinstance(member[2], dict)
            and len(where) < parsed.depth
        ):
            text = dump(child, parsed, where)
        else:
            text = dumps_json(child)
        parts.append(f"{dumps_json(key)}:{text}")
    return "{" + ",".join(parts) + "}"
