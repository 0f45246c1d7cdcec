"""Fitting a section's blocks under its token allowance: in display order, or chosen by rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ctxeng.pack.budget import fit_prefix, prefix_sums

# Candidates beyond `limit` × this many characters cannot fit (a token is rarely longer than a dozen
# characters; prose and code run 3-5), so they are never token-counted: sqlalchemy has ~1,800 doc sections to choose from.
MAX_CHARS_PER_TOKEN = 8


def affordable(texts: Sequence[str], limit: int) -> int:
    """How many leading `texts` could possibly fit in `limit` tokens."""
    budget, total = limit * MAX_CHARS_PER_TOKEN, 0
    for k, text in enumerate(texts):
        total += len(text)
        if total > budget:
            return k + 1  # one past the bound, so the fit can still tell "the next one does not fit"
    return len(texts)


def fit_blocks(head: str, blocks: Sequence[str], limit: int, tail: str = "") -> str:
    """`head` + the longest prefix of `blocks` (+ `tail`) with at most `limit` tokens."""
    blocks = blocks[: affordable(blocks, limit)]
    sums = prefix_sums([head + tail, *blocks])

    def render(k: int) -> str:
        return head + "".join(blocks[:k]) + tail

    return fit_prefix(render, len(blocks), limit, lambda k: sums[k + 1])[0]


def fit_ranked(head: str, ranked: Sequence[tuple[tuple[Any, ...], str]], limit: int, tail: str = "") -> str:
    """Like `fit_blocks`, but `ranked` (sort key, text) is in rank order and shown sorted by key.

    The best items are taken first; what is shown keeps a reading order (e.g. by path).
    """
    ranked = ranked[: affordable([text for _, text in ranked], limit)]
    sums = prefix_sums([head + tail, *(text for _, text in ranked)])

    def render(k: int) -> str:
        chosen = sorted(ranked[:k], key=lambda kt: kt[0])
        return head + "".join(text for _, text in chosen) + tail

    return fit_prefix(render, len(ranked), limit, lambda k: sums[k + 1])[0]


def grouped(
    head: str,
    ranked: Sequence[tuple[str, tuple[Any, ...], str]],
    limit: int,
    headings: dict[str, str],
    by_rank: bool = False,
) -> str:
    """Items (group, sort key, text) in rank order, shown under their group's heading, groups sorted
    (by name, or with `by_rank` by their best item, so the most relevant group comes first).

    A group's heading is paid for by the first of its items that gets in.
    """
    ranked = ranked[: affordable([text for _, _, text in ranked], limit)]
    pieces, seen = [], set()
    for group, _, text in ranked:
        extra = "" if group in seen else headings.get(group, "")
        seen.add(group)
        pieces.append(extra + text)
    sums = prefix_sums([head, *pieces])

    def render(k: int) -> str:
        groups: dict[str, list[tuple[tuple[Any, ...], str]]] = {}
        for group, key, text in ranked[:k]:
            groups.setdefault(group, []).append((key, text))
        out = [head]
        for group in groups if by_rank else sorted(groups):  # dicts keep first-seen (= rank) order
            out.append(headings.get(group, ""))
            out.extend(text for _, text in sorted(groups[group], key=lambda kt: kt[0]))
        return "".join(out)

    return fit_prefix(render, len(ranked), limit, lambda k: sums[k + 1])[0]
