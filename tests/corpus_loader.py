"""The repository's real-capture corpus (tests/data/captures): manifest, payloads, and the
device record each capture becomes for ``phaseout identify``.

Shared by the accuracy benchmark (bench/identify_accuracy.py) and the corpus test
(tests/knowledge/test_capture_corpus.py) so that both feed identification exactly the same
records.  Pure reading and mapping; nothing here knows any maker's rules: the file name and
the labels are never put into an observation.

Why a table of kinds: a capture is stored as the device or tool produced it (a bare ``Server``
value, an SDP body, an snmpwalk printout...), while ``phaseout identify`` takes the observation
a scanner records.  ``KINDS`` says, per capture kind, which observation it becomes, which
evidence family it is reported under, and whether we had to add framing (a status line or a
header name) that the source did not show.  docs/corpus.md and the README next to the
manifest explain every mapping.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CAPTURES = Path(__file__).resolve().parent / "data" / "captures"
MANIFEST = "manifest.csv"
KNOWN_MISSES = "known_misses.txt"
#: Largest payload the corpus admits: one device answer, not a dump.
MAX_CAPTURE_BYTES = 64 * 1024
#: The covered makers; OEM units carry their maker in ``true_vendor``.
MAKERS = ("hikvision", "dahua")
COLUMNS = (
    "file",
    "kind",
    "true_vendor",
    "true_brand",
    "true_model",
    "oem_of",
    "source",
    "licence",
    "tier",
    "split",
    "group",
    "notes",
)
TIERS = ("A", "B", "C", "D")
#: Share of groups held out from rule writing (by a hash of the group, see ``split_for``).
HOLDOUT_PERCENT = 30
#: A split gathered after the rules were written, from sources nobody on the project had read
#: (the hash split's holdout was partly looked at while rules were written).  Its rows are
#: named by hand, not by ``split_for``; they are only measured, never tuned on.
FRESH_SPLIT = "holdout2"
#: A second fresh split, gathered after the holdout2 rule changes, to measure them on unseen answers.
FRESH_SPLIT_2 = "holdout3"
#: A third fresh split, gathered after every change of this stop and measured with no change after it.
FRESH_SPLIT_3 = "holdout4"
#: A fourth fresh split, gathered by the wire helper after every rule change so far and measured with none.
FRESH_SPLIT_4 = "holdout5"
#: A fifth fresh split (30 captures, 2026-12-01, helper evidence2), measured before any rule change for it.
FRESH_SPLIT_5 = "holdout6"
#: Gathered after the holdout6 rule changes (helper evidence2) and measured once.
FRESH_SPLIT_6 = "holdout7"
#: Gathered by helper evidence3 (2026-12-01) from sources the corpus had not used, measured before any rule change.
FRESH_SPLIT_7 = "holdout8"
#: Gathered by helper evidence4 (2026-12-01) from sources the corpus had not used, measured before any rule change.
FRESH_SPLIT_8 = "holdout9"
#: Gathered by helper evidence4 after the holdout9 changes, measured once.
FRESH_SPLIT_9 = "holdout10"
#: Gathered by helper evidence5 (2026-12-02) from sources the corpus had not used, measured once before any rule change.
FRESH_SPLIT_10 = "holdout11"
#: Gathered by helper evidence6 (2026-12-02) from sources the corpus had not used, measured once before any rule change.
FRESH_SPLIT_11 = "holdout12"
#: Gathered by helper evidence7 (2026-12-02) from sources neither the corpus nor holdout12 had used, measured once.
FRESH_SPLIT_12 = "holdout13"
#: Gathered by helper evidence8 (2026-12-02) from sources the corpus had not used, measured once before any rule change.
FRESH_SPLIT_13 = "holdout14"
#: Gathered by helper evidence9 (2026-12-02) from sources the corpus had not used, measured once before any rule change.
FRESH_SPLIT_14 = "holdout15"
#: Gathered by helper evidence10 (2026-12-02): Dahua/OEM and N-Z makers from unused sources, measured once.
FRESH_SPLIT_15 = "holdout16"
#: Gathered by helper evidence11 (2026-12-02) from sources the corpus had not used, measured once with no rule change.
FRESH_SPLIT_16 = "holdout17"
#: Every split the manifest may name, in the order the benchmark reports them.
SPLITS = (
    "dev",
    "holdout",
    FRESH_SPLIT,
    FRESH_SPLIT_2,
    FRESH_SPLIT_3,
    FRESH_SPLIT_4,
    FRESH_SPLIT_5,
    FRESH_SPLIT_6,
    FRESH_SPLIT_7,
    FRESH_SPLIT_8,
    FRESH_SPLIT_9,
    FRESH_SPLIT_10,
    FRESH_SPLIT_11,
    FRESH_SPLIT_12,
    FRESH_SPLIT_13,
    FRESH_SPLIT_14,
    FRESH_SPLIT_15,
    FRESH_SPLIT_16,
)

Observation = dict[str, Any]


@dataclass(frozen=True)
class Capture:
    """One manifest row: one real answer and its labels."""

    file: str
    kind: str
    true_vendor: str
    true_brand: str
    true_model: str
    oem_of: str
    source: str
    licence: str
    tier: str
    split: str
    group: str
    notes: str
    root: Path = CAPTURES

    @property
    def path(self) -> Path:
        return self.root / self.file

    @property
    def covered(self) -> bool:
        """True when the hardware is made by a covered maker (own label or OEM)."""
        return self.true_vendor in MAKERS

    @property
    def family(self) -> str:
        return KINDS[self.kind].family


def split_for(group: str) -> str:
    """``holdout`` for about 30 % of groups, by the first 32 bits of SHA-256 of the group.

    A group is one source item (one device, one fixture file, one bug report), so answers of
    the same device never straddle the split."""
    value = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16)
    return "holdout" if value % 100 < HOLDOUT_PERCENT else "dev"


def split_is_valid(split: str, group: str) -> bool:
    """A row's split is the hash split of its group, or the fresh holdout gathered later."""
    return split == split_for(group) or split in SPLITS[2:]


# -- observations ------------------------------------------------------------------------------

_CRLF = "\r\n"


def _http(status: str, headers: Iterable[str] = (), body: str = "", path: str | None = None) -> Observation:
    raw = status + _CRLF + "".join(h + _CRLF for h in headers) + _CRLF + body
    obs: Observation = {"kind": "http", "port": 80, "tls": False, "raw": raw}
    if path:
        obs["path"] = path
    return obs


def _rtsp_raw(text: str) -> Observation:
    return {"kind": "rtsp", "port": 554, "raw": text}


def _banner(port: int | None) -> Callable[[str], Observation]:
    def build(text: str) -> Observation:
        obs: Observation = {"kind": "banner", "raw": text}
        if port is not None:
            obs["port"] = port
        return obs

    return build


_SUBJECT_LINE = re.compile(r"^[*\s]*subject\s*[:=]\s*(.+)$", re.I | re.M)
_ISSUER_LINE = re.compile(r"^[*\s]*issuer\s*[:=]\s*(.+)$", re.I | re.M)
_BLOCK = re.compile(r"^(Subject|Issuer)\s*$", re.M)


def _tls_printout(text: str) -> Observation:
    """A certificate as a tool printed it: ``subject: ...`` / ``issuer: ...`` lines (curl,
    openssl) or indented ``Subject`` / ``Issuer`` blocks (nmap ssl-cert style)."""
    subject = _SUBJECT_LINE.search(text)
    issuer = _ISSUER_LINE.search(text)
    if subject or issuer:
        return {
            "kind": "tls",
            "subject": subject.group(1).strip() if subject else "",
            "issuer": issuer.group(1).strip() if issuer else "",
        }
    parts: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if _BLOCK.match(line):
            current = line.strip().lower()
            parts[current] = []
        elif current and line.strip():
            parts[current].append(line.strip())
    if parts:
        return {
            "kind": "tls",
            "subject": ", ".join(parts.get("subject", [])),
            "issuer": ", ".join(parts.get("issuer", [])),
        }
    return {"kind": "tls", "subject": text.strip(), "issuer": ""}


@dataclass(frozen=True)
class KindSpec:
    """How one capture kind becomes an observation.

    ``family``: the evidence kind it is reported under; ``framing``: what we added that the
    source did not show (empty when the payload is passed whole)."""

    family: str
    build: Callable[[str], Observation]
    framing: str = ""


def _xml_200(path: str | None) -> Callable[[str], Observation]:
    return lambda text: _http("HTTP/1.1 200 OK", ["Content-Type: application/xml"], text, path)


def _text_200(path: str, ctype: str = "text/plain") -> Callable[[str], Observation]:
    return lambda text: _http("HTTP/1.1 200 OK", [f"Content-Type: {ctype}"], text, path)


KINDS: dict[str, KindSpec] = {
    # Hikvision ISAPI bodies (each source shows an HTTP answer to the named path)
    "isapi-deviceinfo": KindSpec("isapi", _xml_200("/ISAPI/System/deviceInfo"), "HTTP 200 status line"),
    "isapi-usercheck": KindSpec("isapi", _xml_200("/ISAPI/Security/userCheck"), "HTTP 200 status line"),
    "isapi-error": KindSpec("isapi", _xml_200(None), "HTTP 200 status line"),
    "isapi-other": KindSpec("isapi", _xml_200(None), "HTTP 200 status line"),
    # a client library's printout of a parsed body: text, not HTTP
    "isapi-deviceinfo-printout": KindSpec("isapi", _banner(80)),
    # Dahua CGI key=value and JSON-RPC
    "dahua-magicbox": KindSpec("dahua-cgi", _text_200("/cgi-bin/magicBox.cgi"), "HTTP 200 status line"),
    "dahua-configmanager": KindSpec("dahua-cgi", _text_200("/cgi-bin/configManager.cgi"), "HTTP 200 status line"),
    "dahua-rpc2": KindSpec("dahua-rpc2", _text_200("/RPC2", "application/json"), "HTTP 200 status line"),
    "dahua-rpc2-printout": KindSpec("dahua-rpc2", _banner(80)),
    "dhip-rpc": KindSpec("dahua-rpc2", _banner(37777)),
    # other makers' HTTP APIs
    "axis-vapix": KindSpec("vendor-api", _text_200("/axis-cgi/param.cgi"), "HTTP 200 status line"),
    "vendor-api": KindSpec("vendor-api", _text_200("/"), "HTTP 200 status line"),
    # ONVIF SOAP and WS-Discovery
    "onvif-deviceinfo": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-deviceinfo-text": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-scopes": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-capabilities": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-profiles": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-services": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-streamuri": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-snapshoturi": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "onvif-fault": KindSpec("onvif", lambda t: {"kind": "onvif", "raw": t}),
    "wsd-probematch": KindSpec("ws-discovery", lambda t: {"kind": "onvif", "raw": t}),
    "wsd-hello": KindSpec("ws-discovery", lambda t: {"kind": "onvif", "raw": t}),
    "wsd-printout": KindSpec("ws-discovery", lambda t: {"kind": "onvif", "raw": t}),
    # RTSP
    "rtsp-reply": KindSpec("rtsp", _rtsp_raw),
    "rtsp-transcript": KindSpec("rtsp", _rtsp_raw),
    "rtsp-fragment": KindSpec("rtsp", _rtsp_raw),
    "rtsp-server": KindSpec(
        "rtsp",
        lambda t: _rtsp_raw(f"RTSP/1.0 200 OK{_CRLF}CSeq: 1{_CRLF}Server: {t.strip()}{_CRLF}{_CRLF}"),
        "RTSP 200 status line and 'Server:' header name around the published value",
    ),
    "rtsp-sdp": KindSpec(
        "rtsp",
        lambda t: _rtsp_raw(f"RTSP/1.0 200 OK{_CRLF}CSeq: 2{_CRLF}Content-Type: application/sdp{_CRLF}{_CRLF}{t}"),
        "RTSP 200 DESCRIBE status line and Content-Type around the published SDP body",
    ),
    # HTTP
    "http-response": KindSpec("http", lambda t: {"kind": "http", "port": 80, "tls": False, "raw": t}),
    "http-server": KindSpec(
        "http",
        lambda t: _http("HTTP/1.1 200 OK", [f"Server: {t.strip()}"]),
        "HTTP 200 status line and 'Server:' header name around the published value",
    ),
    "http-wwwauth": KindSpec(
        "http",
        lambda t: _http("HTTP/1.1 401 Unauthorized", [f"WWW-Authenticate: {t.strip()}"]),
        "HTTP 401 status line and 'WWW-Authenticate:' header name around the published value",
    ),
    "http-title": KindSpec(
        "http",
        lambda t: _http(
            "HTTP/1.1 200 OK", ["Content-Type: text/html"], f"<html><head><title>{t.strip()}</title></head></html>"
        ),
        "HTTP 200 status line and a minimal HTML page around the published title",
    ),
    "http-401-body": KindSpec(
        "http",
        lambda t: _http("HTTP/1.1 401 Unauthorized", ["Content-Type: text/html"], t),
        "HTTP 401 status line (the source logged the body of a 401 answer)",
    ),
    "http-body": KindSpec(
        "http",
        lambda t: _http("HTTP/1.1 200 OK", ["Content-Type: text/html"], t),
        "HTTP 200 status line around the published page",
    ),
    # TLS
    "tls-subject": KindSpec("tls", lambda t: {"kind": "tls", "subject": t.strip(), "issuer": ""}),
    "tls-issuer": KindSpec("tls", lambda t: {"kind": "tls", "subject": "", "issuer": t.strip()}),
    "tls-cert": KindSpec("tls", _tls_printout),
    # discovery protocols
    "sadp": KindSpec("sadp", lambda t: {"kind": "sadp", "raw": t}),
    "dhdiscover": KindSpec("dhdiscover", lambda t: {"kind": "dhdiscover", "raw": t}),
    "dhdiscover-record": KindSpec("dhdiscover", lambda t: {"kind": "dhdiscover", "raw": t}),
    "upnp": KindSpec("upnp", lambda t: {"kind": "upnp", "raw": t}),
    # SNMP, telnet, FTP, scanners' printouts
    "snmp-sysdescr": KindSpec("snmp", _banner(161)),
    "snmp-sysobjectid": KindSpec("snmp", _banner(161)),
    "snmp-walk": KindSpec("snmp", _banner(161)),
    "telnet-banner": KindSpec("telnet", _banner(23)),
    "ftp-banner": KindSpec("ftp", _banner(21)),
    "scan-nmap": KindSpec("scan-output", _banner(None)),
}


def observation(kind: str, text: str) -> Observation:
    """The observation a scanner would have recorded for a capture of ``kind``."""
    spec = KINDS.get(kind)
    if spec is None:
        raise KeyError(f"unknown capture kind {kind!r}")
    return spec.build(text)


def read_payload(path: Path) -> str:
    """The payload as text: UTF-8, undecodable bytes (binary frame headers) replaced."""
    return path.read_bytes()[:MAX_CAPTURE_BYTES].decode("utf-8", errors="replace")


def device_record(capture: Capture, record_id: str | int) -> dict[str, Any]:
    """One ``phaseout identify`` input record; only the payload goes in, never the labels."""
    return {"id": record_id, "observations": [observation(capture.kind, read_payload(capture.path))]}


def load_manifest(root: Path = CAPTURES) -> list[Capture]:
    """All manifest rows, in file order; raises ``ValueError`` on a missing column."""
    with (root / MANIFEST).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{MANIFEST} lacks columns {sorted(missing)}")
        return [Capture(**{c: (row.get(c) or "").strip() for c in COLUMNS}, root=root) for row in reader]


def load_known_misses(root: Path = CAPTURES) -> dict[str, str]:
    """``known_misses.txt``: ``<file> <reason...>`` per line; ``#`` starts a comment line."""
    misses: dict[str, str] = {}
    path = root / KNOWN_MISSES
    if not path.exists():
        return misses
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, reason = line.strip().partition(" ")
        misses[name] = reason.strip()
    return misses


# -- the shared corpus (../shared/corpus, read-only, never committed) -----------------------------

_SHARED_KINDS: tuple[tuple[str, str], ...] = (
    ("magicbox-", "dahua-magicbox"),
    ("isapi-usercheck", "isapi-usercheck"),
    ("isapi-", "isapi-deviceinfo"),
    ("rpc2", "dahua-rpc2"),
    ("http-www-authenticate", "http-wwwauth"),
    ("http-html-title", "http-title"),
    ("http", "http-response"),
    ("rtsp-server-header", "rtsp-server"),
    ("rtsp-describe-sdp", "rtsp-sdp"),
    ("rtsp", "rtsp-reply"),
    ("tls-cert-subject", "tls-subject"),
    ("tls-cert", "tls-cert"),
    ("ftp-", "ftp-banner"),
    ("telnet-", "telnet-banner"),
    ("dhdiscover", "dhdiscover"),
    ("sadp", "sadp"),
    ("wsdiscovery", "wsd-probematch"),
    ("onvif", "onvif-deviceinfo"),
    ("upnp", "upnp"),
)


def shared_kind(kind: str) -> str:
    """Our kind for a kind label of the shared corpus (``labels.csv``)."""
    low = kind.lower()
    for prefix, ours in _SHARED_KINDS:
        if low.startswith(prefix):
            return ours
    return "scan-nmap"


def load_shared(root: Path) -> list[Capture]:
    """The shared corpus as captures (split ``shared``); empty when the folder is absent."""
    labels = root / "labels.csv"
    if not labels.exists():
        return []
    with labels.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        Capture(
            file=f"samples/{r['file']}",
            kind=shared_kind(r["kind"]),
            true_vendor=r["true_vendor"].strip().lower(),
            true_brand=r.get("true_brand", ""),
            true_model=r.get("true_model", ""),
            oem_of=r.get("oem_of", ""),
            source=r.get("source", ""),
            licence="",
            tier=r.get("tier", ""),
            split="shared",
            group=r["file"],
            notes="",
            root=root,
        )
        for r in rows
    ]
