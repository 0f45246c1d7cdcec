"""The dataset split as the stage computed it before it streamed: list-based, every row held.

The reference `tests/test_dataset_store.py` compares `ctxeng.dataset.store.Split` with, byte for byte:
whole commits newest first into eval, dedupe (lowest id kept), then train rows leaking an eval answer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from ctxeng.dataset.bounds import Bounded
from ctxeng.dataset.split import normalise


@dataclass(frozen=True)
class Dated:
    """A bounded example with the commit and time it is split by."""

    item: Bounded
    commit: str
    time: int

    @property
    def id(self) -> str:
        """The example id."""
        return self.item.example.id


def _newness(commit: str, time: int) -> tuple[bool, int, str]:
    """Sort key, larger = newer: uncommitted first, then commit time, then sha to break ties."""
    return (commit == "", time, commit)


def date_by_source(items: list[Bounded]) -> list[Dated]:
    """Date every example by the newest commit among the examples of its source record.

    That puts all examples of one record on the same side of the split.
    """
    newest: dict[str, tuple[bool, int, str]] = {}
    for b in items:
        key = _newness(b.example.commit, b.example.time)
        source = b.example.source
        if source not in newest or key > newest[source]:
            newest[source] = key
    out = []
    for b in items:
        uncommitted, time, commit = newest[b.example.source]
        out.append(Dated(b, "" if uncommitted else commit, 0 if uncommitted else time))
    return out


def split_by_time(items: list[Dated], eval_share: float) -> tuple[list[Dated], list[Dated], int]:
    """(train, eval, number of eval commits): whole commits, newest first, until eval ≥ eval_share.

    The oldest commit always stays in train, so a share < 1 never empties the training split.
    """
    groups: dict[str, list[Dated]] = defaultdict(list)
    for d in items:
        groups[d.commit].append(d)
    order = sorted(groups, key=lambda c: _newness(c, groups[c][0].time), reverse=True)
    target = eval_share * len(items)
    held: list[Dated] = []
    taken = 0
    for commit in order[:-1]:
        if len(held) >= target or eval_share <= 0:
            break
        held.extend(groups[commit])
        taken += 1
    eval_commits = set(order[:taken])
    train = [d for d in items if d.commit not in eval_commits]
    return train, held, taken


def dedupe(items: list[Dated], dropped: Counter[str]) -> list[Dated]:
    """Drop rows whose prompt and completion repeat an earlier row (lowest id kept)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for d in sorted(items, key=lambda d: d.id):
        key = (d.item.user, d.item.answer)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        out.append(d)
    return out


def remove_leaks(train: list[Dated], held: list[Dated], dropped: Counter[str]) -> list[Dated]:
    """Train rows whose normalised completion equals some eval completion are dropped."""
    answers = {normalise(d.item.answer) for d in held}
    out = []
    for d in train:
        if normalise(d.item.answer) in answers:
            dropped["eval_leak"] += 1
            continue
        out.append(d)
    return out
