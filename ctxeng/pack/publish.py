"""Producing the pack: from records to the skill, the CLAUDE.md block, the index and `pack.json`.

Ordering. `ctxeng build` calls `render_pack_into` as its last stage before publishing `.ctxeng/`:
the index and `pack.json` go into the staging area and are published with the records, while the
skill folder and CLAUDE.md (outside `.ctxeng/`) are written in place right then, each file
atomically and only when its bytes change (stable mtimes, no churn in `git status`). A build that
fails after this stage could leave the skill one build newer than `.ctxeng/`; nothing fails after
it except the manifest write and the renames of publication.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core.config import Config, load_config
from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import Lock, Staging, atomic_write_bytes, dumps_json
from ctxeng.core.gcpause import gc_paused
from ctxeng.core.records import Record, load_records
from ctxeng.core.repo import IndexEntry, RepoView, open_repo
from ctxeng.core.tokens import TOKENIZER_NAME
from ctxeng.pack.claude_md import render_block, update_claude_md
from ctxeng.pack.conventions import Conventions, mine_conventions, project_files
from ctxeng.pack.facts import RepoFacts, facts_from_records
from ctxeng.pack.index.builder import INDEX_FILE, build_index, write_index
from ctxeng.pack.model import MODEL_FILE, Model, dump, records_stamp, trim
from ctxeng.pack.model import load as load_model
from ctxeng.pack.rank import Ranking, rank
from ctxeng.pack.skill import Pack, build_pack, skill_name

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
    return {p: redactor.text(blobs[entries[p].blob].decode("utf-8", "replace")) for p in wanted if entries[p].blob in blobs}


def prepare(repo: RepoView, config: Config, records: list[Record], head: str) -> Prepared:
    """Distil records, mine conventions and rank."""
    index = repo.index()
    facts = facts_from_records(repo.name, records, [e.path for e in index], head=head)
    conv = mine_conventions(read_project_files(repo, index, config), facts.tracked)
    return Prepared(facts=facts, conv=conv, ranking=rank(facts, conv.entry_points))


def write_skill(root: Path, pack: Pack, keep: frozenset[str] = frozenset()) -> list[str]:
    """Write the skill folder; returns the files whose bytes changed. Refuses to write through symlinks.

    Paths in `keep` (repository-relative) are left as they are: a git hook must not modify tracked files.
    """
    base = root / ".claude" / "skills" / pack.skill_name
    for folder in (root / ".claude", root / ".claude" / "skills", base, base / "references"):
        if folder.is_symlink():
            raise CtxengError(f"{folder.relative_to(root)} is a symlink; ctxeng does not write through links")
    changed = []
    for rel, text in pack.files.items():
        path = base / rel
        data = text.encode("utf-8")
        if path.is_symlink():
            raise CtxengError(f"{path.relative_to(root)} is a symlink; ctxeng does not write through links")
        if path.is_file() and path.read_bytes() == data:
            continue
        if path.relative_to(root).as_posix() in keep:
            raise CtxengError(f"{path.relative_to(root).as_posix()} is tracked by git; run `ctxeng pack` to update it")
        atomic_write_bytes(path, data)
        changed.append(rel)
    return changed


def render_pack_into(
    repo: RepoView, config: Config, records: list[Record], staging: Staging, protect_tracked: bool = False
) -> dict[str, Any]:
    """The build's pack stage: index + pack.json into `staging`; skill and CLAUDE.md into the work tree.

    With `protect_tracked` (inside a git hook) tracked skill files and a tracked CLAUDE.md are not
    rewritten; the manifest's warnings say so. Returns the manifest's `pack` entry: budget,
    tokenizer, tokens per file and what was written.
    """
    keep = frozenset(e.path for e in repo.index()) if protect_tracked else frozenset()
    stamp = records_stamp(staging.dir / "records.jsonl")
    with gc_paused():  # tens of thousands of acyclic facts: collections would only rescan them
        return _produce(repo, config, staging, repo.head, records, stamp, keep=keep)


def _produce(
    repo: RepoView, config: Config, staging: Staging, head: str, records: list[Record] | None, stamp: list[int],
    cached: Model | None = None, keep: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Render from `cached` when given, else from `records` (ranking them and writing a new model + index)."""
    if cached is None:
        assert records is not None
        prepared = prepare(repo, config, records, head)
        model = trim(prepared.facts, prepared.ranking, prepared.conv)
        index, details = build_index(prepared.facts, prepared.ranking, prepared.conv)
        write_index(staging.path(INDEX_FILE).parent, index, details)
        staging.path(MODEL_FILE).write_text(dump(model, stamp), encoding="utf-8")
    else:
        model = cached
    name = skill_name(repo.name, config.pack.skill_name)
    pack = build_pack(model.facts, model.ranking, model.conv, config.pack.budget, name)
    info: dict[str, Any] = {
        "budget": pack.budget,
        "tokenizer": TOKENIZER_NAME,
        "skill": f".claude/skills/{name}",
        "tokens": pack.tokens,
        "total_tokens": pack.total,
        "head": head,
        "from": "model" if cached is not None else "records",
    }
    warnings = []
    try:
        info["skill_changed"] = write_skill(repo.root, pack, keep)
    except CtxengError as exc:
        warnings.append(exc.message)
    if config.pack.claude_md and "CLAUDE.md" in keep:
        info["claude_md"] = "skipped"
        warnings.append("CLAUDE.md is tracked by git; run `ctxeng pack` to update its ctxeng block")
    elif config.pack.claude_md:
        try:
            info["claude_md"] = update_claude_md(repo.root, render_block(model.facts, model.conv, name))
        except CtxengError as exc:
            info["claude_md"] = "skipped"
            warnings.append(exc.message)
    info["warnings"] = warnings
    staging.path(PACK_INFO).write_text(dumps_json(info) + "\n", encoding="utf-8")
    return info


def _records_path(root: Path) -> Path:
    path = root / ".ctxeng" / "records.jsonl"
    if not path.is_file():
        raise CtxengError(f"no records at {path}", hint="run ctxeng build first")
    return path


def _recorded_head(root: Path, fallback: str) -> str:
    try:
        return str(json.loads((root / ".ctxeng" / "manifest.json").read_text(encoding="utf-8")).get("head", fallback))
    except (OSError, ValueError, AttributeError):
        return fallback


def _open(path: str | Path, budget: int | None) -> tuple[RepoView, Config, Path]:
    repo = open_repo(path)
    config = load_config(repo.root)
    if budget is not None:
        config = dataclasses.replace(config, pack=dataclasses.replace(config.pack, budget=budget))
    return repo, config, _records_path(repo.root)


def _model_or_records(repo: RepoView, config: Config, records_path: Path) -> tuple[Model | None, list[Record] | None]:
    """The saved model when it matches the records on disk, else the records themselves."""
    cached = load_model(repo.root / ".ctxeng" / MODEL_FILE, records_stamp(records_path))
    if cached is not None and not (repo.root / ".ctxeng" / INDEX_FILE).is_file():
        cached = None  # the context index is written only when ranking the records
    return (cached, None) if cached is not None else (None, load_records(records_path))


def write_pack(path: str | Path = ".", budget: int | None = None) -> dict[str, Any]:
    """`ctxeng pack`: re-render the skill, CLAUDE.md block and index from the existing records.

    Re-renders from `.ctxeng/pack-model.json` when the records are unchanged since it was made;
    otherwise ranks the records again and replaces model and index too.
    """
    repo, config, records_path = _open(path, budget)
    out_dir = repo.root / ".ctxeng"
    with gc_paused(), Lock(out_dir, wait_seconds=30.0), Staging(out_dir) as staging:
        cached, records = _model_or_records(repo, config, records_path)
        head = cached.facts.head if cached is not None else _recorded_head(repo.root, repo.head)
        info = _produce(repo, config, staging, head, records, records_stamp(records_path), cached)
        staging.publish(last=(PACK_INFO,))
    return info


def pack_document(path: str | Path = ".", budget: int | None = None, fmt: str = "markdown") -> str:
    """`ctxeng pack --stdout`: the pack as one document; nothing is written."""
    from ctxeng.pack.formats import render_document

    repo, config, records_path = _open(path, budget)
    with gc_paused():
        cached, records = _model_or_records(repo, config, records_path)
        if cached is None:
            assert records is not None
            prepared = prepare(repo, config, records, _recorded_head(repo.root, repo.head))
            cached = trim(prepared.facts, prepared.ranking, prepared.conv)
        return render_document(cached.facts, cached.ranking, cached.conv, config.pack.budget, fmt)
