"""Write an estate out the way real estates teams keep it: several spreadsheets from
different regions and installers, each with its own headers, title rows, encodings,
delimiters and MAC notations; brand-only and model-only rows; typos; "N/A"; stray spaces.

Also writes ``truth.csv`` (the true maker of every row) for tests and benchmarks of
identification, and a sites workbook.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from phaseout.demo.estate import DemoDevice, DemoSite, Estate


def _mac_colon(m: str) -> str:
    return m


def _mac_hyphen_lower(m: str) -> str:
    return m.replace(":", "-").lower()


def _mac_cisco(m: str) -> str:
    h = m.replace(":", "").lower()
    return f"{h[0:4]}.{h[4:8]}.{h[8:12]}"


def _mac_bare(m: str) -> str:
    return m.replace(":", "")


@dataclass(frozen=True, slots=True)
class SheetStyle:
    """One team's way of keeping its register."""

    file_name: str
    title_rows: tuple[str, ...]
    headers: tuple[str, ...]
    mac: Callable[[str], str]
    site_ref: Callable[[DemoSite], str]
    kind: str  # xlsx | csv
    delimiter: str = ","
    encoding: str = "utf-8"


STYLES: tuple[SheetStyle, ...] = (
    SheetStyle(
        "CCTV Asset Register - North.xlsx",
        ("CCTV Asset Register - Northern stores", "Exported from CAFM 01/11/2026", ""),
        (
            "Store No",
            "Store Name",
            "Camera Name",
            "Make",
            "Model No",
            "MAC Address",
            "IP Address",
            "Serial No",
            "Firmware",
            "Recorder",
            "Type",
        ),
        _mac_colon,
        lambda s: s.code,
        "xlsx",
    ),
    SheetStyle(
        "security_devices_midlands_wales.csv",
        ("Security devices;;;;;;;", ";;;;;;;"),
        (
            "Site",
            "Location",
            "Manufacturer",
            "Part Number",
            "Physical Address",
            "Host",
            "S/N",
            "Version",
            "Device Type",
            "Notes",
        ),
        _mac_hyphen_lower,
        lambda s: f"Store {s.code}",
        "csv",
        ";",
        "cp1252",
    ),
    SheetStyle(
        "south_installer_handover.csv",
        (),
        ("store", "brand", "model", "mac", "ip", "serial", "fw", "description", "type", "nvr"),
        _mac_cisco,
        lambda s: str(int(s.code)) if s.code.isdigit() else s.code,
        "csv",
        ",",
        "utf-8-sig",
    ),
    SheetStyle(
        "london_east_cameras.tsv",
        ("London & East camera list",),
        ("Building", "Vendor", "Model", "MAC", "IP", "Serial Number", "Category", "Camera Name"),
        _mac_bare,
        lambda s: s.name,
        "csv",
        "\t",
        "utf-8",
    ),
)

REGION_STYLE = {
    "Scotland": 0,
    "North East": 0,
    "North West": 0,
    "Yorkshire": 0,
    "Midlands": 1,
    "Wales": 1,
    "South West": 2,
    "South East": 2,
    "London": 3,
    "East": 3,
}


def _messy(rng: random.Random, value: str) -> str:
    """Occasional stray whitespace, as pasted from e-mails and PDFs."""
    r = rng.random()
    if r < 0.03:
        return f" {value}  "
    if r < 0.04:
        return value.replace(" ", "\u00a0")
    return value


def _row(style: SheetStyle, dev: DemoDevice, rng: random.Random) -> tuple[list[str], str]:
    """The cells for one device, and how the row was degraded (for the truth file)."""
    make, brand, model = dev.written_make, dev.brand, dev.model
    quirk = ""
    r = rng.random()
    if r < 0.05:
        make, quirk = "", "model-only"
    elif r < 0.08:
        model, quirk = "", "make-only"
    mac = style.mac(dev.mac) if rng.random() > 0.04 else rng.choice(["", "N/A", "-"])
    fw = dev.firmware if rng.random() > 0.15 else ""
    dtype = {
        "camera": rng.choice(["Camera", "IP Camera", "CCTV", "Dome", "Bullet"]),
        "recorder": rng.choice(["NVR", "Recorder", "DVR"]),
        "body-worn": rng.choice(["BWC", "Body Worn"]),
        "intercom": rng.choice(["Intercom", "Door Station"]),
        "access-control": rng.choice(["Door Reader", "Access Control"]),
    }[dev.device_type]
    recorder = dev.recorder.name if dev.recorder else ""
    values = {
        "site": style.site_ref(dev.site),
        "site_name": dev.site.name,
        "name": dev.name,
        "make": make,
        "brand": brand if make != brand else "",
        "model": model,
        "mac": mac,
        "ip": dev.ip,
        "serial": dev.serial,
        "fw": fw,
        "recorder": recorder,
        "type": dtype,
    }
    if style is STYLES[0]:
        cells = [
            values["site"],
            values["site_name"],
            values["name"],
            make,
            model,
            mac,
            dev.ip,
            dev.serial,
            fw,
            recorder,
            dtype,
        ]
    elif style is STYLES[1]:
        cells = [
            values["site"],
            values["name"],
            make or brand,
            model,
            mac,
            dev.ip,
            dev.serial,
            fw,
            dtype,
            f"label: {brand}" if brand.lower() != make.lower() and make else "",
        ]
    elif style is STYLES[2]:
        cells = [
            values["site"],
            brand if make else "",
            model,
            mac,
            dev.ip,
            dev.serial,
            fw,
            values["name"],
            dtype,
            recorder,
        ]
    else:
        cells = [values["site"], make, model, mac, dev.ip, dev.serial, dtype, values["name"]]
    return [_messy(rng, c) if c else c for c in cells], quirk


def write_inventories(estate: Estate, out: Path, seed: int, bad_rows: int = 3) -> list[Path]:
    """One file per style; regions are spread over styles as teams are.  ``bad_rows`` rows
    of the semicolon CSV get an Excel-mangled MAC, to show the error report."""
    rng = random.Random(seed + 1)
    rows: dict[int, list[list[str]]] = {i: [] for i in range(len(STYLES))}
    truth: list[list[str]] = []
    for dev in estate.devices:
        i = REGION_STYLE[dev.site.region]
        cells, quirk = _row(STYLES[i], dev, rng)
        rows[i].append(cells)
        truth.append(
            [
                STYLES[i].file_name,
                str(len(rows[i])),
                dev.site.code,
                dev.mac,
                dev.serial,
                dev.vendor,
                dev.brand,
                dev.model,
                dev.device_type,
                quirk,
            ]
        )
    for k in range(min(bad_rows, len(rows[1]))):
        rows[1][k * 7][4] = "2.85712E+11"
    paths = []
    for i, style in enumerate(STYLES):
        path = out / style.file_name
        _write(path, style, rows[i])
        paths.append(path)
    with (out / "truth.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "data_row", "site", "mac", "serial", "vendor", "brand", "model", "device_type", "quirk"])
        w.writerows(truth)
    return paths


def _write(path: Path, style: SheetStyle, rows: Sequence[list[str]]) -> None:
    if style.kind == "xlsx":
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
        ws = book.add_worksheet("Cameras")
        bold = book.add_format({"bold": True})
        r = 0
        for title in style.title_rows:
            ws.write_string(r, 0, title, bold)
            r += 1
        for c, h in enumerate(style.headers):
            ws.write_string(r, c, h, bold)
        for row in rows:
            r += 1
            for c, v in enumerate(row):
                if v:
                    ws.write_string(r, c, v)
        book.close()
        return
    with path.open("w", newline="", encoding=style.encoding, errors="replace") as fh:
        for title in style.title_rows:
            fh.write(title + "\r\n")
        w = csv.writer(fh, delimiter=style.delimiter, lineterminator="\r\n")
        w.writerow(style.headers)
        w.writerows(rows)


def write_sites(estate: Estate, path: Path) -> Path:
    """The estates team's site list as a workbook with a title row and real date cells."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Sites")
    bold = book.add_format({"bold": True})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_string(0, 0, "Estate register (demo data)", bold)
    headers = (
        "Store No",
        "Store Name",
        "Region",
        "Format",
        "Address",
        "Lat",
        "Long",
        "Sensitive?",
        "Next Maintenance",
        "Maintenance Cycle (months)",
    )
    for c, h in enumerate(headers):
        ws.write_string(2, c, h, bold)
    for r, s in enumerate(estate.sites, start=3):
        ws.write_string(r, 0, s.code)
        ws.write_string(r, 1, s.name)
        ws.write_string(r, 2, s.region)
        ws.write_string(r, 3, s.site_type)
        ws.write_string(r, 4, s.address)
        ws.write_number(r, 5, s.latitude)
        ws.write_number(r, 6, s.longitude)
        ws.write_string(r, 7, "Yes" if s.sensitive else "No")
        ws.write_datetime(r, 8, s.next_maintenance, date)
        ws.write_number(r, 9, s.cycle_months)
    book.close()
    return path
