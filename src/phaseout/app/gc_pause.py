"""Pause Python's cycle collector while one scan or upload is merged.

Merging an upload builds hundreds of thousands of small lists, dicts and tuples (the upload's
JSON, each answer's facts, the rows written), and each few hundred allocations start a
collection that walks the young objects, and now and then every object of the process (the
identifier's knowledge among them).  Almost none of it is cyclic garbage: it is freed by
reference counting as each step ends.  On an upload of 4,096 answering hosts merged into
PostgreSQL, the merge took 0.88-0.99 s of CPU with the collector paused against 1.35-1.51 s
without (two runs each, docs/benchmarks.md).  So the collector waits until the merge ends,
then runs as usual.

Process-wide (``gc`` has no per-thread switch): a counter keeps it paused while any merge of
the process runs, and it resumes when the last one ends, even after an exception.  Uploads from
many collectors can overlap without end (one merge always running), so a merge that ends after
the collector has been paused ``MAX_PAUSE`` seconds collects once, while the others still run:
the rest of the server's cyclic garbage waits that long at most.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds the collector may stay paused by overlapping merges before one of them collects.
MAX_PAUSE = 30.0

_lock = threading.Lock()
_running = 0
_was_enabled = True
_since = 0.0  # when the collector last ran (or was paused)


@contextmanager
def paused() -> Iterator[None]:
    """The block runs with the cycle collector paused (unless it was off already)."""
    global _running, _was_enabled, _since
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
            _since = time.monotonic()
        _running += 1
    try:
        yield
    finally:
        overdue = False
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()
            elif _running and _was_enabled and time.monotonic() - _since >= MAX_PAUSE:
                overdue = True
                _since = time.monotonic()
        if overdue:  # (outside the lock: a finalizer the collection runs may merge something)
            gc.collect()
