"""Dashboard users, API tokens, login sessions and the failed-login throttle.

Passwords are hashed with argon2id (argon2-cffi's defaults); API tokens and session cookies are
random 256-bit values of which only the SHA-256 is stored, so a copy of the database gives no
way in.  Roles, least to most: ``viewer`` reads everything; ``planner`` also changes planning
choices (packs in use, plans); ``admin`` also manages users.

Every change to a user or a token is an audit event (``user.*``, ``token.*``), and so is every
failed login (``login.fail``, ``login.lock``).  Disabling, removing or resetting the password
of a user ends their sessions at once; disabling or removing also stops their tokens.

The failed-login throttle lives in the database (``login_throttle``), so every web worker sees
the same counts and a restart forgets nothing.  It keeps one row per client address and one per
*existing* user, so a spray of made-up names adds no rows, and a lock is lifted only by its
window passing or by that user's correct password -- never by traffic for other names.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from phaseout.errors import StoreError, UsageError
from phaseout.store.audit import cli_actor, record_event
from phaseout.store.engine import writing
from phaseout.store.schema import api_tokens, login_throttle, users, web_sessions

ROLES = ("viewer", "planner", "admin")
SESSION_HOURS = 12
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong
    password.  Made on first use, not at import: an argon2 hash costs every CLI start 0.3 s."""
    return _hasher.hash("phaseout-no-such-user")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str

    def can(self, role: str) -> bool:
        """True when the user's role is at least ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def add_user(engine: Engine, name: str, role: str, password: str, actor: str | None = None) -> User:
    if not _NAME.match(name):
        raise UsageError(f"user name {name!r} is not allowed", hint="letters, digits and . _ @ - only, up to 64")
    if role not in ROLES:
        raise UsageError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise UsageError("the password is too short", hint="use at least 12 characters, or let phaseout generate one")
    with writing(engine) as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
            raise UsageError(f"user {name!r} already exists", hint="choose another name")
        result = conn.execute(
            users.insert().values(name=name, role=role, password_hash=_hasher.hash(password), created_at=_now())
        )
        key = result.inserted_primary_key
        assert key is not None
        record_event(conn, actor or cli_actor(), "user.add", "user", name, None, {"role": role})
        return User(int(key[0]), name, role)


def list_users(engine: Engine) -> list[dict[str, object]]:
    """Users with how many live sessions and usable tokens each holds."""
    now = _now()
    sessions = (
        select(func.count())
        .where(web_sessions.c.user_id == users.c.id, web_sessions.c.expires_at > now)
        .scalar_subquery()
    )
    tokens = (
        select(func.count())
        .where(
            api_tokens.c.user_id == users.c.id,
            api_tokens.c.revoked.is_(False),
            (api_tokens.c.expires_at.is_(None)) | (api_tokens.c.expires_at > now),
        )
        .scalar_subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                users.c.id,
                users.c.name,
                users.c.role,
                users.c.disabled,
                users.c.created_at,
                sessions.label("sessions"),
                tokens.label("tokens"),
            ).order_by(users.c.name)
        ).all()
    return [dict(r._mapping) for r in rows]


def _user_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(users.c.id, users.c.role, users.c.disabled).where(users.c.name == name)).first()
    if row is None:
        raise UsageError(f"no user {name!r}", hint="phaseout user list")
    return row


def _keep_an_admin(conn: Connection, user_id: int, doing: str) -> None:
    """Refuse to leave the dashboard without an enabled admin."""
    others = conn.execute(
        select(func.count()).where(users.c.role == "admin", users.c.disabled.is_(False), users.c.id != user_id)
    ).scalar_one()
    if not others:
        raise UsageError(f"cannot {doing} the last enabled admin", hint="add or enable another admin first")


def _end_all(conn: Connection, user_id: int) -> int:
    return conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id)).rowcount or 0


def set_disabled(engine: Engine, name: str, disabled: bool, actor: str | None = None) -> int:
    """Disable (sessions ended, tokens refused while disabled) or enable a user; returns the
    number of sessions ended."""
    with writing(engine) as conn:
        row = _user_row(conn, name)
        if disabled and row.role == "admin" and not row.disabled:
            _keep_an_admin(conn, row.id, "disable")
        conn.execute(update(users).where(users.c.id == row.id).values(disabled=disabled))
        ended = _end_all(conn, row.id) if disabled else 0
        record_event(
            conn,
            actor or cli_actor(),
            "user.disable" if disabled else "user.enable",
            "user",
            name,
            {"disabled": bool(row.disabled)},
            {"disabled": disabled, "sessions_ended": ended},
        )
    return ended


def remove_user(engine: Engine, name: str, actor: str | None = None) -> None:
    """Remove a user with their sessions and tokens; the audit trail keeps what they did."""
    with writing(engine) as conn:
        row = _user_row(conn, name)
        if row.role == "admin" and not row.disabled:
            _keep_an_admin(conn, row.id, "remove")
        ended = _end_all(conn, row.id)
        tokens = conn.execute(delete(api_tokens).where(api_tokens.c.user_id == row.id)).rowcount or 0
        conn.execute(delete(login_throttle).where(login_throttle.c.key == f"user:{row.id}"))
        conn.execute(delete(users).where(users.c.id == row.id))
        record_event(
            conn,
            actor or cli_actor(),
            "user.remove",
            "user",
            name,
            {"role": row.role, "disabled": bool(row.disabled)},
            {"sessions_ended": ended, "tokens_removed": tokens},
        )


def set_role(engine: Engine, name: str, role: str, actor: str | None = None) -> None:
    if role not in ROLES:
        raise UsageError(f"role {role!r} is not one of {', '.join(ROLES)}")
    with writing(engine) as conn:
        row = _user_row(conn, name)
        if row.role == "admin" and role != "admin" and not row.disabled:
            _keep_an_admin(conn, row.id, "demote")
        conn.execute(update(users).where(users.c.id == row.id).values(role=role))
        record_event(conn, actor or cli_actor(), "user.role", "user", name, {"role": row.role}, {"role": role})


def reset_password(engine: Engine, name: str, password: str, actor: str | None = None) -> int:
    """A new password; every session of the user ends. Returns the number of sessions ended."""
    if len(password) < 12:
        raise UsageError("the password is too short", hint="use at least 12 characters, or let phaseout generate one")
    with writing(engine) as conn:
        row = _user_row(conn, name)
        conn.execute(update(users).where(users.c.id == row.id).values(password_hash=_hasher.hash(password)))
        ended = _end_all(conn, row.id)
        conn.execute(delete(login_throttle).where(login_throttle.c.key == f"user:{row.id}"))
        record_event(conn, actor or cli_actor(), "user.password-reset", "user", name, None, {"sessions_ended": ended})
    return ended


def end_sessions(engine: Engine, name: str, actor: str | None = None) -> int:
    """Log a user out everywhere."""
    with writing(engine) as conn:
        row = _user_row(conn, name)
        ended = _end_all(conn, row.id)
        record_event(conn, actor or cli_actor(), "user.logout", "user", name, None, {"sessions_ended": ended})
    return ended


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(users.c.id, users.c.name, users.c.role, users.c.password_hash, users.c.disabled).where(
                users.c.name == name
            )
        ).first()
    try:
        if row is None:
            _hasher.verify(_dummy(), password + "x")  # same work as a real check
            return None
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return None if row.disabled else User(row.id, row.name, row.role)


def start_session(engine: Engine, user: User) -> tuple[str, str]:
    """(cookie value, CSRF token) of a new session; expired sessions are swept."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _now()
    with writing(engine) as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
        conn.execute(
            web_sessions.insert().values(
                token_hash=_digest(token),
                user_id=user.id,
                csrf=csrf,
                created_at=now,
                expires_at=now + dt.timedelta(hours=SESSION_HOURS),
            )
        )
    return token, csrf


def session_user(engine: Engine, token: str) -> tuple[User, str] | None:
    """The user and CSRF token of a live session."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                users.c.id, users.c.name, users.c.role, users.c.disabled, web_sessions.c.csrf, web_sessions.c.expires_at
            )
            .select_from(web_sessions.join(users, users.c.id == web_sessions.c.user_id))
            .where(web_sessions.c.token_hash == _digest(token))
        ).first()
    if row is None or row.disabled:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if expires < _now():
        return None
    return User(row.id, row.name, row.role), row.csrf


def end_session(engine: Engine, token: str) -> None:
    with writing(engine) as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _digest(token)))


def create_token(
    engine: Engine,
    user_name: str,
    name: str,
    expires_at: dt.datetime | None = None,
    actor: str | None = None,
) -> str:
    """A new API token for the user, returned once (only its hash is kept)."""
    if expires_at is not None and expires_at <= _now():
        raise UsageError("the expiry is in the past", hint="give a later date, e.g. --expires 90d")
    token = "po_" + secrets.token_urlsafe(32)
    with writing(engine) as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.name == user_name)).scalar()
        if user_id is None:
            raise UsageError(f"no user {user_name!r}", hint="phaseout user add NAME --role viewer")
        token_id = conn.execute(
            api_tokens.insert()
            .values(user_id=user_id, name=name, token_hash=_digest(token), created_at=_now(), expires_at=expires_at)
            .returning(api_tokens.c.id)
        ).scalar_one()
        record_event(
            conn,
            actor or cli_actor(),
            "token.create",
            "token",
            token_id,
            None,
            {"user": user_name, "name": name, "expires_at": expires_at.isoformat() if expires_at else None},
        )
    return token


def revoke_token(engine: Engine, token_id: int, actor: str | None = None) -> bool:
    with writing(engine) as conn:
        row = conn.execute(
            select(api_tokens.c.revoked, users.c.name)
            .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id))
            .where(api_tokens.c.id == token_id)
        ).first()
        if row is None:
            return False
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked=True))
        record_event(
            conn, actor or cli_actor(), "token.revoke", "token", token_id, {"revoked": row.revoked}, {"user": row.name}
        )
    return True


def revoke_user_tokens(engine: Engine, user_name: str, actor: str | None = None) -> int:
    """Revoke every live token of one user; returns how many."""
    with writing(engine) as conn:
        row = _user_row(conn, user_name)
        ids = (
            conn.execute(select(api_tokens.c.id).where(api_tokens.c.user_id == row.id, api_tokens.c.revoked.is_(False)))
            .scalars()
            .all()
        )
        if ids:
            conn.execute(update(api_tokens).where(api_tokens.c.id.in_(ids)).values(revoked=True))
        record_event(conn, actor or cli_actor(), "token.revoke-all", "user", user_name, None, {"tokens": list(ids)})
    return len(ids)


def list_tokens(engine: Engine, user_name: str | None = None) -> list[dict[str, object]]:
    query = (
        select(
            api_tokens.c.id,
            users.c.name.label("user"),
            api_tokens.c.name,
            api_tokens.c.created_at,
            api_tokens.c.last_used,
            api_tokens.c.expires_at,
            api_tokens.c.revoked,
        )
        .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id))
        .order_by(api_tokens.c.id)
    )
    if user_name is not None:
        query = query.where(users.c.name == user_name)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [dict(r._mapping) for r in rows]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


#: ``last_used`` is written at most this often per token, so API reads are not writes
LAST_USED_EVERY = dt.timedelta(minutes=1)


def _touch(engine: Engine, token_id: int, now: dt.datetime) -> None:
    """Record when a token was last used -- a hint, so it never waits for a busy SQLite database
    (an import holds the write lock for its whole run): 200 ms, then the request goes on."""
    from phaseout.store.engine import BUSY_TIMEOUT_MS

    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        try:
            if sqlite:
                conn.exec_driver_sql("PRAGMA busy_timeout=200")
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used=now))
            conn.commit()
        except (OperationalError, StoreError):
            conn.rollback()
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                conn.commit()


def token_user(engine: Engine, token: str) -> User | None:
    digest = _digest(token)
    with engine.connect() as conn:
        row = conn.execute(
            select(
                users.c.id,
                users.c.name,
                users.c.role,
                users.c.disabled,
                api_tokens.c.id.label("token_id"),
                api_tokens.c.expires_at,
                api_tokens.c.last_used,
            )
            .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id))
            .where(api_tokens.c.token_hash == digest, api_tokens.c.revoked.is_(False))
        ).first()
    now = _now()
    if row is None or row.disabled or (row.expires_at is not None and _aware(row.expires_at) <= now):
        return None
    if row.last_used is None or now - _aware(row.last_used) > LAST_USED_EVERY:
        _touch(engine, row.token_id, now)
    return User(row.id, row.name, row.role)


# --- failed logins -------------------------------------------------------------------------

LOGIN_LIMIT = 5
LOGIN_WINDOW = dt.timedelta(minutes=5)


def _throttle_keys(conn: Connection, address: str, name: str) -> tuple[list[str], int | None]:
    """The address's key, and the user's key when the name exists (unknown names add no row)."""
    user_id = conn.execute(select(users.c.id).where(users.c.name == name[:64])).scalar()
    keys = [f"ip:{address}"[:200]]
    if user_id is not None:
        keys.append(f"user:{user_id}")
    return keys, user_id


def login_waits(engine: Engine, address: str, name: str) -> tuple[int, int]:
    """Seconds before this address, and before this name, may try again (0: now)."""
    now = _now()
    with engine.connect() as conn:
        keys, _ = _throttle_keys(conn, address, name)
        rows = conn.execute(
            select(login_throttle.c.key, login_throttle.c.failures, login_throttle.c.window_start).where(
                login_throttle.c.key.in_(keys)
            )
        ).all()
    waits = {keys[0]: 0, "user": 0}
    for r in rows:
        until = _aware(r.window_start) + LOGIN_WINDOW
        if r.failures >= LOGIN_LIMIT and until > now:
            waits[r.key if r.key == keys[0] else "user"] = int((until - now).total_seconds()) + 1
    return waits[keys[0]], waits["user"]


def login_wait(engine: Engine, address: str, name: str) -> int:
    """Seconds before this address may try this name again, or 0."""
    return max(login_waits(engine, address, name))


def login_failed(engine: Engine, address: str, name: str) -> None:
    """Count a failed login for the address and (if it exists) the user; audit it; sweep rows
    whose window has passed so the table holds only the last few minutes.  On SQLite the write
    lock is taken first (``BEGIN IMMEDIATE``): a transaction that read before writing would fail
    at once, rather than wait, when another worker wrote in between."""
    now = _now()
    stale = now - LOGIN_WINDOW
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        keys, user_id = _throttle_keys(conn, address, name)
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        for key in keys:
            old = login_throttle.c.window_start < stale
            stmt = insert(login_throttle).values(key=key, failures=1, window_start=now)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[login_throttle.c.key],
                    set_={
                        "failures": case((old, 1), else_=login_throttle.c.failures + 1),
                        "window_start": case((old, now), else_=login_throttle.c.window_start),
                    },
                )
            )
        locked = False
        if user_id is not None:
            count = conn.execute(
                select(login_throttle.c.failures).where(login_throttle.c.key == f"user:{user_id}")
            ).scalar()
            locked = count == LOGIN_LIMIT
        record_event(
            conn,
            f"web:{address}"[:200],
            "login.lock" if locked else "login.fail",
            "login",
            name[:64],
            None,
            {"address": address, "known_user": user_id is not None},
        )
        conn.execute(delete(login_throttle).where(login_throttle.c.window_start < stale))


def login_succeeded(engine: Engine, user: User) -> None:
    """The right password lifts the user's own lock (the address's count stays)."""
    with writing(engine) as conn:
        conn.execute(delete(login_throttle).where(login_throttle.c.key == f"user:{user.id}"))


def throttle_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(login_throttle)).scalar_one())
