"""The stored devices a scan's hosts could be, read through indexes instead of the whole table.

A scan merge matches its hosts with the one rule of :mod:`phaseout.estate.match`.  It used to
index every stored device first (``identification.match_keys_rows``): 7-8 s of a merge at
1,000,000 devices (issue 17), however few hosts the upload held, so a collector's 4,096 hosts
went in at a few hundred per second on a large estate.  A scanned host carries only a MAC, a
serial and an address (never an asset tag or a row fingerprint), and the rule matches a device
only on one of those, so the devices worth indexing are the ones that share one:

* the same MAC (``ix_devices_mac``);
* a serial whose last ``estate.match.MIN_SERIAL_TAIL`` characters, as the rule
  compares them (upper case, no white space), are a host's: ``ix_devices_serial_tail`` on the
  stored serial's upper-cased tail.  That expression equals the rule's key for every serial of
  printable ASCII without spaces; every other serial (``IRREGULAR``: white space, non-ASCII, a
  control character) is read as well, through the small partial index
  ``ix_devices_serial_irregular``, and the rule decides in Python, so nothing is missed;
* the same address: within the site a scan names (``ix_devices_site_id_ip``), or for a scan
  that names none, every holder of it in any site (``ix_devices_ip``), so an address several
  devices hold stays ambiguous exactly as in the whole index.

Rows come back in id order, as the whole index read them, so the rule's tie-breaks (the first
device with a MAC, the newest holder of a site's address) are the same.  The DDL is frozen in
migration 0014 (a test checks the copies agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, String, and_, bindparam, func, literal, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from phaseout.domain import MatchKeys
from phaseout.store.identification import MATCH_KEY_COLUMNS, match_keys_rows
from phaseout.store.schema import devices

#: The matching rule's serial tail (``estate.match.MIN_SERIAL_TAIL``; the store layer does not
#: import the rule, so a test checks the two agree).
MIN_SERIAL_TAIL = 8
TAIL_INDEX = "ix_devices_serial_tail"
IRREGULAR_INDEX = "ix_devices_serial_irregular"
#: The rule's serial tail, for serials of printable ASCII without spaces (``!`` to ``~``).
SERIAL_TAIL = {
    "postgresql": f"right(upper(serial), {MIN_SERIAL_TAIL})",
    "sqlite": f"substr(upper(serial), -{MIN_SERIAL_TAIL})",
}
#: Serials the tail expression may not read as the rule does.
IRREGULAR = {
    "postgresql": "serial ~ '[^!-~]'",
    "sqlite": "serial GLOB '*[^!-~]*'",
}
#: Keys per ``IN`` list (SQLite's bound-parameter limit is far above; PostgreSQL's is 65,535).
CHUNK = 5000


def index_ddl(dialect: str) -> tuple[str, str]:
    """``CREATE INDEX`` for the serial tail and the irregular serials on ``dialect``."""
    return (
        f"CREATE INDEX {TAIL_INDEX} ON devices (({SERIAL_TAIL[dialect]}))"
        if dialect == "postgresql"
        else f"CREATE INDEX {TAIL_INDEX} ON devices ({SERIAL_TAIL[dialect]})",
        f"CREATE INDEX {IRREGULAR_INDEX} ON devices (id) WHERE {IRREGULAR[dialect]}",
    )


def is_match_object(name: str | None) -> bool:
    """The expression and partial indexes here, which ``schema.py`` does not declare."""
    return name in (TAIL_INDEX, IRREGULAR_INDEX)


def tail_of(serial_key: str) -> str:
    """The rule's tail of a normalised serial (``estate.match.DeviceKeys.by_tail``)."""
    return serial_key[-MIN_SERIAL_TAIL:]


def candidate_rows(conn: Connection, keys: Iterable[MatchKeys]) -> list[tuple[Any, ...]]:
    """``(id, mac, serial, asset_id, site_id, ip, fingerprint)`` of every stored device that
    shares a MAC, a serial tail or an address with ``keys`` (and of every device whose serial
    the tail index cannot read), in id order: what ``estate.match.index_rows`` needs to match
    those keys exactly as it would with every device indexed.  An address is looked up within
    the site its key names (every holder when it names none): keys that name a site are matched
    with ``bare_ip=False``, as ``record_scan`` does."""
    macs: set[str] = set()
    tails: set[str] = set()
    #: addresses by the site the keys name (None: no site, every holder of the address)
    ips: dict[int | None, set[str]] = {}
    for k in keys:
        if k.mac:
            macs.add(k.mac)
        if k.serial:
            tails.add(tail_of(k.serial))
        if k.ip:
            ips.setdefault(k.site_id, set()).add(k.ip)
    dialect = conn.dialect.name
    if not (macs or tails or ips):
        return []
    if _small(conn, len(macs) + len(tails) + sum(map(len, ips.values()))) or not _upper_is_ascii(conn):
        return [tuple(row) for row in match_keys_rows(conn)]
    found: dict[int, tuple[Any, ...]] = {}

    def read(where: Any) -> None:
        for row in conn.execute(select(*MATCH_KEY_COLUMNS).where(where)):
            found[int(row[0])] = tuple(row)

    tail: Any = literal_column(SERIAL_TAIL[dialect])
    lookups: list[tuple[Any, set[str], Any]] = [(devices.c.mac, macs, None), (tail, tails, None)]
    # an address a key names with its site is matched within that site only (``DeviceKeys.find``
    # with ``bare_ip=False``, as ``record_scan`` calls it for a scan that names a site): its other
    # holders are not read (one address plan in every store: thousands of holders per address)
    lookups += [
        (devices.c.ip, values, None if site_id is None else devices.c.site_id == site_id)
        for site_id, values in ips.items()
    ]
    before = index_only(conn)
    for column, values, also in lookups:
        for part in _chunks(sorted(values)):
            if dialect == "postgresql":  # one array parameter, not thousands (SQLAlchemy compiles each)
                where = column == func.any(bindparam(None, list(part), type_=ARRAY(String)))
            else:
                where = column.in_(part)
            read(where if also is None else and_(where, also))
    if tails:
        read(text(IRREGULAR[dialect]))
    restore_plans(conn, before)
    return [found[i] for i in sorted(found)]


def index_only(conn: Connection) -> str | None:
    """On PostgreSQL, keep the planner off whole-table scans for the lookups (inside this
    transaction); returns the setting to put back.

    The planner multiplies the keys by the rows it expects per key: where addresses repeat
    across sites (one address plan in every store) it expected 181,127 rows for 4,094 addresses
    that matched 368, and read all 1,750,000 devices (320 ms of a 1.4 s merge) instead of
    looking each up.  Looked up, a key costs tens of microseconds whatever it matches, and a
    bitmap scan reads each page at most once, so no key set costs more than the table."""
    if conn.dialect.name != "postgresql":
        return None
    before = conn.execute(text("SELECT current_setting('enable_seqscan')")).scalar()
    conn.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
    return str(before)


def restore_plans(conn: Connection, before: str | None) -> None:
    """The setting :func:`index_only` changed, back for the rest of the transaction (after an
    error there is no rest: the transaction's rollback undoes the change)."""
    if before is not None:
        conn.execute(text("SELECT set_config('enable_seqscan', :v, true)"), {"v": before})


#: Below this many stored devices per key, reading every device's keys is cheaper than looking
#: the keys up (measured: 3.5 us per device read against 20-35 us per key looked up).
WHOLE_PER_KEY = 8


def _small(conn: Connection, keys: int) -> bool:
    """Whether the estate is small enough to read whole (``max(id)``: one index lookup, an upper
    bound of the number of devices)."""
    top = conn.execute(select(func.max(devices.c.id))).scalar()
    return top is None or int(top) <= WHOLE_PER_KEY * keys


#: The characters the tail index is trusted to upper-case as the rule does.
_PRINTABLE = "".join(map(chr, range(ord("!"), ord("~") + 1)))
_ASCII_UPPER = "phaseout.match_candidates.ascii_upper"


def _upper_is_ascii(conn: Connection) -> bool:
    """Whether the database's ``upper()`` reads printable ASCII as Python's does.  PostgreSQL's
    follows the database's collation: in a Turkish or Azeri one ``upper('i')`` is ``İ``, so the
    tail index holds ``...İ`` where the rule looks for ``...I`` and a lower-case serial would be
    missed; there the estate is read whole (correct, as slow as before 0014).  Asked once per
    database connection."""
    known = conn.info.get(_ASCII_UPPER)
    if known is None:
        got = conn.execute(select(func.upper(literal(_PRINTABLE, String)))).scalar()
        known = conn.info[_ASCII_UPPER] = got == _PRINTABLE.upper()
    return bool(known)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
