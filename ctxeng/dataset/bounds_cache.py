"""`apply_bounds` remembered per example across builds, so a rebuild counts only new examples' tokens.

Bounding one example depends only on its messages (parts, and which part may be cut), the system
message and the bounds, never on other examples; so the outcome is kept by a digest of those
(`BoundsCache`, under `<out_dir>/cache/dataset/`), salted with the code that decides it (bounds,
example rendering, the token counter and its tokenizer file). Exact: a changed example has another
digest and is bounded afresh; the rows do not depend on the order examples are bounded in.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from importlib import resources
from pathlib import Path

from ctxeng.core.cache import CacheTable
from ctxeng.dataset.bounds import Bounded, apply_bounds
from ctxeng.dataset.example import Cut, Example

CACHE_FILE = "cache/dataset/bounds.json"
_SALT_FILES = (
    ("ctxeng.dataset", "bounds.py"), ("ctxeng.dataset", "bounds_cache.py"), ("ctxeng.dataset", "counting.py"),
    ("ctxeng.dataset", "example.py"), ("ctxeng.core", "tokens.py"), ("ctxeng.data", "smollm2.tiktoken"),
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def bounds_salt() -> str:
    """A digest of the code and data that decide a bounding outcome."""
    digest = hashlib.sha1()
    for package, name in _SALT_FILES:
        digest.update(name.encode())
        digest.update((resources.files(package) / name).read_bytes())
    return digest.hexdigest()


def example_digest(ex: Example, setting: bytes) -> str:
    """A digest of what bounding `ex` depends on: its parts in order (cuttable ones marked) and `setting`."""
    digest = hashlib.sha1(setting)
    for side in (ex.user, ex.answer):
        for part in side:
            text = part.text if isinstance(part, Cut) else part
            data = text.encode("utf-8", "surrogatepass")
            mark = f"c{part.keep}" if isinstance(part, Cut) else "s"
            digest.update(f"\x1e{mark}{len(data)}:".encode())
            digest.update(data)
        digest.update(b"\x1d")
    return digest.hexdigest()


def bounded_examples(
    examples: list[Example], system: str, min_tokens: int, max_tokens: int, dropped: Counter[str],
    out_dir: Path | None = None,
) -> tuple[list[Bounded], int]:  # fmt: skip
    """`apply_bounds`, with the outcomes of examples bounded by an earlier build taken from the cache.

    The kept examples come in input order (`apply_bounds` orders by shortening round); nothing
    downstream depends on that order. Examples must have distinct ids.
    """
    if out_dir is None:
        return apply_bounds(examples, system, min_tokens, max_tokens, dropped)
    table = CacheTable(out_dir / CACHE_FILE, bounds_salt())
    setting = f"{system}\x1f{min_tokens}\x1f{max_tokens}".encode("utf-8", "surrogatepass")
    digests = [example_digest(ex, setting) for ex in examples]
    entries = table.entries
    fresh = [ex for ex, key in zip(examples, digests) if key not in entries]
    outcomes: dict[str, str] = {}
    # Nothing new: skip `apply_bounds`, which loads the tokenizer (~0.15 s) even for no examples.
    kept_fresh = apply_bounds(fresh, system, min_tokens, max_tokens, Counter(), outcomes)[0] if fresh else []
    by_id = {b.example.id: b for b in kept_fresh}
    for ex, key in zip(examples, digests):
        if key in entries:
            continue
        done = by_id.get(ex.id)
        if done is None:
            table.put(key, outcomes[ex.id])
        elif done.example is ex:  # not shortened: its messages are its parts joined
            table.put(key, [done.tokens])
        else:
            table.put(key, [done.tokens, done.user, done.answer])
    kept: list[Bounded] = []
    shortened = 0
    for ex, key in zip(examples, digests):
        entry = entries[key]
        if isinstance(entry, str):
            dropped[entry] += 1
        elif len(entry) == 1:
            kept.append(by_id.get(ex.id) or Bounded(ex, ex.user_text(), ex.answer_text(), entry[0]))
        else:
            kept.append(by_id.get(ex.id) or Bounded(ex, entry[1], entry[2], entry[0]))
            shortened += 1
    table.save(set(digests))
    return kept, shortened
