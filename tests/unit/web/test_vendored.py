"""The vendored packages are what static/vendor/README.md says they are: every file served from a package folder
has its SHA-256 recorded there, and matches it (a copy edited by hand, or a version changed without its record,
fails here)."""

from __future__ import annotations

import hashlib
import re

from web import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"
RECORD_ONLY = {"LICENSE", "NOTICE", "package.json"}


def test_every_vendored_file_matches_its_recorded_checksum() -> None:
    readme = (VENDOR / "README.md").read_text()
    recorded = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)}
    served = [
        path for path in VENDOR.glob("*@*/*") if path.name not in RECORD_ONLY and not path.name.endswith(".LICENSE.txt")
    ]
    assert served, "the vendored packages are there"
    for path in served:
        assert path.name in recorded, f"{path.relative_to(VENDOR)} has no checksum in the README"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[path.name], path.relative_to(VENDOR)
    for package in VENDOR.glob("*@*"):
        assert (package / "LICENSE").exists(), f"{package.name} has its licence"
