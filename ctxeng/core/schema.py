"""The one validation helper for user-written settings (`.ctxeng.toml`, `[tool.ctxeng]`, training recipes).

Every check raises a `CtxengError` naming the file and the key; an unknown key also gets a "did you
mean" from difflib. Pure standard library, so the hook path (which reads the configuration) stays light.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from ctxeng.core.errors import CtxengError

Expected = type | tuple[type, ...]


def suggest(name: str, known: Iterable[str]) -> str:
    """`did you mean 'x'?` for the closest known name, or "" when nothing is close."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def unknown_key(source: str, label: str, key: str, known: Iterable[str], what: str = "key") -> CtxengError:
    """The error for an unknown `key` (shown as `label`) in `source`: a suggestion, else the known keys."""
    names = sorted(known)
    guess = suggest(key, names)
    hint = (
        f"{guess} (known keys here: {', '.join(names)})" if guess else f"known keys here: {', '.join(names)}"
    )
    return CtxengError(f"{source}: unknown {what} '{label}'", hint=hint)


def type_name(expected: Expected) -> str:
    """`int`, or `list or null` for a tuple of types."""
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def check_value(source: str, label: str, value: Any, expected: Expected) -> Any:
    """`value` if it has the `expected` type (a bool is no int; an int is a float), else a `CtxengError`."""
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok and float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise CtxengError(f"{source}: '{label}' must be {type_name(expected)}, got {type(value).__name__}")
    return value


def check_mapping(
    source: str, data: Mapping[str, Any], types: Mapping[str, Expected], prefix: str = "", what: str = "key"
) -> dict[str, Any]:
    """Check every key of `data` against `types` (unknown keys, wrong types); returns the checked values."""
    checked = {}
    for key in sorted(data, key=str):
        if key not in types:
            raise unknown_key(source, f"{prefix}{key}", str(key), types, what)
        checked[key] = check_value(source, f"{prefix}{key}", data[key], types[key])
    return checked
