"""Find secrets in a text: prefilter all rules in one pass, run the few that can match, merge spans."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.secrets.engine import Engine, default_engine, sanitize
from ctxeng.secrets.rules import Rule, Span, all_rules

PLACEHOLDER = "[REDACTED:{rule}]"
_MARKER = re.compile(r"\[REDACTED:[a-z0-9-]{1,64}\]")
MIN_SECRET_TEXT = 6  # the shortest text any rule can match: "://:p@"


@dataclass(frozen=True, slots=True)
class Finding:
    """Where a secret is: `text[start:end]`, on 1-based `line`, found by `rule`. Never the value."""

    rule: str
    start: int
    end: int
    line: int


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    order: int
    pattern: Any
    groups: tuple[int, ...]  # indexes of the groups named s, s2, ... (the secret)
    extend: re.Pattern[str] | None  # anchored, linear: one character class, repeated


class Scanner:
    """The rule set compiled for one engine, with the user's allow-list.

    `allow` holds Python regexes; a finding whose value matches one (`re.search`) is dropped.
    """

    def __init__(
        self, allow: Sequence[str] = (), engine: Engine | None = None, rules: Iterable[Rule] | None = None
    ) -> None:
        self.engine = engine or default_engine()
        self.allow = _compile_allow(allow)
        self._rule_list = list(rules if rules is not None else all_rules())
        # Rules compile on first use: most texts (and a hook's whole run) need none or a few of them.
        self._compiled: dict[int, _Compiled] = {}
        prefilters: list[str] = []
        self._owner: list[int] = []  # prefilter index -> rule index
        for order, rule in enumerate(self._rule_list):
            for pre in rule.prefilter:
                prefilters.append(pre)
                self._owner.append(order)
        self._prefilter = self.engine.prefilter(prefilters)

    def compile_all(self) -> list[_Compiled]:
        """Every rule compiled (normally they compile lazily); an invalid pattern fails here."""
        return [self._rule(order) for order in range(len(self._rule_list))]

    def _rule(self, order: int) -> _Compiled:
        compiled = self._compiled.get(order)
        if compiled is None:
            rule = self._rule_list[order]
            pattern = self.engine.compile(rule.pattern)
            names = sorted(
                (n for n in pattern.groupindex if re.fullmatch(r"s[0-9]*", n)), key=lambda n: (len(n), n)
            )
            groups = tuple(pattern.groupindex[n] for n in names)
            extend = re.compile(rule.extend) if rule.extend else None
            compiled = self._compiled[order] = _Compiled(rule, order, pattern, groups, extend)
        return compiled

    def candidates(self, text: str) -> list[int]:
        """Indexes of the rules whose prefilter matches somewhere in `text`."""
        return sorted({self._owner[i] for i in self._prefilter(text)})

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in `text`, by position.

        Overlapping spans are merged into one, named after the first-listed (most specific)
        rule among them.
        """
        if len(text) < MIN_SECRET_TEXT:
            return []
        text = sanitize(text)
        markers: list[Span] = []
        if "[REDACTED:" in text:  # redacted before (a pack, a hook): markers stay as they are
            text, markers = _mask_markers(text)
        spans: list[tuple[int, int, int]] = []
        for index in self.candidates(text):
            compiled = self._rule(index)
            for start, end in self._spans(compiled, text):
                if end > start and not self._allowed(text[start:end]):
                    spans.append((start, -end, compiled.order))
        if markers:
            spans = [s for s in spans if not any(a < -s[1] and s[0] < b for a, b in markers)]
        return _merge(text, spans, self._rule_list)

    def redact(self, text: str) -> tuple[str, list[Finding]]:
        """`text` with each finding replaced by `[REDACTED:<rule>]`, and the findings."""
        findings = self.find(text)
        if not findings:
            return text, findings
        parts: list[str] = []
        pos = 0
        for f in findings:
            parts += (text[pos : f.start], PLACEHOLDER.format(rule=f.rule))
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts), findings

    def _spans(self, compiled: _Compiled, text: str) -> Iterator[Span]:
        rule = compiled.rule
        if rule.finder is not None:
            for start, end in rule.finder(compiled.pattern, text):
                yield start, _extend(compiled, text, end)
            return
        for m in compiled.pattern.finditer(text):
            start, end = _secret_span(m, compiled.groups)
            end = _extend(compiled, text, end)
            if rule.check is None or rule.check(text, start, end):
                yield start, end

    def _allowed(self, value: str) -> bool:
        return any(pattern.search(value) for pattern in self.allow)


def _mask_markers(text: str) -> tuple[str, list[Span]]:
    """`text` with each `[REDACTED:<rule>]` marker's inside starred out (same length), and the markers.

    A rule id inside a marker (`curl-basic-auth`, `secret-assignment`) must not become the context
    of a new finding: redacting twice changes nothing.
    """
    markers = [m.span() for m in _MARKER.finditer(text)]
    parts: list[str] = []
    pos = 0
    for start, end in markers:
        parts += (text[pos : start + 1], "*" * (end - start - 2))
        pos = end - 1
    parts.append(text[pos:])
    return "".join(parts), markers


def _extend(compiled: _Compiled, text: str, end: int) -> int:
    """Where a secret ends when it may run past the pattern's repetition cap."""
    if compiled.extend is None:
        return end
    more = compiled.extend.match(text, end)
    return more.end() if more else end


def _secret_span(match: Any, groups: tuple[int, ...]) -> Span:
    for group in groups:
        start, end = match.span(group)
        if start >= 0:
            return start, end
    start, end = match.span()
    return start, end


def _merge(text: str, spans: list[tuple[int, int, int]], rules: list[Rule]) -> list[Finding]:
    spans.sort()
    merged: list[list[int]] = []  # [start, end, order]
    for start, neg_end, order in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], -neg_end)
            merged[-1][2] = min(merged[-1][2], order)
        else:
            merged.append([start, -neg_end, order])
    findings = []
    line, pos = 1, 0
    for start, end, order in merged:
        line += text.count("\n", pos, start)
        pos = start
        findings.append(Finding(rules[order].id, start, end, line))
    return findings


def _compile_allow(allow: Sequence[str]) -> list[re.Pattern[str]]:
    compiled = []
    for pattern in allow:
        if not isinstance(pattern, str):
            raise CtxengError(
                f"secrets.allow: {pattern!r} is not a string", hint='write allow = ["regex", ...]'
            )
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise CtxengError(
                f"secrets.allow: invalid regular expression {pattern!r}: {exc}",
                hint="each entry of [secrets] allow is a Python regex matched against a secret's value",
            ) from None
    return compiled


@lru_cache(maxsize=1)
def default_scanner() -> Scanner:
    """The built-in rules on the default engine, without an allow-list (compiled once)."""
    return Scanner()


def find_secrets(text: str) -> list[Finding]:
    """Every secret in `text` (built-in rules, no allow-list), by position; never the values."""
    return default_scanner().find(text)
