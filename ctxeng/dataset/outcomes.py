"""Examples in their finished form: kept (the row's JSON, its dating and split digests) or dropped.

An `Outcome` is all the later steps need of an example, and small enough to cache and to hold a
million of: a kept example carries its row as JSON bytes without the two values the split decides
(`commit`, `time`; every other key is fixed by the example), its token count, and 16-byte digests
of its (user, answer) pair (`split.dedupe`) and of its normalised answer (`split.remove_leaks`).
`Bounder` turns examples into outcomes (`bounds.apply_bounds`, then the row), `encode`/`decode`
turn a list of outcomes into one cache payload and back.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from ctxeng.core.fsio import dumps_json_bytes
from ctxeng.core.tokens import CountMemo
from ctxeng.dataset.bounds import Bounded, apply_bounds
from ctxeng.dataset.example import Example
from ctxeng.dataset.split import normalise

DIGEST = 16


class Kept(NamedTuple):
    """An example within the bounds, as its row will be written."""

    id: str
    task: str
    source: str
    commit: str  # the example's own dating; the row gets its source's newest (`store.Split`)
    time: int
    tokens: int
    shortened: bool
    pair: bytes  # digest of (user, answer)
    answer: bytes  # digest of the normalised answer
    fragment: bytes  # the row's JSON without its braces and its "commit" and "time" keys


class Dropped(NamedTuple):
    """An example the bounds dropped, and why."""

    id: str
    reason: str


Outcome = Kept | Dropped


def digest(*texts: str) -> bytes:
    """A 16-byte digest of `texts` that tells different sequences apart (each is length-prefixed)."""
    h = hashlib.blake2b(digest_size=DIGEST)
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.digest()


def finish(b: Bounded, system: str, shortened: bool) -> Kept:
    """The outcome of a bounded example."""
    ex = b.example
    row = {
        "completion": [{"role": "assistant", "content": b.answer}],
        "id": ex.id,
        "meta": dict(sorted(ex.meta.items())),
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": b.user}],
        "source": ex.source,
        "task": ex.task,
    }
    # Sorted keys: "commit" sorts before and "time" after every key here, so the written row is
    # b'{"commit":…,' + fragment + b',"time":…}', byte for byte what encoding the whole row gives.
    fragment = dumps_json_bytes(row)[1:-1]
    pair, answer = digest(b.user, b.answer), digest(normalise(b.answer))
    return Kept(ex.id, ex.task, ex.source, ex.commit, ex.time, b.tokens, shortened, pair, answer, fragment)


class Bounder:
    """`apply_bounds` for batches of examples, giving outcomes in input order (one memo shared)."""

    def __init__(self, system: str, min_tokens: int, max_tokens: int) -> None:
        self.system, self.min_tokens, self.max_tokens = system, min_tokens, max_tokens
        self.memo = CountMemo()  # shared by every batch, as one `apply_bounds` call over all examples would

    def setting(self) -> str:
        """What an outcome depends on besides its example."""
        return f"{self.system}\x1f{self.min_tokens}\x1f{self.max_tokens}"

    def bound(self, examples: Sequence[Example]) -> list[Outcome | None]:
        """The outcome of each example; None for a repeat of an id earlier in `examples` (a duplicate)."""
        seen: set[str] = set()
        todo = []
        for ex in examples:
            if ex.id not in seen:
                seen.add(ex.id)
                todo.append(ex)
        if not todo:  # nothing to bound: `apply_bounds` would still load the tokenizer (~0.15 s)
            return [None] * len(examples)
        reasons: dict[str, str] = {}
        kept, _ = apply_bounds(
            todo, self.system, self.min_tokens, self.max_tokens, Counter(), reasons, self.memo
        )
        by_id = {b.example.id: b for b in kept}
        out: list[Outcome | None] = []
        seen.clear()
        for ex in examples:
            if ex.id in seen:
                out.append(None)
                continue
            seen.add(ex.id)
            b = by_id.get(ex.id)
            out.append(
                Dropped(ex.id, reasons[ex.id]) if b is None else finish(b, self.system, b.example is not ex)
            )
        return out


def encode(outcomes: Sequence[Outcome], drops: dict[str, int]) -> bytes | None:
    """One payload for `outcomes` and the task's drop counts; None when they cannot be encoded."""
    import orjson

    heads: list[Any] = []
    fragments = []
    for o in outcomes:
        if isinstance(o, Kept):
            heads.append([o.id, o.task, o.source, o.commit, o.time, o.tokens, o.shortened, o.pair.hex(),
                          o.answer.hex(), len(o.fragment)])  # fmt: skip
            fragments.append(o.fragment)
        else:
            heads.append([o.id, o.reason])
    try:
        head = orjson.dumps([drops, heads])  # escapes every newline: the first one ends the head
    except TypeError:  # e.g. a lone surrogate: simply recomputed next time
        return None
    return head + b"\n" + b"".join(fragments)


def decode(payload: bytes) -> tuple[list[Outcome], dict[str, int]] | None:
    """The outcomes and drop counts of an `encode` payload; None when it is not one."""
    import orjson

    end = payload.find(b"\n")
    try:
        drops, heads = orjson.loads(payload[:end])
    except (ValueError, TypeError):
        return None
    out: list[Outcome] = []
    at = end + 1
    for h in heads:
        if len(h) == 2:
            out.append(Dropped(h[0], h[1]))
            continue
        length = h[9]
        out.append(Kept(h[0], h[1], h[2], h[3], h[4], h[5], h[6], bytes.fromhex(h[7]), bytes.fromhex(h[8]),
                        payload[at : at + length]))  # fmt: skip
        at += length
    if at != len(payload):
        return None
    return out, drops
