"""Personalised PageRank in pure Python (no numpy/networkx on the paths people wait on)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import mul


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
    # Each node pulls from its in-edges: sources ascending, in `edges` order for one source, which is
    # the order in which pushing along each source's out-edges adds to a node, and the sums run in C
    # (`sum` over `map`) rather than one bytecode step per edge. Up to Python 3.11 these are the very
    # float additions pushing made; 3.12's `sum` compensates rounding (scores a few ulps apart from
    # 3.11's, the same on every run).
    sources: list[list[int]] = [[] for _ in range(n)]
    shares: list[list[float]] = [[] for _ in range(n)]
    for s, t, w in sorted(edges, key=_source):
        if out_weight[s] > 0:
            sources[t].append(s)
            shares[t].append(w / out_weight[s])
    dangling = [i for i in range(n) if out_weight[i] <= 0]
    d = damping
    rank = list(p)
    for _ in range(iterations):
        leak = d * sum(rank[i] for i in dangling)
        flow = [d * r for r in rank]
        new = [
            sum(map(mul, map(flow.__getitem__, srcs), ws), (1.0 - d + leak) * pi)
            for pi, srcs, ws in zip(p, sources, shares)
        ]
        delta = sum(abs(a - b) for a, b in zip(new, rank))
        rank = new
        if delta < tolerance:
            break
    return rank


def _source(edge: tuple[int, int, float]) -> int:
    return edge[0]
