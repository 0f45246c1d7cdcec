"""Whether a build would only reproduce the outputs already there: a fingerprint of everything it reads.

A build reads the commits of HEAD, the index (blob and mode of every entry), the configuration,
ctxeng's own code and data, and a few work-tree files that steer selection (`.ctxengignore`,
`.gitattributes`, `.git/info/attributes`); it writes `.ctxeng/` and the pack's files in the work
tree. When the fingerprint of those inputs, and the bytes of the pack's work-tree files, equal
what the last build recorded, a new build would write the same bytes (its manifest aside: time
and stage timings), so `build` can stop early. Anything unreadable means "not up to date".
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from ctxeng.core.config import Config
from ctxeng.core.repo import RepoView

STATE_FILE = "state/inputs.json"
#: Outputs that must be present for the last build to count (the pack's are checked by their bytes).
OUTPUTS = ("manifest.json", "records.jsonl", "dataset/train.jsonl", "dataset/eval.jsonl", "state/blobs.jsonl")


@functools.lru_cache(maxsize=1)
def package_digest() -> str:
    """A digest of every file of the installed ctxeng package (code, queries, tokenizer; ~1.7 MB)."""
    root = resources.files("ctxeng")
    digest = hashlib.sha1()
    stack = [root]
    files = []
    while stack:
        folder = stack.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                if entry.name != "__pycache__":
                    stack.append(entry)
            elif not entry.name.endswith((".pyc", ".pyo")):
                files.append(entry)
    for entry in sorted(files, key=str):
        digest.update(str(entry).encode("utf-8", "backslashreplace"))
        digest.update(entry.read_bytes())
    return digest.hexdigest()


def _file_bytes(path: Path) -> bytes:
    try:
        return b"-" if path.is_symlink() else path.read_bytes()
    except OSError:
        return b"-"


def inputs_fingerprint(repo: RepoView, config: Config, write_pack: bool, in_hook: bool) -> str:
    """The digest of everything a build of `repo` reads (see the module docstring)."""
    index = repo.index()
    digest = hashlib.sha1()
    head = {"package": package_digest(), "config": config.to_json(), "config_source": config.source,
            "head": repo.head, "branch": repo.branch, "shallow": repo.shallow, "name": repo.name,
            "write_pack": write_pack, "in_hook": in_hook}  # fmt: skip
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    for entry in index:
        digest.update(f"\0{entry.path}\0{entry.blob}\0{entry.mode}".encode("utf-8", "backslashreplace"))
    steering = [repo.root / ".ctxengignore", repo.git_dir / "info" / "attributes"]
    steering += [repo.root / e.path for e in index if e.path.rsplit("/", 1)[-1] == ".gitattributes"]
    for path in steering:
        digest.update(b"\0" + _file_bytes(path))
    return digest.hexdigest()


def pack_files_applied(root: Path, gen: Path, manifest: dict[str, Any]) -> bool:
    """Whether the work tree still holds the pack files generation `gen` applied: every skill file as
    the generation keeps it, and its CLAUDE.md block inside CLAUDE.md (the user's text around it is theirs)."""
    pack = manifest.get("pack") or {}
    skill = pack.get("skill")
    if isinstance(skill, str):
        for rel in sorted(pack.get("tokens") or {}):
            if _file_bytes(root / skill / rel) != _file_bytes(gen / "skill" / rel):
                return False
    block = _file_bytes(gen / "claude-md-block.md")
    return not block or block in _file_bytes(root / "CLAUDE.md")


def state_for(fingerprint: str) -> dict[str, str]:
    """What a build records about its inputs (written with its outputs, in `STATE_FILE`)."""
    return {"inputs": fingerprint}


def current_manifest(out_dir: Path, root: Path, fingerprint: str) -> dict[str, Any] | None:
    """The last build's manifest when its outputs are there and its inputs equal `fingerprint`, else None."""
    from ctxeng.core.generation import verify
    from ctxeng.core.workdir import generation_dir

    out_dir = generation_dir(out_dir)  # resolved once: state, manifest and outputs of one generation
    if verify(out_dir):  # a damaged generation is rebuilt, never reported as up to date
        return None
    try:
        state = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(state, dict) or not isinstance(manifest, dict) or state.get("inputs") != fingerprint:
        return None
    if not all((out_dir / name).is_file() for name in OUTPUTS):
        return None
    if manifest.get("pack") and (
        not (out_dir / "index.json").is_file() or not pack_files_applied(root, out_dir, manifest)
    ):
        return None
    return manifest
