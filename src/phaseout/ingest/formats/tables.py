"""The CSV formats read by column names (see ``tabular``): which columns say what.

Column names come from each tool's documentation or real exports; the sample of each format
under ``tests/data/imports/<format>/`` says where they were taken from.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import orjson

from phaseout.ingest.formats.record import SourceRecord
from phaseout.ingest.formats.registry import Format
from phaseout.ingest.formats.tabular import TableSpec, table_format

ADDRESS = ("IP", "IP Address", "IPv4 Address", "IPAddress", "Address", "addresses", "IPv4")
MAC = ("MAC", "MAC Address", "MACAddress", "macs", "Physical Address", "hwaddr", "ClientId")


def _sadp_answer(row: dict[str, str], rec: SourceRecord) -> list[dict[str, Any]]:
    """A SADP tool row is the tool's rendering of the device's SADP answer: give it back to
    identification in the answer's own shape (element names of the SADP ProbeMatch)."""
    pairs = [
        ("DeviceType", rec.model),
        ("DeviceDescription", rec.model),
        ("DeviceSN", rec.serial),
        ("MAC", rec.mac),
        ("IPv4Address", rec.ip),
        ("SoftwareVersion", rec.firmware),
        ("DSPVersion", row.get("DSP Version")),
    ]
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in pairs if v)
    return [{"kind": "sadp", "raw": f"<ProbeMatch>{body}</ProbeMatch>"}] if body else []


def _dhdiscover_answer(row: dict[str, str], rec: SourceRecord) -> list[dict[str, Any]]:
    """A ConfigTool row is the tool's rendering of the device's DHDiscover answer."""
    info = {
        "DeviceType": rec.model,
        "SerialNo": rec.serial,
        "Version": rec.firmware,
        "IPv4Address": {"IPAddress": rec.ip} if rec.ip else None,
        "MAC": rec.mac,
    }
    body = {"method": "client.notifyDevInfo", "params": {"deviceInfo": {k: v for k, v in info.items() if v}}}
    return [{"kind": "dhdiscover", "raw": orjson.dumps(body).decode()}]


MILESTONE = TableSpec(
    "milestone",
    "Milestone XProtect camera report (Get-VmsCameraReport / Get-CameraReport CSV)",
    ("HardwareName", "RecorderName"),
    {
        "description": ("Name",),
        "ip": ("Address",),
        "mac": ("MAC",),
        "model": ("Model",),
        "firmware": ("Firmware",),
        "manufacturer": ("DriverFamily",),
        "parent": ("RecorderName",),
        "serial": ("SerialNumber",),
        "asset_id": ("Id",),
    },
    optional=("Model", "Firmware", "MAC", "DriverFamily", "Driver", "Address"),
    defaults={"device_type": "camera"},
    example="Get-VmsCameraReport | Export-Csv cameras.csv; phaseout import cameras.csv",
)

GENETEC = TableSpec(
    "genetec",
    "Genetec Security Center camera/unit report (CSV export)",
    ("Manufacturer", "Product type"),
    {
        "description": ("Name", "Entity name"),
        "ip": ("IP address", "IP Address"),
        "mac": ("Physical address", "MAC address"),
        "model": ("Product type", "Model"),
        "manufacturer": ("Manufacturer",),
        "firmware": ("Firmware version", "Firmware"),
        "parent": ("Archiver", "Role", "Video unit", "Unit"),
        "serial": ("Serial number",),
        "asset_id": ("Logical ID", "Logical Id"),
    },
    optional=("IP address", "Firmware version", "Physical address", "Archiver", "Logical ID"),
    defaults={"device_type": "camera"},
    example="Config Tool > Reports > Hardware inventory > Export (CSV); phaseout import units.csv",
)

NX_WITNESS = TableSpec(
    "nx-witness",
    "Nx Witness / Nx Meta device list (CSV)",
    ("Vendor", "Model", "Server"),
    {
        "description": ("Name",),
        "ip": ("IP", "IP Address", "Address"),
        "mac": ("MAC", "MAC Address", "Physical ID"),
        "model": ("Model",),
        "manufacturer": ("Vendor",),
        "firmware": ("Firmware",),
        "parent": ("Server",),
        "asset_id": ("Logical ID", "ID"),
    },
    optional=("Firmware", "MAC Address", "IP Address", "Logical ID"),
    defaults={"device_type": "camera"},
    excluded=("HardwareName", "Product type"),
    example="Nx Witness Desktop > System Administration > Cameras list > Export; phaseout import nx-cameras.csv",
)

SADP = TableSpec(
    "sadp",
    "Hikvision SADP tool device list (Export, CSV)",
    ("Device Type", "Device Serial No."),
    {
        "model": ("Device Type",),
        "ip": ("IPv4 Address",),
        "mac": ("MAC Address",),
        "serial": ("Device Serial No.", "Serial No."),
        "firmware": ("Software Version",),
    },
    optional=("Enhanced SDK Service Port", "Software Version", "DSP Version", "Encoding Channel(s)"),
    observe=_sadp_answer,
    example="SADP > select devices > Export; phaseout import sadp-export.csv",
)

CONFIGTOOL = TableSpec(
    "configtool",
    "Dahua ConfigTool device list (Export, CSV)",
    ("Type", "Model", "IP", "MAC", "Version"),
    {
        "model": ("Model",),
        "device_type": ("Type",),
        "ip": ("IP", "IP Address"),
        "mac": ("MAC", "MAC Address"),
        "serial": ("SN", "Serial No.", "Serial Number"),
        "firmware": ("Version", "System Version"),
    },
    optional=("SN", "Port", "Subnet Mask", "Gateway", "HTTP"),
    observe=_dhdiscover_answer,
    excluded=("Device Serial No.",),
    example="ConfigTool > Modify IP > Export; phaseout import configtool.csv",
)

NETBOX_CSV = TableSpec(
    "netbox-csv",
    "NetBox device list (Devices > Export > CSV)",
    ("Name", "Site", "Role"),
    {
        "description": ("Name",),
        "site": ("Site",),
        "manufacturer": ("Manufacturer",),
        "model": ("Type", "Device Type", "Device type"),
        "device_type": ("Role", "Device Role"),
        "serial": ("Serial number", "Serial Number", "Serial"),
        "asset_id": ("Asset tag", "Asset Tag"),
        "ip": ("Primary IPv4", "Primary IP", "IP Address"),
        "parent": ("Parent device", "Parent Device"),
    },
    optional=("Manufacturer", "Type", "Serial number", "Asset tag", "Primary IPv4", "Status", "Rack"),
    example="NetBox > Devices > Export > Current view (CSV); phaseout import netbox_devices.csv",
)

RUNZERO_CSV = TableSpec(
    "runzero-csv",
    "runZero asset inventory export (CSV)",
    ("addresses", "macs", "hw"),
    {
        "ip": ("addresses", "address"),
        "mac": ("newest_mac", "macs"),
        "hostname": ("names",),
        "model": ("hw",),
        "manufacturer": ("hw_vendor",),
        "device_type": ("type",),
        "site": ("site", "site_name"),
        "asset_id": ("id",),
        "description": ("comments",),
    },
    optional=("os", "type", "names", "mac_vendors", "site"),
    example="runZero Inventory > Export > CSV; phaseout import asset-export.csv",
)

WINDOWS_DHCP = TableSpec(
    "windows-dhcp",
    "Windows DHCP leases (Get-DhcpServerv4Lease | Export-Csv)",
    ("IPAddress", "ClientId", "ScopeId"),
    {
        "ip": ("IPAddress",),
        "mac": ("ClientId",),
        "hostname": ("HostName",),
        "description": ("Description",),
    },
    optional=("HostName", "AddressState", "LeaseExpiryTime"),
    example="Get-DhcpServerv4Scope | Get-DhcpServerv4Lease | Export-Csv leases.csv; phaseout import leases.csv",
)

KEA = TableSpec(
    "kea-leases",
    "ISC Kea DHCPv4 lease file (memfile CSV)",
    ("address", "hwaddr", "valid_lifetime"),
    {"ip": ("address",), "mac": ("hwaddr",), "hostname": ("hostname",)},
    optional=("client_id", "expire", "subnet_id", "state"),
    extensions=(".csv", ".leases"),
    example="phaseout import /var/lib/kea/kea-leases4.csv",
)

MAC_TABLE_CSV = TableSpec(
    "mac-table-csv",
    "switch MAC address table as CSV (MAC, VLAN, port)",
    ("MAC Address", "VLAN", "Port"),
    {"mac": ("MAC Address", "MAC"), "parent": ("Switch", "Device"), "site": ("Site",)},
    optional=("Switch", "Type"),
    example="phaseout import mac-table.csv",
)

FORMATS: tuple[Format, ...] = tuple(
    table_format(s)
    for s in (
        MILESTONE,
        GENETEC,
        NX_WITNESS,
        SADP,
        CONFIGTOOL,
        NETBOX_CSV,
        RUNZERO_CSV,
        WINDOWS_DHCP,
        KEA,
        MAC_TABLE_CSV,
    )
)
