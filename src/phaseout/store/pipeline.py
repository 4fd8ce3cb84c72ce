"""Run an import's bulk writes on a second thread, so PostgreSQL stores one chunk while Python
parses and merges the next.

Why: on PostgreSQL the importer sent a chunk with ``COPY`` and then waited, idle, while the server
parsed it, wrote its heap pages and index entries; then the server waited, idle, while Python
parsed the next chunk.  The machine has two cores; psycopg releases the GIL while it waits for
the server, so with the writes on a thread both sides work at once.

Order and transactions: jobs run one at a time, in the order submitted, on the import's own
connection and transaction (a psycopg connection is thread-safe: a statement the caller's thread
sends meanwhile, such as a new site, waits for the running job).  A job is a plain function of
the raw DBAPI connection; the caller's SQLAlchemy ``Connection`` is never touched from the thread.

Errors: the first failure is kept, later jobs are skipped, and the error is raised in the caller's
thread at the next :meth:`submit`, at :meth:`wait`, or when the ``with`` block ends, so the
import's transaction (already failed on the server) is rolled back by its caller as before.
SQLite, or ``threaded=False``: each job runs at once in the caller's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

#: Chunks waiting for the writer: bounds memory (a chunk is 20,000 rows) while the next is parsed.
QUEUE_CHUNKS = 2

Job = Callable[[Any], None]


class BackgroundWriter:
    """Runs :data:`Job` functions, each given the raw DBAPI connection, on one thread."""

    def __init__(self, raw: Any, *, threaded: bool) -> None:
        self.raw = raw
        self.threaded = threaded
        self.error: BaseException | None = None
        self._cancelled = False
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> None:
        """Queue ``job`` (or run it now when not threaded); raises an earlier job's error."""
        self._raise()
        if not self.threaded:
            job(self.raw)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="phaseout-bulk-writer", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def wait(self) -> None:
        """Return when every submitted job has run; raises the first job's error."""
        if self._thread is not None:
            self._jobs.join()
        self._raise()

    def close(self, *, cancel: bool = False) -> None:
        """Stop the thread after the jobs already queued (skipped after an error, or with
        ``cancel``: the caller is rolling back, so nothing queued needs to reach the server)."""
        self._cancelled = self._cancelled or cancel
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(cancel=exc is not None)
        if exc is None:
            self._raise()
        elif self.error is not None and self.error is not exc and isinstance(exc, Exception):
            # the caller's own failure is often only the consequence (a failed transaction)
            raise self.error from exc

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self.error is None and not self._cancelled:
                    job(self.raw)
            except BaseException as exc:  # kept and raised in the caller's thread
                self.error = exc
            finally:
                self._jobs.task_done()
