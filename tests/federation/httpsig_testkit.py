"""Keys, key fetchers and a stand-alone "peer" signer shared by the HTTP signature tests."""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from federation.httpsig import PublicKey, Signer

NOW = datetime(2026, 8, 21, 10, 0, 0, tzinfo=UTC)
OWNER = "https://remote.example/users/alice"
KEY_ID = OWNER + "#main-key"
FOLLOW = b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow"}'
AS2 = "application/activity+json"

PrivateKey = RSAPrivateKey | Ed25519PrivateKey


@functools.cache
def rsa_key(n: int = 0) -> RSAPrivateKey:
    """Return the n-th RSA-2048 test key (generated once per session)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ed_key(n: int = 0) -> Ed25519PrivateKey:
    """Return the n-th Ed25519 test key (generated once per session)."""
    return Ed25519PrivateKey.generate()


def signer(private: PrivateKey, key_id: str = KEY_ID) -> Signer:
    return Signer(key_id, private)


def public(private: PrivateKey, key_id: str = KEY_ID, owner: str = OWNER) -> PublicKey:
    return PublicKey(key_id, owner, private.public_key())


def public_pem(private: PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(private: RSAPrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


class Fetcher:
    """A key fetcher: ``cached`` answers the first lookup, ``fresh`` a refresh (if given).

    Either may be an exception to raise. Every call is recorded in ``calls``.
    """

    def __init__(
        self, cached: PublicKey | Exception, fresh: PublicKey | Exception | None = None
    ) -> None:
        self.cached = cached
        self.fresh = fresh
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, key_id: str, refresh: bool) -> PublicKey:
        self.calls.append((key_id, refresh))
        result = self.fresh if refresh and self.fresh is not None else self.cached
        if isinstance(result, Exception):
            raise result
        return result


def raw_sign(private: PrivateKey, data: bytes) -> str:
    """Base64 signature of ``data``: RSASSA-PKCS1-v1_5/SHA-256 or Ed25519 (a peer's view)."""
    if isinstance(private, Ed25519PrivateKey):
        return base64.b64encode(private.sign(data)).decode()
    return base64.b64encode(private.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def raw_verify(key: RSAPublicKey | Ed25519PublicKey, signature_b64: str, data: bytes) -> None:
    """Raise cryptography's InvalidSignature unless the signature verifies."""
    signature = base64.b64decode(signature_b64)
    if isinstance(key, Ed25519PublicKey):
        key.verify(signature, data)
    else:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def peer_cavage_signature(
    method: str,
    path: str,
    headers: dict[str, str],
    names: list[str],
    private: PrivateKey,
    *,
    key_id: str = KEY_ID,
    algorithm: str | None = "rsa-sha256",
    params: dict[str, str] | None = None,
) -> str:
    """Return a cavage ``Signature`` value built independently of federation.httpsig.

    ``headers`` maps lowercase names to values; ``path`` includes any query that the
    peer chose to sign; ``params`` adds unquoted parameters such as created/expires.
    """
    params = params or {}
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path}")
        elif name in ("(created)", "(expires)"):
            lines.append(f"{name}: {params[name[1:-1]]}")
        else:
            lines.append(f"{name}: {headers[name]}")
    signature = raw_sign(private, "\n".join(lines).encode())
    parts = [f'keyId="{key_id}"']
    if algorithm is not None:
        parts.append(f'algorithm="{algorithm}"')
    parts += [f"{name}={value}" for name, value in params.items()]
    parts += [f'headers="{" ".join(names)}"', f'signature="{signature}"']
    return ",".join(parts)


# RFC 9421 Appendix B.1 test keys (for test use only, as the RFC says).
TEST_KEY_RSA_PRIVATE = b"""-----BEGIN RSA PRIVATE KEY-----
MIIEqAIBAAKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsP
BRrwWEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsd
JKFqMGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75
jfZgkne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKI
lE0PuKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZ
SFlQPSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQABAoIBAG/JZuSWdoVHbi56
vjgCgkjg3lkO1KrO3nrdm6nrgA9P9qaPjxuKoWaKO1cBQlE1pSWp/cKncYgD5WxE
CpAnRUXG2pG4zdkzCYzAh1i+c34L6oZoHsirK6oNcEnHveydfzJL5934egm6p8DW
+m1RQ70yUt4uRc0YSor+q1LGJvGQHReF0WmJBZHrhz5e63Pq7lE0gIwuBqL8SMaA
yRXtK+JGxZpImTq+NHvEWWCu09SCq0r838ceQI55SvzmTkwqtC+8AT2zFviMZkKR
Qo6SPsrqItxZWRty2izawTF0Bf5S2VAx7O+6t3wBsQ1sLptoSgX3QblELY5asI0J
YFz7LJECgYkAsqeUJmqXE3LP8tYoIjMIAKiTm9o6psPlc8CrLI9CH0UbuaA2JCOM
cCNq8SyYbTqgnWlB9ZfcAm/cFpA8tYci9m5vYK8HNxQr+8FS3Qo8N9RJ8d0U5Csw
DzMYfRghAfUGwmlWj5hp1pQzAuhwbOXFtxKHVsMPhz1IBtF9Y8jvgqgYHLbmyiu1
mwJ5AL0pYF0G7x81prlARURwHo0Yf52kEw1dxpx+JXER7hQRWQki5/NsUEtv+8RT
qn2m6qte5DXLyn83b1qRscSdnCCwKtKWUug5q2ZbwVOCJCtmRwmnP131lWRYfj67
B/xJ1ZA6X3GEf4sNReNAtaucPEelgR2nsN0gKQKBiGoqHWbK1qYvBxX2X3kbPDkv
9C+celgZd2PW7aGYLCHq7nPbmfDV0yHcWjOhXZ8jRMjmANVR/eLQ2EfsRLdW69bn
f3ZD7JS1fwGnO3exGmHO3HZG+6AvberKYVYNHahNFEw5TsAcQWDLRpkGybBcxqZo
81YCqlqidwfeO5YtlO7etx1xLyqa2NsCeG9A86UjG+aeNnXEIDk1PDK+EuiThIUa
/2IxKzJKWl1BKr2d4xAfR0ZnEYuRrbeDQYgTImOlfW6/GuYIxKYgEKCFHFqJATAG
IxHrq1PDOiSwXd2GmVVYyEmhZnbcp8CxaEMQoevxAta0ssMK3w6UsDtvUvYvF22m
qQKBiD5GwESzsFPy3Ga0MvZpn3D6EJQLgsnrtUPZx+z2Ep2x0xc5orneB5fGyF1P
WtP+fG5Q6Dpdz3LRfm+KwBCWFKQjg7uTxcjerhBWEYPmEMKYwTJF5PBG9/ddvHLQ
EQeNC8fHGg4UXU8mhHnSBt3EA10qQJfRDs15M38eG2cYwB1PZpDHScDnDA0=
-----END RSA PRIVATE KEY-----
"""

TEST_KEY_RSA_PSS_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""

TEST_KEY_ED25519_PRIVATE = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""

TEST_KEY_ED25519_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""

TEST_SHARED_SECRET = base64.b64decode(
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
)
