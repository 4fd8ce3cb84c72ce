"""Give memory the solver has freed back to the operating system.

Why: HiGHS grows its column vectors as column generation adds columns, and numpy's large
temporaries come and go around it; glibc keeps the freed blocks in its heap instead of returning
them.  Measured at 30,000 sites (``bench/plan_speed.py``): after the LP relaxation returned and
its HiGHS instance was freed, the process still held 396 MB more than before it (735 -> 1,131 MB
resident), so every later step (the neighbourhoods, the benchmark's own checks) started from
there.  ``malloc_trim`` hands those blocks back; it changes no number the solver computes.

The peak itself comes down when large blocks are mapped on their own (glibc's ``mallopt``): HiGHS
reallocates its vectors as columns are added, and in the shared heap the old blocks leave holes
the larger new ones do not fit.  Measured on the same LP (932,455 columns, 487,081 of them
generated): peak 741 -> 663 MB resident, 630 -> 328 MB once it returned, same optimum to the last
digit.  Blocks of 1 MiB or more only: small objects keep the heap's speed.
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


#: glibc ``mallopt`` parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 1 << 20  # bytes: blocks at least this large get their own mapping


@functools.cache
def map_large_blocks() -> bool:
    """From now on, give blocks of :data:`LARGE_BLOCK` bytes or more their own memory mapping (so
    freeing one returns it at once) and trim the heap's top beyond that much; once per process.
    True when the C library took the setting.  Why process-wide: the big blocks are HiGHS's,
    allocated in C++ where no allocator can be passed."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, LARGE_BLOCK))


def return_freed_memory() -> bool:
    """Return the heap's free blocks to the operating system; True when any was returned.
    A no-op (False) where the C library has no ``malloc_trim``."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
