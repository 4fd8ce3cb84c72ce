"""An inventory register with IP and MAC columns is a spreadsheet, not a scanner listing.

Found when timing ``phaseout import`` on the benchmark's register: every line holds an IP and a
MAC, so the plain-listing reader claimed it (0.68 against 0.3) and the import lost its site,
make and model columns and ran five times slower."""

from __future__ import annotations

from pathlib import Path

from phaseout.ingest.formats.registry import detect

REGISTER = "Inventory export\nStore No,Make,Model No,MAC Address,IP Address,Serial No,Firmware,Camera Name\n" + "".join(
    f"{i:04d},Dahua,IPC-HDW2431T-AS-S2,3C:EF:8C:00:00:{i:02X},127.100.1.{i},SN{i:09d},V5.5.0,Camera {i}\n"
    for i in range(1, 40)
)


def test_a_register_with_ip_and_mac_columns_is_a_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text(REGISTER, encoding="utf-8")
    assert detect(path).name == "spreadsheet"


def test_an_arp_scan_listing_is_still_a_listing(tmp_path: Path) -> None:
    path = tmp_path / "lan.txt"
    path.write_text(
        "".join(f"127.100.1.{i}\t3c:ef:8c:00:00:{i:02x}\tZhejiang Dahua Technology Co.,Ltd.\n" for i in range(1, 20)),
        encoding="utf-8",
    )
    assert detect(path).name == "listing"
