"""Give memory the solver has freed back to the operating system.

Why: HiGHS grows its column vectors as column generation adds columns, and numpy's large
temporaries come and go around it; glibc keeps the freed blocks in its heap instead of returning
them.  Measured at 30,000 sites (``bench/plan_speed.py``): after the LP relaxation returned and
its HiGHS instance was freed, the process still held 396 MB more than before it (735 -> 1,131 MB
resident), so every later step (the neighbourhoods, the benchmark's own checks) started from
there.  ``malloc_trim`` hands those blocks back; it changes no number the solver computes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it (``malloc_trim`` is a glibc extension)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018 - musl and others lack it
    except (OSError, AttributeError):
        return None
    return libc


def return_freed_memory() -> bool:
    """Return the heap's free blocks to the operating system; True when any was returned.
    A no-op (False) where the C library has no ``malloc_trim``."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
