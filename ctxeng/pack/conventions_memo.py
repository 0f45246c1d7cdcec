"""Mined conventions remembered by what they are mined from, so a refresh does not parse the CI YAML again.

`mine_conventions` reads the root manifests, task files and CI workflows (PyYAML, ~0.1 CPU-s on
requests) and the tracked paths. Its result is a function of those files' blobs, the secret
settings that redact them, the tracked paths and the code of the miners and redactor; keyed by
all of these (`cache/pack/conventions.json`, one entry), a hit is what mining again would give,
and the project files need not even be read.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from ctxeng import __version__
from ctxeng.core.cache import CacheTable, code_salt
from ctxeng.core.config import Config
from ctxeng.core.repo import IndexEntry, RepoView
from ctxeng.pack.commands import Command, Conventions

MEMO_FILE = "cache/pack/conventions.json"
_MINERS = ("conventions", "commands", "ci_commands", "paths")


@functools.cache
def _salt() -> str:
    import importlib

    digest = hashlib.sha1(f"{__version__}\0{code_salt()}\0conventions-memo-1".encode())
    for name in _MINERS:
        digest.update(Path(str(importlib.import_module(f"ctxeng.pack.{name}").__file__)).read_bytes())
    return digest.hexdigest()


def conventions_cached(
    repo: RepoView, index: list[IndexEntry], config: Config, tracked: list[str], out_dir: Path
) -> Conventions:
    """`mine_conventions(read_project_files(repo, index, config), tracked)`, remembered under `out_dir`."""
    from ctxeng.pack.conventions import mine_conventions, project_files
    from ctxeng.pack.publish import read_project_files

    entries = {e.path: e for e in index}
    sources = [[p, entries[p].blob, entries[p].mode] for p in project_files(entries)]
    key = hashlib.sha1(
        json.dumps([config.to_json()["secrets"], sources, tracked], sort_keys=True).encode(
            "utf-8", "surrogatepass"
        )
    ).hexdigest()
    table = CacheTable(out_dir / MEMO_FILE, _salt())
    row = table.entries.get(key)
    if isinstance(row, dict):
        try:
            return Conventions(
                commands=[Command(*c) for c in row["commands"]],
                entry_points=[(p, q) for p, q in row["entry_points"]],
                scripts=[(n, t) for n, t in row["scripts"]],
                tools=list(row["tools"]),
            )
        except (KeyError, TypeError, ValueError):
            pass
    conv = mine_conventions(read_project_files(repo, index, config), tracked)
    table.entries.clear()  # one repository, one current answer
    table.put(key, {
        "commands": [[c.category, c.command, c.source, c.note] for c in conv.commands],
        "entry_points": [list(e) for e in conv.entry_points], "scripts": [list(s) for s in conv.scripts],
        "tools": list(conv.tools),
    })  # fmt: skip
    table.save({key})
    return conv
