"""The free-text device search's index (migration 0012): what it is, whether a database has it,
and how a bulk load suspends it.

The device listing's ``q`` filter matches a substring of any of eleven device columns or the
site code, case-insensitively.  A ``LIKE '%...%'`` cannot use a B-tree, so over 1,000,000 rows
every search read the whole table.  The index narrows the rows first; the listing then applies
the same ``LIKE`` to the few candidates, so answers stay exactly what they were:

* SQLite: an FTS5 table with the ``trigram`` tokenizer (SQLite >= 3.34), external content
  (``devices`` itself), kept in step by triggers.  A query of 3 or more characters becomes one
  FTS5 phrase: its trigrams, consecutive, inside one column.
* PostgreSQL: ``pg_trgm`` GIN indexes on one expression that joins the searched columns
  (``SEARCH_EXPR``, since migration 0013 without the separators ``:-.``: ``PG_INDEX_EXPR``) and
  on ``lower(sites.code)``; the query repeats the expression verbatim so the planner matches it.

Texts shorter than 3 characters have no trigram; the listing reads them without the index.
Where the index could not be made (an SQLite built without FTS5 or trigram, a PostgreSQL
without ``pg_trgm``), the listing falls back to the plain ``LIKE`` and says nothing: slower,
never wrong.

The DDL here must stay equal to the frozen copies in migrations 0012 and 0013 (a test checks).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

#: Columns of ``devices`` the search reads, in the index's order (the listing reads the same).
SEARCHED_COLUMNS = (
    "model",
    "serial",
    "mac",
    "ip",
    "hostname",
    "description",
    "manufacturer",
    "brand",
    "asset_id",
    "id_model",
    "label",
)
#: Fewer characters than this have no trigram: the index cannot serve them.
MIN_CHARS = 3

#: PostgreSQL bulk loads keep the GIN index: each ``COPY`` appends its rows' trigrams to the
#: index's pending list (fastupdate, on by default) and merges the list into the index whenever
#: it passes this size, gathering entries in ``work_mem`` (PG_CLEANUP_WORK_MEM_MB for the load).
PG_PENDING_LIST_KB = 65_536
PG_CLEANUP_WORK_MEM_MB = 128
FTS_TABLE = "devices_search"
PG_DEVICES_INDEX = "ix_devices_search_trgm"
PG_SITES_INDEX = "ix_sites_code_trgm"
#: Both databases: the site filter compares ``lower(code)``; without this index PostgreSQL
#: guessed 150 of 30,000 sites would match and read all 1,000,000 devices for one site.
SITES_LOWER_INDEX = "ix_sites_code_lower"
SITES_LOWER_DDL = f"CREATE INDEX {SITES_LOWER_INDEX} ON sites (lower(code))"
SQLITE_TRIGGERS = ("devices_search_ai", "devices_search_ad", "devices_search_au")

_cols = ", ".join(SEARCHED_COLUMNS)
_new = ", ".join(f"new.{c}" for c in SEARCHED_COLUMNS)
_old = ", ".join(f"old.{c}" for c in SEARCHED_COLUMNS)
#: re-imports rewrite every row with the values it had: only a real change touches the index
_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in SEARCHED_COLUMNS)

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({_cols}, content='devices', content_rowid='id', tokenize='trigram')"
)
SQLITE_TRIGGER_DDL = {
    "devices_search_ai": (
        f"CREATE TRIGGER devices_search_ai AFTER INSERT ON devices BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END"
    ),
    "devices_search_ad": (
        f"CREATE TRIGGER devices_search_ad AFTER DELETE ON devices BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); END"
    ),
    "devices_search_au": (
        f"CREATE TRIGGER devices_search_au AFTER UPDATE OF {_cols} ON devices WHEN {_changed} BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); "
        f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END"
    ),
}
SQLITE_REBUILD = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"

#: The searched columns as one lower-cased text, joined by a unit separator (0x1f) that no
#: cleaned cell holds; written out in full because the planner matches index expressions
#: by their text.  A match that spans two columns is removed by the per-column recheck.
SEARCH_EXPR = "lower(" + " || chr(31) || ".join(f"coalesce({c}, '')" for c in SEARCHED_COLUMNS) + ")"

#: Characters the PostgreSQL index leaves out of the text (migration 0013).  pg_trgm makes
#: trigrams per word, and these split words: a MAC fragment ``28:57:be:0a`` was four
#: two-character words whose padded trigrams most MACs share (4.9 s to find 100 of 2,000
#: matches at 1,000,000 devices).  Without them the fragment is one word, ``2857be0a``, with
#: six trigrams of its own; IP prefixes and model names (``ds-2cd``) gain longer words too.
SQUEEZED = ":-."
#: What the PostgreSQL trigram index holds: the joined text without ``SQUEEZED``.  A substring
#: of the text, squeezed, is a substring of the squeezed text, so a search asks the index for
#: the squeezed query and then checks the real text (``SEARCH_EXPR LIKE``) on the candidates.
PG_INDEX_EXPR = f"translate({SEARCH_EXPR}, '{SQUEEZED}', '')"


def squeeze(query: str) -> str:
    """``query`` as the PostgreSQL index holds text: without ``SQUEEZED`` (lower-cased by the
    caller's pattern, as the index's text is)."""
    return query.translate({ord(c): None for c in SQUEEZED})


def pg_index_ddl(opclass: str) -> tuple[str, str]:
    """``CREATE INDEX`` for devices and sites, the trigram operator class named with its schema
    (the extension may live in a schema outside the search path)."""
    return (
        f"CREATE INDEX {PG_DEVICES_INDEX} ON devices USING gin (({PG_INDEX_EXPR}) {opclass})",
        f"CREATE INDEX {PG_SITES_INDEX} ON sites USING gin ((lower(code)) {opclass})",
    )


def pg_trgm_opclass(conn: Connection) -> str | None:
    """``"schema".gin_trgm_ops`` when the pg_trgm extension is installed, else None."""
    schema = conn.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE extname = 'pg_trgm'"
        )
    ).scalar()
    return None if schema is None else f'"{schema}".gin_trgm_ops'


def has_index(conn: Connection) -> bool:
    """Whether this database holds the search index (cached on the DBAPI connection: the
    schema does not change under a running server; migrations run before it serves)."""
    cached = conn.info.get("phaseout.search_index")
    if cached is None:
        if conn.dialect.name == "sqlite":
            found = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name IN (:t, :a)"),
                {"t": FTS_TABLE, "a": SQLITE_TRIGGERS[0]},
            ).scalar()
            cached = found == 2
        else:
            cached = conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": PG_DEVICES_INDEX}).scalar()
        conn.info["phaseout.search_index"] = bool(cached)
    return bool(cached)


def fts_phrase(query: str) -> str:
    """The FTS5 query for a substring: one quoted phrase (its trigrams, consecutive)."""
    return '"' + query.replace('"', '""') + '"'


def is_search_object(name: str | None) -> bool:
    """Objects of the index that ``schema.py`` does not declare (FTS5 tables and their shadow
    tables, the expression indexes): migration comparisons leave them out."""
    return bool(name) and (
        str(name).startswith(FTS_TABLE) or name in (PG_DEVICES_INDEX, PG_SITES_INDEX, SITES_LOWER_INDEX)
    )


class SuspendedSearch:
    """Keep the index out of a bulk load's way and bring it back in step before commit.

    SQLite: the triggers are dropped for the load (an FTS5 insert per row doubled an import's
    time) and the index rebuilt from ``devices`` once.  PostgreSQL: the GIN index stays and
    is fed through its pending list (:data:`PG_PENDING_LIST_KB`), so the server builds it
    while the importer, on the other core, parses the next rows (``store.pipeline``); dropping
    it and building it again after the load took 63 s of a 182 s import of 1,000,000 rows,
    against 145 s with it kept (same half hour, load 6-9).  DDL is transactional on both, so
    a failed import rolls all of it back.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dropped = False
        self.pending = False

    def drop(self) -> None:
        if not has_index(self.conn):
            return
        if self.conn.dialect.name == "sqlite":
            for name in SQLITE_TRIGGERS:
                self.conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            self.conn.execute(text(f"SET LOCAL gin_pending_list_limit = '{PG_PENDING_LIST_KB}kB'"))
            current = self.conn.execute(text("SELECT setting::bigint FROM pg_settings WHERE name = 'work_mem'"))
            if (current.scalar() or 0) < PG_CLEANUP_WORK_MEM_MB * 1024:
                self.conn.execute(text(f"SET LOCAL work_mem = '{PG_CLEANUP_WORK_MEM_MB}MB'"))
            self.pending = True
            return
        self.dropped = True

    def restore(self) -> None:
        if self.pending:  # what the last COPY left pending goes into the index before commit
            self.conn.execute(text(f"SELECT gin_clean_pending_list('{PG_DEVICES_INDEX}'::regclass)"))
            self.pending = False
        if not self.dropped:
            return
        self.conn.execute(text(SQLITE_REBUILD))
        for name in SQLITE_TRIGGERS:
            self.conn.execute(text(SQLITE_TRIGGER_DDL[name]))
        self.dropped = False
