"""The local tasks' groups over spilled records (`core.record_store.RecordsView`), read back a group at a time.

`task_cache._Groups` sorts the records and holds every group's records at once: right for a list
already in memory. Over a spilled store that would read ~800,000 records back into memory at
100,000 files, so here a rule's groups are found in one pass that keeps only sorted positions per
group key, and each group's records are read back when its turn comes. Groups, members (in sort
order) and digests are the same as `_Groups` gives.
"""

from __future__ import annotations

import hashlib
import itertools
from array import array
from collections.abc import Iterator

from ctxeng.core.record_store import RecordsView
from ctxeng.core.records import Record
from ctxeng.dataset.task_cache import GROUP_USEFUL, LOCAL_TASKS, RULE_KINDS, record_digest

_UNKNOWN, _KNOWN, _NONE = 0, 1, 2
#: Tasks whose `GROUP_USEFUL` asks whether a member of the group is named by its key.
_BY_NAME = frozenset({"callers"})


class ViewGroups:
    """The local tasks' groups of a `RecordsView`, each task's made when it asks (`of`)."""

    def __init__(self, view: RecordsView) -> None:
        self.view = view
        size = len(view.order)
        # Record digests by sorted position: a symbol is in several rules' groups.
        self.digests = bytearray(20 * size)
        self.state = bytearray(size)

    def of(self, name: str) -> Iterator[tuple[str, list[Record], str | None]]:
        """(group key, its records in sort order, their digest) in key order, for the groups of task
        `name` that can give examples."""
        rule, useful = LOCAL_TASKS[name], GROUP_USEFUL.get(name)
        # Each kind is one run of sorted positions, and kinds come in sorted order: chained, they are sorted.
        runs = [self.view.of_kind(kind).positions() for kind in sorted(RULE_KINDS[rule])]
        # A key's positions: an int while it has one (most qualified names), then an array.
        grouped: dict[str, int | array[int]] = {}
        named: set[str] = set()  # callers: a group can give examples only if a member has its name
        for pos in itertools.chain.from_iterable(runs):
            rec = self.view.record_at(pos)
            if name in _BY_NAME:
                named.add(rec.name)
            for key in rule(rec):
                found = grouped.get(key)
                if found is None:
                    grouped[key] = pos
                elif isinstance(found, int):
                    grouped[key] = array("I", (found, pos))
                else:
                    found.append(pos)
        for key in sorted(grouped):
            one = grouped.pop(key)
            at = array("I", (one,)) if isinstance(one, int) else one
            if name in _BY_NAME and key not in named:
                continue  # `GROUP_USEFUL`'s answer without reading the (often many) members back
            members = [self.view.record_at(pos) for pos in at]
            if useful is None or useful(key, members):
                yield key, members, self._digest(at, members)

    def _digest(self, at: array[int], members: list[Record]) -> str | None:
        parts = []
        for pos, rec in zip(at, members):
            state = self.state[pos]
            if state == _UNKNOWN:
                one = record_digest(rec)
                self.state[pos] = _NONE if one is None else _KNOWN
                if one is not None:
                    self.digests[20 * pos : 20 * pos + 20] = one
                state = self.state[pos]
            if state == _NONE:
                return None
            parts.append(bytes(self.digests[20 * pos : 20 * pos + 20]))
        return hashlib.sha1(b"".join(parts)).hexdigest()  # as `task_cache.group_digest`
