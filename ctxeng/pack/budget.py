"""Fitting text under a hard token budget, counted whole with the tokenizer ctxeng ships."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from ctxeng.core.tokens import count_many, count_tokens, truncate_to_tokens

#: The most tokens Claude Code's Read tool returns from one file; no pack file may exceed it.
READ_LIMIT = 25_000
#: Tokens that joining a piece to a text can save at the seam (a BPE merge across the boundary).
JOIN_SLACK = 3


@functools.lru_cache(maxsize=256)
def tokens(text: str) -> int:
    """`count_tokens`, remembered: a rendered section is measured by its fit, its file and the pack."""
    return count_tokens(text)


def prefix_sums(texts: Sequence[str]) -> list[int]:
    """Running token totals of `texts` (counted one by one: a fast, nearly additive estimate)."""
    sums, total = [0], 0
    for n in count_many(list(texts)):
        total += n
        sums.append(total)
    return sums


def fit_prefix(
    render: Callable[[int], str], n: int, limit: int, estimate: Callable[[int], int]
) -> tuple[str, int]:
    """The largest k ≤ n whose `render(k)` has at most `limit` tokens, and that text.

    `render(k)` must grow with k; `estimate(k)` is a cheap guess of its size that starts the
    search. Every candidate is verified by counting the whole text, so the limit is hard; with
    a good estimate (prefix sums of per-item counts) this costs two or three counts.
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
    cache: dict[int, tuple[str, int]] = {}

    def measure(k: int) -> tuple[str, int]:
        if k not in cache:
            text = render(k)
            cache[k] = (text, tokens(text))
        return cache[k]

    k = lo
    if measure(k)[1] <= limit:  # fits: gallop upwards while more fits
        if k < n and measure(k)[1] + estimate(k + 1) - estimate(k) - JOIN_SLACK > limit:
            bad = k + 1  # the next item cannot fit even if its joins merged away a few tokens
        else:
            step = 1
            while k + step <= n and measure(k + step)[1] <= limit:
                k += step
                step *= 2
            bad = min(n + 1, k + step)
    else:  # too long: step down in proportion to the excess until something fits
        bad = k
        while k > 0 and measure(k)[1] > limit:
            bad = k
            per_item = max(1, estimate(k) // max(k, 1))
            k = max(0, k - max(1, (measure(k)[1] - limit) // per_item + 1))
    while bad - k > 1:  # k fits, bad does not (or is past the end): bisect between them
        mid = (k + bad) // 2
        if measure(mid)[1] <= limit:
            k = mid
        else:
            bad = mid
    text, used = measure(k)
    if used > limit:  # even the bare header is too long: cut it
        return hard_truncate(text, limit), 0
    return text, k


def hard_truncate(text: str, limit: int) -> str:
    """A prefix of `text` (cut at a line end when possible) that provably has at most `limit` tokens.

    A token prefix re-encoded on its own can come out a token or two longer at the cut, so the result
    is counted again and cut shorter until it fits.
    """
    target = limit
    cut = truncate_to_tokens(text, target)
    while cut and tokens(cut) > limit:
        target -= max(1, tokens(cut) - limit)
        cut = truncate_to_tokens(cut, target) if target > 0 else ""
    return cut


def cap(text: str, limit: int) -> str:
    """`text` itself when it fits in `limit` tokens, else its longest fitting prefix (cut at a line end)."""
    return text if tokens(text) <= limit else hard_truncate(text, limit)
