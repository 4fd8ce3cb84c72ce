"""Small pure helpers the readers share: addresses, stream URLs, HTTP messages, table headers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from phaseout.ingest.formats.record import clip
from phaseout.normalize import normalize_ip, normalize_mac

MAX_RAW = 64 * 1024  # raw text kept per observation (the store caps observations at 64 KiB)


def mac_or_none(value: object) -> str | None:
    text = clip(value, 64)
    if not text:
        return None
    try:
        return normalize_mac(text)
    except ValueError:
        return None


def ip_or_none(value: object) -> str | None:
    text = clip(value, 64)
    if not text:
        return None
    try:
        return normalize_ip(text)
    except ValueError:
        return None


def without_credentials(url: str) -> str:
    """A stream URL with any user and password removed (configs often embed them), and
    credential-looking query parameters blanked: evidence must never store a secret."""
    url = url.strip()[:2048]
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = re.sub(r"(?i)\b(user(?:name)?|pass(?:word)?|pwd|token|auth)=[^&]*", r"\1=", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host or None


def stream_observation(url: str) -> dict[str, object]:
    """A stream URL a VMS or NVR config points at, as identification's ``url`` evidence
    (``/ISAPI/Streaming/Channels/101`` says Hikvision, ``/cam/realmonitor`` Dahua)."""
    clean = without_credentials(url)
    scheme = clean.split(":", 1)[0].lower()
    try:
        port = urlsplit(clean).port
    except ValueError:
        port = None
    kind = "rtsp" if scheme.startswith("rtsp") else "http"
    default = 554 if kind == "rtsp" else 443 if scheme == "https" else 80
    if kind == "rtsp":
        return {"kind": "rtsp", "port": port or default, "raw": "", "url": clean}
    return {"kind": "http", "port": port or default, "tls": scheme == "https", "raw": "", "url": clean}


def http_message(status: str, headers: Iterable[tuple[str, str]], body: str = "") -> str:
    head = "\r\n".join([status, *(f"{k}: {v}" for k, v in headers)])
    return (head + "\r\n\r\n" + body)[:MAX_RAW]


def header_index(header: list[str], names: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Field -> column index, matching header cells case- and punctuation-blind against the
    names each field is known by (the first name found wins)."""
    keys = [re.sub(r"[^a-z0-9]", "", h.lower()) for h in header]
    out: dict[str, int] = {}
    for fld, options in names.items():
        for option in options:
            key = re.sub(r"[^a-z0-9]", "", option.lower())
            if key in keys:
                out[fld] = keys.index(key)
                break
    return out


def header_score(head: str, required: Iterable[str], optional: Iterable[str] = ()) -> float:
    """How well the first line of ``head`` looks like a header with these column names:
    1.0 when every required name is there (plus up to 0.1 for optional ones), else 0..0.4."""
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    cells = {re.sub(r"[^a-z0-9]", "", c.lower()) for c in re.split(r"[,;\t|]", first)}
    need = [re.sub(r"[^a-z0-9]", "", r.lower()) for r in required]
    found = sum(1 for r in need if r in cells)
    if not need:
        return 0.0
    if found == len(need):
        extra = [re.sub(r"[^a-z0-9]", "", o.lower()) for o in optional]
        return 0.85 + (0.1 * sum(1 for o in extra if o in cells) / len(extra) if extra else 0.0)
    return 0.4 * found / len(need)


def cell(cells: list[str], index: Mapping[str, int], name: str) -> str | None:
    i = index.get(name)
    if i is None or i >= len(cells):
        return None
    return clip(cells[i])
