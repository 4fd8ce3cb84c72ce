"""HTTP digest authentication (RFC 7616, MD5 with qop=auth, as camera firmware uses it), for
the credentials a user gives the scanner; never for guessing.

Small on purpose: the scanner speaks raw HTTP over capped asyncio streams, so a client
library's auth flow does not fit.  The same functions check answers in the emulator.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password, not even in a traceback
        return f"Credentials(username={self.username!r}, password=***)"


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``Digest`` challenge (``WWW-Authenticate`` value); None otherwise."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(rest)}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def expected_response(
    creds: Credentials, method: str, uri: str, realm: str, nonce: str, nc: str, cnonce: str, qop: str
) -> str:
    ha1 = _md5(f"{creds.username}:{realm}:{creds.password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def authorization(creds: Credentials, method: str, uri: str, challenge: dict[str, str]) -> str:
    """The ``Authorization`` header value answering ``challenge``."""
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    qop = "auth" if "auth" in challenge.get("qop", "").split(",") or challenge.get("qop") == "auth" else ""
    cnonce, nc = os.urandom(8).hex(), "00000001"
    response = expected_response(creds, method, uri, realm, nonce, nc, cnonce, qop)
    parts = [
        f'username="{creds.username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f'response="{response}"',
        'algorithm="MD5"',
    ]
    if qop:
        parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


def check_authorization(header: str, creds: Credentials, method: str) -> bool:
    """Whether an ``Authorization`` header proves knowledge of ``creds`` (emulator side)."""
    params = parse_challenge(header)
    if not params or params.get("username") != creds.username:
        return False
    want = expected_response(
        creds,
        method,
        params.get("uri", ""),
        params.get("realm", ""),
        params.get("nonce", ""),
        params.get("nc", ""),
        params.get("cnonce", ""),
        params.get("qop", ""),
    )
    return want == params.get("response")


def credentials_from_env() -> Credentials | None:
    """``PHASEOUT_SCAN_USER`` and ``PHASEOUT_SCAN_PASSWORD``, when both are set."""
    user, password = os.environ.get("PHASEOUT_SCAN_USER"), os.environ.get("PHASEOUT_SCAN_PASSWORD")
    return Credentials(user, password) if user and password else None
