"""Fitting text under a hard token budget, counted whole with the tokenizer ctxeng ships."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ctxeng.tokens import count_many, count_tokens, truncate_to_tokens

#: The most tokens Claude Code's Read tool returns from one file; no pack file may exceed it.
READ_LIMIT = 25_000


def prefix_sums(texts: Sequence[str]) -> list[int]:
    """Running token totals of `texts` (counted one by one: a fast, nearly additive estimate)."""
    sums, total = [0], 0
    for n in count_many(list(texts)):
        total += n
        sums.append(total)
    return sums


def fit_prefix(render: Callable[[int], str], n: int, limit: int, estimate: Callable[[int], int]) -> tuple[str, int]:
    """The largest k ≤ n whose `render(k)` has at most `limit` tokens, and that text.

    `render(k)` must grow with k; `estimate(k)` is a cheap guess of its size used to start the
    search. The result is always verified by counting the whole text, so the limit is hard.
    """
    if limit <= 0:
        return "", 0
    lo, hi = 0, n
    while lo < hi:  # largest k whose estimate fits
        mid = (lo + hi + 1) // 2
        if estimate(mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    k = lo
    text = render(k)
    used = count_tokens(text)
    while used > limit and k > 0:
        per_item = max(1, estimate(k) // max(k, 1))
        k = max(0, k - max(1, (used - limit) // per_item + 1))
        text = render(k)
        used = count_tokens(text)
    if used > limit:  # even the bare header is too long: cut it
        return truncate_to_tokens(text, limit), 0
    for _ in range(8):  # estimates run a little high at line joins: take what provably still fits
        if k >= n or used + estimate(k + 1) - estimate(k) > limit:
            break
        bigger = render(k + 1)
        bigger_used = count_tokens(bigger)
        if bigger_used > limit:
            break
        k, text, used = k + 1, bigger, bigger_used
    return text, k


def cap(text: str, limit: int) -> str:
    """`text` itself when it fits in `limit` tokens, else its longest fitting prefix (cut at a line end)."""
    return text if count_tokens(text) <= limit else truncate_to_tokens(text, limit)
