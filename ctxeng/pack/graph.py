"""Personalised PageRank in pure Python (no numpy/networkx on the paths people wait on)."""

from __future__ import annotations

from collections.abc import Sequence


def pagerank(
    n: int,
    edges: Sequence[tuple[int, int, float]],
    personal: Sequence[float],
    damping: float = 0.85,
    iterations: int = 50,
    tolerance: float = 1e-6,
) -> list[float]:
    """Personalised PageRank over `n` nodes; `edges` are (source, target, weight) in a fixed order.

    Dangling nodes (no out-edges) teleport by `personal`, as networkx does with `dangling=p`.
    Returns scores summing to 1 (all zero when n == 0).
    """
    if n == 0:
        return []
    total_p = sum(personal)
    p = [x / total_p for x in personal] if total_p > 0 else [1.0 / n] * n
    out_weight = [0.0] * n
    for s, _, w in edges:
        out_weight[s] += w
    # Out-edges grouped by source, weights normalised: one pass per iteration touches each edge once.
    out: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for s, t, w in edges:
        if out_weight[s] > 0:
            out[s].append((t, w / out_weight[s]))
    dangling = [i for i in range(n) if out_weight[i] <= 0]
    d = damping
    rank = list(p)
    for _ in range(iterations):
        leak = d * sum(rank[i] for i in dangling)
        new = [(1.0 - d + leak) * pi for pi in p]
        for s in range(n):
            flow = d * rank[s]
            if flow:
                for t, w in out[s]:
                    new[t] += flow * w
        delta = sum(abs(a - b) for a, b in zip(new, rank))
        rank = new
        if delta < tolerance:
            break
    return rank
