"""The global tasks across builds (`dataset.carry`): carried whole when the records they read are unchanged.

A global task (cochange, doc_qa, glossary, facts, grounded) reads only the records of its kinds
(`task_cache.GLOBAL_KINDS`), so its rows, drop counts and dropped outcomes are a function of those
records (and the salt the carry has): when a digest of them (the run fingerprints of per-file kinds,
the content of the others) equals the last build's, its rows are copied as they are and the task does
not run. Facts and grounded are also carried when the changed symbols cannot matter to them
(`inert_change`: e.g. a private helper added that calls nothing public). Otherwise it runs, and each example whose key (`task_cache.example_key`) the last build kept
is carried as its row; the rest go through the per-example cache and the bounds.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ctxeng.dataset.example import Example
from ctxeng.dataset.outcomes import Dropped
from ctxeng.dataset.prints import PER_FILE_KINDS, Prints, content_print
from ctxeng.dataset.store import ExampleStore
from ctxeng.dataset.task_cache import CHUNK, GLOBAL_KINDS, _chunks, _stream, example_key

KEY = 12  # bytes of an example key (`blobtable.blob_key`)


@dataclass
class GlobalRows:
    """A global task's part of the store: its kept examples' keys and rows, the digest of its input ("":
    none), the drop counts its run made and its dropped outcomes ([id, reason])."""

    keys: bytearray = field(default_factory=bytearray)
    rows: array[int] = field(default_factory=lambda: array("q"))
    digest: str = ""
    drops: Counter[str] = field(default_factory=Counter)
    lost: list[list[str]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """What the carry file keeps besides the keys and rows."""
        return {"digest": self.digest, "drops": dict(self.drops), "lost": self.lost}


def input_digest(name: str, prints: Prints) -> str:
    """A digest of the records global task `name` reads; "" when there is none."""
    import orjson

    kinds = GLOBAL_KINDS.get(name)
    if kinds is None:
        return ""
    digest = hashlib.sha1(name.encode())
    for kind in kinds:
        if kind in PER_FILE_KINDS:
            items = sorted((n, p) for n, p in prints.run_prints.items() if n.startswith(f"{kind}\0"))
            if any(not p for _, p in items):
                return ""
            digest.update(orjson.dumps(items))
        else:
            part = content_print(prints.of_kind(kind))
            if not part:
                return ""
            digest.update(part.encode())
    return digest.hexdigest()


#: Tasks that read only the public definitions, and of the others only whether they call a public
#: definition's name or share its qualified name (facts and grounded: `tasks_facts.fact_symbols`).
INERT = frozenset({"facts", "grounded"})


def inert_change(run: Any) -> bool:
    """Whether the symbols changed since the last build leave `INERT` tasks as they were: none of them
    (old or new version) is public, calls or bears a public definition's name, or has its qualified name."""
    if run.old is None:
        return False
    moved = run.changed_symbols()
    if not moved:
        return True
    if any(entry[3] for entry in moved):
        return False
    names: set[str] = set()
    qualnames: set[str] = set()
    for path_names in run.path_names().values():
        names.update(path_names[2])
        qualnames.update(path_names[3])
    return all(names.isdisjoint(entry[2]) and qualnames.isdisjoint(entry[1]) for entry in moved)


def global_rows(run: Any, name: str, store: ExampleStore, index: Callable[[], Any]) -> GlobalRows:
    """Add global task `name`'s outcomes to `store` for `run` (`carry._Run`; `index()` gives the records
    index the task reads); its part of the store."""
    old: GlobalRows | None = run.old.globals.get(name) if run.old is not None else None
    out = GlobalRows(digest=input_digest(name, run.prints))
    pending = [0, 0]  # old rows being carried

    def flush() -> None:
        if pending[1] > pending[0]:
            store.add_rows(run.old.cols, pending[0], pending[1])
        pending[:] = [0, 0]

    def carry_row(key: bytes, row: int) -> None:
        if row != pending[1]:
            flush()
            pending[:] = [row, row]
        out.keys += key
        out.rows.append(len(store) + pending[1] - pending[0])
        pending[1] += 1

    if old is not None and (out.digest and old.digest == out.digest or (name in INERT and inert_change(run))):
        for n, row in enumerate(old.rows):
            carry_row(bytes(old.keys[n * KEY : (n + 1) * KEY]), row)
        flush()
        out.drops, out.lost = Counter(old.drops), old.lost
        run.ctx.dropped.update(out.drops)
        for _, reason in old.lost:
            store.dropped[reason] += 1
        run.carried_lost.extend(i for i, _ in old.lost)
        return out
    known = {bytes(old.keys[n * KEY : (n + 1) * KEY]): row for n, row in enumerate(old.rows)} if old else {}
    setting = run.bounder.setting()
    before = Counter(run.ctx.dropped)
    from ctxeng.dataset.tasks import TASKS

    for chunk in _chunks(TASKS[name](index(), run.ctx), CHUNK):
        misses: list[tuple[Example, bytes]] = []
        for ex in chunk:
            key = example_key(ex, setting).to_bytes(KEY, "little")
            found = known.get(key)
            if found is None:
                misses.append((ex, key))
            else:
                carry_row(key, found)
        flush()
        outcomes = _stream([ex for ex, _ in misses], run.bounder, run.table)
        for (_, key), outcome in zip(misses, outcomes, strict=True):
            at = len(store)
            run.add(store, outcome)
            if len(store) > at:
                out.keys += key
                out.rows.append(at)
            elif isinstance(outcome, Dropped):  # (a repeated id leaves no carry: `carry._Run._check`)
                out.lost.append([outcome.id, outcome.reason])
    out.drops = Counter(run.ctx.dropped)
    out.drops.subtract(before)
    out.drops = +out.drops
    return out
