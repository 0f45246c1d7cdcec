"""Memory at 100,000 files (issue 12): the compact example store and the decoding of huge records."""

from __future__ import annotations

import random
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path

from ctxeng.core.record_store import RecordStore, RecordsView
from ctxeng.core.records import Record
from ctxeng.dataset.outcomes import Dropped, Kept, Outcome, digest
from ctxeng.dataset.store import ExampleStore, Split
from ctxeng.dataset.store_compact import CompactStore
from tests.spilled import read_back_traced


def _outcomes(seed: int, n: int) -> list[Outcome | None]:
    """Outcomes with repeated ids (kept after kept, dropped after kept, kept after dropped), shared
    sources and commits, shortened rows and repeated answers."""
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(80):020x}" for _ in range(n // 2)]
    out: list[Outcome | None] = []
    for k in range(n):
        if rng.random() < 0.02:
            out.append(None)
            continue
        oid = rng.choice(ids)
        if rng.random() < 0.2:
            out.append(Dropped(oid, rng.choice(("too_long", "too_short", "symbol_body:body_size"))))
            continue
        source = f"symbol:src/m{rng.randrange(n // 3)}.py:f"
        commit = rng.choice(("", "a" * 40, "b" * 40, "c" * 40))
        answer = f"answer {rng.randrange(n // 4)}"
        fragment = f'"id":"{oid}","k":{k}'.encode()
        out.append(Kept(oid, rng.choice(("facts", "symbol_body", "callers")), source, commit,
                        rng.randrange(1000), rng.randrange(1, 500), rng.random() < 0.1,
                        digest("user", answer), digest(answer), fragment))  # fmt: skip
    return out


def test_compact_store_gives_the_plain_stores_rows_drops_and_split() -> None:
    tasks = ["callers", "facts", "symbol_body"]
    for seed in range(4):
        outcomes = _outcomes(seed, 3_000)
        stores = []
        with tempfile.TemporaryDirectory() as tmp:
            for kind in (ExampleStore, CompactStore):
                store = kind(tasks, Path(tmp))
                for outcome in outcomes:
                    store.add(outcome)
                store.done()
                stores.append(store)
            plain, compact = stores
            assert compact.dropped == plain.dropped and compact.dropped["duplicate_id"] > 0
            assert (len(compact), compact.shortened, compact.sources) == (
                len(plain),
                plain.shortened,
                plain.sources,
            )
            for name in (
                "ids",
                "task_no",
                "commit_no",
                "times",
                "tokens",
                "short",
                "pairs",
                "answers",
                "lengths",
            ):
                assert getattr(compact, name) == getattr(plain, name), name
            # Sources may be numbered otherwise, but group the same rows.
            pairs = set(zip(plain.source_no, compact.source_no, strict=True))
            assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) == plain.sources
            splits = [Split(store, 0.3, Counter(), frozenset({"facts"})) for store in stores]
            for part in ("train", "held"):
                lines = [[split.line(i) for i in getattr(split, part)] for split in splits]
                assert lines[0] == lines[1] and lines[0], part
            for store in stores:
                store.close()


def _huge_record() -> Record:
    symbols = [{"name": f"Name{i}", "path": f"src/p{i // 50}/m{i}.py"} for i in range(40_000)]
    files = [{"path": f"src/p{i // 50}/m{i}.py", "status": "A"} for i in range(0, 40_000, 3)]
    meta = {"diff": "diff --git a/x b/x\n", "diff_truncated": True, "files": files, "symbols": symbols}
    return Record("commit:" + "a" * 40, "commit", "", 0, 0, "a" * 40, 1, "Initial commit", "", meta)


def test_a_huge_spilled_record_is_read_back_without_the_parsers_peak(tmp_path: Path) -> None:
    """A commit touching a whole 100,000-file tree is a ~50 MB line: orjson's peak reading it back
    was ~3.7x its objects (hundreds of MB in the dataset and pack stages)."""
    rec = _huge_record()
    back, _, held, peak = read_back_traced(tmp_path, rec)
    assert back == rec
    assert peak < 1.6 * held, (held, peak)


def test_the_facts_task_keeps_no_member_records(tmp_path: Path) -> None:
    """Class rows list their members' names: the task kept every public member's record for that
    (~1 KB each: ~100 MB at 100,000 files, read back from the spilled store)."""
    from ctxeng.core.records import record_id
    from ctxeng.dataset.context import TaskContext
    from ctxeng.dataset.index import RecordIndex
    from ctxeng.dataset.tasks_facts import facts

    store = RecordStore(tmp_path, limit=0)
    for f in range(500):
        path = f"src/pkg{f // 100}/mod_{f}.py"
        body = f"    def run(self) -> None:\n        return step_{f}()\n" * 40  # ~1.6 KB of text per member
        cls = {
            "kind": "class",
            "qualname": f"Widget{f}",
            "parent": "",
            "calls": [],
            "signature": f"class Widget{f}:",
        }
        store.add(Record(record_id("symbol", path, f"Widget{f}", "0"), "symbol", path, 1, 90, "", 0, f"Widget{f}",
                         body, cls))  # fmt: skip
        for m in range(8):
            name = f"method_{m}_{f}"
            meta = {"kind": "method", "qualname": f"Widget{f}.{name}", "parent": f"Widget{f}", "calls": [],
                    "signature": f"def {name}(self) -> None:"}  # fmt: skip
            store.add(Record(record_id("symbol", path, name, "0"), "symbol", path, 10 * m + 2, 10 * m + 9, "", 0,
                             name, body, meta))  # fmt: skip
    view = store.finish()
    assert isinstance(view, RecordsView)
    index = RecordIndex(by_kind={"symbol": view.of_kind("symbol")})
    tracemalloc.start()
    try:
        examples = facts(index, TaskContext("demo", 0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    listed = [str(ex.answer[0]) for ex in examples if ex.variant == "members"]
    assert listed and all(a.count("`method_") == 8 for a in listed)
    assert peak < 8 * 1_024 * 1_024, peak  # 4,000 member records held: ~16 MB
    store.close()
