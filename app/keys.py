"""The local key pairs, kept as 0600 PEM files in the data directory and loaded once."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from app.config import ConfigError
from federation.errors import ParseError
from federation.keys import (
    generate_ed25519_key,
    generate_rsa_key,
    load_private_key_pem,
    private_key_to_pem,
)

ACTOR_RSA = "actor-rsa.pem"
ACTOR_ED25519 = "actor-ed25519.pem"
INSTANCE_RSA = "instance-rsa.pem"


@dataclass(frozen=True)
class LocalKeys:
    actor_rsa: RSAPrivateKey
    actor_ed25519: Ed25519PrivateKey
    instance_rsa: RSAPrivateKey


def _write_private(path: Path, pem: bytes) -> None:
    # Create with 0600 from the start so the key is never readable by others, even briefly.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def ensure_keys(keys_dir: Path) -> list[str]:
    """Create any missing key file (RSA-2048 and Ed25519 for the actor, RSA for the instance).

    Returns the names of the files created; existing keys are never replaced.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    created = []
    makers: dict[str, Callable[[], RSAPrivateKey | Ed25519PrivateKey]] = {
        ACTOR_RSA: generate_rsa_key,
        ACTOR_ED25519: generate_ed25519_key,
        INSTANCE_RSA: generate_rsa_key,
    }
    for name, make in makers.items():
        path = keys_dir / name
        if not path.exists():
            _write_private(path, private_key_to_pem(make()))
            created.append(name)
        os.chmod(path, 0o600)
    return created


def load_keys(keys_dir: Path) -> LocalKeys:
    """Load the three private keys; ConfigError when one is missing or unreadable."""
    loaded = []
    for name in (ACTOR_RSA, ACTOR_ED25519, INSTANCE_RSA):
        path = keys_dir / name
        try:
            loaded.append(load_private_key_pem(path.read_bytes(), own=True))
        except FileNotFoundError:
            raise ConfigError(f"missing key {path}: run `myna init` first") from None
        except ParseError as exc:
            raise ConfigError(f"cannot read key {path}: {exc}") from None
    rsa, ed, instance = loaded
    if not isinstance(rsa, RSAPrivateKey) or not isinstance(instance, RSAPrivateKey):
        raise ConfigError(f"{keys_dir}: expected RSA keys in {ACTOR_RSA} and {INSTANCE_RSA}")
    if not isinstance(ed, Ed25519PrivateKey):
        raise ConfigError(f"{keys_dir / ACTOR_ED25519}: expected an Ed25519 key")
    return LocalKeys(rsa, ed, instance)
