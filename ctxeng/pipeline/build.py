"""The build pipeline, visible in one place: select → history → code → docs → glossary → secrets → write."""

from __future__ import annotations

import functools
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core import teardown
from ctxeng.core.config import Config, load_config
from ctxeng.core.errors import CtxengError
from ctxeng.core.faults import pause_point
from ctxeng.core.forked import Gate, fork_stage, parallel_allowed
from ctxeng.core.fsio import Lock, Staging, dumps_json, write_jsonl
from ctxeng.core.progress import Progress, StageTimer, no_progress
from ctxeng.core.provenance import Provenance
from ctxeng.core.record_runs import RecordRuns
from ctxeng.core.record_store import CODE, DOCS, OTHERS, RecordStore, RecordsView
from ctxeng.core.records import Record
from ctxeng.core.repo import RepoView, open_repo, reopen
from ctxeng.core.workdir import ensure_workdir

STAGES = ("select", "history", "code", "docs", "glossary", "secrets", "dataset", "pack", "write")


@dataclass
class BuildResult:
    """What a build produced: the manifest (also written to disk) and where outputs live."""

    manifest: dict[str, Any]
    out_dir: Path


def build(
    path: str | Path = ".",
    progress: Progress = no_progress,
    config: Config | None = None,
    write_pack: bool = True,
    lock_wait: float = 30.0,
    in_hook: bool = False,
    force: bool = False,
    repo: RepoView | None = None,
    parallel: bool = False,
) -> BuildResult:
    """Mine the repository at `path` into `.ctxeng/` (records, dataset, manifest, pack).

    Holds the output directory's lock for the whole run and publishes all outputs together at
    the end, so an interrupted or failed build leaves the previous outputs intact. When nothing
    the build reads has changed since the last one (`ctxeng.pipeline.uptodate`) it stops early
    and returns the last manifest, unless `force`. `repo`, when given, is the repository at `path`
    already opened (its HEAD is read again once the lock is held). `parallel` lets the pack stage
    run in a forked child when a core is idle (see `run_pipeline`).
    """
    repo = repo or open_repo(path)
    if not repo.head:
        raise CtxengError(
            f"{repo.root} has no commits yet",
            hint="commit something first: ctxeng mines the history and the committed files",
        )
    config = config or load_config(repo.root)
    from ctxeng.dataset import check_config

    check_config(config.dataset)  # fail on a bad task name before the slow stages run
    out_dir = ensure_workdir(repo)
    from ctxeng.pipeline import uptodate

    with Lock(out_dir, wait_seconds=lock_wait):
        repo = reopen(repo)  # HEAD may have moved while we waited for the lock: label what we mine
        fingerprint = uptodate.inputs_fingerprint(repo, config, write_pack, in_hook)
        last = None if force else uptodate.current_manifest(out_dir, repo.root, fingerprint)
        if last is not None:
            return BuildResult(manifest=last, out_dir=out_dir)
        try:
            with Staging(out_dir) as staging:
                manifest = run_pipeline(
                    repo, config, staging, progress, write_pack=write_pack, in_hook=in_hook, parallel=parallel
                )
                state = uptodate.state_for(fingerprint)
                staging.path(uptodate.STATE_FILE).write_text(dumps_json(state) + "\n", encoding="utf-8")
                # One generation: a pack-less build keeps the last pack; earlier state never carries over.
                staging.publish(carry=not write_pack, drop=("state",))
        except KeyboardInterrupt:
            # Interrupted before the staging folder was ours to clean (inside its creation): we hold
            # the lock, so every staging folder left is from an interrupted run.
            for stale in (out_dir / "tmp").glob("stage-*"):
                shutil.rmtree(stale, ignore_errors=True)
            raise
    pause_point("published")  # tests interrupt here: the run is complete, Ctrl-C must not say otherwise
    return BuildResult(manifest=manifest, out_dir=out_dir)


def run_pipeline(
    repo: RepoView,
    config: Config,
    staging: Staging,
    progress: Progress,
    write_pack: bool = True,
    in_hook: bool = False,
    records_limit: int | None = None,
    parallel: bool = False,
) -> dict[str, Any]:
    """Run every stage and write the outputs into `staging`; returns the manifest.

    `in_hook` (a git hook is running us) leaves tracked files alone: pre-commit fails a hook that
    modifies them. Past `records_limit` records (default: `record_store.limit_from_env()`) they are
    spilled to disk and read back by each later stage (`ctxeng.core.record_store`). With `parallel`
    and an idle core (`ctxeng.core.forked.parallel_allowed`) the pack stage runs in a forked child
    beside the records' and dataset's writing: the refresh after a commit passes it, for ~0.45 s
    less wall time on sqlalchemy at the price of ~0.4 CPU-s and ~110 MB more memory (the child's
    copy-on-write pages), which a cold build's peak (bench/build.py) is kept from paying.
    """
    from ctxeng.core.cache import ExtractCache
    from ctxeng.dataset import build_dataset
    from ctxeng.dataset.prints import RecordKeys
    from ctxeng.dataset.rows_write import ROWS_FILE
    from ctxeng.extract.doc_paths import STAT_KEYS
    from ctxeng.extract.files import extract_files
    from ctxeng.extract.glossary import build_glossary
    from ctxeng.extract.selection import select_files
    from ctxeng.pipeline.records_write import SPANS_FILE, write_records
    from ctxeng.secrets import Redactor

    timer = StageTimer()
    started = time.time()
    redactor = Redactor(config.secrets)
    cache = ExtractCache(staging.out_dir, extract_settings(config))
    with timer.stage("select"):
        progress("select", 0, 0)
        selection = select_files(repo, config.files, config.secrets, memo=staging.out_dir)
        progress("select", len(selection.files), len(selection.files))
    with timer.stage("history"):
        history = _history(repo, config, progress, staging.out_dir, redactor, cache.salt, selection.outcomes)
        provenance, commit_records, cochange, history_stats = history[:4]
        history_redactions, history_keys = history[4], history[5]
    # The records, from the code stage to the end: objects, or spilled to disk on a huge repository.
    store = RecordStore(staging.out_dir / "tmp", limit=records_limit)
    # The stale generations' deletion (a thread: `Staging`) is over before anything forks (the code
    # stage's workers, the pack's child): long done by now, so this costs no wait.
    staging.settle()
    try:
        with timer.stage("code"):  # the records come dated by `provenance` as they are read
            extracted = extract_files(
                selection.files, config.docs if config.docs.enabled else None, redactor, cache, progress,
                provenance=provenance, store=store,
            )  # fmt: skip
            outcomes, n_files = selection.outcomes, len(selection.files)
            del selection.files[:]  # the file texts (tens of MB on a large repository) are no longer needed
            # Every definition the patches touched (~700,000 at 100,000 files): the records are dated now.
            del provenance
        with timer.stage("glossary"):
            glossary = build_glossary(Added(store, (CODE, DOCS)), memo=staging.out_dir)
        with timer.stage("secrets"):
            # Code and docs were redacted file by file (and cached so), their counts are in `extracted`;
            # the rest is redacted here and counted apart, or a cold build would count file redactions twice.
            file_counts = Counter(redactor.counts)
            # Commit records were redacted string by string in the history stage (counted in history[4]).
            store.extend(commit_records, OTHERS)
            store.extend((redactor.record(rec) for rec in (*cochange, *glossary)), OTHERS)
            del commit_records, cochange, glossary, history
            records = store.finish()
            progress("secrets", len(records), len(records))
        counts = kind_counts(records)
        teardown.keep(records)  # freed with the process, not one by one (when the CLI armed it)
        # Spilled (a huge repository): no facts memo, whose table of every definition is one JSON
        # value read and written whole (hundreds of MB at 100,000 files).
        keys = None if isinstance(records, RecordsView) else (extracted.keys, history_keys)
        # `gate`: the parent's records.jsonl is whole; `written`: the child's index and model are.
        job, gate, written = None, Gate(), Gate()
        # Beside the records' and the dataset's writing in a forked child when there is a core to
        # spare (they write disjoint files; the child stamps its model once records.jsonl is whole);
        # a spilled store keeps one process and the stages in turn, which keeps the peak memory of a
        # huge repository where bench/scale.py measures it.
        if parallel and write_pack and keys is not None and parallel_allowed():
            pause_point("pack")  # where tests kill a real build at a chosen stage (ctxeng.core.faults)
            # The runs are found here, so that the child reads only the records it distils (`RecordRuns`).
            runs = RecordRuns(records if isinstance(records, list) else list(records))
            job = fork_stage(
                functools.partial(
                    _render_pack, repo, config, runs, staging, in_hook, keys, gate.wait, written.open
                )
            )
            del runs
        try:
            with timer.stage("write"):
                reuse = write_records(
                    staging.path("records.jsonl"), records, extracted.keys, history_keys, staging.base
                )
            gate.open()
            with timer.stage("dataset"):
                # The code and history stages' cache keys tell the dataset stage which records changed.
                record_keys = RecordKeys(extracted.keys, history_keys)
                dataset = build_dataset(records, config.dataset, repo.name, staging.out_dir, record_keys)
                progress("dataset", len(dataset.train) + len(dataset.eval), 0)
            with timer.stage("write"):
                train, held = staging.path("dataset/train.jsonl"), staging.path("dataset/eval.jsonl")
                # Unchanged rows are copied from the last generation (`staging.base`).
                dataset.write(train, held, staging.base, staging.path(ROWS_FILE))
                dataset.close()  # written; free the rows (and close their file) before the pack stage peaks
                dataset_stats = dataset.stats
                save_state(staging, repo, outcomes)
            if job is not None:
                from ctxeng.pack.worktree import apply_after_switch

                # Every file this process wrote, hashed and fsynced while the pack still runs (the
                # child's own are sealed by `publish`).
                for rel in ("records.jsonl", "dataset/train.jsonl", "dataset/eval.jsonl", SPANS_FILE, ROWS_FILE,
                            "state/blobs.jsonl", "state/head"):  # fmt: skip
                    if (staging.dir / rel).is_file():
                        staging.seal_early(rel)
                # The child has its own copies: ours (unless kept for the process's end) are freed while
                # it works, not after it (sqlalchemy's records: ~0.1 s that would follow its result).
                del records, dataset, record_keys, keys
                extracted.keys, history_keys = {}, {}
                store.close()
                cache.prune()  # while the child works, not after it
                _seal_child_outputs(staging, written)
                pack_info = job.result()
                timer.stages["pack"] = job.usage
                apply_after_switch(staging, repo.root)
            elif write_pack:
                with timer.stage("pack"):
                    pack_info = _render_pack(repo, config, records, staging, in_hook, keys)
            else:
                pack_info = {}
        finally:
            gate.close()
            written.close()
            if job is not None:
                job.cancel()
    finally:
        store.close()
    if job is None:
        cache.prune()
    docs_stats = {key: extracted.docs_stats.get(key, 0) for key in STAT_KEYS} if config.docs.enabled else {}
    redactions = extracted.redactions + (redactor.counts - file_counts) + history_redactions
    manifest = {
        "ctxeng_version": __version__,
        "repository": repo.name,
        "head": repo.head,
        "branch": repo.branch,
        "shallow": repo.shallow,
        "built_at": int(started),
        "config": config.to_json(),
        "config_source": config.source,
        "files": {"extracted": n_files, "cached": extracted.cached, "records_reused": reuse["records_reused"],
                  "skipped": dict(sorted(selection.skipped.items())),
                  "skipped_examples": {k: [redactor.text(p) for p in v] for k, v in sorted(selection.examples.items())}},
        "records": dict(sorted(counts.items())),
        "history": history_stats,
        "docs": docs_stats,
        "dataset": dataset_stats,
        "redactions": dict(sorted(redactions.items())),
        "pack": pack_info,
        "stages": timer.stages,
    }  # fmt: skip
    (staging.path("manifest.json")).write_text(dumps_json(manifest) + "\n", encoding="utf-8")
    if job is not None:
        job.reap()  # long exited by now (its result came first): no child outlives the build
    return manifest


def _render_pack(
    repo: RepoView,
    config: Config,
    records: Sequence[Record],
    staging: Staging,
    in_hook: bool,
    keys: tuple[dict[str, str], dict[str, str]] | None,
    records_written: Callable[[], None] | None = None,
    model_written: Callable[[], None] | None = None,
) -> dict[str, Any]:
    from ctxeng.pack import render_pack_into

    return render_pack_into(
        repo, config, records, staging, protect_tracked=in_hook, keys=keys, records_written=records_written,
        model_written=model_written,
    )  # fmt: skip


def _seal_child_outputs(staging: Staging, written: Gate) -> None:
    """Once the forked pack stage wrote its index and model, seal them here (hash, fsync) while it
    renders the pack: ~12 MB and three fsyncs on sqlalchemy that `publish` then need not do after
    it. A child that ended before (a failure) is left to its result to explain."""
    from ctxeng.pack.index.reader import DETAILS_FILE, INDEX_FILE
    from ctxeng.pack.model import MODEL_FILE

    try:
        written.wait()
    except RuntimeError:
        return
    for rel in (INDEX_FILE, DETAILS_FILE, MODEL_FILE):
        if (staging.dir / rel).is_file():
            staging.seal_early(rel)


class Added:
    """A store's records of some sources in the order added, read anew on each iteration (the glossary reads thrice)."""

    def __init__(self, store: RecordStore, sources: tuple[int, ...]) -> None:
        self.store, self.sources = store, sources

    def __iter__(self) -> Iterator[Record]:
        return self.store.iter_added(self.sources)


def kind_counts(records: Sequence[Record]) -> dict[str, int]:
    """Records per kind, sorted by kind (a spilled store's view knows them without reading)."""
    if isinstance(records, RecordsView):
        return {kind: hi - lo for kind, (lo, hi) in sorted(records.bounds.items())}
    counts: dict[str, int] = {}
    for rec in records:
        counts[rec.kind] = counts.get(rec.kind, 0) + 1
    return dict(sorted(counts.items()))


def extract_settings(config: Config) -> dict[str, Any]:
    """The settings that shape per-file records (part of the extraction cache key)."""
    return {"docs": config.to_json()["docs"], "secrets": config.to_json()["secrets"]}


def _history(
    repo: RepoView,
    config: Config,
    progress: Progress,
    out_dir: Path,
    redactor: Any,
    salt: str,
    head_skips: dict[str, str] | None = None,
) -> tuple[Provenance, list[Record], list[Record], dict[str, int], Counter[str], dict[str, str]]:
    """Provenance, redacted commit records, co-change records, stats, the commit records'
    redaction counts and their keys by id (`HistoryResult.keys`) (history disabled: HEAD dates everything). Commits mined by an earlier
    build come from the history cache in `out_dir` (salted with `salt`). Patches leave out what
    selection skips (`head_skips`: HEAD's outcomes, path -> reason)."""
    if config.history.enabled:
        from ctxeng.extract.history.stage import mine_history

        history = mine_history(
            repo, config.history, progress, drop_files=tuple(config.secrets.drop_files), files=config.files,
            head_skips=head_skips, out_dir=out_dir, redactor=redactor, salt=salt,
        )  # fmt: skip
        provenance, commits, cochange, stats = (
            history.provenance,
            history.commits,
            history.cochange,
            history.stats,
        )
        counts, keys = history.redactions, history.keys
    else:
        provenance = Provenance(head=repo.head, head_time=repo.head_time())
        commits, cochange, stats, counts, keys = [], [], {}, Counter(), {}
    provenance.staged = _staged_paths(repo)
    return provenance, commits, cochange, stats, counts, keys


def save_state(staging: Staging, repo: RepoView, outcomes: dict[str, str]) -> None:
    """What the next refresh compares against: every index entry's blob, mode and selection outcome."""
    entries = {e.path: e for e in repo.index()}
    rows = ({"path": p, "blob": entries[p].blob, "mode": entries[p].mode, "outcome": o}
            for p, o in sorted(outcomes.items()) if p in entries)  # fmt: skip
    write_jsonl(staging.path("state/blobs.jsonl"), rows)
    staging.path("state/head").write_text(repo.head + "\n", encoding="utf-8")


def _staged_paths(repo: RepoView) -> set[str]:
    """Paths whose staged content differs from HEAD."""
    from ctxeng.core.gitcli import decode

    out = repo.git.run(["diff-index", "--cached", "--name-only", "-z", "--no-renames", "HEAD"], check=False)
    return {decode(p) for p in out.split(b"\0") if p}
