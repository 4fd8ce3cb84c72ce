"""Camera configurations of NVR/VMS software: Frigate, go2rtc and Home Assistant YAML.

These files name cameras and the stream URLs the recorder pulls; a URL such as
``/ISAPI/Streaming/Channels/101`` or ``/cam/realmonitor?channel=1`` is evidence of the
camera's maker, and the camera keeps the recorder (Frigate, go2rtc, Home Assistant) as its
parent.  Credentials in URLs are removed before anything is stored.  YAML is parsed with
the safe loader, from a file of at most ``MAX_YAML_BYTES``, and alias-heavy documents (the
YAML "billion laughs") are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from phaseout.errors import InputFileError
from phaseout.ingest.formats.common import ip_or_none, stream_observation, url_host
from phaseout.ingest.formats.record import ModelFact, RecordError, SourceRecord, clip
from phaseout.ingest.formats.registry import Format, Item

MAX_YAML_BYTES = 8 * 1024 * 1024
MAX_ALIASES = 100
_URL = re.compile(r"\b(?:rtsps?|rtspx|https?|rtmps?|onvif|isapi|dvrip)://[^\s\"'<>#]+", re.I)


class _Loader(yaml.SafeLoader):
    """Safe loader that also ignores Home Assistant's ``!secret`` / ``!include`` tags."""


def _ignore_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> None:
    return None


_Loader.add_multi_constructor("!", _ignore_tag)


def load_yaml(path: Path) -> Any:
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise InputFileError(f"{path.name} is {size:,} bytes; a configuration is at most {MAX_YAML_BYTES:,}")
    text = path.read_bytes().decode("utf-8", errors="replace")
    if text.count("*") > MAX_ALIASES and len(re.findall(r"(?<![\w*])\*[\w-]+", text)) > MAX_ALIASES:
        raise InputFileError(f"{path.name}: more than {MAX_ALIASES} YAML aliases; refused (alias bomb?)")
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise InputFileError(f"{path.name} is not valid YAML: {str(exc)[:200]}") from None
    except RecursionError:
        raise InputFileError(f"{path.name}: YAML nested too deeply") from None


def _urls(value: Any, depth: int = 0) -> list[str]:
    """Every stream URL anywhere inside a camera's configuration (strings, lists, maps)."""
    if depth > 20:
        return []
    if isinstance(value, str):
        return _URL.findall(value)
    if isinstance(value, list):
        return [u for v in value[:200] for u in _urls(v, depth + 1)]
    if isinstance(value, dict):
        return [u for v in list(value.values())[:200] for u in _urls(v, depth + 1)]
    return []


def _camera(fmt: str, file: str, where: str, name: str, urls: list[str], recorder: str) -> SourceRecord | None:
    """A camera from its stream URLs; None for an entry with no URL (an exec pipe, a file)."""
    rec = SourceRecord(fmt, file, where, description=clip(name), device_type="camera", parent=recorder)
    seen: set[str] = set()
    for url in urls[:20]:
        obs = stream_observation(url)
        if obs["url"] in seen:
            continue
        seen.add(str(obs["url"]))
        rec.observations.append(obs)
        host = url_host(url)
        if host and rec.ip is None and rec.hostname is None:
            rec.ip = ip_or_none(host)
            rec.hostname = None if rec.ip else clip(host)
    return rec if rec.observations else None


def read_frigate(path: Path) -> Iterator[Item]:
    data = load_yaml(path)
    cameras = data.get("cameras") if isinstance(data, dict) else None
    if not isinstance(cameras, dict):
        yield RecordError("cameras", "no cameras section")
        return
    go2rtc = data.get("go2rtc", {}).get("streams", {}) if isinstance(data.get("go2rtc"), dict) else {}
    for name, cfg in cameras.items():
        urls = _urls(cfg)
        # inputs that point at go2rtc's restream (rtsp://127.0.0.1:8554/NAME) name a go2rtc stream
        for url in list(urls):
            tail = url.rstrip("/").rsplit("/", 1)[-1]
            if tail in go2rtc:
                urls.extend(_urls(go2rtc[tail]))
        urls = [u for u in urls if url_host(u) not in ("127.0.0.1", "localhost")] or urls
        if cam := _camera("frigate", path.name, f"cameras.{name}", str(name), urls, "Frigate"):
            yield cam


def read_go2rtc(path: Path) -> Iterator[Item]:
    data = load_yaml(path)
    streams = data.get("streams") if isinstance(data, dict) else None
    if not isinstance(streams, dict):
        yield RecordError("streams", "no streams section")
        return
    for name, cfg in streams.items():
        if cam := _camera("go2rtc", path.name, f"streams.{name}", str(name), _urls(cfg), "go2rtc"):
            yield cam


def read_home_assistant(path: Path) -> Iterator[Item]:
    data = load_yaml(path)
    cameras = data.get("camera") if isinstance(data, dict) else None
    if not isinstance(cameras, list):
        yield RecordError("camera", "no camera section (platform list)")
        return
    for i, cfg in enumerate(cameras, 1):
        if not isinstance(cfg, dict):
            yield RecordError(f"camera[{i}]", "not a mapping")
            continue
        name = str(cfg.get("name") or f"camera {i}")
        rec = _camera("home-assistant", path.name, f"camera[{i}] ({name})", name, _urls(cfg), "Home Assistant")
        if rec is None:
            continue
        if platform := clip(cfg.get("platform")):
            rec.extra["platform"] = platform
        yield rec


def read_device_types(path: Path) -> Iterator[Item]:
    """NetBox device-type library YAML: model knowledge (manufacturer, model, part number)."""
    data = load_yaml(path)
    docs = data if isinstance(data, list) else [data]
    for i, doc in enumerate(docs, 1):
        if not isinstance(doc, dict) or not doc.get("manufacturer") or not doc.get("model"):
            yield RecordError(f"document {i}", "no manufacturer and model")
            continue
        yield ModelFact(
            manufacturer=str(doc["manufacturer"])[:128],
            model=str(doc["model"])[:128],
            part_number=clip(doc.get("part_number")),
            slug=clip(doc.get("slug")),
            device_type=clip(doc.get("subdevice_role") or doc.get("airflow")),
            source=f"{path.name}#document {i}",
        )


def _sniff(pattern: str, extra: str | None = None) -> Any:
    rx = re.compile(pattern, re.M)
    rx2 = re.compile(extra, re.M) if extra else None

    def sniff(head: str, name: str) -> float:
        if head.lstrip().startswith(("{", "[", "<")):
            return 0.0
        if rx.search(head) and (rx2 is None or rx2.search(head)):
            return 0.9
        return 0.0

    return sniff


FORMATS: tuple[Format, ...] = (
    Format(
        "frigate",
        "Frigate NVR configuration (config.yml)",
        (".yml", ".yaml"),
        _sniff(r"^cameras:\s*$", r"^\s+ffmpeg:|^\s+inputs:"),
        read_frigate,
        "phaseout import /config/config.yml --format frigate",
    ),
    Format(
        "go2rtc",
        "go2rtc configuration (go2rtc.yaml)",
        (".yml", ".yaml"),
        _sniff(r"^streams:\s*$", r"(?:rtsp|http)s?://"),
        read_go2rtc,
        "phaseout import go2rtc.yaml",
    ),
    Format(
        "home-assistant",
        "Home Assistant camera configuration (configuration.yaml)",
        (".yml", ".yaml"),
        _sniff(r"^camera:\s*$", r"platform:\s*(?:generic|ffmpeg|onvif)"),
        read_home_assistant,
        "phaseout import configuration.yaml --format home-assistant",
    ),
    Format(
        "netbox-devicetype",
        "NetBox device-type library YAML (model knowledge, not devices)",
        (".yml", ".yaml"),
        _sniff(r"^manufacturer:\s*\S", r"^model:\s*\S"),
        read_device_types,
        "phaseout import device-types/Hikvision/DS-2CD2143G2-I.yaml --dry-run",
    ),
)
