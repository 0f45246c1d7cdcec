"""History stream 2: the patches of the window's commits from one `git diff-tree --stdin -p` run.

Hunk headers name the enclosing definition: git's built-in drivers (`diff=python`, ...) or our
`funcname` regexes are attached by extension through a temporary `core.attributesFile`. Every
setting that could run a program (textconv, external diff) or change the text's shape is pinned.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ctxeng.core.errors import CtxengError
from ctxeng.core.gitcli import SAFE_CONFIG, decode
from ctxeng.core.repo import RepoView
from ctxeng.extract.history.parse import CommitPatch, parse_patches
from ctxeng.extract.history.paths import NO_OMISSIONS, Omissions
from ctxeng.extract.languages import LanguageSpec, load_languages

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PIPE_BYTES = 1 << 20  # git's stdout pipe, widened (Linux) so that git can run ahead of the parser
READ_BYTES = 1 << 18
PAUSE_S = 0.01  # git fills about 100 KB meanwhile, a tenth of the widened pipe
# Repository or user settings that would change the patch text or its parsing; pinned for every run.
PATCH_CONFIG = (
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.suppressBlankEmpty=false",
    "-c", "diff.relative=false",
    "-c", "diff.orderFile=/dev/null",
    "-c", "diff.context=3",
    "-c", "diff.interHunkContext=0",
)  # fmt: skip
PATCH_OPTIONS = (
    "--stdin", "--root", "--always", "-p", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color",
    "--full-index", "--src-prefix=a/", "--dst-prefix=b/", "-U3",
)  # fmt: skip


def diff_driver_setup(langs: dict[str, LanguageSpec], folder: Path) -> list[str]:
    """Write an attributes file mapping extensions to hunk-header drivers; return the `-c` options.

    A language with a git built-in driver (`diff_driver`) uses it; one with a `funcname` regex gets
    a driver `ctxeng-<lang>`. The file is `core.attributesFile`, the lowest-precedence attributes
    source, so a repository's own `.gitattributes` still wins (its textconv drivers stay disabled).
    """
    lines: list[str] = []
    options: list[str] = []
    for name in sorted(langs):
        spec = langs[name]
        driver = spec.diff_driver or (f"ctxeng-{name}" if spec.funcname else "")
        if not driver:
            continue
        lines += [f"*{ext} diff={driver}" for ext in spec.extensions]
        if not spec.diff_driver:
            options += ["-c", f"diff.{driver}.xfuncname={spec.funcname}"]
    attributes = folder / "attributes"
    attributes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["-c", f"core.attributesFile={attributes}", *options]


def batched_reader(fd: int) -> Callable[[int], bytes]:
    """A `read(n)` on git's stdout that lets git fill the pipe before waking up again.

    Python parses faster than git writes, so plain reads return a few KB each and both processes
    wake up tens of thousands of times; on a VM every wake-up costs tens of microseconds. After a
    short read we pause (at most `PAUSE_S`, well below the time git needs to fill the widened pipe,
    so git never waits): about 10x fewer reads, ~25% less CPU for the parser and a few % for git.
    """
    pause = 0.0
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere plain reads
        if fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES) >= PIPE_BYTES:
            pause = PAUSE_S

    def read(n: int) -> bytes:
        data = os.read(fd, n)
        if pause and 0 < len(data) < n // 4:
            time.sleep(pause)
        return data

    return read


def patch_command(folder: Path) -> list[str]:
    """The git command line of stream 2 (it reads shas on stdin); driver files are written into `folder`."""
    drivers = diff_driver_setup(load_languages(), folder)
    return ["git", *SAFE_CONFIG, *PATCH_CONFIG, *drivers, "diff-tree", *PATCH_OPTIONS]


def stream_patches(
    repo: RepoView,
    shas: Sequence[str],
    max_bytes: int,
    drop_files: tuple[str, ...] = (),
    omissions: Omissions = NO_OMISSIONS,
) -> Iterator[CommitPatch]:
    """Yield the bounded patch of each commit in `shas`, in that order, from one git process.

    A git failure part-way (e.g. a missing blob in a partial clone) ends the stream after the
    commits already parsed and raises `CtxengError`; callers keep what they got.
    """
    if not shas:
        return
    with tempfile.TemporaryDirectory(prefix="ctxeng-history-") as tmp:
        folder = Path(tmp)
        argv = patch_command(folder)
        (folder / "commits").write_bytes("".join(f"{sha}\n" for sha in shas).encode())
        with open(folder / "commits", "rb") as stdin, open(folder / "stderr", "w+b") as stderr:
            # A partial clone would fetch every missing blob over the network (git >= 2.44 obeys this).
            env = {**repo.git.env, "GIT_NO_LAZY_FETCH": "1"}
            proc = subprocess.Popen(argv, cwd=repo.git.root, env=env, stdin=stdin, bufsize=0,
                                    stdout=subprocess.PIPE, stderr=stderr)  # fmt: skip
            assert proc.stdout is not None
            try:
                last: CommitPatch | None = None  # complete only once git has gone on to the next one
                read = batched_reader(proc.stdout.fileno())
                for patch in parse_patches(
                    read, max_bytes, drop_files, block=READ_BYTES, omissions=omissions
                ):
                    if last is not None:
                        yield last
                    last = patch
                if proc.wait() != 0:
                    stderr.seek(0)
                    msg = decode(stderr.read()).strip().splitlines()
                    raise CtxengError(
                        f"git diff-tree failed: {msg[-1] if msg else f'exit {proc.returncode}'}"
                    )
                if last is not None:
                    yield last
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                with contextlib.suppress(OSError):
                    proc.stdout.close()
