"""The collector process on a site machine: enrol once, then pull jobs, scan locally, queue the
results on disk and push them to the central server.

- **State** (``state.json`` in the state directory, mode 0600, the directory 0700, written
  atomically): the server's URL, the collector's name, its credential, and the sites and scopes
  it was enrolled for.  Those scopes are the collector's own guard: a job whose targets fall
  outside them is refused here, whatever the server says, before one packet is sent.
- **Queue** (``queue/`` in the state directory): each finished job's upload is written to a
  file (temporary name, fsync, rename) *before* it is sent, with its upload id, and removed only
  when the server acknowledged it (merged, or already merged: the server's receipts make a
  resend harmless).  A broken link, a restart or a ``kill -9`` therefore loses nothing and
  doubles nothing.  An upload the server refuses (4xx) moves to ``refused/`` for a person.
- **Transport** (the standard library's ``http.client``: no extra dependency on a site machine):
  HTTPS, verified against the system's roots or ``--ca-file``; plain HTTP only to
  a loopback address or with an explicit ``allow_http``.  Every call carries the collector's
  version and queue length; the claim call also carries its health.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import json
import os
import platform
import secrets
import signal
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from phaseout import __version__
from phaseout.discover.collector import wire
from phaseout.discover.scanner import HostResult, ScanSettings, scan
from phaseout.discover.scope import in_scope
from phaseout.errors import PhaseoutError, UsageError
from phaseout.identify import facts_wire

STATE_FILE = "state.json"
TIMEOUT = 60.0
#: an upload waits for the server to merge it (4,096 answering hosts take tens of seconds on a busy server)
UPLOAD_TIMEOUT = 900.0
MAX_BACKOFF = 300.0


class CollectorError(PhaseoutError):
    """The collector cannot go on (not enrolled, refused, server unreachable at enrolment)."""

    exit_code = 1


@dataclass(slots=True)
class State:
    server: str
    name: str
    token: str
    sites: list[str]
    scopes: list[str]
    ca_file: str | None = None
    allow_http: bool = False


@dataclass(slots=True)
class RunReport:
    jobs: int = 0
    refused: int = 0
    uploaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


# --- files -----------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file so a crash leaves the old one or the new one, never half of either."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def save_state(state_dir: Path, state: State) -> None:
    _private_dir(state_dir)
    write_atomic(state_dir / STATE_FILE, json.dumps(asdict(state), indent=2).encode())


def load_state(state_dir: Path) -> State:
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        return State(**data)
    except FileNotFoundError:
        raise CollectorError(
            f"not enrolled: no {path}", hint="phaseout collector enrol --server URL --code CODE"
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise CollectorError(f"cannot read {path} ({exc.__class__.__name__})", hint="enrol again") from None


class Queue:
    """Uploads waiting for the server's acknowledgement, one file each, oldest first."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = _private_dir(state_dir / "queue")
        self.refused = _private_dir(state_dir / "refused")

    def put(self, upload_id: str, body: bytes) -> Path:
        path = self.dir / f"{time.time_ns():020d}-{upload_id}.json"
        write_atomic(path, body)
        return path

    def items(self) -> list[Path]:
        return sorted(p for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def __len__(self) -> int:
        return len(self.items())

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def reject(self, path: Path, reason: str) -> None:
        write_atomic(self.refused / (path.stem + ".reason.txt"), reason.encode())
        os.replace(path, self.refused / path.name)


# --- transport -------------------------------------------------------------------------------------


def check_server(url: str, allow_http: bool) -> str:
    """The server's base URL: HTTPS, or HTTP to loopback or when the user said so."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"server {url!r} is not an http(s) URL", hint="e.g. https://phaseout.example.org")
    if parts.scheme == "http" and not allow_http:
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if not loopback:
            raise UsageError(
                f"refusing plain HTTP to {parts.hostname}: the credential and results would cross the network in clear",
                hint="use https:// (with --ca-file for a private CA), or --allow-http knowingly",
            )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


class TransportError(Exception):
    """The server could not be reached or did not answer (retry later)."""


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A small HTTPS client: one connection per call (a collector makes a few calls a minute;
    a kept-alive connection left idle during a long scan is closed by the server and the next
    call would fail on it)."""

    def __init__(self, base: str, ca_file: str | None, token: str | None = None) -> None:
        parts = urlsplit(base)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca_file) if self.https else None
        self.headers = {
            "Connection": "close",
            "User-Agent": f"phaseout-collector/{__version__}",
            "X-Phaseout-Version": __version__,
        }
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            if self.https:
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT, context=self.context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        return self.conn

    def post(
        self,
        path: str,
        body: bytes | None = None,
        *,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> Answer:
        payload = body if body is not None else json.dumps(data if data is not None else {}).encode()
        sent = self.headers | {"Content-Type": "application/json"} | (headers or {})
        conn = self._connect()
        try:
            if conn.sock is None:
                conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request("POST", self.prefix + path, body=payload, headers=sent)
            response = conn.getresponse()
            answer = Answer(response.status, response.read(1024 * 1024))
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(f"{path}: {exc.__class__.__name__}: {exc}") from None
        self.close()  # a connection idle through a scan would be closed by the server under our feet
        return answer

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _detail(response: Answer) -> str:
    try:
        return str(response.json().get("detail", ""))[:500]
    except (ValueError, AttributeError):
        return response.body[:500].decode("utf-8", "replace")


def enrol(server: str, code: str, state_dir: Path, *, ca_file: str | None = None, allow_http: bool = False) -> State:
    """Swap the one-time code for this collector's credential and keep it in the state dir."""
    base = check_server(server, allow_http)
    if (state_dir / STATE_FILE).exists():
        raise CollectorError(f"{state_dir} already holds an enrolment", hint="use another --state-dir, or remove it")
    with Client(base, ca_file) as client:
        try:
            response = client.post("/api/collector/enrol", data={"code": code.strip(), "version": __version__})
        except TransportError as exc:
            raise CollectorError(
                f"cannot reach {base}: {exc}", hint="check the URL, the network and --ca-file"
            ) from None
    if response.status != 200:
        raise CollectorError(f"enrolment refused ({response.status}): {_detail(response)}")
    data = response.json()
    state = State(base, data["name"], data["token"], data["sites"], data["scopes"], ca_file, allow_http)
    save_state(state_dir, state)
    return state


def health() -> dict[str, Any]:
    """What the admin sees of this collector: where it runs and how it is."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "host": socket.gethostname()[:64],
        "python": platform.python_version(),
        "platform": sys.platform,
        "load1": round(load[0], 2),
        "pid": os.getpid(),
    }


# --- the work --------------------------------------------------------------------------------------


def scan_job(job: dict[str, Any], state: State, settings: ScanSettings) -> tuple[list[HostResult], list[str], bool]:
    """Run one job's scan with the enrolled scopes as the guard (a job outside them raises
    ``UsageError`` before anything is sent).  Returns (hosts to report, silent, interrupted)."""
    spec = job.get("spec")
    targets = spec.get("targets") if isinstance(spec, dict) else None
    ports = spec.get("ports") if isinstance(spec, dict) else None
    if not (isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets)):
        raise UsageError("the job's targets are not a list of addresses: refused unread")
    if not (
        isinstance(ports, list)
        and 0 < len(ports) <= wire.MAX_PORTS
        and all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports)
    ):
        raise UsageError(f"the job's ports are not 1 to {wire.MAX_PORTS} numbers 1-65535: refused unread")
    outside = wire.targets_outside(targets, wire.networks(state.scopes))
    if outside:
        raise UsageError(f"targets outside this collector's scopes: {', '.join(outside[:3])}")
    hosts = in_scope(targets, state.scopes, allow_wide=True)
    settings.ports = tuple(ports)
    finished: dict[str, HostResult] = {}
    interrupted = False

    def done(result: HostResult) -> None:
        finished[result.ip] = result

    try:
        asyncio.run(scan(hosts, settings, done))
    except KeyboardInterrupt:
        interrupted = True
    report = [r for r in finished.values() if r.ports or r.observations or r.channels or not r.complete]
    silent = [ip for ip, r in finished.items() if not (r.ports or r.observations or r.channels or not r.complete)]
    return report, silent, interrupted


class Agent:
    """One collector's loop; ``send`` may be replaced in tests of the queue."""

    def __init__(self, state_dir: Path, settings: ScanSettings | None = None) -> None:
        self.state_dir = state_dir
        self.state = load_state(state_dir)
        self.queue = Queue(state_dir)
        self.settings = settings or ScanSettings()
        self.client = Client(self.state.server, self.state.ca_file, self.state.token)
        #: the server parses answers as this collector does (its claim's ``facts_version``):
        #: uploads then carry each answer's facts, and the server does not parse them again
        self.send_facts = False

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: bytes | None = None, data: Any = None, timeout: float = TIMEOUT) -> Answer:
        queue = {"X-Phaseout-Queue": str(len(self.queue))}
        response = self.client.post(path, body, data=data, headers=queue, timeout=timeout)
        if response.status == 401:
            raise CollectorError(
                f"the server refused this collector's credential: {_detail(response)}",
                hint="it was revoked or the state dir is not this server's; ask an admin for a new code",
            )
        return response

    def flush(self, report: RunReport) -> bool:
        """Send every queued upload, oldest first; False when the server could not be reached
        (the rest stay queued for the next try)."""
        for path in self.queue.items():
            try:
                body = path.read_bytes()
                response = self._post("/api/collector/uploads", body, timeout=UPLOAD_TIMEOUT)
            except TransportError as exc:
                report.errors.append(f"upload {path.name}: {exc.__class__.__name__}")
                return False
            if response.status == 200:
                status = response.json().get("status")
                report.uploaded += status == "merged"
                report.duplicates += status == "duplicate"
                self.queue.done(path)
            elif 400 <= response.status < 500 and response.status not in (408, 429):
                report.rejected += 1
                self.queue.reject(path, f"{response.status}: {_detail(response)}")
            else:
                report.errors.append(f"upload {path.name}: server answered {response.status}")
                return False
        return True

    def claim(self) -> dict[str, Any] | None:
        response = self._post("/api/collector/claim", data={"health": health()})
        if response.status != 200:
            raise TransportError(f"claim: the server answered {response.status}: {_detail(response)}")
        answer = response.json()
        job: dict[str, Any] | None = answer.get("job")
        self.send_facts = answer.get("facts_version") == facts_wire.facts_version()
        return job

    def work(self, job: dict[str, Any], report: RunReport) -> None:
        """Scan one job (or refuse it) and queue its upload; the queue file exists before the
        first byte is sent."""
        try:
            hosts, silent, interrupted = scan_job(job, self.state, self.settings)
        except UsageError as exc:
            report.refused += 1
            self._post(f"/api/collector/jobs/{int(job['id'])}/refuse", data={"reason": exc.message})
            return
        upload_id = secrets.token_hex(16)
        body = wire.encode_upload(upload_id, int(job["id"]), hosts, silent, interrupted, facts=self.send_facts)
        del hosts, silent  # the scan's results live on in the queue file only
        report.jobs += 1
        try:
            self.queue.put(upload_id, body)
        except OSError as exc:
            # a full or read-only disk: the results cannot be kept, so they are sent now from
            # memory; if that fails too the job stays claimed and is offered again when its
            # lease runs out (nothing is merged twice: the server keeps receipts)
            report.errors.append(f"queue: cannot keep the upload ({exc.strerror or exc}); sent directly")
            response = self._post("/api/collector/uploads", body, timeout=UPLOAD_TIMEOUT)
            if response.status != 200:
                raise TransportError(f"upload: the server answered {response.status}: {_detail(response)}") from None
            status = response.json().get("status")
            report.uploaded += status == "merged"
            report.duplicates += status == "duplicate"

    def run(self, *, once: bool = False, poll: float = 30.0, stop: Callable[[], bool] = lambda: False) -> RunReport:
        """Flush the queue, claim, scan, queue, flush... ``once``: stop when there is no job
        left and the queue is empty (or the server is unreachable)."""
        report = RunReport()
        backoff = 1.0
        while not stop():
            try:
                if not self.flush(report):
                    raise TransportError("server unreachable")
                job = self.claim()
                backoff = 1.0
                if job is not None:
                    self.work(job, report)
                    continue
                if once:
                    return report
                time.sleep(poll)
            except TransportError as exc:
                report.errors.append(str(exc)[:200])
                if once:
                    return report
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        return report


def serve(state_dir: Path, settings: ScanSettings, *, once: bool, poll: float) -> tuple[RunReport, int]:
    """Run the loop until SIGTERM (or, with ``once``, until idle): (report, uploads still queued).
    Shared by ``phaseout collector run`` and the lean ``phaseout-collector run``."""
    stopping = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    before = signal.signal(signal.SIGTERM, stop)
    agent = Agent(state_dir, settings)
    try:
        report = agent.run(once=once, poll=poll, stop=lambda: stopping)
        return report, len(agent.queue)
    finally:
        agent.close()
        signal.signal(signal.SIGTERM, before)


def summary(report: RunReport, queued: int) -> str:
    return (
        f"{report.jobs} job(s) scanned, {report.refused} refused, {report.uploaded} upload(s) merged, "
        f"{report.duplicates} already merged, {report.rejected} refused by the server, {queued} still queued"
    )
