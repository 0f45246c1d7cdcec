"""Words every definition line of a language contains, so most changed lines skip the regex test."""

from __future__ import annotations

#: Words that every line matching a language's `definition_line` contains (a test checks this
#: against each regex with generated matches). A changed line without any of them is not tested.
#: Languages missing here are tested line by line.
_JS_VARIABLES = (b"const", b"let", b"var")
# fmt: off
DEFINITION_HINTS: dict[str, tuple[bytes, ...]] = {
    "python": (b"def", b"class"),
    "go": (b"func", b"type"),
    "rust": (b"fn", b"struct", b"enum", b"trait", b"type", b"mod", b"union", b"macro_rules!"),
    "ruby": (b"def", b"class", b"module"),
    "javascript": (b"function", b"class", *_JS_VARIABLES),
    "typescript": (b"function", b"class", b"interface", b"type", b"enum", b"namespace", *_JS_VARIABLES),
    "tsx": (b"function", b"class", b"interface", b"type", b"enum", b"namespace", *_JS_VARIABLES),
    "c": (b"(", b"struct", b"union", b"enum", b"define"),
    "cpp": (b"(", b"class", b"struct", b"union", b"enum", b"namespace"),
    "java": (b"(", b"class", b"interface", b"enum", b"record"),
    "csharp": (b"(", b"<", b"class", b"interface", b"struct", b"enum", b"record", b"namespace"),
}
# fmt: on
