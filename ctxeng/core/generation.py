"""Generations: each run's outputs in their own `.ctxeng/gen-<n>/` folder, switched by one atomic rename.

Layout of `.ctxeng/` (see `ctxeng.core.workdir` for how readers resolve it):

- `gen-<n>/`: one complete set of outputs (records, dataset, state, index, model, pack, manifest). A
  folder is filled while it is still a staging folder under `tmp/`, renamed to `gen-<n>` whole, and
  only then made current; nothing writes into it afterwards.
- `current`: a symlink to the current generation, replaced with one `rename(2)`: a reader that
  resolves it once sees one complete generation, old or new, never a mix.
- `records.jsonl`, `manifest.json`, `dataset`, ...: fixed links `<name> -> current/<name>` so that
  paths users and older tools know keep working (each open resolves `current` again, so a reader
  that opens two of them should resolve the generation itself instead).
- `lock`, `cache/`, `adapters/`, logs: outside generations.

The manifest of each generation lists every other file of it with its size and sha256
(`outputs`), so a torn or altered file is detected (`verify`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxeng.core.faults import pause_point
from ctxeng.core.fsio import _fsync_dir, deferred_interrupts, dumps_json, held_locks, note_published
from ctxeng.core.workdir import CURRENT, GEN_PREFIX, GENERATION_ENTRIES, MANIFEST, generation_dir

APPLIED = "applied"  # `.ctxeng/applied`: the generation whose work-tree files were last written in full
WORKTREE = "worktree.json"  # in a generation: which skill files and CLAUDE.md block go into the work tree
_GEN = re.compile(re.escape(GEN_PREFIX) + r"([0-9]{1,12})")
_CHUNK = 1 << 20
#: Generations being deleted in the background are renamed `.stale-gen-<n>` first (`remove_stale`).
STALE_PREFIX = ".stale-"


def file_digest(path: Path) -> tuple[str, int]:
    """(sha256 hex, size) of the file at `path`."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def generations(out_dir: Path) -> list[Path]:
    """Every `gen-<n>` folder of `out_dir`, oldest first."""
    found: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(out_dir):
            match = _GEN.fullmatch(entry.name)
            if match and entry.is_dir(follow_symlinks=False):
                found.append((int(match.group(1)), Path(entry.path)))
    return [path for _, path in sorted(found)]


def verify(gen: Path, full: bool = True) -> dict[str, str]:
    """Problems of the generation folder `gen` by relative path, one line each; {} when it is whole.

    Checks that the manifest is a JSON object listing its outputs and that each listed file exists
    with its recorded size and (with `full`) sha256. The hash is computed only for files whose
    modification time is not the one recorded when the generation was sealed (anything that wrote
    into the file since changed it), so a check costs a `stat` per file on untouched outputs. A
    folder without an `outputs` list (written by an older ctxeng) is checked for a readable manifest
    only.
    """
    try:
        manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {MANIFEST: f"{MANIFEST} is missing"}
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {MANIFEST: f"{MANIFEST} is unreadable"}
    if not isinstance(manifest, dict):
        return {MANIFEST: f"{MANIFEST} is not a JSON object"}
    outputs = manifest.get("outputs")
    if outputs is None:
        return {}
    if not isinstance(outputs, dict):
        return {MANIFEST: f"{MANIFEST} lists no valid outputs"}
    problems = {}
    for rel, want in sorted(outputs.items()):
        if not isinstance(want, dict) or not isinstance(want.get("size"), int):
            problems[rel] = f"{MANIFEST} has no valid checksum for {rel}"
            continue
        path = gen / rel
        try:
            st = os.stat(path)
            if st.st_size != want["size"]:
                problems[rel] = f"{rel} has {st.st_size} bytes, not {want['size']}"
            elif (
                full and st.st_mtime_ns != want.get("mtime_ns") and file_digest(path)[0] != want.get("sha256")
            ):
                problems[rel] = f"{rel} does not match its checksum"
        except FileNotFoundError:
            problems[rel] = f"{rel} is missing"
        except OSError as exc:
            problems[rel] = f"{rel} is unreadable ({exc.strerror or exc})"
    return problems


def needs_apply(out_dir: Path) -> bool:
    """Whether the current generation's work-tree files were not (all) written: a run was killed
    between the switch and their copy. Two small reads; see `ctxeng.pack.worktree.recover`."""
    gen = generation_dir(out_dir)
    if gen == out_dir or not (gen / WORKTREE).is_file():
        return False
    try:
        return (out_dir / APPLIED).read_text(encoding="utf-8").strip() != gen.name
    except OSError:
        return True


def _switch(out_dir: Path, gen: Path) -> None:
    """Point `current` at `gen` with one rename, then make sure the fixed top-level links exist."""
    tmp = out_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(gen.name, tmp)
    os.replace(tmp, out_dir / CURRENT)
    _fsync_dir(out_dir)
    for name in GENERATION_ENTRIES:
        link = out_dir / name
        target = f"{CURRENT}/{name}"
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link, ignore_errors=True)  # the flat layout of an older ctxeng
        tmp_link = out_dir / f".{name}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_link)
        os.symlink(target, tmp_link)
        os.replace(tmp_link, link)
    _fsync_dir(out_dir)


def remove_stale(
    out_dir: Path, keep: tuple[Path | None, ...] = (), background: bool = False
) -> threading.Thread | None:
    """Delete what interrupted runs left: staging folders and every generation but `current` and `keep`.

    Call only while holding the output directory's lock (no other writer is then staging). With
    `background`, the generations are renamed out of the way (`STALE_PREFIX`) at once and deleted by
    the thread returned (join it before the lock is released): unlinking sqlalchemy's ~120 MB
    generation is ~45 ms of the kernel dropping its cached pages, which another core can do while
    the build goes on. Without, and for what a killed run left renamed, they are deleted here.
    """
    with contextlib.suppress(OSError):
        for entry in os.scandir(out_dir / "tmp"):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
    current = generation_dir(out_dir)
    kept = {p.name for p in (current, *keep) if p is not None}
    doomed: list[Path] = []
    for gen in generations(out_dir):
        if gen.name not in kept:
            doomed.append(gen)
    with contextlib.suppress(OSError):
        for entry in os.scandir(out_dir):
            if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_symlink():
                os.unlink(entry.path)  # pointer and link temporaries of a killed switch
            elif entry.name.startswith(STALE_PREFIX) and entry.is_dir(follow_symlinks=False):
                doomed.append(Path(entry.path))  # renamed by a run killed before it deleted them
    if background:
        for n, gen in enumerate(doomed):
            if not gen.name.startswith(STALE_PREFIX):
                with contextlib.suppress(OSError):
                    os.rename(gen, out_dir / f"{STALE_PREFIX}{gen.name}")
                    doomed[n] = out_dir / f"{STALE_PREFIX}{gen.name}"
        if doomed and not any(gen.name.startswith(GEN_PREFIX) for gen in doomed):
            thread = threading.Thread(target=_delete, args=(doomed,), name="ctxeng-remove-stale", daemon=True)
            thread.start()
            return thread
    _delete(doomed)
    return None


def _delete(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class Staging:
    """A scratch folder that `publish()` turns into the next generation of `out_dir` in one switch.

    Write every output of a run under `path(...)`; `publish()` carries over, as hard links, the
    files of the current generation that were not staged (so `ctxeng pack` or a hook refresh
    stage only what they change), writes the manifest's checksums, renames the folder to
    `gen-<n>` and switches `current` to it. Until then readers keep seeing the previous
    generation; an unpublished staging folder is deleted. Create it only while holding
    `Lock(out_dir)`: it then also clears what killed runs left behind.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._cleanup: threading.Thread | None = None  # deleting stale generations (`settle` joins it)
        if out_dir.resolve() in held_locks():
            self._cleanup = remove_stale(out_dir, background=True)
        #: The folder of the generation this run started from (`out_dir` itself when there is none
        #: yet, or an older ctxeng's flat layout): what `publish` carries over.
        self.base = generation_dir(out_dir)
        scratch = out_dir / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="stage-", dir=scratch))
        #: Called with the new generation's folder right after the switch (Ctrl-C held back).
        self.after_switch: list[Callable[[Path], object]] = []  # results are ignored
        self.published: Path | None = None
        self._sealed: dict[str, dict[str, Any]] = {}  # `seal_early`'s entries, by relative path

    def settle(self) -> None:
        """Wait for the stale generations' deletion that `__init__` started (before a fork, a
        publish or a discard: no thread outlives the staging, and none runs when the process forks)."""
        if self._cleanup is not None:
            self._cleanup.join()
            self._cleanup = None

    def path(self, relative: str) -> Path:
        """Where to write the staged copy of `relative` (a path inside the generation)."""
        target = self.dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def seal_early(self, relative: str) -> None:
        """fsync and checksum the finished staged file `relative` now (a build does it while its
        forked pack stage runs), so `publish` need not; `publish` still does it again if the file's
        size or time changed since."""
        path = self.dir / relative
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        digest, size = file_digest(path)
        self._sealed[relative] = {"sha256": digest, "size": size, "mtime_ns": os.stat(path).st_mtime_ns}

    def staged(self) -> list[str]:
        """The relative paths staged so far, sorted."""
        return sorted(p.relative_to(self.dir).as_posix() for p in self.dir.rglob("*") if p.is_file())

    def publish(
        self, last: tuple[str, ...] = (MANIFEST,), carry: bool = True, drop: tuple[str, ...] = ()
    ) -> list[str]:
        """Make the staged files (plus, with `carry`, the rest of the current generation) current.

        `drop` names relative paths not to carry over. Returns the staged relative paths, those in
        `last` at the end (the order older callers relied on).
        """
        self.settle()
        staged = self.staged()
        ordered = [p for p in staged if p not in last] + [p for p in last if p in staged]
        base_outputs = _outputs(self.base)
        if carry:
            for rel in _files(self.base):
                if rel not in staged and rel != MANIFEST and not _dropped(rel, drop):
                    _carry(self.base / rel, self.dir / rel)
        self._seal(base_outputs, set(staged))
        gen = self.out_dir / f"{GEN_PREFIX}{max(map(_number, generations(self.out_dir)), default=0) + 1}"
        os.chmod(self.dir, 0o755)  # mkdtemp's 0700 was for the scratch folder only
        os.rename(self.dir, gen)
        try:
            _fsync_dir(self.out_dir)
            pause_point("publish")
        except BaseException:
            shutil.rmtree(gen, ignore_errors=True)  # never made current: the previous generation stays
            raise
        with deferred_interrupts():
            _switch(self.out_dir, gen)
            self.published = gen
            note_published()
            pause_point("switched")
            for callback in self.after_switch:
                callback(gen)
            if self.out_dir.resolve() in held_locks():  # else another writer's staging may be under way
                # The generation just replaced stays until the next run: a reader may have resolved it
                # a moment ago.
                remove_stale(self.out_dir, keep=(self.base,))
        return ordered

    def _seal(self, base_outputs: dict[str, Any], fresh: set[str]) -> None:
        """fsync every file and write the manifest with each file's size and sha256."""
        outputs: dict[str, dict[str, Any]] = {}
        for rel in self.staged():
            if rel == MANIFEST:
                continue
            path = self.dir / rel
            known = base_outputs.get(rel)
            st = os.stat(path)
            early = self._sealed.get(rel)
            if early is not None and (early["size"], early["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
                outputs[rel] = early
                continue
            if rel not in fresh and isinstance(known, dict) and known.get("size") == st.st_size:
                # A hard link to the base's file: its entry as it is, so that `verify` still hashes
                # it if something wrote to it after the base was sealed (its time then differs).
                outputs[rel] = known
                continue
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            digest, size = file_digest(path)
            # The time lets `verify` skip hashing files nothing has written to since (rename and hard
            # links keep it).
            outputs[rel] = {"sha256": digest, "size": size, "mtime_ns": os.stat(path).st_mtime_ns}
        target = self.dir / MANIFEST
        manifest: Any = None
        source = target if target.exists() else self.base / MANIFEST
        with contextlib.suppress(OSError, ValueError, RecursionError):
            manifest = json.loads(source.read_text(encoding="utf-8"))
        manifest = manifest if isinstance(manifest, dict) else {}
        manifest["outputs"] = outputs
        with contextlib.suppress(FileNotFoundError):
            target.unlink()  # never write through a link into the base generation
        with open(target, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(dumps_json(manifest) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for folder in sorted({p.parent for p in self.dir.rglob("*")} | {self.dir}):
            _fsync_dir(folder)

    def discard(self) -> None:
        """Delete the staging folder and whatever is left in it."""
        self.settle()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def _files(gen: Path) -> list[str]:
    """Relative paths of the files of a generation (in the flat layout: only the known outputs)."""
    if gen.name.startswith(GEN_PREFIX):
        return sorted(p.relative_to(gen).as_posix() for p in gen.rglob("*") if p.is_file())
    found = []
    for name in GENERATION_ENTRIES:
        path = gen / name
        if path.is_symlink():
            continue
        if path.is_file():
            found.append(name)
        elif path.is_dir():
            found.extend(
                p.relative_to(gen).as_posix() for p in path.rglob("*") if p.is_file() and not p.is_symlink()
            )
    return sorted(found)


def _number(gen: Path) -> int:
    match = _GEN.fullmatch(gen.name)
    return int(match.group(1)) if match else 0


def _dropped(rel: str, drop: tuple[str, ...]) -> bool:
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in drop)


def _carry(src: Path, dst: Path) -> None:
    """Hard-link `src` to `dst` (same bytes, no copy); copy where links are not possible."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _outputs(gen: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    outputs = manifest.get("outputs") if isinstance(manifest, dict) else None
    return outputs if isinstance(outputs, dict) else {}
