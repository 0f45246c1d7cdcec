"""The secret stage of the build: redact every string of every record by span, counting per rule."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ctxeng.core.config import SecretsConfig
from ctxeng.core.records import Record
from ctxeng.secrets.scanner import Scanner, default_scanner

_JOIN = "\n\0\n"  # between a record's strings, so no rule matches across two of them


class Redactor:
    """Redacts records and texts with the built-in rules and the configured allow-list.

    `counts` holds how many redactions each rule made (never the values). Redaction is by span:
    only the secret part of a match is replaced by `[REDACTED:<rule>]`, nothing is dropped.
    """

    def __init__(self, config: SecretsConfig | None = None, scanner: Scanner | None = None) -> None:
        allow = config.allow if config else []
        self.scanner = scanner or (Scanner(allow=allow) if allow else default_scanner())
        self.counts: Counter[str] = Counter()

    def text(self, text: str) -> str:
        """`text` with its secrets replaced."""
        redacted, findings = self.scanner.redact(text)
        for finding in findings:
            self.counts[finding.rule] += 1
        return redacted

    def records(self, recs: list[Record]) -> list[Record]:
        """`record` for each of `recs`, with one prefilter pass over all of them first.

        A file's records mostly hold no keyword at all; checking them together costs one scan
        instead of one per record (45k definitions on sqlalchemy). Each record's strings are
        gathered once, for both passes.
        """
        texts = [_record_text(rec) for rec in recs]
        if not self.scanner.candidates(_JOIN.join(texts)):
            return list(recs)
        return [self._redact(rec) if self.scanner.candidates(text) else rec for rec, text in zip(recs, texts)]

    def record(self, rec: Record) -> Record:
        """A copy of `rec` with path, name, text and every string in `meta` (keys too) redacted.

        Records without any rule's keyword are returned as they are (the common case, one
        prefilter pass over all of the record's strings together).
        """
        return self._redact(rec) if self.scanner.candidates(_record_text(rec)) else rec

    def _redact(self, rec: Record) -> Record:
        return Record(
            id=rec.id, kind=rec.kind, path=self.text(rec.path), start_line=rec.start_line,
            end_line=rec.end_line, commit=rec.commit, time=rec.time, name=self.text(rec.name),
            text=self.text(rec.text), meta=_map_strings(rec.meta, self.text),
        )  # fmt: skip


def _record_text(rec: Record) -> str:
    """All strings of `rec` (path, name, text, meta's keys and values) joined by `_JOIN`."""
    strings = [rec.path, rec.name, rec.text]
    _collect_strings(rec.meta, strings)
    return _JOIN.join(strings)


def _collect_strings(value: Any, out: list[str]) -> None:
    """Append every string inside nested dicts/lists/tuples to `out` (iteratively)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)  # exact types first: this runs on every record of a build
        if kind is str or isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend([k for k in item if isinstance(k, str)])
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _map_strings(value: Any, fn: Any) -> Any:
    """A copy of nested dicts/lists/tuples with `fn` applied to every string (keys too), iteratively.

    Two keys that become equal after `fn` keep the first one's value (insertion order).
    """
    holder: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(holder, 0)]
    tuples: list[tuple[Any, Any]] = []  # containers to turn back into tuples, parents first
    while stack:
        parent, key = stack.pop()
        item = parent[key]
        if isinstance(item, str):
            parent[key] = fn(item)
        elif isinstance(item, dict):
            copy: dict[Any, Any] = {}
            for k, v in item.items():
                copy.setdefault(fn(k) if isinstance(k, str) else k, v)
            parent[key] = copy
            stack.extend((copy, k) for k in copy)
        elif isinstance(item, (list, tuple)):
            parent[key] = list(item)
            if isinstance(item, tuple):
                tuples.append((parent, key))
            stack.extend((parent[key], i) for i in range(len(item)))
    for parent, key in reversed(tuples):  # children were created after parents: convert them first
        parent[key] = tuple(parent[key])
    return holder[0]
