"""Task outputs remembered across builds for the tasks whose examples depend on a few records only.

A commit's examples (commit_instruction, commit_message) come from its own record; a file's
(file_contents, module_overview, symbol_body) from the file and symbol records of its path; a
qualified name's (symbol_lookup) from the definitions of that name; a called name's (callers)
from the definitions of that name and the symbols calling it. For
those tasks the records are grouped (by record, by path), each group is digested, and a group
whose digest was seen before gives back the examples and drop counts it gave then (from
`<out_dir>/cache/dataset/tasks.json`, salted with the dataset code). New groups are run through
the task alone, on an index of just their records, which gives what the whole index gives for
them (callers, whose run on a group also speaks of other names, keeps the group's own). The
other tasks (cochange, doc_qa, glossary) always run on the whole index.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from ctxeng.core.cache import CacheTable
from ctxeng.core.records import Record, sort_key
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import Cut, Example, Part
from ctxeng.dataset.index import RecordIndex, qualname
from ctxeng.dataset.tasks import TASKS

CACHE_FILE = "cache/dataset/tasks.json"


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


#: Task name -> the groups a record belongs to for it (none: the task never reads the record).
LOCAL_TASKS: dict[str, Callable[[Record], tuple[str, ...]]] = {
    "commit_instruction": _commit_group,
    "commit_message": _commit_group,
    "file_contents": _path_group,
    "module_overview": _path_group,
    "symbol_body": _path_group,
    "symbol_lookup": _qualname_group,  # one example per qualified name, from its definitions only
    "callers": _name_groups,
}
#: Tasks whose run on a group also yields examples about other groups: only these are kept.
#: (Such a task must drop nothing: its drops could not be told apart by group.)
GROUP_FILTERS: dict[str, Callable[[Example, str], bool]] = {"callers": _about_name}
#: Groups that cannot give an example, left out before digesting (callers: a name nothing defines).
GROUP_USEFUL: dict[str, Callable[[str, list[Record]], bool]] = {
    "callers": lambda key, members: any(rec.name == key for rec in members),
}


@functools.lru_cache(maxsize=1)
def tasks_salt() -> str:
    """A digest of the dataset package and the record code (what decides a task's examples)."""
    digest = hashlib.sha1()
    files = [f for f in resources.files("ctxeng.dataset").iterdir() if f.name.endswith(".py")]
    files.append(resources.files("ctxeng.core") / "records.py")
    for entry in sorted(files, key=lambda f: f.name):
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


def _part_out(part: Part) -> Any:
    return [part.text, part.keep] if isinstance(part, Cut) else part


def _part_in(data: Any) -> Part:
    return Cut(data[0], data[1]) if isinstance(data, list) else data


def _example_out(ex: Example) -> list[Any]:
    return [ex.task, ex.source, ex.variant, ex.commit, ex.time, [_part_out(p) for p in ex.user],
            [_part_out(p) for p in ex.answer], ex.meta]  # fmt: skip


def _example_in(row: list[Any]) -> Example:
    task, source, variant, commit, time, user, answer, meta = row
    return Example(
        task, source, variant, commit, time, [_part_in(p) for p in user], [_part_in(p) for p in answer], meta
    )


#: The record kinds the other tasks read: their index holds only these (sorting and indexing every
#: record costs ~0.5 s on sqlalchemy). A task missing here gets the whole index.
GLOBAL_KINDS: dict[str, tuple[str, ...]] = {
    "cochange": ("cochange",),
    "doc_qa": ("doc",),
    "glossary": ("glossary",),
}


def run_tasks_cached(
    records: list[Record], ctx: TaskContext, names: list[str], out_dir: Path | None
) -> list[Example]:
    """All examples of the named tasks, like `run_tasks`, reusing cached groups (see the module docstring).

    Examples come task by task (local tasks group by group, in group order); nothing downstream
    depends on the order within a task.
    """
    if out_dir is None:
        whole = RecordIndex.build(records)
        return [ex for name in names for ex in TASKS[name](whole, ctx)]
    others = [n for n in names if n not in LOCAL_TASKS]
    if all(n in GLOBAL_KINDS for n in others):
        kinds = {kind for n in others for kind in GLOBAL_KINDS[n]}
        index = RecordIndex.build([rec for rec in records if rec.kind in kinds])
    else:
        index = RecordIndex.build(records)
    table = CacheTable(out_dir / CACHE_FILE, tasks_salt())
    used: set[str] = set()
    groups = _groups(records, [n for n in names if n in LOCAL_TASKS])
    out: list[Example] = []
    for name in names:
        if name not in LOCAL_TASKS:
            out.extend(TASKS[name](index, ctx))
            continue
        setting = f"{name}\x1f{ctx.repo_name}\x1f{ctx.seed}\x1f"
        keep = GROUP_FILTERS.get(name)
        for key, (members, digest) in sorted(groups[name].items(), key=lambda item: item[0]):
            entry_key = ""
            if digest:
                entry_key = hashlib.sha1(
                    f"{setting}{key}\x1f{digest}".encode("utf-8", "surrogatepass")
                ).hexdigest()
            entry = table.entries.get(entry_key) if entry_key else None
            if entry is None:
                local = TaskContext(repo_name=ctx.repo_name, seed=ctx.seed)
                examples = TASKS[name](RecordIndex.build(members), local)
                if keep is not None:
                    examples = [ex for ex in examples if keep(ex, key)]
                entry = [[_example_out(ex) for ex in examples], dict(local.dropped)]
                if entry_key:
                    table.put(entry_key, entry)
            else:
                examples = [_example_in(row) for row in entry[0]]
            if entry_key:
                used.add(entry_key)
            out.extend(examples)
            ctx.dropped.update(entry[1])
    table.save(used)
    return out


def _groups(records: list[Record], names: list[str]) -> dict[str, dict[str, tuple[list[Record], str | None]]]:
    """Per local task: group key -> (its records in sort order, their digest)."""
    ordered = sorted(records, key=sort_key)
    digests: dict[int, bytes | None] = {}
    by_rule: dict[Callable[[Record], tuple[str, ...]], dict[str, list[Record]]] = {}
    for rule in {LOCAL_TASKS[n] for n in names}:
        grouped: dict[str, list[Record]] = defaultdict(list)
        for rec in ordered:
            for key in rule(rec):
                grouped[key].append(rec)
        by_rule[rule] = grouped
    out: dict[str, dict[str, tuple[list[Record], str | None]]] = {}
    done: dict[tuple[Callable[[Record], tuple[str, ...]], str], str | None] = {}  # tasks sharing a rule
    for name in names:
        rule, useful = LOCAL_TASKS[name], GROUP_USEFUL.get(name)
        out[name] = {}
        for key, members in by_rule[rule].items():
            if useful is None or useful(key, members):
                if (rule, key) not in done:
                    done[(rule, key)] = group_digest(members, digests)
                out[name][key] = (members, done[(rule, key)])
    return out
