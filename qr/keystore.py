"""The private halves of the signing keys: PEM files in a directory only their owner may read (0600), and
optionally one from the environment. They never reach the database, a log line or an answer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from qr import tokens


class KeyFileExposed(Exception):
    """A key file others may read: refused, rather than used."""


class KeyStore:
    def __init__(self, directory: Path, *, extra_pem: bytes | None = None) -> None:
        self.directory = directory
        self._extra_pem = extra_pem
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.reload()

    def reload(self) -> None:
        """Read every key again (after a rotation by another process, say). Raises KeyFileExposed."""
        keys = {}
        pems = []
        if self.directory.is_dir():
            for path in sorted(self.directory.glob("*.pem")):
                mode = path.stat().st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise KeyFileExposed(f"{path} may be read by others (mode {stat.filemode(mode)}); chmod 600 it")
                pems.append(path.read_bytes())
        if self._extra_pem:
            pems.append(self._extra_pem)
        for pem in pems:
            key = tokens.load_private_pem(pem)
            keys[tokens.thumbprint(tokens.public_jwk(key.public_key()))] = key
        self._keys = keys

    def private_key_for(self, public_jwk: dict[str, str]) -> ec.EllipticCurvePrivateKey | None:
        return self._keys.get(tokens.thumbprint(public_jwk))

    def add(self, key: ec.EllipticCurvePrivateKey) -> Path:
        """Write a new key to the directory, readable by its owner only, whole or not at all."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = tokens.thumbprint(tokens.public_jwk(key.public_key()))
        path = self.directory / f"{name}.pem"
        draft = self.directory / f".{name}.{os.getpid()}.tmp"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(tokens.private_pem(key))
        os.replace(draft, path)
        self._keys[name] = key
        return path

    def discard(self, key: ec.EllipticCurvePrivateKey) -> None:
        name = tokens.thumbprint(tokens.public_jwk(key.public_key()))
        (self.directory / f"{name}.pem").unlink(missing_ok=True)
        self._keys.pop(name, None)
