"""Token length bounds: count every example exactly, shorten `Cut` parts at line ends, else drop."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from ctxeng.dataset.counting import TokenCounter, pieces
from ctxeng.dataset.example import MESSAGE_OVERHEAD, Cut, Example, Part

MAX_ATTEMPTS = 3  # shortening rounds before an example is dropped as too long
MIN_KEPT_TOKENS = 8  # a cut that would keep less than this drops the example instead
# Before counting, a cuttable part keeps at most this many characters per token of the bound: far
# more than any real text needs (code averages ~4), and it spares tokenizing 30 kB diffs whole.
CHARS_PER_TOKEN_CAP = 8
MARKER_TOKENS = 16  # "[... 1234 more lines cut ...]" with its newlines, rounded up


@dataclass(frozen=True)
class Bounded:
    """An example within the bounds, its rendered messages and its token count."""

    example: Example
    user: str
    answer: str
    tokens: int


@dataclass
class _Candidate:
    """An example and, if it has a `Cut` part, that part's pieces and how many of them are kept."""

    example: Example
    side: str = ""
    index: int = -1
    cut: Cut | None = None
    parts: tuple[str, ...] = ()
    keep: int = 0

    def rendered(self) -> Example:
        if self.cut is None or self.keep == len(self.parts):
            return self.example
        new: list[Part] = list(getattr(self.example, self.side))
        new[self.index] = _marked(self.cut.text, self.parts, self.keep, self.cut.keep)
        return replace(self.example, **{self.side: new})

    def window(self) -> tuple[str, ...]:
        """The kept pieces, in order from the kept end."""
        kept = self.parts[: self.keep] if self.cut and self.cut.keep == "head" else self.parts[len(self.parts) - self.keep :][::-1]
        return tuple(kept)


def apply_bounds(
    examples: list[Example], system: str, min_tokens: int, max_tokens: int, dropped: Counter[str]
) -> tuple[list[Bounded], int]:
    """Keep examples whose system + user + answer tokens (plus template overhead) lie in the bounds.

    Longer examples with a `Cut` part are shortened at line boundaries (the cut is marked), others
    are dropped; drops are counted in `dropped` by reason. Returns (kept, number shortened).
    """
    counter = TokenCounter()
    fixed = counter.count([system])[0] + 3 * MESSAGE_OVERHEAD
    pending = [_candidate(e, max_tokens * CHARS_PER_TOKEN_CAP) for e in examples]
    for cand in pending:
        if cand.cut is not None and cand.keep == 0:
            dropped["too_long"] += 1  # its first line alone is over the cap
    pending = [c for c in pending if c.cut is None or c.keep > 0]
    kept: list[Bounded] = []
    shortened = 0
    for attempt in range(MAX_ATTEMPTS + 1):
        if not pending:
            break
        rendered = [c.rendered() for c in pending]
        users = [e.user_text() for e in rendered]
        answers = [e.answer_text() for e in rendered]
        counts = counter.count(users + answers)
        too_long: list[tuple[_Candidate, int]] = []
        for i, (cand, ex) in enumerate(zip(pending, rendered)):
            total = fixed + counts[i] + counts[len(pending) + i]
            if total < min_tokens:
                dropped["too_short"] += 1
            elif total <= max_tokens:
                kept.append(Bounded(ex, users[i], answers[i], total))
                shortened += ex is not cand.example
            elif attempt < MAX_ATTEMPTS and cand.cut is not None:
                too_long.append((cand, total))
            else:
                dropped["too_long"] += 1
        pending = _shorten(too_long, max_tokens, attempt, counter, dropped)
    return kept, shortened


def _candidate(ex: Example, char_cap: int) -> _Candidate:
    """The example with its `Cut` part (if any) split into pieces, kept up to `char_cap` characters."""
    for side in ("user", "answer"):
        for i, part in enumerate(getattr(ex, side)):
            if isinstance(part, Cut):
                parts = tuple(pieces(part.text)) if len(part.text) > char_cap else (part.text,)
                cand = _Candidate(ex, side, i, part, parts, len(parts))
                if len(part.text) > char_cap:
                    cand.keep = _fit([len(p) for p in cand.window()], char_cap)
                return cand
    return _Candidate(ex)


def _shorten(
    items: list[tuple[_Candidate, int]], max_tokens: int, attempt: int, counter: TokenCounter, dropped: Counter[str]
) -> list[_Candidate]:
    """Keep fewer pieces of each candidate's `Cut` part so that it fits `max_tokens`."""
    # Joined pieces count exactly as their sum; the margin covers the marker's
    # junction and other text, and grows each round for the rare example that still overflows.
    margin = max(4, max_tokens // 100) * (attempt + 1)
    out: list[_Candidate] = []
    for cand, total in items:
        assert cand.cut is not None
        if len(cand.parts) == 1:
            cand.parts = tuple(pieces(cand.cut.text))
            cand.keep = len(cand.parts)
        window = cand.window()
        piece_tokens = counter.count_pieces(list(window))
        shown = sum(piece_tokens)
        budget = max_tokens - (total - shown) - margin - MARKER_TOKENS
        keep = _fit(piece_tokens, budget)
        if budget < MIN_KEPT_TOKENS or keep == 0:
            dropped["too_long"] += 1
            continue
        cand.keep = keep
        out.append(cand)
    return out


def _fit(sizes: list[int], budget: int) -> int:
    """How many leading entries of `sizes` fit in `budget`."""
    used = n = 0
    for size in sizes:
        if used + size > budget:
            break
        used += size
        n += 1
    return n


def _marked(text: str, parts: tuple[str, ...], keep: int, end: str) -> str:
    """The kept pieces with a marker saying how many lines were cut."""
    if end == "head":
        kept = "".join(parts[:keep]).rstrip("\n")
        cut = len(text.splitlines()) - len(kept.splitlines())
        return f"{kept}\n[... {cut} more line{'s' if cut != 1 else ''} cut ...]\n"
    kept = "".join(parts[len(parts) - keep :]).lstrip("\n")
    cut = len(text.splitlines()) - len(kept.splitlines())
    return f"[... {cut} earlier line{'s' if cut != 1 else ''} cut ...]\n{kept}"


def rendered_tokens(user: str, answer: str, system: str) -> int:
    """Token count of one row as `apply_bounds` counts it (for tests and the manifest)."""
    from ctxeng.tokens import count_tokens

    return count_tokens(system) + count_tokens(user) + count_tokens(answer) + 3 * MESSAGE_OVERHEAD
