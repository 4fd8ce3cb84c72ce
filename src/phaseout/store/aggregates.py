"""Estate-wide aggregates shared through the database (``aggregate_cache``, migration 0013).

Each web worker cached the overview, the site table and the findings summary in its own memory,
so every worker (and every restart) computed each once: 21 s for ``/findings``, 5.9 s for
``/plan``, 5.6 s for ``/sites`` on a cold worker at 1,000,000 devices.  Here the first process
to need an aggregate for the store's generation claims it, computes it and stores it as JSON;
the others wait for that answer and read it.  A value is stored against the generation it was
computed for and read only for that generation, so it can never outlive a write.

Only values that JSON gives back exactly (equal after a round trip: no dates, no tuples) are
shared; any other is computed per process, as before.  Every failure here (a database without
the table, a read-only role, a lost connection) falls back to computing in-process: sharing
saves time, it never decides an answer.  PostgreSQL only: on SQLite every process computes its
own (see :func:`shared`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from phaseout.store.schema import aggregate_cache, meta

T = TypeVar("T")
log = logging.getLogger(__name__)

#: A claim older than this is taken over: its worker died or hangs (the slowest aggregate at
#: 1,000,000 devices took 60 s cold on a loaded 2-core machine).
STALE = dt.timedelta(seconds=180)
POLL = 0.25  # seconds between looks while another process computes


def _encoded(value: Any) -> bytes | None:
    """``value`` as JSON when JSON gives it back exactly, else None."""
    try:
        data = orjson.dumps(value)
    except TypeError:
        return None
    return data if orjson.loads(data) == value else None


def _look(engine: Engine, name: str, generation: str) -> tuple[str, Any]:
    """("value", v) when stored for ``generation``; ("busy", None) while a fresh claim for it
    stands; ("free", None) otherwise."""
    with engine.connect() as conn:
        row = conn.execute(select(aggregate_cache).where(aggregate_cache.c.name == name)).first()
    if row is None or row.generation != generation:
        return "free", None
    if row.value is not None:
        return "value", orjson.loads(row.value)
    started = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=dt.UTC)
    return ("busy", None) if dt.datetime.now(dt.UTC) - started < STALE else ("free", None)


def stored(engine: Engine, name: str, generation: str) -> tuple[bool, Any]:
    """(True, value) when another process stored ``name`` for ``generation``; (False, None)
    otherwise, and on SQLite or when the table cannot be read.  Never computes."""
    if engine.dialect.name == "sqlite":
        return False, None
    try:
        state, value = _look(engine, name, generation)
    except SQLAlchemyError as exc:
        log.debug("aggregate %s not read: %s", name, exc)
        return False, None
    return (True, value) if state == "value" else (False, None)


def _claim(engine: Engine, name: str, generation: str) -> None:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:  # rows of other generations are never read again: gone too
        conn.execute(
            delete(aggregate_cache).where(
                (aggregate_cache.c.name == name) | (aggregate_cache.c.generation != generation)
            )
        )
        conn.execute(insert(aggregate_cache).values(name=name, generation=generation, value=None, started_at=now))


def _store(engine: Engine, name: str, generation: str, data: bytes | None) -> None:
    """The computed value (or, with ``data`` None, the claim given up) for ``generation``; a
    newer generation's row is left alone."""
    with engine.begin() as conn:
        mine = (aggregate_cache.c.name == name) & (aggregate_cache.c.generation == generation)
        if data is None:
            conn.execute(delete(aggregate_cache).where(mine))
        else:
            conn.execute(update(aggregate_cache).where(mine).values(value=data.decode()))


def shared(engine: Engine, name: str, generation: str, compute: Callable[[], T]) -> T:
    """``compute()``'s value for ``generation``: read from the database when another process
    stored it, awaited while another process computes it, else computed here and stored."""
    if not generation or len(name) > aggregate_cache.c.name.type.length:  # type: ignore[attr-defined]
        return compute()  # an empty store (nothing worth sharing), or a name the table cannot key
    if engine.dialect.name == "sqlite":
        # SQLite has one writer at a time: a claim written by the page warmer made any user's
        # transaction that had read before writing fail at once (SQLITE_BUSY on a stale
        # snapshot), seen as "the database is busy" on creating a token.  A SQLite store serves
        # one machine; its workers compute their own aggregates, as before migration 0013.
        return compute()
    try:
        while True:
            state, value = _look(engine, name, generation)
            if state == "value":
                return value  # type: ignore[no-any-return]
            if state == "free":
                break
            time.sleep(POLL)
        _claim(engine, name, generation)
    except SQLAlchemyError as exc:
        log.debug("aggregate %s not shared: %s", name, exc)
        return compute()
    try:
        value = compute()
    except BaseException:
        _quietly(lambda: _store(engine, name, generation, None))
        raise
    data = _encoded(value)
    _quietly(lambda: _store(engine, name, generation, data))
    return value


def _quietly(write: Callable[[], None]) -> None:
    try:
        write()
    except SQLAlchemyError as exc:
        log.debug("aggregate cache not written: %s", exc)


# -- one warmer at a time across the workers ------------------------------------------------------

#: ``meta`` key holding when the next warming pass may start (ISO time, UTC), for all workers.
WARM_TURN_KEY = "warmer.next"
#: How long a pass that has started holds the turn before another worker may take it (its worker
#: may have died mid-pass); the pass itself sets the real rest when it ends.
WARM_HOLD = dt.timedelta(seconds=180)


def take_warming_turn(engine: Engine, now: dt.datetime | None = None) -> bool:
    """Whether this worker's warmer may make a pass now.  Each worker ran its own warmer, and
    under a stream of collector uploads (a new generation each) every worker recomputed the
    same estate-wide aggregates beside the others: at 1,000,000 devices a pass costs ~7 s of the
    database's time, so N workers spent N times that on figures the next upload outdates.  The
    turn is a compare-and-set on one ``meta`` row: at most one worker wins it, and the winner
    holds it for its pass and its rest (:func:`end_warming_turn`).  SQLite (one machine, one
    writer) and any failure to use the row: every warmer warms, as before."""
    if engine.dialect.name == "sqlite":
        return True
    try:
        with engine.begin() as conn:
            now = now or _database_now(conn)
            hold = (now + WARM_HOLD).isoformat()
            current = conn.execute(select(meta.c.value).where(meta.c.key == WARM_TURN_KEY)).scalar()
            if current is None:
                conn.execute(insert(meta).values(key=WARM_TURN_KEY, value=hold))
                return True
            if _when(current) > now:
                return False
            won = conn.execute(
                update(meta).where(meta.c.key == WARM_TURN_KEY, meta.c.value == current).values(value=hold)
            )
            return bool(won.rowcount)
    except IntegrityError:  # two workers' first turns inserted at once: the loser waits its turn
        return False
    except SQLAlchemyError as exc:  # the row cannot be used (a read-only role...): warm, as before
        log.debug("warming turn not shared: %s", exc)
        return True


def end_warming_turn(engine: Engine, rest: float, now: dt.datetime | None = None) -> None:
    """The pass is over: no worker starts another for ``rest`` seconds."""
    if engine.dialect.name == "sqlite":
        return
    _quietly(lambda: _set_turn(engine, rest, now))


def _set_turn(engine: Engine, rest: float, now: dt.datetime | None) -> None:
    with engine.begin() as conn:
        after = (now or _database_now(conn)) + dt.timedelta(seconds=rest)
        conn.execute(update(meta).where(meta.c.key == WARM_TURN_KEY).values(value=after.isoformat()))


def _database_now(conn: Any) -> dt.datetime:
    """The database server's clock: the one clock every worker shares.  Each worker's own clock
    made a worker on a host whose clock ran ahead hold the turn for as long as it ran ahead
    (a dead worker's turn outlived ``WARM_HOLD``), and one behind took turns early."""
    now: dt.datetime = conn.execute(select(func.clock_timestamp())).scalar_one()
    return now.astimezone(dt.UTC) if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _when(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:  # a row nobody could have written: take the turn
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
