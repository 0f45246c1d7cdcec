"""Definitions and docstrings as one line: first sentences without markup, signatures without noise."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(\[])")
# An RST adornment (a title's underline/overline) or a line of only punctuation: markup, never prose.
_ADORNMENT = re.compile(r"^\s*([!-/:-@\[-`{-~])\1{2,}\s*$")
# Build-tool annotations and other marker-only lines (`#__PURE__`, `@__NO_SIDE_EFFECTS__`, `<!-- x -->`).
_MARKER_ONLY = re.compile(r"^\s*(?:[#@]?__\w+__|<!--.*-->|[-=*_#~^+`.:|]+)\s*$")
_RST_ROLE = re.compile(r":(?:[\w-]+:)*([\w-]+):`~?\.?([^`<]*?)(?:\s*<[^>`]*>)?`")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def _prose_lines(paragraph: str) -> str:
    """A paragraph without RST titles (a line over an adornment), adornments and marker-only lines."""
    lines = paragraph.split("\n")
    kept = []
    for index, line in enumerate(lines):
        if _ADORNMENT.match(line) or _MARKER_ONLY.match(line):
            continue
        if index + 1 < len(lines) and _ADORNMENT.match(lines[index + 1]):
            continue  # an RST section title: a label, not a description
        kept.append(line)
    return "\n".join(kept)


def _role(match: re.Match[str]) -> str:
    """A reST role as plain text: `:pep:`249`` → PEP 249, `:func:`~a.b`` → `a.b`."""
    role, target = match.group(1).lower(), match.group(2)
    return f"{role.upper()} {target}" if role in ("pep", "rfc") else f"`{target}`"


def first_sentence(text: str, limit: int = 160) -> str:
    """The first sentence (or line group) of a docstring, whitespace-collapsed and cut at `limit` chars.

    Markup is never a description: reST directives, field lists, section titles with their
    underlines and marker-only lines (`#__NO_SIDE_EFFECTS__`) are skipped; reST roles and literals
    (`:func:`x``, ``x``) become `x`.
    """
    text = text[: limit * 3].strip()  # docstrings can be pages long; the first sentence is near the top
    if not text:
        return ""
    paragraph = ""
    for candidate in text.split("\n\n"):
        # reST directives and field lists (`.. dialect:: mysql`, `:name: ...`) are markup, not prose
        if candidate.lstrip().startswith(("..", ":")):
            continue
        candidate = _prose_lines(candidate)
        if any(ch.isalnum() for ch in candidate):
            paragraph = candidate
            break
    flat = _SPACE.sub(" ", paragraph).strip()
    if "`" in flat:
        flat = _RST_LITERAL.sub(r"`\1`", _RST_ROLE.sub(_role, flat))
    flat = _SENTENCE_END.split(flat, 1)[0]
    if len(flat) > limit:
        cut = flat[: limit - 1].rsplit(" ", 1)[0]
        flat = cut.rstrip(",;:") + "…"
    return flat


_DECORATOR_NAME = re.compile(r"@([\w.]+)")
_TRAILING_COMMENT = re.compile(r"(?<=:)\s+(?:#|//).*$")


def _split_decorator(sig: str) -> tuple[str, str] | None:
    """(decorator name, rest) for a signature starting with `@name` or `@name(...)` (nested parens and
    quoted strings skipped), else None."""
    match = _DECORATOR_NAME.match(sig)
    if not match:
        return None
    pos, depth, quote = match.end(), 0, ""
    if sig[pos : pos + 1] == "(":
        while pos < len(sig):
            ch = sig[pos]
            if quote:
                if ch == "\\":
                    pos += 1
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    pos += 1
                    break
            pos += 1
        if depth:
            return None  # cut off inside the decorator's arguments
    return match.group(1), sig[pos:].lstrip()


# Decorators that change what a definition is; all others (registration, deprecation ...) are dropped.
KEPT_DECORATORS = frozenset(
    {"property", "classmethod", "staticmethod", "abstractmethod", "cached_property", "overload", "contextmanager",
     "asynccontextmanager", "dataclass", "setter", "getter", "deleter", "fixture"}
)  # fmt: skip


def compact_signature(signature: str, name: str, limit: int = 120) -> str:
    """A one-line signature: whitespace collapsed, noise decorators and the body opener dropped, cut at `limit`."""
    sig = " ".join(signature[: limit * 4].split())  # = collapsing `\s+` and stripping, at C speed
    if not sig:
        return name
    kept = []
    while sig.startswith("@"):
        split = _split_decorator(sig)
        if split is None:  # the extractor cut the signature inside a decorator: find the definition itself
            found = re.search(rf"\b(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b", sig)
            sig = sig[found.start() :] if found else f"{name}(…)"
            break
        decorator, sig = split
        if decorator.rsplit(".", 1)[-1] in KEPT_DECORATORS:
            kept.append(f"@{decorator}")
    sig = " ".join([*kept, sig]).replace("( ", "(").replace(" )", ")").replace(", )", ")").replace(",)", ")")
    if "[ " in sig or " ]" in sig:
        sig = sig.replace("[ ", "[").replace(" ]", "]").replace(",]", "]")
    if "#" in sig or "//" in sig:  # most signatures have no comment to cut
        sig = _TRAILING_COMMENT.sub("", sig)
    sig = sig.removesuffix("{").rstrip()
    if sig.endswith(":") and not sig.endswith("::"):
        sig = sig[:-1]
    if len(sig) > limit:
        sig = sig[: limit - 1].rstrip() + "…"
    return sig
