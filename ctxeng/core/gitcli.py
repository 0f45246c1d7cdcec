"""Small typed wrappers around the git CLI: safe flags, hook-aware environment, streaming output.

Bulk work goes through the git CLI (one streaming process beats per-object library calls by
3-17x). Every call disables repository-configured programs that could run on our behalf
(fsmonitor, external diff, textconv, signature checks) because ctxeng may read untrusted clones.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ctxeng.core.errors import CtxengError

# Config overrides placed before every subcommand.
SAFE_CONFIG = (
    "-c", "core.fsmonitor=",
    "-c", "core.quotepath=off",
    "-c", "log.showSignature=false",
    "-c", "diff.external=",
    "-c", "core.pager=cat",
    "-c", "color.ui=false",
    "-c", "i18n.logOutputEncoding=UTF-8",
)  # fmt: skip

# Variables git exports to hooks; they must not leak into git calls on any other repository.
REPO_LOCAL_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE",
)  # fmt: skip


def git_env(inherit_repo_vars: bool) -> dict[str, str]:
    """The environment for a git child: no prompts, no optional locks, C locale.

    `inherit_repo_vars` keeps GIT_DIR / GIT_INDEX_FILE & co. — right only when the child works on
    the very repository whose hook exported them (during `git commit -a` GIT_INDEX_FILE points at
    the temporary index that holds what is being committed).
    """
    env = dict(os.environ)
    if not inherit_repo_vars:
        for var in REPO_LOCAL_VARS:
            env.pop(var, None)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never contend with the git process that runs our hook
    env["LC_ALL"] = "C"
    env["GIT_NO_LAZY_FETCH"] = (
        "1"  # a partial clone must not fetch missing blobs over the network (git >= 2.44)
    )
    env.pop("GIT_EXTERNAL_DIFF", None)
    return env


class Git:
    """Runs git in one repository with a fixed, safe environment."""

    def __init__(self, root: Path, inherit_repo_vars: bool = False) -> None:
        self.root = root
        self.env = git_env(inherit_repo_vars)

    def _argv(self, args: Sequence[str]) -> list[str]:
        return ["git", *SAFE_CONFIG, *args]

    def run(self, args: Sequence[str], input: bytes | None = None, check: bool = True) -> bytes:
        """Run git and return its stdout; a failure becomes a `CtxengError` with git's message."""
        proc = subprocess.run(
            self._argv(args), cwd=self.root, env=self.env, input=input, capture_output=True, check=False
        )
        if check and proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CtxengError(f"git {args[0]} failed: {msg[-1] if msg else f'exit {proc.returncode}'}")
        return proc.stdout

    def text(self, args: Sequence[str], check: bool = True) -> str:
        """`run` decoded as UTF-8 and stripped."""
        return decode(self.run(args, check=check)).strip()

    def ok(self, args: Sequence[str]) -> bool:
        """Whether git exits 0."""
        return subprocess.run(
            self._argv(args), cwd=self.root, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        ).returncode == 0  # fmt: skip

    def stream(self, args: Sequence[str], sep: bytes = b"\0", chunk: int = 1 << 16) -> Iterator[bytes]:
        """Yield git's stdout split at `sep`, as it is produced; the child dies with the iterator."""
        proc = subprocess.Popen(
            self._argv(args), cwd=self.root, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        buf = b""
        try:
            while True:
                data = proc.stdout.read1(chunk)  # type: ignore[attr-defined]
                if not data:
                    break
                buf += data
                if sep not in data:
                    continue
                *parts, buf = buf.split(sep)
                yield from parts
            if buf:
                yield buf
            err = proc.stderr.read() if proc.stderr else b""
            if proc.wait() != 0:
                msg = decode(err).strip().splitlines()
                raise CtxengError(f"git {args[0]} failed: {msg[-1] if msg else f'exit {proc.returncode}'}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe:
                    pipe.close()

    def read_blobs(self, blobs: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Yield (blob id, content) for each id through one `git cat-file --batch` process.

        Missing objects (a partial clone) are skipped rather than fatal.
        """
        ids = list(blobs)
        if not ids:
            return
        proc = subprocess.Popen(
            self._argv(["cat-file", "--batch"]), cwd=self.root, env=self.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def feed() -> None:  # a writer thread, so a full stdout pipe can never deadlock us
            try:
                for blob in ids:
                    stdin.write(blob.encode() + b"\n")
                stdin.close()
            except (BrokenPipeError, ValueError):
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for blob in ids:
                header = proc.stdout.readline().split()
                if len(header) == 2 and header[1] == b"missing":
                    continue
                if len(header) != 3:
                    break
                size = int(header[2])
                data = proc.stdout.read(size)
                proc.stdout.read(1)  # the newline after each object
                yield blob, data
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            writer.join(timeout=1)

    def blob_sizes(self, blobs: Iterable[str]) -> dict[str, int]:
        """Sizes of blobs by id (`git cat-file --batch-check`); missing objects are left out."""
        ids = sorted(set(blobs))
        if not ids:
            return {}
        out = self.run(["cat-file", "--batch-check"], input="".join(f"{b}\n" for b in ids).encode())
        sizes = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                sizes[parts[0].decode()] = int(parts[2])
        return sizes


def decode(data: bytes) -> str:
    """Decode git output (paths, messages) to a JSON-safe str: invalid bytes become `\\xNN` escapes."""
    return data.decode("utf-8", "backslashreplace")
