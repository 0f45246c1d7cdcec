"""Keeping freed memory for reuse within one short build process (glibc's malloc), not handing it back."""

from __future__ import annotations

import sys

#: `mallopt` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks below this come from the heap, where a freed one is reused (glibc's default starts at 128 KiB).
MMAP_THRESHOLD = 32 << 20
#: Free memory kept at the heap's top before it is returned to the kernel.
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to serve blocks below 32 MiB from its heap and to keep up to 256 MiB free there.

    By default a block of 128 KiB or more (the read of a cache file, a list of 40,000 definitions) is
    mapped fresh and unmapped when freed, and the heap is trimmed whenever 128 KiB lie free at its top:
    a refresh allocates and frees hundreds of MB in turn, and every page mapped anew is faulted in
    again, which costs ~4 us a page on a virtual machine (the sqlalchemy refresh: ~16,000 faults fewer
    with this, ~0.05 CPU-s). For short processes only (`ctxeng refresh` calls it): what it keeps is let
    go at their end, and a cold build's peak memory (bench/build.py, bench/scale.py) is left as it was.
    True when the settings were taken (glibc on Linux); elsewhere nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
