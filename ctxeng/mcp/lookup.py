"""Symbol and file-neighbourhood lookups over `.ctxeng/records.jsonl`, for the MCP tools.

The records are read once and kept while the current generation's file is unchanged (a new
generation's records are a new file, so a new size or mtime means new data). Import edges are
resolved to repository files the way the pack resolves them (`ctxeng.pack.api.resolve_import`).
"""

from __future__ import annotations

import os
import posixpath
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ctxeng.core.display import shortened
from ctxeng.core.errors import CtxengError
from ctxeng.core.records import Record, load_records


@dataclass
class RepoData:
    """What the lookups need from the records: definitions, files and their import and co-change links."""

    symbols: list[Record] = field(default_factory=list)  # sorted by path, line
    files: dict[str, Record] = field(default_factory=dict)
    partners: dict[str, list[tuple[str, int, float]]] = field(
        default_factory=dict
    )  # path → (path, commits, share)
    imports: dict[str, list[str]] = field(default_factory=dict)  # path → repository files it imports
    importers: dict[str, list[str]] = field(default_factory=dict)  # path → repository files importing it
    external: dict[str, int] = field(
        default_factory=dict
    )  # path → imports that resolve outside the repository


_CACHE: dict[str, tuple[tuple[int, int], RepoData]] = {}
_LOCK = threading.Lock()


def repo_data(root: Path) -> RepoData:
    """The lookup data of the repository at `root`, re-read only when `records.jsonl` changed."""
    from ctxeng.core.workdir import generation

    path = (
        generation(Path(root)) / "records.jsonl"
    )  # the current generation's (carried-over files keep their stat)
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise CtxengError(
            f"no records in {path.parent}", hint="run `ctxeng build` in the repository"
        ) from None
    key = (stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        cached = _CACHE.get(str(root))
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            data = _load(path)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise CtxengError(
                f"the records in {path.parent} are corrupt ({type(exc).__name__})",
                hint="run `ctxeng build` in the repository to rebuild them",
            ) from None
        _CACHE[str(root)] = (key, data)
        return data


def _load(path: Path) -> RepoData:
    from ctxeng.pack.api import module_index, resolve_import

    data = RepoData()
    for rec in load_records(path, ("symbol", "file", "cochange")):
        if rec.kind == "symbol":
            data.symbols.append(rec)
        elif rec.kind == "file":
            data.files[rec.path] = rec
        else:
            rows = [p for p in rec.meta.get("partners") or [] if isinstance(p, dict)]
            data.partners[rec.path] = sorted(
                ((str(p.get("path", "")), int(p.get("count", 0)), float(p.get("share", 0.0))) for p in rows),
                key=lambda p: (-p[1], p[0]),
            )
    data.symbols.sort(key=lambda r: (r.path, r.start_line, r.id))
    modules = module_index(data.files)
    for importer, rec in sorted(data.files.items()):
        found: set[str] = set()
        for module in rec.meta.get("imports") or []:
            target = resolve_import(importer, str(module), data.files, modules)
            if target and target != importer:
                found.add(target)
            elif not target:
                data.external[importer] = data.external.get(importer, 0) + 1
        data.imports[importer] = sorted(found)
        for target in found:
            data.importers.setdefault(target, []).append(importer)  # importers come in sorted order
    return data


def find_symbols(data: RepoData, name: str, limit: int) -> tuple[list[Record], bool]:
    """Definitions named `name` (or whose qualified name is or ends with it); else, case-insensitively
    or by substring. Returns (definitions, exact) — `exact` False when only near names were found."""
    query = name.strip().strip("`").removesuffix("()")
    if not query:
        return [], True

    def qualname(rec: Record) -> str:
        return str(rec.meta.get("qualname") or rec.name)

    exact = [
        r
        for r in data.symbols
        if r.name == query or qualname(r) == query or qualname(r).endswith("." + query)
    ]
    if exact:
        return exact[:limit], True
    low = query.lower()
    near = [r for r in data.symbols if r.name.lower() == low or qualname(r).lower().endswith("." + low)]
    near = near or [r for r in data.symbols if low in qualname(r).lower()]
    return near[:limit], False


MAX_PATH_CHARS = 4096  # PATH_MAX on Linux: anything longer names no file here


def normalise_path(root: Path, path: str) -> str:
    """A repository-relative POSIX path from what a caller wrote (relative, `./x`, absolute inside root).

    Purely lexical: nothing is resolved or looked up, so a symlink never says where it points.
    """
    if len(path) > MAX_PATH_CHARS or "\0" in path:
        raise CtxengError(
            f"{shortened(path, 80)} is not a usable path ({len(path):,} characters)",
            hint=f"pass a repository-relative path of at most {MAX_PATH_CHARS} characters",
        )
    raw = path.strip().strip("`").replace("\\", "/")
    if raw.startswith("/"):
        raw = posixpath.normpath(raw)
        for top in dict.fromkeys((Path(root).as_posix(), Path(root).resolve().as_posix())):
            if raw == top or raw.startswith(top.rstrip("/") + "/"):
                raw = raw[len(top) :].lstrip("/")
                break
        else:
            raise CtxengError(f"{shortened(path)} is outside the repository {root}")
    rel = posixpath.normpath(raw).lstrip("/") if raw not in ("", ".") else ""
    if rel == ".." or rel.startswith("../"):
        raise CtxengError(f"{shortened(path)} is outside the repository {root}")
    return "" if rel == "." else rel


def is_plain_file(root: Path, rel: str) -> bool:
    """Whether `rel` is a regular file in the work tree reached without passing through any symlink.

    Each component is `lstat`ed, never followed: a tracked symlink to `/etc` must not let a caller
    learn whether `/etc/passwd` exists.
    """
    if not rel:
        return False
    here = str(root)
    try:
        for part in rel.split("/"):
            here = os.path.join(here, part)
            mode = os.lstat(here).st_mode
            if stat.S_ISLNK(mode):
                return False
        return stat.S_ISREG(mode)
    except (OSError, ValueError):  # missing, not a folder, name too long
        return False


def same_folder(data: RepoData, path: str) -> list[str]:
    """Other mined files in the folder of `path`."""
    folder = posixpath.dirname(path)
    return sorted(p for p in data.files if p != path and posixpath.dirname(p) == folder)


def similar_paths(data: RepoData, path: str, limit: int = 5) -> list[str]:
    """Known files named like `path` (same file name, or a close spelling), for a path that is not known."""
    import difflib

    known = sorted(set(data.files) | set(data.partners))
    base = posixpath.basename(path)
    same_name = [p for p in known if posixpath.basename(p) == base]
    close = difflib.get_close_matches(path, known, n=limit, cutoff=0.75)
    return list(dict.fromkeys(same_name + close))[:limit]
