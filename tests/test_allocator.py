"""glibc's malloc keeps what a refresh frees for reuse (`ctxeng.core.allocator`): no block mapped fresh."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.extras import unavailable

# A 4 MiB block in a fresh interpreter: how many blocks glibc mapped apart from its heap (mallinfo2's hblks).
_PROBE = """
import ctypes, sys
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "tuned":
    from ctxeng.core.allocator import keep_freed_memory
    assert keep_freed_memory()
before = libc.mallinfo2().hblks
block = bytearray(4 << 20)
print(libc.mallinfo2().hblks - before)
"""


def _mapped_apart(mode: str) -> int:
    # glibc's own defaults: without the settings a caller may export (.ci/run sets MALLOC_* for training).
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=False, env=env
    )
    if proc.returncode != 0 and "mallinfo2" in proc.stderr:
        unavailable("glibc 2.33 or later (mallinfo2) is needed to watch malloc's mappings")
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def test_a_large_block_comes_from_the_heap_once_freed_memory_is_kept() -> None:
    if not sys.platform.startswith("linux"):
        unavailable("glibc's malloc on Linux")
    assert _mapped_apart("default") == 1  # glibc maps a block this large on its own, and unmaps it when freed
    assert _mapped_apart("tuned") == 0  # from the heap, where a freed block is reused
