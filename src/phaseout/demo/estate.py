"""A seeded synthetic retail estate: regions, stores of three formats, distribution
centres, offices and a data centre, each with cameras, recorders, body-worn cameras,
intercoms and door readers from a realistic mix of makers and OEM labels.

Pure and deterministic: the same ``sites`` and ``seed`` give the same estate, so the demo,
tests and benchmarks can rely on its numbers.  Every device keeps its true maker
(``vendor``), which the messy spreadsheets written from it may hide or misspell.
"""

from __future__ import annotations

import datetime as dt
import random
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

# Regions with a rough bounding box (lat_min, lat_max, lon_min, lon_max) and some towns.
REGIONS: dict[str, tuple[tuple[float, float, float, float], tuple[str, ...]]] = {
    "Scotland": (
        (55.0, 57.6, -5.0, -2.0),
        ("Glasgow", "Edinburgh", "Aberdeen", "Dundee", "Inverness", "Stirling", "Perth", "Paisley"),
    ),
    "North East": (
        (54.5, 55.2, -2.0, -1.2),
        ("Newcastle", "Sunderland", "Durham", "Gateshead", "Middlesbrough"),
    ),
    "North West": (
        (53.3, 54.1, -3.1, -2.1),
        ("Manchester", "Liverpool", "Preston", "Bolton", "Blackpool", "Warrington", "Wigan", "Stockport"),
    ),
    "Yorkshire": (
        (53.4, 54.2, -2.0, -0.3),
        ("Leeds", "Sheffield", "York", "Bradford", "Hull", "Wakefield", "Doncaster", "Harrogate"),
    ),
    "Midlands": (
        (52.2, 53.1, -2.3, -0.6),
        ("Birmingham", "Nottingham", "Leicester", "Derby", "Coventry", "Wolverhampton", "Stoke", "Lincoln"),
    ),
    "Wales": ((51.4, 53.2, -4.5, -3.0), ("Cardiff", "Swansea", "Newport", "Wrexham", "Bangor", "Llanelli")),
    "South West": (
        (50.3, 51.5, -4.5, -2.0),
        ("Bristol", "Plymouth", "Exeter", "Bath", "Swindon", "Taunton", "Truro", "Gloucester"),
    ),
    "London": (
        (51.35, 51.65, -0.4, 0.2),
        (
            "Camden",
            "Croydon",
            "Ealing",
            "Hackney",
            "Islington",
            "Lewisham",
            "Wembley",
            "Stratford",
            "Brixton",
        ),
    ),
    "South East": (
        (50.8, 51.6, -1.5, 1.3),
        (
            "Brighton",
            "Reading",
            "Oxford",
            "Southampton",
            "Portsmouth",
            "Canterbury",
            "Guildford",
            "Milton Keynes",
        ),
    ),
    "East": (
        (51.8, 52.9, -0.3, 1.7),
        ("Norwich", "Cambridge", "Ipswich", "Peterborough", "Colchester", "Chelmsford", "Luton"),
    ),
}

# Store formats: share of stores, camera count range, and the other device counts.
FORMATS: dict[str, dict[str, Any]] = {
    "hypermarket": {
        "share": 0.10,
        "cameras": (100, 140),
        "body_worn": (8, 14),
        "intercom": (2, 4),
        "readers": (6, 10),
        "per_recorder": 32,
    },
    "superstore": {
        "share": 0.30,
        "cameras": (48, 72),
        "body_worn": (4, 8),
        "intercom": (1, 3),
        "readers": (3, 6),
        "per_recorder": 32,
    },
    "convenience": {
        "share": 0.60,
        "cameras": (8, 16),
        "body_worn": (1, 3),
        "intercom": (0, 1),
        "readers": (1, 2),
        "per_recorder": 16,
    },
}
SPECIAL_SITES: tuple[tuple[str, str, int], ...] = (
    # (site_type, name suffix, cameras); all sensitive: they serve the whole estate.
    ("distribution centre", "DC", 80),
    ("distribution centre", "DC", 80),
    ("distribution centre", "DC", 80),
    ("office", "Head Office", 45),
    ("office", "Support Centre", 30),
    ("data centre", "Data Centre", 24),
)
STREETS = ("High St", "Retail Park", "Station Rd", "Market Sq", "Ring Rd", "Industrial Est")
CAMERA_POSITIONS = (
    "Entrance",
    "Exit",
    "Checkout",
    "Self-checkout",
    "Aisle",
    "Car park",
    "Loading bay",
    "Cash office",
    "Warehouse",
    "Fire exit",
    "Pharmacy",
    "Kiosk",
    "Back door",
    "Roof",
    "Staff room corridor",
    "ATM",
    "Fuel forecourt",
    "Bakery",
    "Trolley bay",
)


@cache
def product_lines() -> tuple[dict[str, Any], ...]:
    text = resources.files("phaseout.demo").joinpath("products.toml").read_text("utf-8")
    return tuple(tomllib.loads(text)["line"])


@dataclass(slots=True)
class DemoSite:
    code: str
    name: str
    region: str
    site_type: str
    address: str
    latitude: float
    longitude: float
    sensitive: bool
    next_maintenance: dt.date
    cycle_months: int
    index: int  # position in the estate; fixes the site's loopback subnet


@dataclass(slots=True)
class DemoDevice:
    site: DemoSite
    line: str  # product line key
    vendor: str  # true maker of hardware and firmware
    brand: str  # label on the box
    written_make: str  # what the spreadsheet says (may be misspelt, a brand, or empty)
    model: str
    device_type: str
    firmware: str
    mac: str
    ip: str
    serial: str
    name: str
    recorder: DemoDevice | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Estate:
    sites: list[DemoSite]
    devices: list[DemoDevice]


def site_ip(site_index: int, host: int) -> str:
    """Demo addresses live on loopback (127.100.0.0 upwards, one /24 per site) so that later
    scans of the demo estate can only ever reach this machine."""
    return f"127.{100 + site_index // 256}.{site_index % 256}.{host}"


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lines = product_lines()
        self.weights = [ln["share"] for ln in self.lines]
        self.macs: set[str] = set()
        self.devices: list[DemoDevice] = []

    def mac(self, line: dict[str, Any]) -> str:
        while True:
            prefix = self.rng.choice(line["mac_prefixes"])
            tail = ":".join(f"{self.rng.randrange(256):02X}" for _ in range(3))
            mac = f"{prefix}:{tail}"
            if mac not in self.macs:
                self.macs.add(mac)
                return mac

    def serial(self, line: dict[str, Any], model: str) -> str:
        rng = self.rng
        if line["vendor"] == "hikvision" and model.startswith(("DS-", "iDS-")):
            # Hikvision serials begin with the model (see research models.md, section 0.5).
            stamp = f"20{rng.randrange(16, 25):02d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
            return f"{model.split('/')[0]}{stamp}CCWR{rng.randrange(10**8, 10**9)}"
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        return "".join(rng.choice(alphabet) for _ in range(15))

    def pick_line(self, primary: dict[str, Any], loyalty: float) -> dict[str, Any]:
        if self.rng.random() < loyalty:
            return primary
        return self.rng.choices(self.lines, self.weights)[0]

    def device(
        self,
        site: DemoSite,
        line: dict[str, Any],
        dtype: str,
        host: int,
        name: str,
        recorder: DemoDevice | None = None,
    ) -> DemoDevice | None:
        models = line.get(dtype)
        if not models:
            return None
        fw_key = "recorder_firmware" if dtype == "recorder" and line.get("recorder_firmware") else "firmware"
        model = self.rng.choice(models)
        dev = DemoDevice(
            site=site,
            line=line["key"],
            vendor=line["vendor"],
            brand=line["brand"],
            written_make=self.rng.choice(line["written"]),
            model=model,
            device_type=dtype,
            firmware=self.rng.choice(line[fw_key]),
            mac=self.mac(line),
            ip=site_ip(site.index, host),
            serial=self.serial(line, model),
            name=name,
            recorder=recorder,
        )
        self.devices.append(dev)
        return dev

    def populate(self, site: DemoSite, cameras: int, counts: dict[str, int], per_recorder: int) -> None:
        primary = self.rng.choices(self.lines, self.weights)[0]
        while not primary.get("recorder"):
            primary = self.rng.choices(self.lines, self.weights)[0]
        host = 10
        recorders: list[DemoDevice] = []
        for r in range(max(1, -(-cameras // per_recorder))):
            rec = self.device(site, primary, "recorder", host, f"NVR {r + 1}")
            host += 1
            if rec:
                recorders.append(rec)
        for c in range(cameras):
            line = self.pick_line(primary, 0.85)
            position = self.rng.choice(CAMERA_POSITIONS)
            rec = recorders[c // per_recorder] if recorders and c // per_recorder < len(recorders) else None
            if self.device(site, line, "camera", host, f"{position} {c + 1}", rec) is None:
                self.device(site, primary, "camera", host, f"{position} {c + 1}", rec)
            host += 1
            if host > 250:
                host = 10
        for dtype, n in counts.items():
            for i in range(n):
                line = self.pick_line(primary, 0.5)
                label = {"body-worn": "BWC", "intercom": "Door station", "access-control": "Door reader"}[dtype]
                if self.device(site, line, dtype, host, f"{label} {i + 1}") is None:
                    fallback = next(
                        (ln for ln in self.lines if ln.get(dtype) and ln["vendor"] == primary["vendor"]), None
                    ) or next(ln for ln in self.lines if ln.get(dtype))
                    self.device(site, fallback, dtype, host, f"{label} {i + 1}")
                host = host + 1 if host < 250 else 10


def build_estate(stores: int = 300, seed: int = 2026) -> Estate:
    """``stores`` retail stores plus three distribution centres, two offices and a data
    centre (sensitive).  Deterministic for a given seed."""
    b = _Builder(seed)
    rng = b.rng
    sites: list[DemoSite] = []
    today = dt.date(2026, 12, 1)
    region_names = list(REGIONS)
    formats = list(FORMATS)
    shares = [FORMATS[f]["share"] for f in formats]

    def make_site(code: str, name: str, region: str, site_type: str, sensitive: bool) -> DemoSite:
        (la0, la1, lo0, lo1), _towns = REGIONS[region]
        site = DemoSite(
            code=code,
            name=name,
            region=region,
            site_type=site_type,
            address=f"{rng.randrange(1, 300)} {rng.choice(STREETS)}",
            latitude=round(rng.uniform(la0, la1), 5),
            longitude=round(rng.uniform(lo0, lo1), 5),
            sensitive=sensitive,
            next_maintenance=today + dt.timedelta(days=rng.randrange(7, 365)),
            cycle_months=rng.choice((6, 12, 12, 12)),
            index=len(sites),
        )
        sites.append(site)
        return site

    names: dict[str, int] = {}
    for i in range(stores):
        region = region_names[i % len(region_names)]
        fmt = rng.choices(formats, shares)[0]
        town = rng.choice(REGIONS[region][1])
        name = f"{town} {fmt.title()}"
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:  # real estates name the second store in a town after its district
            name = f"{name} {names[name]}"
        site = make_site(f"{i + 1:04d}", name, region, fmt, False)
        spec = FORMATS[fmt]
        counts = {
            "body-worn": rng.randint(*spec["body_worn"]),
            "intercom": rng.randint(*spec["intercom"]),
            "access-control": rng.randint(*spec["readers"]),
        }
        b.populate(site, rng.randint(*spec["cameras"]), counts, spec["per_recorder"])
    for j, (site_type, suffix, cameras) in enumerate(SPECIAL_SITES):
        region = region_names[(j * 3) % len(region_names)]
        town = REGIONS[region][1][0]
        code = f"{'DC' if site_type.startswith('dist') else 'HQ' if site_type == 'office' else 'DT'}{j + 1:02d}"
        site = make_site(code, f"{town} {suffix}", region, site_type, True)
        b.populate(site, cameras, {"body-worn": 4, "intercom": 2, "access-control": 8}, 32)
    return Estate(sites=sites, devices=b.devices)
