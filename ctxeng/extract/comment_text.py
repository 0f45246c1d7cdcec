"""Turn docstring and comment source text into plain prose (markers, quotes and indentation removed)."""

from __future__ import annotations

import inspect
import re

DOC_LIMIT = 4000  # characters; a longer docstring is cut with a `…` marker

_STRING_PREFIX = re.compile(r"^[rRuUbBfF]{0,2}")
_LINE_MARKER = re.compile(r"^\s*(?://[/!]?|#+|--|;+)\s?")
_BLOCK_LINE = re.compile(r"^\s*\*(?!/)\s?")
_XML_DOC_TAG = re.compile(r"</?(?:summary|remarks|returns|value|para|c)>")
_XML_DOC_REF = re.compile(
    r"""<(?:paramref|typeparamref|see|seealso)\s+(?:name|cref|langword)="([^"]*)"\s*/>"""
)
# Comments that steer tools rather than describe code: never a file's or a definition's doc
# (bundler annotations such as `/*#__NO_SIDE_EFFECTS__*/` included).
_DIRECTIVE = re.compile(
    r"^(?:!|-\*-|\s*(?:eslint|jshint|global |prettier-|@ts-|ts-|go:|\+build|pylint:|noqa|type:|fmt:|mypy:"
    r"|pyright:|@flow|istanbul |c8 |tslint:|rubocop:|frozen_string_literal|encoding:|coding[:=]|#region"
    r"|#endregion|region\b|endregion\b|NOLINT|clang-format|pragma|[#@]__\w+__\s*$))",
    re.IGNORECASE,
)
_LICENSE = re.compile(
    r"copyright|spdx-license-identifier|licen[sc]ed under|all rights reserved", re.IGNORECASE
)


def cap(text: str, limit: int = DOC_LIMIT) -> str:
    """`text` cut to `limit` characters (at a line end when one is near) with a `…` marker."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    newline = cut.rfind("\n")
    if newline > limit // 2:
        cut = cut[:newline]
    return cut.rstrip() + "\n…"


def clean_string(raw: str) -> str:
    """A docstring literal (`'''...'''`, `r"..."`) as prose, indented like `inspect.cleandoc`."""
    body = _STRING_PREFIX.sub("", raw, count=1)
    for quote in ('"""', "'''", '"', "'"):
        if body.startswith(quote):
            body = body[len(quote) :]
            body = body.removesuffix(quote)
            break
    return cap(inspect.cleandoc(body.replace("\r\n", "\n")).strip())


def clean_comment(raw: str) -> str:
    """One comment's text without its markers (`//`, `///`, `#`, `/* */`, `/** */`, `=begin`)."""
    text = raw.replace("\r\n", "\n").strip()
    if text.startswith("/*"):
        text = re.sub(r"^/\*[*!]?", "", text)
        text = re.sub(r"\**\*/$", "", text)
        lines = [_BLOCK_LINE.sub("", line, count=1) for line in text.split("\n")]
    elif text.startswith("=begin"):
        lines = text.split("\n")[1:]
        if lines and lines[-1].strip().startswith("=end"):
            lines = lines[:-1]
    else:
        lines = [_LINE_MARKER.sub("", line, count=1) for line in text.split("\n")]
    text = "\n".join(lines)
    if "<" in text:  # C# XML doc comments: keep the prose, drop the markup
        text = _XML_DOC_REF.sub(r"\1", _XML_DOC_TAG.sub("", text))
    return text


def clean_comments(raws: list[str]) -> str:
    """A block of consecutive comments (top to bottom) as one dedented text."""
    joined = "\n".join(clean_comment(raw) for raw in raws)
    return cap(inspect.cleandoc(joined).strip())


def is_directive(raw: str) -> bool:
    """Whether a comment is a tool directive (shebang, coding line, linter or build pragma)."""
    first = clean_comment(raw).lstrip().split("\n", 1)[0]
    return raw.startswith("#!") or bool(_DIRECTIVE.match(first))


def is_license(text: str) -> bool:
    """Whether a comment block reads like a licence or copyright header."""
    return bool(_LICENSE.search(text[:400]))
