"""Find super-linear regexes in ctxeng: time each module-level pattern on adversarial strings at n and 4n.

Not a test (minutes of CPU): run `python -m tests.regex_audit [findall|match]` after adding patterns.
The C#/Java `definition_line` patterns are reported: they stay quadratic and are safe only because
`LanguageSpec.definition_name` refuses lines over `MAX_DEFINITION_LINE` characters.
`findall` tries every start position (patterns used with search/findall/sub/split); `match` anchors at
the start (patterns used with match/fullmatch). A pattern is reported when 4× the input costs more
than 7× the time (linear: ~4×, quadratic: ~16×); confirm a report by timing it alone (the box is noisy).
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import ctxeng

SKIP = (
    "ctxeng.__main__",
    "ctxeng.train",
    "ctxeng.serve.engine",
    "ctxeng.serve.ask",
    "ctxeng.serve.local",
    "ctxeng.serve.export",
    "ctxeng.secrets.rules",
)  # fmt: skip  (heavy imports; secret rules run on RE2)
CHARS = list("aA0_.-/ \t\n`*[](){}<>|:#=!'\",;@\\+~%$?&^") + ["é"]
EXTRA = ["@", "**", "``", "[a]", "<a>", "|a|", ":a:", "..", "=="]


def patterns() -> dict[tuple[Any, int], list[str]]:
    """Every compiled pattern held by a ctxeng module (directly or in a tuple, list or dict), by where."""
    found: dict[tuple[Any, int], list[str]] = {}

    def collect(obj: object, where: str, depth: int = 0) -> None:
        if isinstance(obj, re.Pattern):
            found.setdefault((obj.pattern, obj.flags), []).append(where)
        elif depth < 3 and isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                collect(item, f"{where}[{i}]", depth + 1)
        elif depth < 3 and isinstance(obj, dict):
            for key, item in obj.items():
                collect(item, f"{where}[{key!r}]", depth + 1)

    for info in pkgutil.walk_packages(ctxeng.__path__, "ctxeng."):
        if info.name.startswith(SKIP):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            collect(value, f"{info.name}.{name}")
    from ctxeng.extract.languages import load_languages

    for name, spec in load_languages().items():
        collect(spec.definition_line, f"language {name}.definition_line")
    return found


def candidates(n: int, words: list[str]) -> Iterator[str]:
    """Repetitive strings of about `n` characters: one character, two alternating, or a word of the pattern."""
    for word in words:
        for sep in (" ", "", "\t", ".", ",", "-", "_", ":", "\n", "/"):
            yield (word + sep) * max(1, n // len(word + sep))
        yield word + " " * n
        yield word + "(" + "a" * n
    for c in CHARS:
        yield c * n
    for a, b in itertools.combinations(CHARS, 2):
        yield (a + b) * (n // 2)


def seconds(pattern: re.Pattern[Any], text: str, mode: str) -> float:
    subject: Any = text.encode() if isinstance(pattern.pattern, bytes) else text
    start = time.perf_counter()
    if mode == "match":
        pattern.match(subject)
        pattern.fullmatch(subject)
    else:
        pattern.findall(subject)
    return time.perf_counter() - start


def audit(mode: str) -> list[str]:
    """Reports for the patterns that look super-linear in `mode`."""
    reports = []
    for (source, flags), where in patterns().items():
        pattern = re.compile(source, flags)
        text = source.decode("latin-1") if isinstance(source, bytes) else source
        words = sorted(set(re.findall(r"[A-Za-z][A-Za-z-]+", text.replace("\\", " "))))[:12] + EXTRA
        small = list(candidates(600, words))
        worst, index = max((seconds(pattern, s, mode), i) for i, s in enumerate(small))
        large = list(candidates(2400, words))[index]
        slow = min(seconds(pattern, large, mode) for _ in range(2))
        if slow > 0.005 and slow / max(worst, 1e-6) > 7:
            reports.append(f"{slow / max(worst, 1e-6):6.1f}x {slow * 1000:8.1f} ms {where} {text[:100]!r} "
                           f"on {small[index][:8]!r}…")  # fmt: skip
    return reports


if __name__ == "__main__":
    for line in audit(sys.argv[1] if len(sys.argv) > 1 else "findall"):
        print(line)
