"""What a collector and the server say to each other, checked as plain data (pure).

The upload is one JSON object per finished job:

```
{"upload_id": "<32 hex>", "job_id": 12, "interrupted": false,
 "hosts": [{"ip": "10.1.0.5", "ports": [80, 554], "observations": [{"kind": "http", ...}],
            "errors": [], "complete": true, "channels": [...], "channel_kinds": ["ip"]}],
 "silent": ["10.1.0.6", ...]}
```

A collector whose parsers are the server's (``facts_version``, offered in the claim's answer)
adds ``"facts_version"`` and, per host, ``"facts"``: one entry per observation, what it parsed
from that answer (:mod:`phaseout.identify.facts_wire`) or null.  The server checks them as
strictly as the rest and identifies from them instead of parsing every answer again; without
them (older collectors, other parser versions) it parses, as before.  It parses a sample of the
answers anyway (the first ``CHECK_FIRST`` and one in ``CHECK_ONE_IN`` of the rest, at random),
and when their facts are not what the collector sent, or one answer comes twice with two
readings, it ignores every fact of the upload and parses all its answers (``facts`` is then
``disagreed``, and the collector's ingestion audits why): a buggy collector does not silently
win.  A forger who knows the sample can still slip a false fact past it, as it can send a
false answer; the stored answers stay the evidence (a re-identification reads them).

``hosts`` are the hosts that answered or were cut by their deadline (the scanner's own
``HostResult``); ``silent`` the addresses probed to the end that answered nothing.  The server
turns them back into ``HostResult`` and merges them through ``Phaseout.record_results``, the same
path as a local scan.  Everything is capped; a malformed upload is refused whole with a message
that names the first problem, and any address outside the collector's scopes (or the job's
targets) refuses the whole upload: nothing is partially merged.
"""

from __future__ import annotations

import ipaddress
import random
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from phaseout.discover import channels as ch
from phaseout.discover.scanner import MAX_CHANNEL_LIST, MAX_RESPONSE, HostResult
from phaseout.errors import UsageError
from phaseout.identify import facts_wire
from phaseout.identify.facts import PARSERS, AnswerFacts, Facts, ObservationError, answer_key
from phaseout.normalize import address_span

MAX_HOSTS = 65_536
MAX_PORTS = 64
MAX_OBSERVATIONS = 64
MAX_ERRORS = 20
MAX_ERROR_CHARS = 500
MAX_TEXT = MAX_CHANNEL_LIST + 1024  # one observation's longest text (a recorder's channel list)
#: Answers whose facts the server checks by parsing them itself: the first few distinct ones of
#: an upload, then one in this many at random (0: none).
CHECK_FIRST = 8
CHECK_ONE_IN = 32
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: C0 controls and DEL, tab and line breaks included: none belongs in a device-supplied field
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UploadError(UsageError):
    """An upload that cannot be merged: its sender must not retry it unchanged."""


@dataclass(slots=True)
class Upload:
    upload_id: str
    job_id: int
    interrupted: bool
    hosts: list[HostResult] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    #: facts the collector sent, by answer (``facts.answer_key``); empty when it sent none
    answers: dict[bytes, Facts] = field(default_factory=dict)
    #: ``used``, ``none`` (sent no facts), ``ignored`` (parsed by other parsers than ours) or
    #: ``disagreed`` (a fact checked was not what its answer says: every answer is parsed)
    facts: str = "none"
    #: why the facts were ``disagreed`` with
    facts_fault: str = ""

    @property
    def addresses(self) -> list[str]:
        return [h.ip for h in self.hosts] + self.silent


# --- scopes -----------------------------------------------------------------------------------


def networks(scopes: Iterable[str]) -> list[Network]:
    """Stored scopes as networks (they were checked when the admin gave them)."""
    return [ipaddress.ip_network(s, strict=False) for s in scopes]


def outside(addresses: Iterable[str], scopes: Sequence[Network]) -> list[str]:
    """The addresses in no scope (not addresses at all counts as outside)."""
    bad = []
    for text in addresses:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            bad.append(text)
            continue
        if not any(addr.version == n.version and addr in n for n in scopes):
            bad.append(text)
    return bad


def targets_outside(targets: Iterable[str], scopes: Sequence[Network]) -> list[str]:
    """The targets (addresses, networks, ranges) not wholly inside one scope."""
    bad = []
    for target in targets:
        try:
            span = address_span(target)
        except ValueError:
            bad.append(target)
            continue
        if not any(
            n.version == span.version and int(n.network_address) <= span.first and span.last <= int(n.broadcast_address)
            for n in scopes
        ):
            bad.append(target)
    return bad


def within_targets(addresses: Iterable[str], targets: Iterable[str]) -> list[str]:
    """The addresses that none of the job's targets covers."""
    spans = []
    for target in targets:
        try:
            spans.append(address_span(target))
        except ValueError:
            continue
    bad = []
    for text in addresses:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            bad.append(text)
            continue
        value = int(addr)
        if not any(s.version == addr.version and s.first <= value <= s.last for s in spans):
            bad.append(text)
    return bad


# --- encoding ---------------------------------------------------------------------------------


def host_to_wire(host: HostResult, answers: AnswerFacts | None = None) -> dict[str, Any]:
    """A host as uploaded; with ``answers``, the facts of each observation beside it."""
    out: dict[str, Any] = {"ip": host.ip, "ports": host.ports, "observations": host.observations}
    if answers is not None and host.observations:
        out["facts"] = [_facts_of(obs, answers) for obs in host.observations]
    if host.errors:
        out["errors"] = host.errors
    if not host.complete:
        out["complete"] = False
    if host.channels:
        out["channels"] = [c.as_dict() for c in host.channels]
    if host.channel_kinds:
        out["channel_kinds"] = sorted(host.channel_kinds)
    return out


def _facts_of(obs: dict[str, Any], answers: AnswerFacts) -> dict[str, Any] | None:
    """What the server's parsers would read from one answer, or None where the server must
    read it itself (an inventory row, an answer its cache cannot key, a malformed one, facts
    over the caps)."""
    kind = obs.get("kind")
    parser = PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None or answer_key(obs) is None:
        return None
    try:
        one = answers.facts(parser, obs)
    except ObservationError:
        return None
    return facts_wire.encode(one, obs.get("raw"))


def encode_upload(
    upload_id: str,
    job_id: int,
    hosts: list[HostResult],
    silent: list[str],
    interrupted: bool,
    *,
    facts: bool = False,
) -> bytes:
    """The upload's body; ``facts``: with the facts of every answer (only worth it when the
    server's ``facts_version`` is this collector's)."""
    # this upload's own cache, small (a collector is held to 150 MB): the same page of every
    # camera of a model is read once; distinct answers gain nothing from being kept
    answers = AnswerFacts(entries=2048, size=4 * 1024 * 1024) if facts else None
    body: dict[str, Any] = {"upload_id": upload_id, "job_id": job_id, "interrupted": interrupted}
    if answers is not None:
        body["facts_version"] = facts_wire.facts_version()
    body["hosts"] = [host_to_wire(h, answers) for h in hosts]
    body["silent"] = silent
    return orjson.dumps(body)


# --- decoding and checking ----------------------------------------------------------------------


def _fail(message: str) -> UploadError:
    return UploadError(message, hint="the collector sent something this server cannot merge; nothing was stored")


def _ip(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > 45:
        raise _fail(f"{where}: ip must be an address")
    if "%" in value:  # fe80::1%eth0 and fe80::1%eth1 are one address: each would be a device
        raise _fail(f"{where}: {value[:45]!r} carries an IPv6 zone; the scanner never sends one")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail(f"{where}: {value[:45]!r} is not an address") from None


def _observation(obs: Any, where: str) -> dict[str, Any]:
    if not isinstance(obs, dict) or not isinstance(obs.get("kind"), str) or len(obs) > 16:
        raise _fail(f"{where}: an observation is an object with a kind")
    for key, value in obs.items():
        if not isinstance(key, str) or len(key) > 32:
            raise _fail(f"{where}: observation keys are short strings")
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise _fail(f"{where}: observation {key!r} over {MAX_TEXT:,} characters")
        elif isinstance(value, dict | list):
            try:
                size = len(orjson.dumps(value))
            except orjson.JSONEncodeError:  # orjson reads 1,024 levels but writes only 254
                raise _fail(f"{where}: observation {key!r} is nested too deeply") from None
            if size > MAX_RESPONSE:
                raise _fail(f"{where}: observation {key!r} over {MAX_RESPONSE:,} bytes")
        elif not (value is None or isinstance(value, bool | int | float)):
            raise _fail(f"{where}: observation {key!r} has an unknown type")
    return obs


_CHANNEL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "number": int,
    "analog": bool,
    "name": str,
    "address": (str, type(None)),
    "port": (int, type(None)),
    "protocol": str,
    "model": (str, type(None)),
    "serial": (str, type(None)),
    "firmware": (str, type(None)),
    "mac": (str, type(None)),
    "online": (bool, type(None)),
    "detail": str,
}


def _channel(value: Any, where: str) -> ch.Channel:
    if not isinstance(value, dict):
        raise _fail(f"{where}: a channel is an object")
    kwargs: dict[str, Any] = {}
    for key, kind in _CHANNEL_FIELDS.items():
        if key not in value:
            continue
        item = value[key]
        if not isinstance(item, kind) or (isinstance(item, str) and len(item) > ch.MAX_FIELD * 4):
            raise _fail(f"{where}: channel field {key!r} has the wrong type or length")
        if isinstance(item, str) and _CONTROL.search(item):
            # the scanner never sends one (``channels._clean``); a name with CR/LF would reach
            # e-mail headers, syslog and terminals
            raise _fail(f"{where}: channel field {key!r} carries a control character")
        kwargs[key] = item
    if not isinstance(kwargs.get("number"), int) or not 0 <= kwargs["number"] <= ch.MAX_CHANNEL_NUMBER:
        raise _fail(f"{where}: a channel needs a number 0-{ch.MAX_CHANNEL_NUMBER}")
    if kwargs.get("address"):
        try:  # stored as the camera's device address: an address or nothing, as the scanner reads it
            kwargs["address"] = str(ipaddress.ip_address(kwargs["address"]))
        except ValueError:
            raise _fail(f"{where}: channel address {kwargs['address'][:45]!r} is not an address") from None
    else:
        kwargs["address"] = None
    return ch.Channel(**kwargs)


def _channels(value: Any, host_ip: str, where: str) -> list[ch.Channel]:
    """The host's channels, with the scanner's own rules: no channel twice, none naming the
    recorder itself (it would become its own camera, a loop in the tree)."""
    if not isinstance(value, list) or len(value) > ch.MAX_CHANNELS:
        raise _fail(f"{where}: channels is a list of at most {ch.MAX_CHANNELS}")
    out = [_channel(c, where) for c in value]
    keys = [c.key for c in out]
    if len(set(keys)) != len(keys):
        raise _fail(f"{where}: a channel appears twice")
    if any(c.address == host_ip for c in out):
        raise _fail(f"{where}: a channel names the recorder itself ({host_ip})")
    return out


#: The facts of an answer that says nothing, shared by every such answer of every upload
#: (facts looked up are only read, never changed: ``facts.AnswerFacts.facts``).
_NOTHING = Facts()


@dataclass(slots=True)
class _Sent:
    """The facts an upload sent, by answer, and the first disagreement a check found."""

    answers: dict[bytes, Facts] = field(default_factory=dict)
    fault: str = ""
    #: Which answers are checked: seeded from the system's secret source once per upload, so a
    #: collector cannot predict the sample; one ``secrets.randbelow`` per answer (a system call
    #: each) was a seventh of a merge's time.
    draw: random.Random = field(default_factory=lambda: random.Random(secrets.randbits(128)))


def _host(value: Any, index: int, answers: _Sent | None = None) -> HostResult:
    """One host; with ``answers`` (the collector parses as this server does), its facts are
    checked and kept there by answer."""
    where = f"hosts[{index}]"
    if not isinstance(value, dict):
        raise _fail(f"{where}: a host is an object")
    host = HostResult(_ip(value.get("ip"), where))
    ports = value.get("ports", [])
    if not isinstance(ports, list) or len(ports) > MAX_PORTS:
        raise _fail(f"{where}: ports is a list of at most {MAX_PORTS}")
    for port in ports:
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise _fail(f"{where}: ports are numbers 1-65535")
    host.ports = list(ports)
    observations = value.get("observations", [])
    if not isinstance(observations, list) or len(observations) > MAX_OBSERVATIONS:
        raise _fail(f"{where}: observations is a list of at most {MAX_OBSERVATIONS}")
    host.observations = [_observation(o, where) for o in observations]
    if answers is not None and "facts" in value:
        _answer_facts(value["facts"], host.observations, answers, where)
    errors = value.get("errors", [])
    if not isinstance(errors, list) or len(errors) > MAX_ERRORS or not all(isinstance(e, str) for e in errors):
        raise _fail(f"{where}: errors is a list of at most {MAX_ERRORS} strings")
    host.errors = [e[:MAX_ERROR_CHARS] for e in errors]
    complete = value.get("complete", True)
    if not isinstance(complete, bool):
        raise _fail(f"{where}: complete is true or false")
    host.complete = complete
    host.channels = _channels(value.get("channels", []), host.ip, where)
    kinds = value.get("channel_kinds", [])
    if not isinstance(kinds, list) or not set(kinds) <= {"ip", "analog"}:
        raise _fail(f"{where}: channel_kinds lists ip and/or analog")
    host.channel_kinds = set(kinds)
    return host


def _answer_facts(value: Any, observations: list[dict[str, Any]], sent: _Sent, where: str) -> None:
    if not isinstance(value, list) or len(value) != len(observations):
        raise _fail(f"{where}: facts is a list with one entry per observation")
    for n, (data, obs) in enumerate(zip(value, observations, strict=True)):
        if data is None:
            continue
        try:
            one = facts_wire.decode(data, obs.get("raw"))
        except facts_wire.FactsError as exc:
            raise _fail(f"{where}: facts[{n}]: {exc}") from None
        if one == _NOTHING:  # (many answers say nothing: 3 bytes sent, ~700 kept each otherwise)
            one = _NOTHING
        key = answer_key(obs)
        if key is None or sent.fault:  # (an answer the server never looks up by key: it parses it)
            continue
        earlier = sent.answers.get(key[0])
        if earlier is not None:
            if earlier != one:
                sent.fault = f"{where}: facts[{n}]: the same answer came earlier with other facts"
            continue
        sampled = len(sent.answers) < CHECK_FIRST or (CHECK_ONE_IN and sent.draw.randrange(CHECK_ONE_IN) == 0)
        if sampled and _parsed(obs) != one:
            sent.fault = f"{where}: facts[{n}]: not what the server reads from its answer"
            continue
        sent.answers[key[0]] = one


def _parsed(obs: dict[str, Any]) -> Facts | None:
    """The server's own reading of one answer (None where its parser refuses it)."""
    parser = PARSERS.get(obs.get("kind", "banner"))
    if parser is None:
        return None
    one = Facts()
    try:
        parser(one, obs)
    except ObservationError:
        return None
    return one


def parse_upload(body: bytes) -> Upload:
    """The upload as the scanner's own results, or :class:`UploadError` naming the first fault."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"the upload is not JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise _fail("the upload is a JSON object")
    upload_id = data.get("upload_id")
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise _fail("upload_id must be 8-64 letters, digits, - or _")
    job_id = data.get("job_id")
    if not isinstance(job_id, int) or isinstance(job_id, bool) or not 0 < job_id < 2**31:
        raise _fail("job_id must be a job number")
    interrupted = data.get("interrupted", False)
    if not isinstance(interrupted, bool):
        raise _fail("interrupted is true or false")
    hosts = data.get("hosts", [])
    silent = data.get("silent", [])
    if not isinstance(hosts, list) or not isinstance(silent, list):
        raise _fail("hosts and silent are lists")
    if len(hosts) + len(silent) > MAX_HOSTS:
        raise _fail(f"over {MAX_HOSTS:,} hosts in one upload")
    version = data.get("facts_version")
    if version is not None and (not isinstance(version, str) or len(version) > 64):
        raise _fail("facts_version is a short string")
    sent = _Sent() if version == facts_wire.facts_version() else None
    parsed = [_host(h, i, sent) for i, h in enumerate(hosts)]
    quiet = [_ip(s, f"silent[{i}]") for i, s in enumerate(silent)]
    seen = [h.ip for h in parsed] + quiet
    if len(set(seen)) != len(seen):
        raise _fail("an address appears twice in the upload")
    if sent is None:
        return Upload(upload_id, job_id, interrupted, parsed, quiet, {}, "none" if version is None else "ignored")
    if sent.fault:
        return Upload(upload_id, job_id, interrupted, parsed, quiet, {}, "disagreed", sent.fault)
    return Upload(upload_id, job_id, interrupted, parsed, quiet, sent.answers, "used")


def check_scopes(upload: Upload, scopes: Sequence[Network], targets: Iterable[str]) -> None:
    """Refuse the whole upload when any address is outside the scopes or the job's targets
    (``outside`` and ``within_targets`` in one pass: each address is read once)."""
    in_scopes = [(n.version, int(n.network_address), int(n.broadcast_address)) for n in scopes]
    in_targets = []
    for target in targets:
        try:
            span = address_span(target)
        except ValueError:
            continue
        in_targets.append((span.version, span.first, span.last))
    bad_scope: list[str] = []
    bad_target: list[str] = []
    for text in upload.addresses:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            bad_scope.append(text)
            bad_target.append(text)
            continue
        version, value = addr.version, int(addr)
        if not any(v == version and first <= value <= last for v, first, last in in_scopes):
            bad_scope.append(text)
        if not any(v == version and first <= value <= last for v, first, last in in_targets):
            bad_target.append(text)
    if bad_scope:
        raise _fail(f"{len(bad_scope)} address(es) outside this collector's scopes, e.g. {bad_scope[0]}")
    if bad_target:
        raise _fail(f"{len(bad_target)} address(es) not among the job's targets, e.g. {bad_target[0]}")
