"""Knowledge tasks: short fact rows in several phrasings and both directions, and grounded rows.

`facts`: for the definitions users ask about most (public, outside tests, called from many
places, recently changed; at most `MAX_FACT_SYMBOLS`), each fact in `PHRASINGS` training
phrasings chosen deterministically per row — name → file and line, place → name, name →
signature, method → class, class → methods. Answers are one or two lines, so a time-bounded CPU
run sees each fact many times.

`grounded`: the question with a retrieved-context block in the layout `ctxeng context` prints
(the right definition among hard distractors: the same name in another class or file, names
sharing a word) → an answer that cites path and line. Rows are ordered as retrieval ranks (the
named definition first) except one in `SHUFFLED_EVERY`; one in `NO_ANSWER_EVERY` holds
distractors only, so the model also learns to fall back on what it memorised when retrieval
misses (RAFT, knowledge.md).

Questions use `dataset.templates` training phrasings only; the evaluation phrasings are reserved.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from itertools import chain, islice

from ctxeng.core.record_store import keep
from ctxeng.core.records import Record
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import Example, fence, first_sentence, make_meta
from ctxeng.dataset.index import CALLABLE_KINDS, RecordIndex, dating, is_public, is_test_path, qualname
from ctxeng.dataset.tasks_code import article, language, signature
from ctxeng.dataset.templates import (
    DEFINED_AT,
    DEFINED_AT_ANSWERS,
    DEFINED_IN,
    DEFINED_IN_ANSWERS,
    MEMBER_OF,
    MEMBERS,
    PATH_ONLY,
    SIGNATURE,
    grounded_user,
)
from ctxeng.pack.defline import definition_line

MAX_FACT_SYMBOLS = 400  # definitions given fact rows (a 30-minute CPU budget covers a few passes)
PHRASINGS = 3  # rows per "where is X defined" fact, each in another training phrasing
DISTRACTORS = 4  # other definitions around the right one in a grounded row
SAME_FILE = 1  # of which at most this many from the right definition's own file
TWINS = 2  # of which first up to this many with the same name in another class or file (hard ones)
GROUNDED_ROWS = 2  # grounded rows per definition (another phrasing, distractor set and order each)
DOC_CHARS = 80  # docstring excerpt per definition line: short rows, more of them per minute
NO_ANSWER_EVERY = 8  # one grounded row in this many has no right definition in its context
SHUFFLED_EVERY = 3  # one grounded row in this many shows its definitions in a shuffled order
MAX_MEMBERS = 12


def _rank(*key: str) -> int:
    """A stable pseudo-random number for `key` (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha1("\x1f".join(key).encode("utf-8", "backslashreplace")).digest()
    return int.from_bytes(digest[:8], "big")


def _choose(options: tuple[str, ...], count: int, seed: int, *key: str) -> list[str]:
    """`count` distinct options, chosen by a seeded hash of `key` (fixed across runs)."""
    order = sorted(range(len(options)), key=lambda i: (_rank(str(seed), *key, str(i)), i))
    return [options[i] for i in order[:count]]


def fact_symbols(index: RecordIndex, limit: int = MAX_FACT_SYMBOLS) -> list[Record]:
    """The definitions worth fact rows, most asked-about first: public, unique name, not in tests,
    ranked by how many definitions call them, then top-level before members, then newest.

    Remembered on the index (facts and grounded both ask; it reads every symbol).
    """
    memo = index.memo.get(("fact_symbols", limit))
    if memo is None:
        memo = index.memo[("fact_symbols", limit)] = _fact_symbols(index, limit)
    return list(memo)


def _fact_symbols(index: RecordIndex, limit: int) -> list[Record]:
    # Non-public definitions count only here, through `called` and `names`: `carry_global.inert_change`
    # carries facts and grounded over changes that cannot reach these (keep the two in step).
    symbols = index.kind("symbol")
    # Each definition counts once per name it calls (Counter counts in C: ~60 ms less on sqlalchemy).
    called: Counter[str] = Counter(
        chain.from_iterable({*map(str, calls)} for rec in symbols if (calls := rec.meta.get("calls")))
    )
    names: Counter[str] = Counter(map(qualname, symbols))
    chosen = (
        r
        for r in public_symbols(index)
        if not is_test_path(r.path) and names[qualname(r)] == 1 and r.start_line > 0
    )
    # `sorted(chosen, key)[:limit]` holding only `limit` of them (a huge repository's are read back from disk).
    return heapq.nsmallest(
        limit, chosen, key=lambda r: (_kind_rank(r), -called[r.name], -r.time, qualname(r), r.id)
    )


def public_symbols(index: RecordIndex) -> Sequence[Record]:
    """The index's public symbols in sort order (remembered on the index: three tasks' passes ask;
    a view of them when the records are spilled: `core.record_store.keep`)."""
    found: Sequence[Record] | None = index.memo.get("public_symbols")
    if found is None:
        found = index.memo["public_symbols"] = keep(index.kind("symbol"), is_public)
    return found


def _kind_rank(rec: Record) -> int:
    """0 for top-level classes and functions, 1 for methods, 2 for fields, constants and the rest."""
    kind = str(rec.meta.get("kind") or "")
    if kind in ("class", "interface", "struct", "type", "enum", "trait") or kind in CALLABLE_KINDS:
        return 1 if rec.meta.get("parent") else 0
    return 2


def _kind(rec: Record) -> str:
    kind = str(rec.meta.get("kind") or "definition")
    parent = str(rec.meta.get("parent") or "")
    return f"{article(kind)} {kind} of `{parent}`" if parent else f"{article(kind)} {kind}"


def _fill(template: str, rec: Record, repo: str) -> str:
    return template.format(name=qualname(rec), path=rec.path, line=rec.start_line, kind=_kind(rec), repo=repo)


def facts(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """Short fact rows about the most asked-about definitions (see the module docstring)."""
    out: list[Example] = []
    # The first `MAX_MEMBERS` public members' names of each class: not their records (every public
    # method's, ~1 KB each: ~100 MB at 100,000 files; issue 12).
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rec in public_symbols(index):
        if rec.meta.get("parent"):
            listed = members[(rec.path, str(rec.meta["parent"]))]
            if len(listed) < MAX_MEMBERS:
                listed.append(rec.name)
    for rec in fact_symbols(index):
        name, (commit, time) = qualname(rec), dating(rec)
        meta = make_meta(path=rec.path, symbol=name, answer_path=rec.path, expected=rec.path)

        def add(
            variant: str,
            question: str,
            answer: str,
            rec: Record = rec,
            meta: dict[str, str] = meta,
            dated: tuple[str, int] = (commit, time),
        ) -> None:
            out.append(Example("facts", rec.id, variant, *dated, [question], [answer], meta))

        questions = _choose(DEFINED_IN, PHRASINGS, ctx.seed, "defined_in", rec.id)
        # Answers do not depend on the seed (questions do): a seed varies phrasing, not what is taught.
        answers = _choose(DEFINED_IN_ANSWERS, PHRASINGS, 0, "defined_in_answer", rec.id)
        for k, (question, answer) in enumerate(zip(questions, answers)):
            add(f"defined_in:{k}", _fill(question, rec, ctx.repo_name), _fill(answer, rec, ctx.repo_name))
        at_q = _choose(DEFINED_AT, 1, ctx.seed, "defined_at", rec.id)[0]
        at_a = _choose(DEFINED_AT_ANSWERS, 1, 0, "defined_at_answer", rec.id)[0]
        add("defined_at", _fill(at_q, rec, ctx.repo_name), _fill(at_a, rec, ctx.repo_name))
        sig_q = _choose(SIGNATURE, 1, ctx.seed, "signature", rec.id)[0]
        add(
            "signature",
            _fill(sig_q, rec, ctx.repo_name),
            f"In `{rec.path}`:\n\n" + fence(signature(rec), language(rec)),
        )
        parent = str(rec.meta.get("parent") or "")
        if parent:
            q = _choose(MEMBER_OF, 1, ctx.seed, "member_of", rec.id)[0]
            add(
                "member_of",
                _fill(q, rec, ctx.repo_name),
                f"`{name}` belongs to the class `{parent}` in `{rec.path}`.",
            )
        elif rec.meta.get("kind") == "class" and members.get((rec.path, rec.name)):
            listed = members[(rec.path, rec.name)]
            q = _choose(MEMBERS, 1, ctx.seed, "members", rec.id)[0]
            names = ", ".join(f"`{m}`" for m in listed)
            add("members", _fill(q, rec, ctx.repo_name), f"`{name}` (in `{rec.path}`) has: {names}.")
    return out


def render_definitions(repo: str, recs: list[Record]) -> str:
    """A context block laid out as `ctxeng context` prints its Definitions section (`pack.defline`)."""
    lines = [
        definition_line(r.path, r.start_line, qualname(r), signature(r).rstrip(":{ ").strip(),
                        first_sentence(str(r.meta.get("doc") or ""), limit=DOC_CHARS))
        for r in recs
    ]  # fmt: skip
    return f"# Context from ctxeng for this prompt ({repo})\n\n## Definitions\n\n" + "".join(lines)


def _words(name: str) -> set[str]:
    return {w for w in name.lower().replace(".", "_").split("_") if len(w) > 2}


def _distractors(
    rec: Record,
    pool: _Pool,
    by_word: dict[str, list[int]],
    seed: int,
    variant: int,
    twins: Sequence[int] = (),
) -> list[Record]:
    """Definitions retrieval would show beside `rec`: first its twins (the same name in another class
    or file, `TWINS` at most: `api.put` beside `Session.put`, `SessionRedirectMixin.cookies` beside
    `Session.cookies`, the neighbours a model copies by mistake), then those sharing a word with its
    name (at most `SAME_FILE` from its own file), then a seeded fill; each `variant` draws another set."""
    ids, paths = pool.ids, pool.paths
    words = _words(qualname(rec))
    overlap: Counter[int] = Counter()
    for word in sorted(words):
        for i in by_word.get(word, [])[:200]:  # bounded: a common word must not make this quadratic
            overlap[i] += 1
    twin_rows = sorted(
        (i for i in twins if ids[i] != rec.id),
        key=lambda i: (_rank(str(seed), "twin", str(variant), rec.id, ids[i]), i),
    )[:TWINS]
    # Then by (-overlap, seeded rank), ranked a level of overlap at a time (only the levels reached);
    # a later variant skips the best word match: another, still plausible, set.
    by_words = islice(_by_overlap(overlap, ids, rec, seed, variant, set(twin_rows)), variant, None)
    chosen: list[int] = []
    same = 0
    for i in chain(twin_rows, by_words):
        if len(chosen) >= DISTRACTORS:
            break
        if paths[i] == rec.path:
            if same >= SAME_FILE:
                continue
            same += 1
        chosen.append(i)
    start = _rank(str(seed), "fill", str(variant), rec.id) % len(ids)
    for k in range(len(ids)):  # fill from a seeded starting point: found whenever enough exist
        if len(chosen) >= DISTRACTORS:
            break
        i = (start + k) % len(ids)
        if paths[i] != rec.path and i not in chosen:
            chosen.append(i)
    return [pool.records[i] for i in chosen]


class _Pool:
    """The grounded rows' definitions, with their ids and paths at hand (a spilled store's records are
    read back from disk on each access: only the chosen are)."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self.ids: list[str] = []
        self.paths: list[str] = []
        self.by_word: dict[str, list[int]] = defaultdict(list)
        self.by_name: dict[str, list[int]] = defaultdict(list)  # twins: the same name elsewhere
        for i, r in enumerate(records):
            self.ids.append(r.id)
            self.paths.append(r.path)
            self.by_name[r.name].append(i)
            for word in _words(qualname(r)):
                self.by_word[word].append(i)


def _by_overlap(
    overlap: Counter[int], ids: list[str], rec: Record, seed: int, variant: int, skip: set[int]
) -> Iterator[int]:
    """The candidates other than `rec` and `skip` by overlap, most first, each level in seeded rank order
    (as one sort by (-overlap, rank) orders them, ties kept in `overlap`'s order)."""
    levels: dict[int, list[int]] = defaultdict(list)
    for i in overlap:
        if ids[i] != rec.id and i not in skip:
            levels[overlap[i]].append(i)
    # `_rank(str(seed), str(variant), rec.id, other.id)`, its common prefix hashed once.
    prefix = hashlib.sha1(
        "\x1f".join((str(seed), str(variant), rec.id, "")).encode("utf-8", "backslashreplace")
    )

    def rank(i: int) -> int:
        digest = prefix.copy()
        digest.update(ids[i].encode("utf-8", "backslashreplace"))
        return int.from_bytes(digest.digest()[:8], "big")

    for level in sorted(levels, reverse=True):
        yield from sorted(levels[level], key=rank)


def grounded(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """Question + retrieved-style context (the answer among distractors) → an answer that copies the
    `path:line` shown next to the name. `GROUNDED_ROWS` rows per definition (other phrasing,
    distractors and order); every other row asks for the path only (as the eval's grounded questions
    do) and is answered with just the path."""
    pool = _Pool(keep(public_symbols(index), lambda r: r.start_line > 0))
    by_word, by_name = pool.by_word, pool.by_name
    out: list[Example] = []
    for rec in fact_symbols(index):
        name, (commit, time) = qualname(rec), dating(rec)
        questions = _choose(DEFINED_IN, GROUNDED_ROWS, ctx.seed, "grounded", rec.id)
        for variant, template in enumerate(questions):
            twins = by_name.get(rec.name, [])[:50]  # bounded: `__init__` has hundreds
            distractors = _distractors(rec, pool, by_word, ctx.seed, variant, twins)
            if len(distractors) < DISTRACTORS:
                ctx.drop("grounded:too_few_distractors")
                break
            # Whether the answer is missing does not depend on the seed: a seed varies phrasing only.
            missing = _rank("grounded_missing", str(variant), rec.id) % NO_ANSWER_EVERY == 0
            # Laid out as retrieval ranks it: the definition the question names first, its twins and
            # word-neighbours after (`pack.name_match`); one row in `SHUFFLED_EVERY` shuffled, so the
            # model matches names rather than copying the first line.
            shuffled = missing or _rank("grounded_shuffled", str(variant), rec.id) % SHUFFLED_EVERY == 0
            shown = distractors if missing else [rec, *distractors]
            if shuffled:
                shown.sort(key=lambda r: _rank(str(ctx.seed), "grounded_order", str(variant), rec.id, r.id))
            path_only = (_rank("grounded_path_only", rec.id) + variant) % 2 == 0
            question = _fill(template, rec, ctx.repo_name) + (f" {PATH_ONLY}" if path_only else "")
            user = grounded_user(render_definitions(ctx.repo_name, shown), question)
            where = f"`{rec.path}:{rec.start_line}`"
            if missing:
                answer = f"{where} (the context does not show `{name}`; this is from memory)."
            elif path_only:
                answer = where
            else:
                answer = f"{where} defines `{name}` (see the context above)."
            meta = make_meta(path=rec.path, symbol=name, answer_path=rec.path, expected=rec.path)
            out.append(Example("grounded", rec.id, f"v{variant}", commit, time, [user], [answer], meta))
    return out
