"""Dashboard users, API tokens and login sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults); API tokens and session cookies are
random 256-bit values of which only the SHA-256 is stored, so a copy of the database gives no
way in.  Roles, least to most: ``viewer`` reads everything; ``planner`` also changes planning
choices (packs in use, plans); ``admin`` also manages users.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, select, update

from phaseout.errors import UsageError
from phaseout.store.schema import api_tokens, users, web_sessions

ROLES = ("viewer", "planner", "admin")
SESSION_HOURS = 12
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_hasher = PasswordHasher()
#: verified against when the user does not exist, so a wrong name costs as long as a wrong password
_DUMMY = _hasher.hash("phaseout-no-such-user")


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
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
            raise UsageError(f"user {name!r} already exists", hint="choose another name")
        result = conn.execute(
            users.insert().values(name=name, role=role, password_hash=_hasher.hash(password), created_at=_now())
        )
        key = result.inserted_primary_key
        assert key is not None
        from phaseout.store.audit import cli_actor, record_event

        record_event(conn, actor or cli_actor(), "user.add", "user", name, None, {"role": role})
        return User(int(key[0]), name, role)


def list_users(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.id, users.c.name, users.c.role, users.c.disabled, users.c.created_at).order_by(users.c.name)
        ).all()
    return [dict(r._mapping) for r in rows]


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(users.c.id, users.c.name, users.c.role, users.c.password_hash, users.c.disabled).where(
                users.c.name == name
            )
        ).first()
    try:
        if row is None:
            _hasher.verify(_DUMMY, password + "x")  # same work as a real check
            return None
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return None if row.disabled else User(row.id, row.name, row.role)


def start_session(engine: Engine, user: User) -> tuple[str, str]:
    """(cookie value, CSRF token) of a new session; expired sessions are swept."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _now()
    with engine.begin() as conn:
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
    with engine.begin() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _digest(token)))


def create_token(engine: Engine, user_name: str, name: str) -> str:
    """A new API token for the user, returned once (only its hash is kept)."""
    token = "po_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.name == user_name)).scalar()
        if user_id is None:
            raise UsageError(f"no user {user_name!r}", hint="phaseout user add NAME --role viewer")
        conn.execute(
            api_tokens.insert().values(user_id=user_id, name=name, token_hash=_digest(token), created_at=_now())
        )
    return token


def revoke_token(engine: Engine, token_id: int) -> bool:
    with engine.begin() as conn:
        done = conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked=True))
    return bool(done.rowcount)


def list_tokens(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                api_tokens.c.id,
                users.c.name.label("user"),
                api_tokens.c.name,
                api_tokens.c.created_at,
                api_tokens.c.last_used,
                api_tokens.c.revoked,
            )
            .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id))
            .order_by(api_tokens.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def token_user(engine: Engine, token: str) -> User | None:
    digest = _digest(token)
    with engine.begin() as conn:
        row = conn.execute(
            select(users.c.id, users.c.name, users.c.role, users.c.disabled, api_tokens.c.id.label("token_id"))
            .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id))
            .where(api_tokens.c.token_hash == digest, api_tokens.c.revoked.is_(False))
        ).first()
        if row is None or row.disabled:
            return None
        conn.execute(update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used=_now()))
    return User(row.id, row.name, row.role)
