"""The last build's examples carried forward: only the groups whose records changed are run again.

`dataset.task_cache` finds changed groups by digesting every record (~60 MB on sqlalchemy) and
reads every group's outcomes back from its cache. Here the last build's store is kept whole
(`cache/dataset/carry.idx`: the rows' columns, and per local task its groups in key order with
their row counts and drop counts; the rows' JSON fragments stay in `carry-*.dat`, appended to and
compacted when mostly dead), with a fingerprint of every run of records it read
(`dataset.prints`). The next build compares fingerprints: a local task's group is *dirty* when one
of its records' runs changed (a path's group: its file or symbol run; a commit's: its record; a
qualified or called name's: a changed symbol run that holds it now or held it then, which each
path's remembered names say). Dirty groups are rebuilt from their records and run; every other
group's rows are copied as they are, columns and all, in key order. The global tasks (cochange,
doc_qa, glossary, facts, grounded) are carried whole when the records they read are unchanged, and
example by example otherwise (`dataset.carry_global`). The store is what a fresh run fills, up to the
numbering of sources and commits, which nothing written depends on; ids must be unique (they were
in the last build and are checked again), or the build is redone without the carry.
"""

from __future__ import annotations

import contextlib
import functools
import os
import zlib
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ctxeng.core.records import Record
from ctxeng.dataset.carry_file import Segments, State, load, open_data, save
from ctxeng.dataset.carry_global import GlobalRows, global_rows
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.index import SORT_KEY, is_public, qualname
from ctxeng.dataset.outcomes import Bounder, Dropped, Outcome
from ctxeng.dataset.prints import Prints, RecordKeys, take_prints
from ctxeng.dataset.store import ExampleStore
from ctxeng.dataset.task_cache import (
    GLOBAL_KINDS,
    GROUP_USEFUL,
    LOCAL_TASKS,
    Group,
    _commit_group,
    _Groups,
    _local,
    _name_groups,
    _path_group,
    _qualname_group,
    record_digest,
    tasks_salt,
)

CARRY_FILE = "cache/dataset/carry"  # carry.idx, carry-*.dat
_NAME_RULES = (_qualname_group, _name_groups)  # groups by names a path holds: remembered per path


class Repeated(Exception):
    """An example id came twice: the carried store cannot stand for a fresh run's."""


def salt_for(names: list[str], ctx: TaskContext, bounder: Bounder) -> str:
    """What the carried rows depend on besides the records."""
    return "\x1f".join((tasks_salt(), bounder.setting(), ",".join(names), ctx.repo_name, str(ctx.seed)))


def build_store(
    records: list[Record], keys: RecordKeys, ctx: TaskContext, names: list[str], out_dir: Path,
    bounder: Bounder, table: Any,
) -> ExampleStore:  # fmt: skip
    """Every example's outcome in a store (`done` called), carrying what the last build in `out_dir` made
    for unchanged groups, and the carry saved for the next build."""
    prints = take_prints(records, keys)
    salt = salt_for(names, ctx, bounder)
    old = load(out_dir / CARRY_FILE, salt)
    if old is not None:
        start = Counter(ctx.dropped)
        try:
            return _Run(records, prints, old, ctx, names, out_dir, bounder, table).store(salt)
        except Repeated:
            ctx.dropped = start
    return _Run(records, prints, None, ctx, names, out_dir, bounder, table).store(salt)


class _Run:
    """One build's pass: tasks in order, local ones merged from carried and rebuilt groups."""

    def __init__(
        self, records: list[Record], prints: Prints, old: State | None, ctx: TaskContext,
        names: list[str], out_dir: Path, bounder: Bounder, table: Any,
    ) -> None:  # fmt: skip
        self.records, self.prints, self.old, self.ctx = records, prints, old, ctx
        self.names, self.out_dir, self.bounder, self.table = names, out_dir, bounder, table
        self.base = out_dir / CARRY_FILE
        self.segments: dict[str, Segments] = {}
        self.globals: dict[str, GlobalRows] = {}
        self.task_rows: dict[str, int] = {}
        self.drop_table = list(old.drop_table) if old else [""]
        self._drop_no = {text: n for n, text in enumerate(self.drop_table)}
        self.carried_lost: list[str] = []  # ids of the dropped outcomes carried
        self.fresh_kept = 0
        self.contrib, self.record_names = self._contrib()
        self._decoded: dict[str, list[list[str]]] | None = None
        self._moved: list[list[Any]] | None = None

    def store(self, salt: str) -> ExampleStore:
        old = self.old
        if old is not None:
            data, file, end = old.data, open_data(self.base.parent / old.data), old.end
        else:
            self.base.parent.mkdir(parents=True, exist_ok=True)
            data = f"{self.base.name}-{os.getpid()}-{os.urandom(4).hex()}.dat"
            file, end = open_data(self.base.parent / data, create=True), 0
        store = ExampleStore(self.names, fragments=(file, end))
        store.data_name = data
        try:
            if old is not None:
                store.adopt(old.sources, old.commits)
            groups: _Groups | None = None
            indexes: dict[Any, Any] = {}
            for name in self.names:
                if name in LOCAL_TASKS:
                    if old is None or name not in old.tasks:
                        if groups is None:
                            groups = _Groups(self.records, [n for n in self.names if n in LOCAL_TASKS])
                        fresh, dirty = (
                            _local(name, groups.of(name), self.ctx, self.bounder, self.table),
                            set(),
                        )
                    else:
                        dirty = self._dirty(name)
                        fresh = _local(name, self._members(name, dirty), self.ctx, self.bounder, None)
                    self.task_rows[name] = len(store)
                    self._merge(name, store, fresh, dirty)
                    continue
                self.globals[name] = global_rows(
                    self, name, store, functools.partial(self._index, name, indexes)
                )
            self._check(store)
            store.done()
            if not store.dropped.get("duplicate_id"):  # a carry stands only for a store without repeats
                save(self.base, salt, data, file.fileno(), store, self)
        except BaseException:
            store.close()
            if old is None:
                with contextlib.suppress(OSError):
                    (self.base.parent / data).unlink()
            raise
        return store

    def _index(self, name: str, made: dict[Any, Any]) -> Any:
        """The index global task `name` reads, built when first asked (only its kinds, without views, when
        that is all it needs; tasks reading the same kinds share one, and what it remembers)."""
        from ctxeng.dataset.index import RecordIndex

        kinds = GLOBAL_KINDS.get(name)
        if kinds not in made:
            records = self.records if kinds is None else [r for k in kinds for r in self.prints.of_kind(k)]
            made[kinds] = RecordIndex.build(records, views=kinds is None)
        return made[kinds]

    def add(self, store: ExampleStore, outcome: Outcome | None) -> None:
        """Add a fresh outcome to `store`."""
        before = len(store)
        store.add(outcome)
        self.fresh_kept += len(store) - before

    def _merge(self, name: str, store: ExampleStore, fresh: Iterator[Group], dirty: set[str]) -> None:
        """The task's groups in key order: carried ones copied (skipping dirty ones), fresh ones added."""
        old = self.old.tasks.get(name) if self.old else None
        new = self.segments[name] = Segments()
        if old is None:
            old = Segments()
        starts, first = old.starts(), self.old.task_rows.get(name, 0) if self.old else 0
        skip = sorted(
            i for d in dirty if (i := bisect_left(old.keys, d)) < len(old.keys) and old.keys[i] == d
        )
        carried = Counter(old.drops)  # the task's drops less those of the groups run again
        for i in skip:
            if old.drop_no[i]:
                carried.subtract(drops_of(self.drop_table[old.drop_no[i]]))
        fresh_drops: Counter[str] = Counter()
        at_skip = 0

        def carry(a: int, b: int) -> None:
            nonlocal at_skip
            while a < b:
                while at_skip < len(skip) and skip[at_skip] < a:
                    at_skip += 1
                stop = min(b, skip[at_skip]) if at_skip < len(skip) else b
                if stop > a:
                    assert self.old is not None
                    store.add_rows(self.old.cols, first + starts[a], first + starts[stop])
                    new.keys.extend(old.keys[a:stop])
                    new.counts.extend(old.counts[a:stop])
                    new.drop_no.extend(old.drop_no[a:stop])
                a = stop + 1 if stop < b else b

        pos = 0
        for key, outcomes, group_drops in fresh:
            at = bisect_left(old.keys, key, pos)
            carry(pos, at)
            pos = at + 1 if at < len(old.keys) and old.keys[at] == key else at
            before = len(store)
            lost = []
            for outcome in outcomes:
                self.add(store, outcome)
                if isinstance(outcome, Dropped):
                    lost.append([outcome.id, outcome.reason])
            new.keys.append(key)
            new.counts.append(len(store) - before)
            new.drop_no.append(self._number(group_drops))
            if lost:
                new.dropped[key] = lost
            fresh_drops.update(group_drops)
        carry(pos, len(old.keys))
        for key, lost in old.dropped.items():
            if key not in dirty:
                new.dropped[key] = lost
                for _, reason in lost:
                    store.dropped[reason] += 1
                self.carried_lost.extend(i for i, _ in lost)
        carried = +carried
        self.ctx.dropped.update(carried)  # `_local` counted the fresh groups' drops
        new.drops = carried + fresh_drops

    def _number(self, drops: dict[str, int]) -> int:
        if not drops:
            return 0
        import orjson

        text = orjson.dumps(dict(sorted(drops.items()))).decode()
        no = self._drop_no.get(text)
        if no is None:
            no = self._drop_no[text] = len(self.drop_table)
            self.drop_table.append(text)
        return no

    def _check(self, store: ExampleStore) -> None:
        """Raise `Repeated` when an id came twice (only a fresh run numbers those as the store must)."""
        if self.old is None:
            return
        if store.dropped.get("duplicate_id"):
            raise Repeated
        ids = store.ids
        seen = {bytes(ids[i : i + 10]) for i in range(0, len(ids), 10)}
        fresh = store._seen  # noqa: SLF001  # the fresh outcomes' ids, dropped ones too
        dropped = {bytes.fromhex(i) for i in self.carried_lost}
        expect = len(store) + (len(fresh) - self.fresh_kept) + len(self.carried_lost)
        if len(seen | fresh | dropped) != expect:
            raise Repeated

    # -- which groups changed ---------------------------------------------------------------------

    def _contrib(self) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """Each symbol path's names per name rule, and per record its digest and names (JSON); both
        reused for unchanged runs."""
        import orjson

        old = self.old
        names, per_record = {}, {}
        for name, run in self.prints.runs.items():
            if not name.startswith("symbol\0"):
                continue
            path = name[7:]
            if (
                old is not None
                and path in old.contrib
                and path in old.record_names
                and old.run_prints.get(name) == self.prints.run_prints[name] != ""
            ):
                names[path], per_record[path] = old.contrib[path], old.record_names[path]
                continue
            entries: list[list[Any]] = []  # per record: digest, qualified name, name and calls, public
            for rec in run:
                digest = record_digest(rec)
                entries.append([digest.hex()[:24] if digest else "", list(_qualname_group(rec)),
                                list(_name_groups(rec)), int(is_public(rec))])  # fmt: skip
            public = [rec for rec in run if is_public(rec)]
            summary: list[list[str]] = [sorted({k for e in entries for k in e[n]}) for n in (1, 2)]
            summary += [sorted({r.name for r in public}), sorted({qualname(r) for r in public})]
            names[path] = orjson.dumps(summary)
            per_record[path] = zlib.compress(orjson.dumps(entries), 1)  # read back only if it changes
        return names, per_record

    def path_names(self) -> dict[str, list[list[str]]]:
        """Each symbol path's names per name rule, and its public definitions' names and qualified names,
        decoded (once)."""
        if self._decoded is None:
            import orjson

            self._decoded = {path: orjson.loads(blob) for path, blob in self.contrib.items()}
        return self._decoded

    def _changed(self, kinds: tuple[str, ...]) -> set[str]:
        """Paths whose run of one of `kinds` changed, appeared or went."""
        assert self.old is not None
        old, new = self.old.run_prints, self.prints.run_prints
        return {
            name.partition("\0")[2]
            for name in old.keys() | new.keys()
            if name.partition("\0")[0] in kinds and (old.get(name) != new.get(name) or not new.get(name))
        }

    def _dirty(self, name: str) -> set[str]:
        assert self.old is not None
        rule = LOCAL_TASKS[name]
        if rule is _path_group:
            return self._changed(("file", "symbol"))
        if rule is _commit_group:
            old, new = self.old.commit_prints, self.prints.commit_prints
            return {c for c in old.keys() | new.keys() if old.get(c) != new.get(c) or not new.get(c)}

        at = 1 + _NAME_RULES.index(rule)
        out: set[str] = set()
        for entry in self.changed_symbols():  # only records that changed change the groups they are in
            out.update(entry[at])
        return out

    def changed_symbols(self) -> list[list[Any]]:
        """The entries (`_contrib`) of the symbol records that changed by content digest since the last
        build: the old versions gone and the new ones come."""
        assert self.old is not None
        if self._moved is None:
            import orjson

            self._moved = []
            for path in self._changed(("symbol",)):
                before, after = (
                    orjson.loads(zlib.decompress(blob)) if (blob := table.get(path)) else []
                    for table in (self.old.record_names, self.record_names)
                )
                gone = Counter(e[0] for e in before if e[0]) - Counter(e[0] for e in after if e[0])
                came = Counter(e[0] for e in after if e[0]) - Counter(e[0] for e in before if e[0])
                for entries, moved in ((before, gone), (after, came)):
                    self._moved += [entry for entry in entries if not entry[0] or entry[0] in moved]
        return self._moved

    def _members(self, name: str, dirty: set[str]) -> list[tuple[str, list[Record], str | None]]:
        """The dirty groups that exist now, in key order: (key, records in sort order, no digest)."""
        rule, useful = LOCAL_TASKS[name], GROUP_USEFUL.get(name)
        grouped: dict[str, list[Record]] = defaultdict(list)
        if not dirty:
            return []
        runs = self.prints.runs
        if rule is _path_group:
            for path in dirty:
                grouped[path] = [*runs.get(f"file\0{path}", ()), *runs.get(f"symbol\0{path}", ())]
        elif rule is _commit_group:
            for cid in dirty:
                rec = self.prints.commits.get(cid)
                if rec is not None and rule(rec):
                    grouped[cid].append(rec)
        else:
            at = _NAME_RULES.index(rule)
            for path, names in self.path_names().items():
                if dirty.isdisjoint(names[at]):
                    continue  # no record of this path is in a dirty group
                for rec in self.prints.runs[f"symbol\0{path}"]:
                    if rule is _qualname_group:
                        hit = str(rec.meta.get("qualname") or rec.name) in dirty
                    else:
                        hit = rec.name in dirty or not dirty.isdisjoint(map(str, rec.meta.get("calls") or ()))
                    if hit:
                        for key in rule(rec):
                            if key in dirty:
                                grouped[key].append(rec)
        out: list[tuple[str, list[Record], str | None]] = []
        for key in sorted(grouped):
            members = grouped[key]
            members.sort(key=SORT_KEY)
            if members and (useful is None or useful(key, members)):
                out.append((key, members, None))
        return out


def drops_of(text: str) -> dict[str, int]:
    """A drop table entry's counts."""
    import orjson

    found: dict[str, int] = orjson.loads(text)
    return found


def _global_task(name: str) -> Any:
    from ctxeng.dataset.tasks import TASKS

    return TASKS[name]
