"""Fetch the dashboard's front-end libraries (htmx, Chart.js, Leaflet, Swagger UI) listed in
``assets.toml`` from the npm registry, check each tarball against its sha512 integrity, and
unpack the listed files into ``static/vendor/NAME/``.

Run by ``make install`` (``python -m phaseout.web.assets``); it does nothing when the files are
already there at the pinned versions.  The dashboard works without them (tables, filters and
forms are server-rendered) and says which are missing; charts and the map need them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
VENDOR = HERE / "static" / "vendor"
MAX_TARBALL = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    package: str
    version: str
    license: str
    tarball: str
    integrity: str
    files: tuple[str, ...]

    @property
    def folder(self) -> Path:
        return VENDOR / self.name

    def installed(self) -> bool:
        stamp = self.folder / ".version"
        return (
            stamp.exists()
            and stamp.read_text().strip() == self.version
            and all((self.folder / Path(f).name).exists() for f in self.files)
        )


def load_assets() -> list[Asset]:
    data = tomllib.loads((HERE / "assets.toml").read_text(encoding="utf-8"))
    return [Asset(**{**a, "files": tuple(a["files"])}) for a in data["asset"]]


def missing_assets() -> list[str]:
    return [a.name for a in load_assets() if not a.installed()]


def _check(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise ValueError(f"unsupported integrity {algorithm}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise ValueError("integrity check failed: the tarball is not the published one")


def install(asset: Asset) -> None:
    with urllib.request.urlopen(asset.tarball, timeout=60) as response:
        data = response.read(MAX_TARBALL + 1)
    if len(data) > MAX_TARBALL:
        raise ValueError(f"{asset.package} tarball is over {MAX_TARBALL:,} bytes")
    _check(data, asset.integrity)
    asset.folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in asset.files:
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise ValueError(f"{asset.package} has no {name}")
            (asset.folder / Path(name).name).write_bytes(member.read())
    (asset.folder / ".version").write_text(asset.version)


def main() -> int:
    failed = 0
    for asset in load_assets():
        if asset.installed():
            continue
        try:
            install(asset)
            print(f"web assets: {asset.package} {asset.version} ({asset.license}) installed")
        except (OSError, ValueError) as exc:
            failed += 1
            print(f"web assets: {asset.package} {asset.version} not installed: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
