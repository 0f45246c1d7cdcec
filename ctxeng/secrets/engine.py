"""The regex engine behind the secret rules: google-re2 (linear time) when installed, else Python `re`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Patterns are written in the subset both engines read identically: no look-around, no
# back-references, no \Z, bounded repetition, ASCII classes.
_SURROGATES = re.compile("[\ud800-\udfff]")


def sanitize(text: str) -> str:
    """`text` with lone surrogates (from undecodable file names) replaced, keeping every offset.

    re2 encodes its input as UTF-8, which lone surrogates cannot be.
    """
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)


@dataclass(frozen=True)
class Engine:
    """A way to compile rule patterns and to test many prefilter patterns against one text at once.

    `compile(pattern)` returns an object with `finditer(text)` and `search(text, pos)` whose
    matches offer `span(group)`; `prefilter(patterns)` returns a function giving the indexes of
    the patterns found anywhere in a text.
    """

    name: str
    compile: Callable[[str], Any]
    prefilter: Callable[[Sequence[str]], Callable[[str], list[int]]]


def _re_compile(pattern: str) -> Any:
    return re.compile(pattern, re.ASCII)


def _re_prefilter(patterns: Sequence[str]) -> Callable[[str], list[int]]:
    # Literal keywords (most prefilters) are `in` tests, far faster than Python re searches.
    folded: list[tuple[int, str]] = []
    exact: list[tuple[int, str]] = []
    searched: list[tuple[int, Any]] = []
    for i, pattern in enumerate(patterns):
        ignore_case = pattern.startswith("(?i)")
        body = pattern[4:] if ignore_case else pattern
        literal = re.sub(r"\\(.)", r"\1", body)
        if re.escape(literal) != body:
            searched.append((i, _re_compile(pattern)))
        elif ignore_case:
            folded.append((i, literal.lower()))
        else:
            exact.append((i, literal))

    def matches(text: str) -> list[int]:
        lower = text.lower()
        found = [i for i, word in folded if word in lower] + [i for i, word in exact if word in text]
        return sorted(found + [i for i, pattern in searched if pattern.search(text)])

    return matches


PYTHON_RE = Engine("re", _re_compile, _re_prefilter)


def _re2_engine() -> Engine | None:
    try:
        import re2
    except ImportError:  # pragma: no cover - depends on the installation
        return None

    options = re2.Options()
    options.log_errors = False  # a bad pattern raises; it must not also print to stderr
    options.max_mem = 64 << 20  # room for the prefilter set's DFA; the default 8 MB thrashes on big texts

    def compile_re2(pattern: str) -> Any:
        return re2.compile(pattern, options)

    def prefilter(patterns: Sequence[str]) -> Callable[[str], list[int]]:
        # One pass over the text for all rules' keywords (a DFA), instead of one pass per keyword.
        keyword_set = re2.Set.SearchSet(options)
        for pattern in patterns:
            keyword_set.Add(pattern)
        keyword_set.Compile()

        def matches(text: str) -> list[int]:
            return sorted(keyword_set.Match(text) or ())

        return matches

    return Engine("re2", compile_re2, prefilter)


RE2 = _re2_engine()


def default_engine() -> Engine:
    """re2 when it is installed (linear time whatever the input), else Python `re`."""
    return RE2 or PYTHON_RE
