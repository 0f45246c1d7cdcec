"""Token length bounds: count every example exactly, shorten `Cut` parts at line ends, else drop."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from ctxeng.core.tokens import CountMemo, count_tokens
from ctxeng.dataset.counting import pieces
from ctxeng.dataset.example import MESSAGE_OVERHEAD, Cut, Example, Part

MAX_ATTEMPTS = 3  # shortening rounds before an example is dropped as too long
MIN_KEPT_TOKENS = 8  # a cut that would keep less than this drops the example instead
# Before counting, a cuttable part keeps at most this many characters per token of the bound. Real
# text averages 2.5-4 (sqlalchemy: diffs p99 3.8, docs p99 4.6), so this rarely cuts more than the
# bound would, and it spares tokenizing 30 kB diffs whole.
CHARS_PER_TOKEN_CAP = 6
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
    known: dict[str, int] = field(default_factory=dict)  # token counts of unchanged messages

    def rendered(self) -> Example:
        """The example with the kept pieces (and a cut marker) in place of its `Cut` part."""
        if self.cut is None or self.keep == len(self.parts):
            return self.example
        new: list[Part] = list(getattr(self.example, self.side))
        new[self.index] = _marked(self.cut.text, self.parts, self.keep, self.cut.keep)
        if self.side == "user":
            return replace(self.example, user=new)
        return replace(self.example, answer=new)

    def window(self) -> tuple[str, ...]:
        """The kept pieces, in order from the kept end."""
        kept = (
            self.parts[: self.keep]
            if self.cut and self.cut.keep == "head"
            else self.parts[len(self.parts) - self.keep :][::-1]
        )
        return tuple(kept)


def apply_bounds(
    examples: list[Example], system: str, min_tokens: int, max_tokens: int, dropped: Counter[str],
    outcomes: dict[str, str] | None = None, memo: CountMemo | None = None,
) -> tuple[list[Bounded], int]:  # fmt: skip
    """Keep examples whose system + user + answer tokens (plus template overhead) lie in the bounds.

    Longer examples with a `Cut` part are shortened at line boundaries (the cut is marked), others
    are dropped; drops are counted in `dropped` by reason, and given per example id in `outcomes`
    when it is passed. Returns (kept, number shortened). Each example is bounded on its own, so calls
    on parts of a list give what one call on it gives; such calls may share `memo`.
    """
    if outcomes is None:
        outcomes = {}
    memo = (
        CountMemo() if memo is None else memo
    )  # rounds recount the kept lines of a shortened text; tasks share context lines
    fixed = memo.count_many([system])[0] + 3 * MESSAGE_OVERHEAD
    pending = [_candidate(e, max_tokens * CHARS_PER_TOKEN_CAP) for e in examples]
    for cand in pending:
        if cand.cut is not None and cand.keep == 0:
            _drop(dropped, outcomes, cand.example, "too_long")  # its first line alone is over the cap
    pending = [c for c in pending if c.cut is None or c.keep > 0]
    kept: list[Bounded] = []
    shortened = 0
    for attempt in range(MAX_ATTEMPTS + 1):
        if not pending:
            break
        rendered = [c.rendered() for c in pending]
        texts = [{"user": e.user_text(), "answer": e.answer_text()} for e in rendered]
        need = [
            (i, side) for i, c in enumerate(pending) for side in ("user", "answer") if side not in c.known
        ]
        counts = [dict(c.known) for c in pending]
        for (i, side), n in zip(need, memo.count_many(texts[i][side] for i, side in need)):
            counts[i][side] = n
        too_long: list[tuple[_Candidate, int, int]] = []
        for i, (cand, ex) in enumerate(zip(pending, rendered)):
            total = fixed + counts[i]["user"] + counts[i]["answer"]
            cand.known = {
                side: n for side, n in counts[i].items() if side != cand.side
            }  # only the cut side changes
            if total < min_tokens:
                _drop(dropped, outcomes, ex, "too_short")
            elif total <= max_tokens:
                kept.append(Bounded(ex, texts[i]["user"], texts[i]["answer"], total))
                shortened += ex is not cand.example
            elif attempt < MAX_ATTEMPTS and cand.cut is not None:
                too_long.append((cand, total, counts[i][cand.side]))
            else:
                _drop(dropped, outcomes, ex, "too_long")
        pending = _shorten(too_long, max_tokens, attempt, dropped, memo, outcomes)
    return kept, shortened


def _drop(dropped: Counter[str], outcomes: dict[str, str], ex: Example, reason: str) -> None:
    dropped[reason] += 1
    outcomes[ex.id] = reason


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
    items: list[tuple[_Candidate, int, int]],
    max_tokens: int,
    attempt: int,
    dropped: Counter[str],
    memo: CountMemo,
    outcomes: dict[str, str],
) -> list[_Candidate]:
    """Keep fewer pieces of each candidate's `Cut` part so that it fits `max_tokens`.

    `items` are (candidate, total tokens, tokens of the message holding the cut). The kept part's
    tokens are that message's less the rest of it (the rest is short: one batch for all), and it
    is cut in proportion to its characters; the next round recounts the result exactly, so an
    estimate that falls short only costs another round, with a wider margin.
    """
    rests = []
    for cand, _, _ in items:
        assert cand.cut is not None
        if len(cand.parts) == 1:
            cand.parts = tuple(pieces(cand.cut.text))
            cand.keep = len(cand.parts)
        others: list[Part] = list(getattr(cand.example, cand.side))
        others[cand.index] = ""
        rests.append("".join(p.text if isinstance(p, Cut) else p for p in others))
    rest_tokens = memo.count_many(rests)
    margin = max(4, max_tokens // 100) * (attempt + 1)
    out: list[_Candidate] = []
    for (cand, total, side_tokens), rest in zip(items, rest_tokens):
        window = cand.window()
        shown = max(side_tokens - rest, 1)  # the kept pieces (and a marker, if cut before)
        budget = max_tokens - (total - shown) - margin - MARKER_TOKENS
        chars = sum(len(p) for p in window)
        keep = _fit([len(p) for p in window], budget * chars // shown) if budget > 0 else 0
        if budget < MIN_KEPT_TOKENS or keep == 0:
            _drop(dropped, outcomes, cand.example, "too_long")
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
    return count_tokens(system) + count_tokens(user) + count_tokens(answer) + 3 * MESSAGE_OVERHEAD
