"""Example outcomes remembered across builds, and for local tasks whole groups of them.

A commit's examples (commit_instruction, commit_message) come from its own record; a file's
(file_contents, module_overview, symbol_body) from the file and symbol records of its path; a
qualified name's (symbol_lookup) from the definitions of that name; a called name's (callers)
from the definitions of that name and the symbols calling it. For those local tasks the records
are grouped (by record, by path, by name), each group is digested, and a group whose digest was
seen before gives back the finished outcomes (`outcomes.Outcome`: bounded, rendered as its row)
and drop counts it gave then, without running the task or the bounds. New groups are run through
the task alone, on an index of just their records, which gives what the whole index gives for
them (callers, whose run on a group also speaks of other names, keeps the group's own). The
other tasks (cochange, doc_qa, glossary, facts, grounded) run on the whole index, and each of
their examples' outcomes is cached by a digest of the example. The cache is a `BlobTable` under
`<out_dir>/cache/dataset/`, salted with the dataset code, the token counter and the row encoder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctxeng.core.record_store import RecordsView
from ctxeng.core.records import Record
from ctxeng.dataset.blobtable import BlobTable, blob_key
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import Cut, Example
from ctxeng.dataset.index import SORT_KEY, RecordIndex, qualname
from ctxeng.dataset.outcomes import Bounder, Outcome, decode, encode
from ctxeng.dataset.tasks import TASKS

if TYPE_CHECKING:
    from ctxeng.dataset.record_groups import ViewGroups

CACHE_FILE = "cache/dataset/outcomes"  # BlobTable: outcomes.idx, outcomes-*.dat
#: Earlier builds' dataset caches, removed when met.
OLD_FILES = ("cache/dataset/tasks.json", "cache/dataset/bounds.json")
CHUNK = 2_048  # examples bounded at once: enough to batch the token counts, little to hold


def _commit_group(rec: Record) -> tuple[str, ...]:
    # Commits outside the patch window (no diff) give no example and no drop: left out.
    return (rec.id,) if rec.kind == "commit" and rec.meta.get("diff") else ()


def _path_group(rec: Record) -> tuple[str, ...]:
    return (rec.path,) if rec.kind in ("file", "symbol") else ()


def _qualname_group(rec: Record) -> tuple[str, ...]:
    return (qualname(rec),) if rec.kind == "symbol" else ()


def _name_groups(rec: Record) -> tuple[str, ...]:
    # callers: the examples about `name` come from the definitions named so and the symbols calling it.
    if rec.kind != "symbol":
        return ()
    return tuple(sorted({rec.name, *(str(c) for c in rec.meta.get("calls") or [])}))


def _about_name(ex: Example, key: str) -> bool:
    return ex.variant.partition(":")[2] == key  # a callers variant is "<language>:<name>"


Rule = Callable[[Record], tuple[str, ...]]
#: A local task's group as it comes out: its key, its outcomes (None: a repeated id), its drop counts.
Group = tuple[str, list[Outcome | None], dict[str, int]]
#: Task name -> the groups a record belongs to for it (none: the task never reads the record).
LOCAL_TASKS: dict[str, Rule] = {
    "commit_instruction": _commit_group,
    "commit_message": _commit_group,
    "file_contents": _path_group,
    "module_overview": _path_group,
    "symbol_body": _path_group,
    "symbol_lookup": _qualname_group,  # one example per qualified name, from its definitions only
    "callers": _name_groups,
}
#: The record kinds each rule can put in a group (the others are not looked at).
RULE_KINDS: dict[Rule, tuple[str, ...]] = {
    _commit_group: ("commit",),
    _path_group: ("file", "symbol"),
    _qualname_group: ("symbol",),
    _name_groups: ("symbol",),
}
#: Tasks whose run on a group also yields examples about other groups: only these are kept.
#: (Such a task must drop nothing: its drops could not be told apart by group.)
GROUP_FILTERS: dict[str, Callable[[Example, str], bool]] = {"callers": _about_name}


def _callers_group(members: list[Record], ctx: TaskContext, key: str) -> list[Example]:
    # What `callers` reads of the whole index, for `key`: the symbols (sorted), those named `key`.
    from ctxeng.dataset.tasks_code import callers

    named = [rec for rec in members if rec.name == key]
    return callers(RecordIndex(by_kind={"symbol": members}, symbols_named={key: named}), ctx, only=key)


#: Tasks run on a group (its records in sort order) for just the group's key: the same examples.
GROUP_RUNNERS: dict[str, Callable[[list[Record], TaskContext, str], list[Example]]] = {
    "callers": _callers_group
}
#: Groups that cannot give an example, left out before digesting (callers: a name nothing defines).
GROUP_USEFUL: dict[str, Callable[[str, list[Record]], bool]] = {
    "callers": lambda key, members: any(rec.name == key for rec in members),
}


@functools.lru_cache(maxsize=1)
def tasks_salt() -> str:
    """A digest of what decides an outcome: the dataset package, the record code, the token counter
    and its tokenizer, the row encoder."""
    digest = hashlib.sha1()
    files = [f for f in resources.files("ctxeng.dataset").iterdir() if f.name.endswith(".py")]
    core = resources.files("ctxeng.core")
    files += [core / "records.py", core / "tokens.py", core / "fsio.py"]
    files.append(resources.files("ctxeng.data") / "smollm2.tiktoken")
    for entry in sorted(files, key=lambda f: str(f)):
        digest.update(entry.name.encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()


def _dumps() -> Callable[[Any], bytes]:
    import orjson

    return functools.partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)


def record_digest(rec: Record) -> bytes | None:
    """A digest of one record's content; None when it cannot be encoded (e.g. a lone surrogate)."""
    try:
        return hashlib.sha1(_dumps()(rec.to_json())).digest()
    except TypeError:
        return None


def group_digest(records: list[Record], digests: dict[int, bytes | None]) -> str | None:
    """A digest of `records` (in sort order); None when one cannot be encoded.

    `digests` remembers record digests by `id()` (the records outlive it), for records in many groups.
    """
    parts = []
    for rec in records:
        one = digests.get(id(rec), b"")
        if one == b"":
            one = digests[id(rec)] = record_digest(rec)
        if one is None:
            return None  # the group is simply run
        parts.append(one)
    return hashlib.sha1(b"".join(parts)).hexdigest()


#: The record kinds the other tasks read, through `index.kind` only: their index holds only these, without
#: the derived views (sorting and indexing every
#: record costs ~0.5 s on sqlalchemy). A task missing here gets the whole index.
GLOBAL_KINDS: dict[str, tuple[str, ...]] = {
    "facts": ("symbol",),
    "grounded": ("symbol",),
    "cochange": ("cochange",),
    "doc_qa": ("doc",),
    "glossary": ("glossary",),
}


def iter_outcomes(
    records: Sequence[Record], ctx: TaskContext, names: list[str], out_dir: Path | None, bounder: Bounder
) -> Iterator[Outcome | None]:
    """The outcome of every example of the named tasks, task by task (see the module docstring).

    With `out_dir`, outcomes an earlier build cached are reused; a local task's groups come in group
    order. Only a chunk of examples is held at a time. None stands for an example whose id repeats
    an earlier one's.
    """
    if out_dir is None:
        whole = RecordIndex.build(records)
        for name in names:
            yield from _stream(TASKS[name](whole, ctx), bounder, None)
        return
    for old in OLD_FILES:  # the caches before outcomes were cached whole (tens of MB)
        with contextlib.suppress(OSError):
            (out_dir / old).unlink()
    others = [n for n in names if n not in LOCAL_TASKS]
    index: RecordIndex | None = None
    table = BlobTable(out_dir / CACHE_FILE, tasks_salt())
    try:
        from ctxeng.dataset.record_groups import ViewGroups  # it builds on this module

        local = [n for n in names if n in LOCAL_TASKS]
        groups: _Groups | ViewGroups
        groups = ViewGroups(records) if isinstance(records, RecordsView) else _Groups(records, local)
        for name in names:
            if name in LOCAL_TASKS:
                for _, outcomes, _ in _local(name, groups.of(name), ctx, bounder, table):
                    yield from outcomes
                continue
            if index is None:  # built once the local tasks' groups are freed
                if all(n in GLOBAL_KINDS for n in others):
                    kinds = {kind for n in others for kind in GLOBAL_KINDS[n]}
                    if isinstance(records, RecordsView):  # spilled: read back as the tasks iterate
                        index = RecordIndex(by_kind={kind: records.of_kind(kind) for kind in sorted(kinds)})
                    else:
                        index = RecordIndex.build([rec for rec in records if rec.kind in kinds], views=False)
                else:
                    index = RecordIndex.build(records)
            yield from _stream(TASKS[name](index, ctx), bounder, table)
        table.save()
    finally:
        table.close()


def example_key(ex: Example, setting: str) -> int:
    """A cache key for everything an example's outcome depends on (its parts, cuttable ones marked)."""
    parts: list[str] = ["example", setting, ex.task, ex.source, ex.variant, ex.commit, str(ex.time)]
    for key in sorted(ex.meta):
        parts += (key, ex.meta[key])
    for side in (ex.user, ex.answer):
        parts.append("\x1d")
        for part in side:
            parts += (f"c{part.keep}", part.text) if isinstance(part, Cut) else ("s", part)
    return blob_key(*parts)


def _stream(
    examples: Iterable[Example], bounder: Bounder, table: BlobTable | None
) -> Iterator[Outcome | None]:
    """Outcomes of `examples` in order, a chunk at a time, each cached by `example_key`."""
    setting = bounder.setting()
    for chunk in _chunks(examples, CHUNK):
        keys = [example_key(ex, setting) for ex in chunk] if table is not None else []
        known: list[list[Outcome] | None] = [None] * len(chunk)
        if table is not None:
            for n, key in enumerate(keys):
                payload = table.get(key)
                decoded = decode(payload) if payload is not None else None
                known[n] = decoded[0] if decoded is not None and len(decoded[0]) == 1 else None
        fresh = iter(bounder.bound([ex for ex, k in zip(chunk, known) if k is None]))
        for n, cached in enumerate(known):
            if cached is not None:
                yield cached[0]
                continue
            outcome = next(fresh)
            if table is not None and outcome is not None:
                payload = encode([outcome], {})
                if payload is not None:
                    table.put(keys[n], payload)
            yield outcome


def _chunks(items: Iterable[Example], size: int) -> Iterator[list[Example]]:
    chunk: list[Example] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Pending:
    """A group in the queue: its cached outcomes, or its fresh examples and drops to bound and cache."""

    group: str
    key: int | None
    outcomes: list[Outcome] | None = None
    examples: list[Example] = field(default_factory=list)
    drops: dict[str, int] = field(default_factory=dict)


def _local(
    name: str,
    groups: Iterable[tuple[str, list[Record], str | None]],
    ctx: TaskContext,
    bounder: Bounder,
    table: BlobTable | None,
) -> Iterator[Group]:
    """A local task's groups in key order, each with its outcomes and drop counts (`Group`); fresh groups
    are bounded a chunk at a time. A group without a digest (or without `table`) is run, not cached."""
    # The key digests the setting, then the group key and digest (a fixed 40 hex digits at the end, so
    # the two cannot run into each other); the setting's part is hashed once.
    prefix = hashlib.sha1(
        blob_key("group", bounder.setting(), name, ctx.repo_name, str(ctx.seed)).to_bytes(12)
    )
    keep = GROUP_FILTERS.get(name)
    queue: list[_Pending] = []
    fresh = 0
    for key, members, digest in groups:
        entry_key = None
        if digest:
            h = prefix.copy()
            h.update(f"{key}{digest}".encode("utf-8", "surrogatepass"))
            entry_key = int.from_bytes(h.digest()[:12], "little")
        payload = table.get(entry_key) if entry_key is not None and table is not None else None
        decoded = decode(payload) if payload is not None else None
        if decoded is not None and entry_key is not None:
            if decoded[1]:
                ctx.dropped.update(decoded[1])
            if queue:
                queue.append(_Pending(key, None, decoded[0], drops=decoded[1]))
            else:
                yield key, list(decoded[0]), decoded[1]
            continue
        local = TaskContext(repo_name=ctx.repo_name, seed=ctx.seed)
        runner = GROUP_RUNNERS.get(name)
        examples = runner(members, local, key) if runner else TASKS[name](RecordIndex.build(members), local)
        if keep is not None:
            examples = [ex for ex in examples if keep(ex, key)]
        if local.dropped:
            ctx.dropped.update(local.dropped)
        queue.append(_Pending(key, entry_key, None, examples, dict(local.dropped)))
        fresh += len(examples)
        if fresh >= CHUNK:
            yield from _flush(queue, bounder, table)
            queue, fresh = [], 0
    yield from _flush(queue, bounder, table)


def _flush(queue: list[_Pending], bounder: Bounder, table: BlobTable | None) -> Iterator[Group]:
    """Bound the queue's fresh examples together, cache each fresh group's outcomes, yield all in order."""
    results = bounder.bound([ex for item in queue if item.outcomes is None for ex in item.examples])
    at = 0
    for item in queue:
        if item.outcomes is not None:
            yield item.group, list(item.outcomes), item.drops
            continue
        mine = results[at : at + len(item.examples)]
        at += len(item.examples)
        if item.key is not None and table is not None and all(o is not None for o in mine):
            payload = encode([o for o in mine if o is not None], item.drops)
            if payload is not None:
                table.put(item.key, payload)
        yield item.group, mine, item.drops


class _Groups:
    """The local tasks' groups, made per rule when a task first asks and freed after the last asks."""

    def __init__(self, records: Sequence[Record], names: list[str]) -> None:
        kinds = {kind for n in names for kind in RULE_KINDS[LOCAL_TASKS[n]]}
        self.ordered = sorted((r for r in records if r.kind in kinds), key=SORT_KEY)
        self.record_digests: dict[int, bytes | None] = {}  # by id(): a symbol is in several rules' groups
        self.left = Counter(LOCAL_TASKS[n] for n in names)
        self.made: dict[Rule, tuple[dict[str, list[Record]], dict[str, str | None]]] = {}

    def of(self, name: str) -> list[tuple[str, list[Record], str | None]]:
        """(group key, its records in sort order, their digest) in key order, for the groups that can
        give examples."""
        rule, useful = LOCAL_TASKS[name], GROUP_USEFUL.get(name)
        if rule not in self.made:
            grouped: dict[str, list[Record]] = defaultdict(list)
            kinds = RULE_KINDS[rule]
            for rec in self.ordered if len(kinds) > 1 else [r for r in self.ordered if r.kind in kinds]:
                for key in rule(rec):
                    grouped[key].append(rec)
            self.made[rule] = (grouped, {})
        grouped, digests = self.made[rule]
        out = {}
        for key, members in grouped.items():
            if useful is None or useful(key, members):
                if key not in digests:
                    digests[key] = group_digest(members, self.record_digests)
                out[key] = (members, digests[key])
        self.left[rule] -= 1
        if not self.left[rule]:
            del self.made[rule]
        if not +self.left:
            self.ordered, self.record_digests = [], {}
        return [(key, *out[key]) for key in sorted(out)]
