"""The pack model: the ranked, trimmed facts every pack file is rendered from (`.ctxeng/pack-model.json`).

A build ranks the full records once, keeps what rendering can use (the best definitions, the
newest commits, doc sections cut short) and renders the pack from that. `ctxeng pack` re-renders
from the same model when `records.jsonl` is unchanged (same size and mtime), so a new budget costs
a fraction of a second instead of re-reading tens of megabytes of records; both paths produce the
same bytes because both render from the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core.fsio import dumps_floats, dumps_json, dumps_json_floatless
from ctxeng.pack.conventions import Command, Conventions
from ctxeng.pack.facts import Commit, Definition, DocSection, RepoFacts, SourceFileFacts, Term
from ctxeng.pack.index.reader import INDEX_VERSION
from ctxeng.pack.paths import is_entry_file
from ctxeng.pack.rank import Ranking

MODEL_FILE = "pack-model.json"
MODEL_VERSION = 2  # 2: commits carry `bot`
MAX_DEFS = 4_000  # the 25k-token map holds at most ~2,500 definition lines
MAX_COMMITS = 2_000
WIDE_TOUCHED = 100  # `trim` drops the touched definitions of commits touching more
DOC_CHARS = 900  # excerpts show ≤ 700 characters (and need to know whether more follows)


@dataclass
class Model:
    """What rendering reads: trimmed facts, their ranking and the mined conventions."""

    facts: RepoFacts
    ranking: Ranking
    conv: Conventions


def trim(facts: RepoFacts, ranking: Ranking, conv: Conventions) -> Model:
    """Keep the best `MAX_DEFS` definitions (plus their enclosing ones and entry points), the newest
    commits and shortened doc sections; scores are carried over unchanged."""
    keep: set[int] = set()
    by_qual = {(d.path, d.qualname): i for i, d in enumerate(facts.defs)}
    entries = set(conv.entry_points)
    for top in ranking.ordered_defs(facts.defs)[:MAX_DEFS]:
        i: int | None = top  # then its parents, so a kept method keeps its class
        while i is not None and i not in keep:
            keep.add(i)
            d = facts.defs[i]
            i = by_qual.get((d.path, d.parent)) if d.parent else None
    for i, d in enumerate(facts.defs):
        if (d.path, d.qualname) in entries or (d.name == "main" and not d.parent and is_entry_file(d.path)):
            keep.add(i)
    kept = sorted(keep)
    tracked = set(facts.tracked)
    slim = RepoFacts(
        name=facts.name,
        head=facts.head,
        files={p: SourceFileFacts(p, f.language, f.lines, f.doc, (), {}, ()) for p, f in facts.files.items()},
        defs=[facts.defs[i] for i in kept],
        docs=[
            DocSection(d.path, d.line, d.heading, d.title, d.doc_kind, d.level, d.text[:DOC_CHARS])
            for d in facts.docs
        ],
        # Without the definitions a wide patch touched (the first commit of a 100,000-file repository:
        # ~700,000): rendering reads none and the model file keeps none. (Only past `WIDE_TOUCHED`:
        # a `replace` per commit would cost sqlalchemy's refresh ~5 ms.)
        commits=[
            replace(c, symbols=()) if len(c.symbols) > WIDE_TOUCHED else c
            for c in facts.commits[:MAX_COMMITS]
        ],
        cochange=facts.cochange,
        change_counts={p: n for p, n in facts.change_counts.items() if p in tracked},
        last_changed=facts.last_changed,
        glossary=facts.glossary,
        tracked=facts.tracked,
        commit_count=facts.commit_count,
        first_date=facts.first_date,
    )
    slim_rank = Ranking(
        file_score=ranking.file_score,
        def_score=[ranking.def_score[i] for i in kept],
        reexported={n for n, i in enumerate(kept) if i in ranking.reexported},
    )
    return Model(facts=slim, ranking=slim_rank, conv=conv)


def records_stamp(path: Path) -> list[int]:
    """What identifies one version of `records.jsonl` cheaply: [size, mtime in ns] ([] if absent)."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_size, st.st_mtime_ns]


def dump(model: Model, stamp: list[int]) -> str:
    """The model as deterministic JSON, tagged with the stamp of the records it came from."""
    return "".join(_parts(model, stamp))


def write_model(path: Path, model: Model, stamp: list[int]) -> None:
    """Write `dump(model, stamp)` to `path` part by part (never the whole text in memory at once)."""
    with open(path, "w", encoding="utf-8") as fh:
        for part in _parts(model, stamp):
            fh.write(part)


#: Parts of the model that hold no float (`dumps_json_floatless`); the scores are lists of floats.
_FLOATLESS = frozenset(
    {"files", "defs", "docs", "commits", "glossary", "tracked", "change_counts", "last_changed"}
)


def _parts(model: Model, stamp: list[int]) -> Iterator[str]:
    """`dumps_json` of the model's JSON object, plus a newline, as consecutive pieces: each field's
    value is made and spelled only when its turn comes, the docs and commits (megabytes, no float)
    without a scan for floats they cannot hold, the scores by `float.__repr__` directly."""
    f, r, c = model.facts, model.ranking, model.conv
    fields: dict[str, Callable[[], Any]] = {
        "version": lambda: MODEL_VERSION,
        "ctxeng": lambda: __version__,  # another release may rank differently: its model is not reused
        "index": lambda: INDEX_VERSION,  # written with the context index; an older index means re-ranking
        "stamp": lambda: stamp,
        "name": lambda: f.name, "head": lambda: f.head, "commit_count": lambda: f.commit_count,
        "first_date": lambda: f.first_date,
        "files": lambda: [[x.path, x.language, x.lines, x.doc] for x in f.files.values()],
        "defs": lambda: [[d.path, d.line, d.end_line, d.name, d.qualname, d.kind, d.signature, d.doc, d.parent,
                          d.public, d.variants] for d in f.defs],
        "docs": lambda: [[d.path, d.line, d.heading, d.title, d.doc_kind, d.level, d.text] for d in f.docs],
        "commits": lambda: [[c_.sha, c_.time, c_.date, c_.subject, c_.body, list(c_.files), c_.added, c_.deleted,
                             c_.bot] for c_ in f.commits],
        "cochange": lambda: f.cochange, "change_counts": lambda: f.change_counts,
        "last_changed": lambda: f.last_changed,
        "glossary": lambda: [[t.term, t.meaning, t.source, t.kind] for t in f.glossary],
        "tracked": lambda: f.tracked,
        "def_score": lambda: r.def_score, "file_score": lambda: r.file_score,
        "reexported": lambda: sorted(r.reexported),
        "commands": lambda: [[x.category, x.command, x.source, x.note] for x in c.commands],
        "entry_points": lambda: c.entry_points, "scripts": lambda: c.scripts, "tools": lambda: c.tools,
    }  # fmt: skip
    for n, key in enumerate(sorted(fields)):
        value = fields[key]()
        if key == "def_score":
            text = dumps_floats(value)
        elif key == "file_score":
            text = (
                "{"
                + ",".join(
                    f"{encode_basestring(p)}:{dumps_floats([x])[1:-1]}" for p, x in sorted(value.items())
                )
                + "}"
            )
        elif key in _FLOATLESS:
            text = dumps_json_floatless(value)
        else:
            text = dumps_json(value)
        yield f"{'{' if n == 0 else ','}{encode_basestring(key)}:"
        yield text
    yield "}\n"


def load(path: Path, stamp: list[int]) -> Model | None:
    """The model at `path` if it was made from records with this `stamp`, else None."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if (data.get("version"), data.get("ctxeng"), data.get("index")) != (
            MODEL_VERSION,
            __version__,
            INDEX_VERSION,
        ):
            return None
        if not stamp or data.get("stamp") != stamp:
            return None
        facts = RepoFacts(
            name=data["name"], head=data["head"], commit_count=data["commit_count"], first_date=data["first_date"],
            files={row[0]: SourceFileFacts(row[0], row[1], row[2], row[3], (), {}, ()) for row in data["files"]},
            defs=[Definition(p, ln, end, n, q, k, sig, doc, par, pub, (), var)
                  for p, ln, end, n, q, k, sig, doc, par, pub, var in data["defs"]],
            docs=[DocSection(*row) for row in data["docs"]],
            commits=[Commit(sha, t, date, subj, body, tuple(files), a, dl, bot)
                     for sha, t, date, subj, body, files, a, dl, bot in data["commits"]],
            cochange={p: [(o, n, s) for o, n, s in rows] for p, rows in data["cochange"].items()},
            change_counts=data["change_counts"], last_changed=data["last_changed"],
            glossary=[Term(*row) for row in data["glossary"]], tracked=data["tracked"],
        )  # fmt: skip
        ranking = Ranking(
            file_score=data["file_score"], def_score=data["def_score"], reexported=set(data["reexported"])
        )
        conv = Conventions(
            commands=[Command(*row) for row in data["commands"]],
            entry_points=[(p, q) for p, q in data["entry_points"]],
            scripts=[(n, t) for n, t in data["scripts"]],
            tools=data["tools"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing, unreadable or from another version: rebuild from the records
    return Model(facts=facts, ranking=ranking, conv=conv)
