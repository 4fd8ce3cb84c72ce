"""Discovery against emulated devices on loopback: identification from real-shaped answers,
the scope guard, and hostile devices that cost one host's deadline, never the scan."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from phaseout.discover.scanner import ScanSettings, scan
from phaseout.discover.scope import in_scope
from phaseout.emulate.devices import Emulator, load_profiles, plan_devices
from phaseout.errors import UsageError
from phaseout.identify import Identifier
from tests.support import PHASEOUT, emulate_process, needs_ports


def test_scope_guard() -> None:
    assert in_scope(["127.20.0.1-3", "127.20.1.0/30"], ["127.20.0.0/16"]) == [
        "127.20.0.1",
        "127.20.0.2",
        "127.20.0.3",
        "127.20.1.1",
        "127.20.1.2",
    ]
    with pytest.raises(UsageError, match="outside the declared scope"):
        in_scope(["127.21.0.1"], ["127.20.0.0/16"])
    with pytest.raises(UsageError, match="public address"):
        in_scope(["8.8.8.8"], ["8.8.8.0/24"])
    with pytest.raises(UsageError, match="needs --scope"):
        in_scope(["127.20.0.1"], [])
    with pytest.raises(UsageError, match="not an address"):
        in_scope(["cameras.example"], ["127.0.0.0/8"])
    with pytest.raises(UsageError, match="more than"):
        in_scope(["127.20.0.0/16"], ["127.0.0.0/8"], max_hosts=100)


def test_emulator_refuses_non_loopback_addresses() -> None:
    with pytest.raises(UsageError, match="not a loopback"):
        plan_devices(["axis-ipc"], 1, "10.0.0.1")
    with pytest.raises(UsageError, match="unknown profile"):
        plan_devices(["nope"], 1, "127.0.0.1")


@needs_ports
def test_scan_identifies_emulated_devices_and_survives_hostile_ones() -> None:
    names = ["hikvision-ipc", "dahua-ipc", "lorex-nvr", "axis-ipc", "hostile-silent", "hostile-drip"]
    devices = plan_devices(names, len(names), "127.23.0.1")
    settings = ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80, 554, 8000, 37777))

    async def run() -> tuple[list, float]:  # type: ignore[type-arg]
        async with Emulator(devices):
            start = time.monotonic()
            hosts = [d.ip for d in devices] + ["127.23.0.200"]  # one address where nothing listens
            return await scan(hosts, settings), time.monotonic() - start

    results, elapsed = asyncio.run(run())
    identifier = Identifier()
    by_ip = {r.ip: r.as_dict(identifier) for r in results}
    assert elapsed < settings.host_deadline + 2  # hosts run concurrently; each within its deadline
    assert "127.23.0.200" not in by_ip
    assert by_ip["127.23.0.1"]["vendor"] == "hikvision" and 8000 in by_ip["127.23.0.1"]["ports"]
    dahua_model = load_profiles()["dahua-ipc"].model
    assert (by_ip["127.23.0.2"]["vendor"], by_ip["127.23.0.2"]["model"]) == ("dahua", dahua_model)
    assert by_ip["127.23.0.3"]["vendor"] == "dahua"  # Lorex NVR on Dahua firmware
    assert by_ip["127.23.0.4"]["vendor"] == "axis"  # from its own ONVIF answer; never a covered maker
    assert by_ip["127.23.0.5"]["errors"] and by_ip["127.23.0.5"]["vendor"] == "unknown"  # silent
    drip = by_ip["127.23.0.6"]
    assert drip["vendor"] == "unknown" and any("not finished" in e for e in drip["errors"])
    assert len(json.dumps(drip)) < 200_000  # the endless body was cut


@needs_ports
def test_scan_command_against_emulate_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "COLUMNS": "200", "PHASEOUT_DB": str(tmp_path / "scan.db")}
    with emulate_process("hikvision-ipc,dahua-ipc", 4, "127.24.0.1", env):
        proc = subprocess.run(
            [*PHASEOUT, "scan", "127.24.0.0/29", "--scope", "127.24.0.0/16", "-f", "jsonl", "--host-deadline", "4"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["ip"] for r in rows] == ["127.24.0.1", "127.24.0.2", "127.24.0.3", "127.24.0.4"]
    assert [r["vendor"] for r in rows] == ["hikvision", "dahua", "hikvision", "dahua"]
    assert all({"ports", "brand", "model", "confidence", "evidence"} <= set(r) for r in rows)


def test_profiles_load_and_name_their_sources() -> None:
    profiles = load_profiles()
    assert {"hikvision-ipc", "dahua-ipc", "lorex-nvr", "axis-ipc", "hostile-silent", "hostile-drip"} <= set(profiles)
    assert {p.behaviour for p in profiles.values()} == {"", "silent", "drip", "bomb", "reset", "garbage"}
    for profile in profiles.values():  # every device profile says which published captures it copies
        if not profile.behaviour:
            assert profile.sources, profile.name
            assert all(("@" in s and "/" in s) or "://" in s or "Guide" in s or "search" in s for s in profile.sources)


@needs_ports
def test_every_profile_is_identified_as_its_maker_and_hostile_ones_cost_nothing() -> None:
    """Each bundled profile, scanned together: covered makers (and their OEM labels) identified
    as their maker, other makers never taken for one, hostile devices answered with errors only."""
    profiles = load_profiles()
    names = sorted(profiles)
    devices = plan_devices(names, len(names), "127.25.0.1")
    settings = ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80, 554, 8000, 37777))

    async def run() -> list:  # type: ignore[type-arg]
        async with Emulator(devices):
            return await scan([d.ip for d in devices], settings)

    identifier = Identifier()
    by_ip = {r.ip: r.as_dict(identifier) for r in asyncio.run(run())}
    for device in devices:
        found = by_ip.get(device.ip, {"vendor": "unknown", "errors": []})
        maker = device.profile.maker
        if maker in ("hikvision", "dahua"):
            assert found["vendor"] == maker, (device.profile.name, found)
        else:  # other makers: their own name when they say it, never a covered maker
            assert found["vendor"] in (maker, "unknown"), (device.profile.name, found)
        if device.profile.behaviour:
            assert found.get("model") in (None, ""), (device.profile.name, found)
    labels = {d.profile.name: by_ip[d.ip].get("brand") for d in devices if d.ip in by_ip}
    assert (labels["lts-ipc"], labels["annke-ipc"], labels["amcrest-ipc"]) == ("LTS", "Annke", "Amcrest")
    generic = next(by_ip[d.ip] for d in devices if d.profile.name == "onvif-generic")
    assert generic["model"] == "NC-1080W" and generic["vendor"] == "unknown"  # ONVIF read, no maker invented
    bomb = next(by_ip[d.ip] for d in devices if d.profile.behaviour == "bomb")
    assert "lol" not in json.dumps(bomb.get("model") or "")  # the bomb was never expanded
    assert any("XML refused" in (e.get("note") or "") for e in bomb["evidence"])
    reset = next(by_ip[d.ip] for d in devices if d.profile.behaviour == "reset")
    assert any("ConnectionResetError" in e for e in reset["errors"])


@needs_ports
def test_ctrl_c_keeps_and_stores_finished_hosts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C during a scan: hosts already finished are printed and stored, exit code 130."""
    import threading

    db = tmp_path / "int.db"
    env = {**os.environ, "COLUMNS": "200", "PHASEOUT_DB": str(db)}
    # the silent host is a listener of this test: it accepts and never answers, and says when the
    # scan first reached it, so Ctrl-C comes while the scan runs however slow the start was
    reached = threading.Event()
    held: list[socket.socket] = []
    listeners = []
    for port in (80, 554):
        listener = socket.create_server(("127.28.0.2", port), reuse_port=False)
        listener.settimeout(0.2)
        listeners.append(listener)

    def accept(listener: socket.socket) -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            reached.set()

    stop = threading.Event()
    threads = [threading.Thread(target=accept, args=(ls,), daemon=True) for ls in listeners]
    for t in threads:
        t.start()
    try:
        with emulate_process("hikvision-ipc", 1, "127.28.0.1", env):
            scan_proc = subprocess.Popen(
                [*PHASEOUT, "scan", "127.28.0.1-2", "--scope", "127.28.0.0/16", "-f", "jsonl", "--host-deadline", "60"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**env, "PYTHONUNBUFFERED": "1"},
            )
            assert reached.wait(timeout=60), "the scan never reached the silent host"
            time.sleep(1.5)  # the camera answers within a second; the silent host holds the scan ~4 s
            scan_proc.send_signal(signal.SIGINT)
            out, err = scan_proc.communicate(timeout=30)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        for sock in held + listeners:
            sock.close()
    assert scan_proc.returncode == 130, err
    assert "interrupted" in err
    rows = [json.loads(x) for x in out.splitlines()]
    assert [(r["ip"], r["vendor"]) for r in rows] == [("127.28.0.1", "hikvision")]
    from phaseout.store import Store

    with Store.open(str(db)) as store:
        assert store.counts()["devices"] == 1


def test_rate_limit_spaces_out_starts() -> None:
    from phaseout.discover.scanner import RateLimit

    async def run() -> list[float]:
        limit = RateLimit(20.0)
        stamps: list[float] = []

        async def one() -> None:
            await limit.wait()
            stamps.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(6)))
        return stamps

    stamps = sorted(asyncio.run(run()))
    # 20 per second: the n-th start comes no sooner than n x 50 ms after the first (a start woken
    # late by a busy machine lets the next one follow sooner, so single gaps prove nothing)
    offsets = [t - stamps[0] for t in stamps]
    assert all(off >= n * 0.05 - 0.01 for n, off in enumerate(offsets)), offsets


@needs_ports
def test_nothing_leaves_the_declared_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every socket the scanner connects is inside the scope, even when a device redirects it
    elsewhere (a hostile camera pointing the scanner at another network)."""
    import ipaddress
    import socket as socket_module

    from phaseout.emulate.devices import Device, Profile

    lure = Profile(
        name="lure",
        maker="unknown",
        model="X",
        firmware="",
        build="",
        mac_prefix="02:00:00",
        ports=(80,),
        http={"redirect_root": True, "login_path": "http://127.31.0.1/steal"},
    )
    devices = [*plan_devices(["hikvision-ipc", "dahua-ipc"], 2, "127.29.0.1"), Device(lure, "127.29.0.3", "S", "M")]
    contacted: list[str] = []
    real_connect = socket_module.socket.connect

    def audited_connect(self: socket_module.socket, address: object) -> object:
        if isinstance(address, tuple) and self.family == socket_module.AF_INET:
            contacted.append(str(address[0]))
        return real_connect(self, address)  # type: ignore[arg-type]

    targets = in_scope(["127.29.0.0/29"], ["127.29.0.0/24"])
    with pytest.raises(UsageError):
        in_scope(["127.29.0.1", "127.31.0.1"], ["127.29.0.0/24"])  # refused before anything is sent

    async def run() -> None:
        async with Emulator(devices):
            monkeypatch.setattr(socket_module.socket, "connect", audited_connect)
            try:
                await scan(targets, ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80, 554)))
            finally:
                monkeypatch.undo()

    asyncio.run(run())
    scope = ipaddress.ip_network("127.29.0.0/24")
    assert contacted and all(ipaddress.ip_address(a) in scope for a in contacted), set(contacted)
    assert "127.29.0.3" in contacted  # the lure was probed, its redirect not followed


@needs_ports
def test_https_certificate_is_read_and_identifies_the_maker() -> None:
    devices = plan_devices(["hikvision-nvr", "dahua-nvr"], 2, "127.33.0.1")

    async def run() -> list:  # type: ignore[type-arg]
        async with Emulator(devices):
            return await scan([d.ip for d in devices], ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(443,)))

    identifier = Identifier()
    results = {r.ip: r for r in asyncio.run(run())}
    hik, dahua = results["127.33.0.1"], results["127.33.0.2"]
    (cert,) = [o for o in hik.observations if o["kind"] == "tls"]
    assert "O=HIKVISION" in cert["subject"] and cert["self_signed"] is True
    assert any(o["kind"] == "http" and o["tls"] is True for o in hik.observations)  # HTTP answered over TLS
    # port 443 alone: the certificate and the answer over TLS identify them
    assert hik.as_dict(identifier)["vendor"] == "hikvision"
    assert dahua.as_dict(identifier)["vendor"] == "dahua"


def test_certificate_observation_refuses_garbage() -> None:
    from phaseout.discover.scanner import MAX_CERTIFICATE, certificate_observation

    assert certificate_observation(None) is None
    assert certificate_observation(b"\x30\x82\x01\x00<script>") is None  # not DER
    assert certificate_observation(b"\x30" * (MAX_CERTIFICATE + 1)) is None  # oversized: not even parsed


@needs_ports
def test_given_credentials_answer_the_digest_challenge_and_add_serial_and_mac() -> None:
    from phaseout.discover.digest import Credentials
    from phaseout.identify.facts import gather

    devices = plan_devices(["hikvision-ipc", "hikvision-ipc"], 2, "127.34.0.1")

    async def run(creds: Credentials | None) -> list:  # type: ignore[type-arg]
        async with Emulator(devices):
            settings = ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80,), credentials=creds)
            return await scan([d.ip for d in devices], settings)

    anonymous = asyncio.run(run(None))
    assert not any(o.get("authenticated") for r in anonymous for o in r.observations)
    good = asyncio.run(run(Credentials("admin", "emulated-only")))
    first = next(r for r in good if r.ip == "127.34.0.1")
    assert any(o.get("authenticated") for o in first.observations)
    facts = gather(first.observations)
    assert facts.macs and facts.serials  # what only the authenticated deviceInfo tells
    wrong = asyncio.run(run(Credentials("admin", "wrong")))
    assert all(any("refused" in e for e in r.errors) for r in wrong)
    assert repr(Credentials("a", "secret")).count("secret") == 0


def test_digest_round_trip() -> None:
    from phaseout.discover.digest import Credentials, authorization, check_authorization, parse_challenge

    challenge = parse_challenge('Digest qop="auth", realm="IP Camera(C1234)", nonce="abc", stale="FALSE"')
    assert challenge == {"qop": "auth", "realm": "IP Camera(C1234)", "nonce": "abc", "stale": "FALSE"}
    header = authorization(Credentials("admin", "pw"), "GET", "/ISAPI/System/deviceInfo", challenge)
    assert check_authorization(header, Credentials("admin", "pw"), "GET")
    assert not check_authorization(header, Credentials("admin", "other"), "GET")
    assert parse_challenge('Basic realm="x"') is None


def test_bad_credentials_file_is_a_clear_usage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "creds.toml"
    bad.write_text('username = "admin"\npassword = "hunter2\n', encoding="utf-8")  # unterminated string
    proc = subprocess.run(
        [*PHASEOUT, "scan", "127.35.0.1", "--scope", "127.35.0.0/16", "--no-store", "--credentials", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PHASEOUT_DB": str(tmp_path / "x.db")},
    )
    assert proc.returncode == 2 and "cannot read credentials" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout
