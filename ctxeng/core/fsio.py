"""Crash-safe file output: atomic writes, staged multi-file publication and the build lock."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import math
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ctxeng.core.errors import CtxengError

try:  # POSIX; the kernel drops an flock when its holder dies, so a crash never leaves a stale lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _fsync_dir(path: Path) -> None:
    # A rename is atomic but only durable once the directory entry itself is flushed.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success fsync it and rename it over `path`.

    On any exception (Ctrl-C included) the temporary file is removed and `path` keeps its
    previous content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically."""
    with atomic_writer(path) as fh:
        fh.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically."""
    with atomic_writer(path, "wb") as fh:
        fh.write(data)


# The deterministic JSON form: sorted keys, compact separators, no ASCII escaping.
_STDLIB_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
# orjson spells two kinds of float unlike the stdlib: NaN/Infinity (as null) and 0 < |x| < 1e-4
# (1e-05 as 0.00001, 1e-07 as 1e-7). Output without these marks holds no such float.
_SHORT_EXPONENT = re.compile(rb"e-[0-9](?![0-9])")
# Values whose spelling a later orjson could change: on any disagreement only the stdlib writes.
_PROBES = (
    0.1, 1.0, -0.0, 1e15, 1e16, 1.5e300, 5e-324, 1e-10, 123456789012345.6, 2**63, -(2**63),
    "\x00\x1f\x7f\"\\/\u2028\ufeff\U0001f600", {"b": [True, None], "a": {}, "B": [], "\U00010000": 1, "\uffff": 2},
)  # fmt: skip


@functools.cache
def _orjson_dumps() -> Callable[[Any], bytes] | None:
    """orjson's encoder in the deterministic form, or None when orjson is missing or spells a probe
    unlike the stdlib. Imported on first use: the import costs ~10 ms that a hook need not pay."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - a dependency; the stdlib alone writes the same bytes
        return None
    # Plain dicts, lists, tuples, str, int, float, bool and None only: anything else (subclasses,
    # dataclasses, dates) is refused and goes to the stdlib encoder.
    options = (
        orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
    )  # fmt: skip
    dumps = functools.partial(orjson.dumps, option=options)
    return dumps if all(dumps(value).decode() == _STDLIB_ENCODE(value) for value in _PROBES) else None


def _odd_float(data: bytes) -> bool:
    """Whether orjson's `data` may hold a float it spells unlike the stdlib (false alarms cost only time)."""
    if b"0.0000" in data or (b"e-" in data and _SHORT_EXPONENT.search(data) is not None):
        return True
    at = data.find(b"null")
    while at >= 0:  # a null value (None or NaN), not the word inside a string such as "nullable"
        if at == 0 or data[at - 1] in b":,[":
            return True
        at = data.find(b"null", at + 4)
    return False


def _orjson(obj: Any) -> bytes | None:
    """`dumps_json(obj)` as UTF-8 from orjson, or None where the stdlib must write it."""
    dumps = _orjson_dumps()
    if dumps is None:
        return None
    try:
        data = dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: the stdlib encodes it or raises its own error
        return None
    return None if _odd_float(data) else data


def dumps_json(obj: Any) -> str:
    """Serialise deterministically: sorted keys, no ASCII escaping, compact separators.

    The text is exactly `json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`.
    orjson writes it where it can (2-3x faster); the stdlib where orjson refuses the input (lone
    surrogates, ints beyond 64 bits, non-str keys, subclasses of the built-in types) or may spell
    a float differently. The one difference: enum members and UUIDs, which the stdlib refuses,
    are written as their values.
    """
    data = _orjson(obj)
    return _STDLIB_ENCODE(obj) if data is None else data.decode("utf-8")


def dumps_json_floatless(obj: Any) -> str:
    """`dumps_json(obj)` for a value the caller knows holds no float (only dicts, lists, str, int, bool,
    None): orjson's text is then exact, so it is taken without scanning it for floats (whose checks
    also fire on strings that merely contain "null" or "0.0000", sending megabytes to the stdlib)."""
    dumps = _orjson_dumps()
    if dumps is not None:
        try:
            return dumps(obj).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError: lone surrogates, ints beyond 64 bits ...
            pass
    return _STDLIB_ENCODE(obj)


def dumps_floats(values: Sequence[float]) -> str:
    """`dumps_json(values)` for a list of floats, written by `float.__repr__` as the stdlib does."""
    if all(type(x) is float for x in values) and math.isfinite(sum(values)):  # no NaN or infinity
        return "[" + ",".join(map(float.__repr__, values)) + "]"
    return dumps_json(list(values))


def dumps_json_bytes(obj: Any) -> bytes:
    """`dumps_json(obj)` encoded as UTF-8, without decoding orjson's bytes to text and back.

    Lone surrogates raise UnicodeEncodeError, as writing `dumps_json`'s text to a UTF-8 file would.
    """
    data = _orjson(obj)
    return _STDLIB_ENCODE(obj).encode("utf-8") if data is None else data


def write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    """Atomically write one deterministic JSON object per line; returns the number of rows."""
    count = 0
    with atomic_writer(path, "wb") as fh:
        for row in rows:
            fh.write(dumps_json_bytes(row))
            fh.write(b"\n")
            count += 1
    return count


def read_jsonl(path: Path) -> Iterator[Any]:
    """Yield the JSON objects of a JSONL file (blank lines are skipped)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def __getattr__(name: str) -> Any:
    # `Staging` moved to `ctxeng.core.generation` (it now publishes a whole generation); importing it
    # from here keeps working without a circular import.
    if name == "Staging":
        from ctxeng.core.generation import Staging

        return Staging
    raise AttributeError(name)


_published = False  # this command switched to a new generation (see `published`)


def note_published() -> None:
    """Record that this command made a new generation current: from then on the run counts as complete."""
    global _published
    _published = True


def published(forget: bool = False) -> bool:
    """Whether this command has published a generation since the last `published(forget=True)`.

    The CLI asks on Ctrl-C: an interrupt that lands after the switch (while the summary prints or
    the process exits) must not report 130, "nothing changed", about outputs that did change. A
    later phase that Ctrl-C really stops (`build --train`'s training) forgets first.
    """
    global _published
    answer = _published
    if forget:
        _published = False
    return answer


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """Hold back Ctrl-C and SIGTERM for the enclosed block; yields the signals that arrived.

    Used once the switch to a new generation is under way: from then on the run completes (exit 0)
    instead of stopping halfway with the outputs already published. Outside the main thread
    (where signal handlers cannot be installed) it does nothing.
    """
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def note(signum: int, frame: Any) -> None:
        got.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class LockBusy(CtxengError):
    """Another ctxeng process holds the lock of this output directory."""


_HELD: set[Path] = set()


def held_locks() -> frozenset[Path]:
    """The (resolved) directories whose `Lock` this process holds right now."""
    return frozenset(_HELD)


class Lock:
    """An exclusive `flock` on `<out_dir>/lock`, released on exit or when the process dies."""

    def __init__(self, out_dir: Path, wait_seconds: float = 0.0) -> None:
        self.path = out_dir / "lock"
        self.wait_seconds = wait_seconds
        self._fd: int | None = None

    def __enter__(self) -> Lock:
        fd = self._open()
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.05
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    raise LockBusy(
                        f"another ctxeng process{f' (pid {holder})' if holder else ''} is writing {self.path.parent}",
                        hint="wait for it to finish; its outputs replace the current ones atomically",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _HELD.add(self.path.parent.resolve())
        return self

    def _open(self) -> int:
        """The lock file's descriptor; a folder or file in the way is a `CtxengError`, not a traceback."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise CtxengError(
                f"{folder} is not a directory",
                hint="ctxeng keeps its outputs there: move that file away, then run the command again",
            ) from None
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except IsADirectoryError:
            raise CtxengError(
                f"{self.path} is a directory, not ctxeng's lock file",
                hint=f"remove it (rm -r {self.path}) and run the command again",
            ) from None
        except OSError as exc:
            raise CtxengError(
                f"cannot open the lock file {self.path}: {exc.strerror or exc}",
                hint="check that it is a plain file you may write, or remove it",
            ) from None

    def __exit__(self, *exc: object) -> None:
        _HELD.discard(self.path.parent.resolve())
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            # Unlocked explicitly: closing releases the flock only once every copy of the descriptor is
            # closed, and a forked stage's child (reaped aside, `ctxeng.core.forked`) may still hold one.
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        return os.pread(fd, 32, 0).decode().strip()
    return ""


def append_range(out: IO[bytes], src: IO[bytes], at: int, n: int, what: str) -> None:
    """Append `src`'s `n` bytes from offset `at` to `out`: in the kernel where it can
    (`copy_file_range`, a fifth of the CPU of reading and writing), else read and written 16 MB at a
    time. `what` names `src` in the OSError raised when it turns out shorter than that (it changed)."""
    out.flush()  # what was written goes first; the copy then continues at the file's position
    done = 0
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no copy_file_range here
        while done < n:
            step = os.copy_file_range(src.fileno(), out.fileno(), n - done, at + done)
            if step <= 0:
                break
            done += step
    while done < n:  # a file system that cannot (or a short copy): the rest the ordinary way
        data = os.pread(src.fileno(), min(n - done, 1 << 24), at + done)
        if not data:
            raise OSError(f"the last generation's {what} changed while it was read")
        out.write(data)
        done += len(data)
