"""Run one stage in a forked child while the build goes on with the next (the pack beside the dataset).

Why a fork and not a thread: the stages are pure Python, so threads would share one core; a forked child
gets the parent's records for free (copy-on-write) and a core of its own. Where `fork` is missing, no core
is idle, or `CTXENG_PARALLEL=0` (`parallel_allowed()`), the caller runs the stage in turn instead: the
stages write disjoint files, so running them one after the other or side by side gives byte-identical
outputs.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ctxeng.core.errors import CtxengError

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


def parallel_allowed() -> bool:
    """Whether a stage may run in a forked child: `fork` exists and a core is idle right now.

    On a busy machine the child would only queue for the same core, and its copy-on-write page
    faults cost ~0.4 CPU-s on sqlalchemy, which a second core pays for and a queue does not.
    `CTXENG_PARALLEL=0` switches it off, `=1` on regardless (tests compare both ways).
    """
    wanted = os.environ.get("CTXENG_PARALLEL", "")
    if wanted == "0" or not hasattr(os, "fork"):
        return False
    if wanted == "1":
        return True
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores - 1 - busy_cores() >= 1.0  # one core is ours; another must be free for the child


def busy_cores() -> float:
    """Cores other processes keep busy: Linux's count of runnable tasks now, less this one
    (/proc/loadavg); elsewhere the last minute's load average (which counts our own run too)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            runnable = fh.read().split()[3].split("/")[0]
        return max(int(runnable) - 1, 0)
    except (OSError, IndexError, ValueError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


class Job(Generic[T]):
    """`fn()` running in a forked child; `result()` waits for it.

    The child's CPU seconds, wall seconds and peak RSS are in `usage` after `result()`: the parent's
    own `getrusage` cannot tell them apart from its other children (git). A `CtxengError` raised in
    the child is raised again by `result()` with its message and hint; any other exception becomes a
    `RuntimeError` carrying the child's traceback, so a bug is still a traceback, not a silent exit.
    """

    def __init__(self, fn: Callable[[], T]) -> None:
        self.usage: dict[str, float] = {}
        self._done: tuple[bool, Any] | None = None
        self._reaper: threading.Thread | None = None
        read_end, write_end = os.pipe()
        # Ctrl-C and SIGTERM wait until both sides are ready: in the child, an interrupt raised before
        # `_child`'s handlers would unwind into the parent's code (and its clean-up) in the wrong process;
        # in the parent, one raised before `self` holds the pid would leave the child unstoppable.
        masked = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's stack (its finally blocks are the parent's)
            _child(fn, read_end, write_end, masked, parent)
        os.close(write_end)
        self._pid, self._read_end = pid, read_end
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, masked)
        except BaseException:
            self.cancel()
            raise

    def result(self) -> T:
        """Wait for the child and return what `fn` returned (or raise what it raised)."""
        if self._done is None:
            try:
                payload = _read_all(self._read_end)
            finally:
                self._read_end = -1  # closed by `_read_all`, even when interrupted: never close it twice
            pid, self._pid = self._pid, 0
            if payload:  # the whole outcome: the exit status adds nothing, so the child is reaped aside
                # (its exit unmaps a few hundred MB: ~20 ms on sqlalchemy that would follow its result)
                self._reaper = threading.Thread(target=_reap, args=(pid,), name="ctxeng-reap", daemon=True)
                self._reaper.start()
                status = 0
            else:
                _, status = os.waitpid(pid, 0)
            self._done, self.usage = _decode(payload, status)
        ok, value = self._done
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def reap(self) -> None:
        """Wait until the child has exited and been reaped (after `result()`, which does not wait for
        that): its CPU time then counts among this process's children, as `getrusage` reports them."""
        if self._reaper is not None:
            self._reaper.join()

    def cancel(self) -> None:
        """Stop a child still running (the parent failed or was interrupted) and reap it."""
        if self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            if self._read_end != -1:
                os.close(self._read_end)
                self._read_end = -1
            self._pid = 0


class Gate:
    """A one-shot go-ahead from one side of a fork to the other: make it before the fork, `open()` it
    on one side, `wait()` for it on the other (which fails if that side ends without opening it). The
    parent tells a child its input is written; a child tells the parent an output is."""

    def __init__(self) -> None:
        self._fds = list(os.pipe())  # [read, write]; -1 once closed here

    def open(self) -> None:
        """Let the other side go on; without one it only closes the pipe."""
        if self._fds[1] != -1:
            os.write(self._fds[1], b"1")  # before closing our read end: a pipe without readers is EPIPE
        self.close()

    def close(self) -> None:
        """Close this process's ends (idempotent: a closed descriptor's number may be reused)."""
        for i, fd in enumerate(self._fds):
            if fd != -1:
                self._fds[i] = -1
                os.close(fd)

    def wait(self) -> None:
        """Block until the other side opens the gate."""
        read, write = self._fds
        os.close(write)  # else our own copy keeps the pipe open and a dead opener is never noticed
        self._fds[1] = -1
        if not os.read(read, 1):
            raise RuntimeError("the parent process ended before the forked stage could go on")


def fork_stage(fn: Callable[[], T]) -> Job[T]:
    """Start `fn` in a forked child (check `parallel_allowed()` first); `result()` waits for it."""
    return Job(fn)


def _child(
    fn: Callable[[], Any], read_end: int, write_end: int, masked: set[int | signal.Signals], parent: int
) -> None:
    code = 0
    try:
        started, cpu = time.perf_counter(), _cpu()
        os.close(read_end)
        _die_with_parent(parent)
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)
        try:
            outcome: tuple[bool, Any] = (True, fn())
        except KeyboardInterrupt:
            outcome, code = (False, ("interrupted", "")), 130
        except CtxengError as exc:
            outcome = (False, ("ctxeng", (type(exc), exc.message, exc.hint)))
        except BaseException:  # a bug: the parent raises it with this traceback
            outcome = (False, ("bug", traceback.format_exc()))
        usage = _usage(started, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        data = pickle.dumps((outcome, usage))
        with os.fdopen(write_end, "wb") as out:
            out.write(data)
    except BaseException:  # nothing may unwind into the parent's code from here
        code = code or 1
    finally:
        # No flush of sys.stdout/stderr: the parent's unflushed buffers would be written twice, and
        # a progress thread of the parent may have held their locks when we forked.
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL the child when the parent dies (kill -9), so it never writes after its parent."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb") as stream:
        while chunk := stream.read(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


def _decode(payload: bytes, status: int) -> tuple[tuple[bool, Any], dict[str, float]]:
    """The child's outcome (returned value or exception to raise) and its usage figures."""
    code = os.waitstatus_to_exitcode(status)
    if not payload:
        if code in (130, -signal.SIGINT):
            return (False, KeyboardInterrupt()), {}
        return (False, RuntimeError(f"the forked stage exited with status {code} and no result")), {}
    (ok, value), usage = pickle.loads(payload)
    if ok:
        return (True, value), usage
    kind, detail = value
    if kind == "interrupted":
        return (False, KeyboardInterrupt()), usage
    if kind == "ctxeng":  # the same class (LockBusy stays LockBusy), message and hint
        cls, message, hint = detail
        error = cls.__new__(cls)
        CtxengError.__init__(error, message, hint)
        return (False, error), usage
    return (False, RuntimeError(f"the forked stage failed:\n{detail}")), usage


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _usage(started: float, cpu: float, maxrss_kib: int) -> dict[str, float]:
    return {
        "wall_s": round(time.perf_counter() - started, 3),
        "cpu_s": round(_cpu() - cpu, 3),
        "peak_rss_mb": round(maxrss_kib / 1024, 1),
    }
