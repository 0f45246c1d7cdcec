"""Token length bounds: count every example in batches, shorten `Cut` parts at line ends, else drop."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from ctxeng.dataset.example import MESSAGE_OVERHEAD, Cut, Example, Part
from ctxeng.tokens import count_many, count_tokens

MAX_ATTEMPTS = 3  # shortening rounds before an example is dropped as too long
MIN_KEPT_TOKENS = 8  # a cut that would keep less than this drops the example instead


@dataclass(frozen=True)
class Bounded:
    """An example within the bounds, its rendered messages and its token count."""

    example: Example
    user: str
    answer: str
    tokens: int


def apply_bounds(
    examples: list[Example], system: str, min_tokens: int, max_tokens: int, dropped: Counter[str]
) -> tuple[list[Bounded], int]:
    """Keep examples whose system + user + answer tokens (plus template overhead) lie in the bounds.

    Longer examples with a `Cut` part are shortened at line boundaries (the cut is marked), others
    are dropped; drops are counted in `dropped` by reason. Returns (kept, number shortened).
    """
    fixed = count_tokens(system) + 3 * MESSAGE_OVERHEAD
    pending = examples
    kept: list[Bounded] = []
    shortened = 0
    for attempt in range(MAX_ATTEMPTS + 1):
        if not pending:
            break
        users = [e.user_text() for e in pending]
        answers = [e.answer_text() for e in pending]
        counts = count_many(users + answers)  # one batch: the tokenizer runs it on native threads
        too_long: list[tuple[Example, int]] = []
        for i, ex in enumerate(pending):
            total = fixed + counts[i] + counts[len(pending) + i]
            if total < min_tokens:
                dropped["too_short"] += 1
            elif total <= max_tokens:
                kept.append(Bounded(ex, users[i], answers[i], total))
                shortened += attempt > 0
            elif attempt < MAX_ATTEMPTS and _cut_part(ex) is not None:
                too_long.append((ex, total))
            else:
                dropped["too_long"] += 1
        pending = _shorten(too_long, max_tokens, attempt, dropped)
    return kept, shortened


def _cut_part(ex: Example) -> tuple[str, int, Cut] | None:
    for side in ("user", "answer"):
        for i, part in enumerate(getattr(ex, side)):
            if isinstance(part, Cut):
                return side, i, part
    return None


def _shorten(
    items: list[tuple[Example, int]], max_tokens: int, attempt: int, dropped: Counter[str]
) -> list[Example]:
    """Cut each example's `Cut` part to fit; line token counts come from one batched call."""
    cuts = [_cut_part(ex) for ex, _ in items]
    lines = [c[2].text.splitlines(keepends=True) if c else [] for c in cuts]
    flat = count_many([line for group in lines for line in group])
    # Joined text tokenizes a little differently from its lines; leave a margin that grows per round.
    margin = max(8, max_tokens // 50) * (attempt + 1)
    out: list[Example] = []
    pos = 0
    for (ex, total), cut, group in zip(items, cuts, lines):
        line_tokens, pos = flat[pos : pos + len(group)], pos + len(group)
        assert cut is not None
        side, index, part = cut
        budget = max_tokens - (total - sum(line_tokens)) - margin - 16  # 16: the cut marker
        keep = _fit(line_tokens, budget, part.keep)
        if budget < MIN_KEPT_TOKENS or not keep:
            dropped["too_long"] += 1
            continue
        text = _marked(group, keep, part.keep)
        parts: list[Part] = list(getattr(ex, side))
        parts[index] = text
        out.append(replace(ex, **{side: parts}))
    return out


def _fit(line_tokens: list[int], budget: int, keep: str) -> int:
    """How many lines (from the kept end) fit in `budget` tokens."""
    order = line_tokens if keep == "head" else line_tokens[::-1]
    used = n = 0
    for tokens in order:
        if used + tokens > budget:
            break
        used += tokens
        n += 1
    return n


def _marked(lines: list[str], keep: int, end: str) -> str:
    """The kept lines with a marker saying how many were cut."""
    cut = len(lines) - keep
    if end == "head":
        kept = "".join(lines[:keep])
        return kept + ("" if kept.endswith("\n") else "\n") + f"[… {cut} more line{'s' if cut != 1 else ''} cut …]\n"
    return f"[… {cut} earlier line{'s' if cut != 1 else ''} cut …]\n" + "".join(lines[len(lines) - keep :])


def rendered_tokens(user: str, answer: str, system: str) -> int:
    """Token count of one row as `apply_bounds` counts it (for tests and the manifest)."""
    return count_tokens(system) + count_tokens(user) + count_tokens(answer) + 3 * MESSAGE_OVERHEAD
