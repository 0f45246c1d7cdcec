"""Producing the pack: from records to the skill, the CLAUDE.md block, the index and `pack.json`.

Ordering. `ctxeng build` calls `render_pack_into` as its last stage before publishing `.ctxeng/`:
the index, the model, `pack.json` and the skill's files and CLAUDE.md block all go into the
generation being staged; the skill and CLAUDE.md are copied into the work tree only after that
generation has become current (`ctxeng.pack.worktree`), each file atomically and only when its
bytes change (stable mtimes, no churn in `git status`). `ctxeng pack` stages only what it
re-renders; the rest of the current generation is carried over into the new one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core import teardown
from ctxeng.core.config import Config, load_config
from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import Lock, atomic_write_bytes, dumps_json
from ctxeng.core.gcpause import gc_paused
from ctxeng.core.generation import Staging, verify
from ctxeng.core.records import Record, load_records
from ctxeng.core.repo import IndexEntry, RepoView, open_repo
from ctxeng.core.tokens import TOKENIZER_NAME
from ctxeng.core.workdir import check_workdir, generation, workdir
from ctxeng.pack.claude_md import render_block
from ctxeng.pack.conventions import Conventions, mine_conventions, project_files
from ctxeng.pack.facts import RepoFacts, facts_from_records
from ctxeng.pack.facts_memo import FactsMemo
from ctxeng.pack.heat import WIDE_COMMIT
from ctxeng.pack.index.builder import build_index, shrink_touched, write_details, write_index_json
from ctxeng.pack.index.reader import INDEX_FILE, STAGED_FILE
from ctxeng.pack.index.terms_memo import Terms
from ctxeng.pack.model import MODEL_FILE, Model, records_stamp, trim, write_model
from ctxeng.pack.model import load as load_model
from ctxeng.pack.rank import Ranking, cached_doc_mentions, rank
from ctxeng.pack.skill import Pack, build_pack, skill_name
from ctxeng.pack.worktree import check_skill, skill_folder, stage_worktree

PACK_INFO = "pack.json"
MAX_MANIFEST_BYTES = 200_000


@dataclass
class Prepared:
    """Everything the renderers need, computed once."""

    facts: RepoFacts
    conv: Conventions
    ranking: Ranking


def read_project_files(repo: RepoView, index: list[IndexEntry], config: Config) -> dict[str, str]:
    """Manifests, task files and CI configs from the index (`repo.index()`), redacted like every record."""
    from ctxeng.secrets import Redactor

    entries = {e.path: e for e in index}
    wanted = [p for p in project_files(entries) if entries[p].mode.startswith("100")]  # regular files only
    sizes = repo.git.blob_sizes(entries[p].blob for p in wanted)
    wanted = [p for p in wanted if sizes.get(entries[p].blob, MAX_MANIFEST_BYTES + 1) <= MAX_MANIFEST_BYTES]
    blobs = dict(repo.git.read_blobs(sorted({entries[p].blob for p in wanted})))
    redactor = Redactor(config.secrets)
    return {
        p: redactor.text(blobs[entries[p].blob].decode("utf-8", "replace"))
        for p in wanted
        if entries[p].blob in blobs
    }


def prepare(
    repo: RepoView, config: Config, records: Sequence[Record], head: str, memo: FactsMemo | None = None
) -> Prepared:
    """Distil records (through `memo` when given: see `ctxeng.pack.facts_memo`), mine conventions and rank."""
    index = repo.index()
    facts = facts_from_records(repo.name, records, [e.path for e in index], head=head, memo=memo)
    if memo is not None:
        memo.save()
    shrink_touched(facts, wider_than=WIDE_COMMIT)  # what ranking and the index ignore (issue 12: memory)
    if memo is None:
        conv = mine_conventions(read_project_files(repo, index, config), facts.tracked)
        return Prepared(facts=facts, conv=conv, ranking=rank(facts, conv.entry_points))
    from ctxeng.pack.conventions_memo import conventions_cached

    conv = conventions_cached(repo, index, config, facts.tracked, memo.out_dir)
    mentions = cached_doc_mentions(facts, memo.out_dir)
    return Prepared(
        facts=facts,
        conv=conv,
        ranking=rank(facts, conv.entry_points, mentions=mentions, memo_dir=memo.out_dir),
    )


def write_skill(root: Path, pack: Pack, keep: frozenset[str] = frozenset()) -> list[str]:
    """Write the skill folder; returns the files whose bytes changed. Refuses to write through symlinks.

    Paths in `keep` (repository-relative) are left as they are: a git hook must not modify tracked files.
    """
    changed = check_skill(root, pack, keep)
    for rel in changed:
        atomic_write_bytes(skill_folder(root, pack.skill_name) / rel, pack.files[rel].encode("utf-8"))
    return changed


def render_pack_into(
    repo: RepoView,
    config: Config,
    records: Sequence[Record],
    staging: Staging,
    protect_tracked: bool = False,
    keys: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
    records_written: Callable[[], None] | None = None,
    model_written: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The build's pack stage: index + pack.json into `staging`; skill and CLAUDE.md into the work tree.

    With `protect_tracked` (inside a git hook) tracked skill files and a tracked CLAUDE.md are not
    rewritten; the manifest's warnings say so. `keys` (the records' extraction and history keys, as
    `write_records` takes them) let definitions and commits distilled by earlier builds be reused.
    `records_written` returns once the staged records.jsonl is complete (a forked pack stage starts
    while its parent still writes it); the model is stamped with that file. `model_written` is
    called once the index and the model are written (the parent then seals them while the pack renders).
    Returns the manifest's `pack` entry: budget, tokenizer, tokens per file and what was written.
    """
    keep = frozenset(e.path for e in repo.index()) if protect_tracked else frozenset()

    def stamp() -> list[int]:
        if records_written is not None:
            records_written()
        return records_stamp(staging.dir / "records.jsonl")

    memo = FactsMemo(staging.out_dir, *keys) if keys is not None else None
    # Its table (sqlalchemy: 17 MB of JSON as objects) lives to the end of the stage anyway: the
    # process (or the forked child) ends without freeing it (`ctxeng.core.teardown`, ~40 ms).
    teardown.keep(memo)
    with gc_paused():  # tens of thousands of acyclic facts: collections would only rescan them
        return _produce(
            repo, config, staging, repo.head, records, stamp, keep=keep, memo=memo, written=model_written
        )


def _produce(
    repo: RepoView,
    config: Config,
    staging: Staging,
    head: str,
    records: Sequence[Record] | None,
    stamp: Callable[[], list[int]],
    cached: Model | None = None,
    keep: frozenset[str] = frozenset(),
    memo: FactsMemo | None = None,
    written: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Render from `cached` when given, else from `records` (ranking them and writing a new model + index,
    then calling `written`)."""
    if cached is None:
        assert records is not None
        prepared = prepare(repo, config, records, head, memo)
        model = trim(prepared.facts, prepared.ranking, prepared.conv)
        # Ranked: what the files referenced and imported (~70 MB at 100,000 files) is no longer read; the
        # index reads the files' summaries, which the model's slim copies keep (issue 12: memory).
        prepared.facts.files = model.facts.files
        shrink_touched(prepared.facts)
        terms = Terms(memo.out_dir if memo is not None else None)
        teardown.keep(terms)  # as the facts memo: it lives to the end of the stage anyway
        index, details = build_index(prepared.facts, prepared.ranking, prepared.conv, terms)
        terms.save()
        # The full facts and ranking (the definitions with the details rows spelled from them) go
        # before the index is spelled: only the model is needed from here. Records held in memory
        # (not a huge repository): they go with the process instead (`teardown`), off the refresh's path.
        if memo is not None:
            teardown.keep(prepared, details, index)
        del prepared
        write_details(staging.path(INDEX_FILE).parent, details)
        del details
        write_index_json(staging.path(INDEX_FILE).parent, index)
        del index
        write_model(staging.path(MODEL_FILE), model, stamp())
        if written is not None:
            written()
    else:
        model = cached
    name = skill_name(repo.name, config.pack.skill_name)
    memo_dir = memo.out_dir if memo is not None else None
    pack = build_pack(model.facts, model.ranking, model.conv, config.pack.budget, name, memo_dir)
    info: dict[str, Any] = {
        "budget": pack.budget,
        "tokenizer": TOKENIZER_NAME,
        "skill": f".claude/skills/{name}",
        "tokens": pack.tokens,
        "total_tokens": pack.total,
        "head": head,
        "from": "model" if cached is not None else "records",
    }
    block = render_block(model.facts, model.conv, name) if config.pack.claude_md else None
    info.update(stage_worktree(staging, repo.root, pack, block, keep))
    staging.path(PACK_INFO).write_text(dumps_json(info) + "\n", encoding="utf-8")
    return info


#: What `ctxeng pack` renders again when it is damaged or missing (it needs only records and manifest).
#: The pre-commit refresh's side file (`ctxeng.pack.index.staged`) is not fatal either: a damaged one is dropped.
RENDERED = ("index-details.jsonl", "index.json", MODEL_FILE, PACK_INFO, STAGED_FILE)


def _checked_generation(root: Path, full: bool) -> tuple[Path, bool]:
    """The current generation's folder and whether its rendered files are whole; a `CtxengError` when
    its records are missing or they or the manifest are corrupt."""
    check_workdir(workdir(root))
    gen = generation(root)
    if not (gen / "records.jsonl").is_file():
        raise CtxengError(f"no records at {workdir(root) / 'records.jsonl'}", hint="run ctxeng build first")
    problems = verify(gen, full=full)
    fatal = [text for rel, text in problems.items() if rel not in RENDERED and not rel.startswith("skill/")]
    if fatal:
        raise CtxengError(
            f"the outputs in {workdir(root)} are corrupt: {fatal[0]}",
            hint="run `ctxeng build` (or `ctxeng refresh`) to rebuild them",
        )
    return gen, not problems


def _recorded_head(gen: Path, fallback: str) -> str:
    try:
        return str(json.loads((gen / "manifest.json").read_text(encoding="utf-8")).get("head", fallback))
    except (OSError, ValueError, AttributeError, RecursionError):
        return fallback


def _open(path: str | Path, budget: int | None) -> tuple[RepoView, Config]:
    repo = open_repo(path)
    config = load_config(repo.root)
    if budget is not None:
        config = dataclasses.replace(config, pack=dataclasses.replace(config.pack, budget=budget))
    return repo, config


def _model_or_records(gen: Path, whole: bool = True) -> tuple[Model | None, list[Record] | None]:
    """The saved model when it matches the generation's records (and `whole`: the generation passed
    its checks), else the records themselves."""
    records_path = gen / "records.jsonl"
    cached = load_model(gen / MODEL_FILE, records_stamp(records_path)) if whole else None
    if cached is not None and not (gen / INDEX_FILE).is_file():
        cached = None  # the context index is written only when ranking the records
    if cached is not None:
        return cached, None
    try:
        return None, load_records(records_path)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise CtxengError(
            f"{records_path} is corrupt ({type(exc).__name__})", hint="run `ctxeng build` to rebuild it"
        ) from None


def write_pack(path: str | Path = ".", budget: int | None = None) -> dict[str, Any]:
    """`ctxeng pack`: re-render the skill, CLAUDE.md block and index from the existing records.

    Re-renders from the generation's `pack-model.json` when its records are unchanged since the
    model was made; otherwise ranks the records again and replaces model and index too. The result
    is published as a new generation (records, dataset and state carried over).
    """
    repo, config = _open(path, budget)
    out_dir = workdir(repo.root)
    check_workdir(out_dir)
    _checked_generation(repo.root, full=False)  # before waiting for the lock: a clear error at once
    with gc_paused(), Lock(out_dir, wait_seconds=30.0), Staging(out_dir) as staging:
        gen, whole = _checked_generation(repo.root, full=True)  # resolved once, under the lock
        records_path = gen / "records.jsonl"
        cached, records = _model_or_records(gen, whole)
        head = cached.facts.head if cached is not None else _recorded_head(gen, repo.head)
        info = _produce(repo, config, staging, head, records, lambda: records_stamp(records_path), cached)
        damaged = not whole and STAGED_FILE in verify(gen, full=True)
        staging.publish(last=(PACK_INFO,), drop=(STAGED_FILE,) if damaged else ())
    return info


def pack_document(path: str | Path = ".", budget: int | None = None, fmt: str = "markdown") -> str:
    """`ctxeng pack --stdout`: the pack as one document; nothing is written."""
    from ctxeng.pack.formats import render_document

    repo, config = _open(path, budget)
    gen, whole = _checked_generation(repo.root, full=False)
    with gc_paused():
        cached, records = _model_or_records(gen, whole)
        if cached is None:
            assert records is not None
            prepared = prepare(repo, config, records, _recorded_head(gen, repo.head))
            cached = trim(prepared.facts, prepared.ranking, prepared.conv)
        return render_document(cached.facts, cached.ranking, cached.conv, config.pack.budget, fmt)
