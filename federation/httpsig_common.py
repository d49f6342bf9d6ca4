"""What both HTTP signature schemes share: types, the request view, digests, dates, keys.

:mod:`federation.httpsig` is the public facade; :mod:`federation.httpsig_cavage`
and :mod:`federation.httpsig_rfc9421` build on the pieces here. Verification
errors are the :class:`federation.errors.SignatureError` family.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from federation.errors import DigestMismatch, SignatureExpired, SignatureInvalid

# Mastodon's window (app/lib/signed_request.rb): a signature lives 5 minutes unless it
# says otherwise, never more than 12 hours, and clocks may be off by an hour each way.
CLOCK_SKEW = timedelta(hours=1)
DEFAULT_LIFETIME = timedelta(minutes=5)
MAX_LIFETIME = timedelta(hours=12)
# Signature headers longer than this are refused unparsed.
MAX_SIGNATURE_FIELD = 16_384

RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
RSA_PSS_SHA512 = "rsa-pss-sha512"
ED25519 = "ed25519"

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# IMF-fixdate as Ruby's Time.httpdate reads it (case-insensitive, outer spaces allowed).
_IMF_FIXDATE = re.compile(
    rf"\s*(?:{'|'.join(_WEEKDAYS)}), (\d{{2}}) ({'|'.join(_MONTHS)}) (\d{{4}}) "
    r"(\d{2}):(\d{2}):(\d{2}) GMT\s*",
    re.IGNORECASE | re.ASCII,
)
_HASHES = {"sha-256": "sha256", "sha-512": "sha512"}


class Scheme(enum.StrEnum):
    """The HTTP signature flavour: draft-cavage-12 (Mastodon's default) or RFC 9421."""

    CAVAGE = "draft-cavage-12"
    RFC9421 = "rfc9421"


@dataclass(frozen=True)
class PublicKey:
    """A verification key and the actor that owns it."""

    key_id: str
    owner: str
    key: RSAPublicKey | Ed25519PublicKey


@dataclass(frozen=True)
class Signer:
    """A signing key (loaded once) and the key id peers fetch it by."""

    key_id: str
    key: RSAPrivateKey | Ed25519PrivateKey


# fetch_key(key_id, refresh): refresh=True bypasses any cache (key rotation).
KeyFetcher: TypeAlias = Callable[[str, bool], Awaitable[PublicKey]]
HeadersIn: TypeAlias = Sequence[tuple[str, str]] | Mapping[str, str]


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out: the key, the scheme and the signing time."""

    key: PublicKey
    scheme: Scheme
    created: datetime


class HeaderView:
    """Case-insensitive, read-only request headers; repeated names combine with ", "."""

    __slots__ = ("_fields",)

    def __init__(self, headers: HeadersIn) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        fields: dict[str, list[str]] = {}
        for name, value in pairs:
            fields.setdefault(name.strip().lower(), []).append(value.strip(" \t"))
        self._fields = fields

    def get(self, name: str) -> str | None:
        """Return the combined value of header ``name`` (lowercase), or None when absent."""
        values = self._fields.get(name)
        return None if values is None else ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def replaced(self, new: Mapping[str, str]) -> HeaderView:
        """Return a view with the headers in ``new`` set (replacing any of the same name)."""
        view = HeaderView(())
        view._fields = {name: list(values) for name, values in self._fields.items()}
        for name, value in new.items():
            view._fields[name.lower()] = [value]
        return view


@dataclass(frozen=True)
class Target:
    """The parts of a request's method and URL that signatures cover."""

    method: str
    scheme: str  # lowercase
    authority: str  # lowercase host, ":port" only when not the scheme's default
    path: str  # raw (percent-encoded as sent), "/" when empty
    query: str  # raw, "" when absent

    @property
    def request_target(self) -> str:
        """Return the origin-form request target: path and ``?query`` if any."""
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def target_uri(self) -> str:
        """Return the absolute target URI as RFC 9421 ``@target-uri`` defines it."""
        return f"{self.scheme}://{self.authority}{self.request_target}"


def parse_target(method: str, url: str) -> Target:
    """Return the signed parts of ``method`` and the absolute ``url``.

    Raises ValueError when ``url`` is not an absolute URL with a host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("unterminated IPv6 address")
        host, port_part = hostport[: end + 1], hostport[end + 1 :]
    else:
        host, colon, port = hostport.partition(":")
        port_part = colon + port
    if not scheme or not host or not re.fullmatch(r"(:\d{0,5})?", port_part, re.ASCII):
        raise ValueError("not an absolute URL with a host")
    port = port_part[1:]
    authority = host.lower()
    if port and port != _DEFAULT_PORTS.get(scheme):
        authority += f":{port}"
    return Target(method, scheme, authority, parts.path or "/", parts.query)


def needs_digest(method: str, body: bytes | None) -> bool:
    """Return True when a request of ``method`` carrying ``body`` should sign a digest."""
    return bool(body) or method.upper() in ("POST", "PUT", "PATCH")


def digest_header(body: bytes) -> str:
    """Return the draft-cavage ``Digest`` value of ``body``: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes) -> str:
    """Return the RFC 9530 ``Content-Digest`` value of ``body``: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def check_digests(offered: Mapping[str, bytes], body: bytes, field: str) -> None:
    """Check the digests in ``offered`` (lowercase algorithm -> raw digest) against ``body``.

    At least one of SHA-256 and SHA-512 must be offered and every one offered must match;
    other algorithms are ignored. Raises DigestMismatch otherwise.
    """
    supported = {alg: value for alg, value in offered.items() if alg in _HASHES}
    if not supported:
        raise DigestMismatch(f"{field} must use SHA-256 or SHA-512")
    for alg, value in supported.items():
        if not hmac.compare_digest(hashlib.new(_HASHES[alg], body).digest(), value):
            raise DigestMismatch(f"{field} does not match the body")


def utc(moment: datetime | None) -> datetime:
    """Return ``moment`` as an aware UTC datetime (naive means UTC; None means now)."""
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def http_date(dt: datetime) -> str:
    """Return ``dt`` as an IMF-fixdate (``Fri, 21 Aug 2026 10:00:00 GMT``); naive means UTC."""
    moment = utc(dt)
    return (
        f"{_WEEKDAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def parse_http_date(value: str) -> datetime:
    """Return the UTC time of an IMF-fixdate. Raises ValueError for any other form."""
    match = _IMF_FIXDATE.fullmatch(value)
    if match is None:
        raise ValueError("not an IMF-fixdate")
    day, month, year, hour, minute, second = match.groups()
    month_number = [m.lower() for m in _MONTHS].index(month.lower()) + 1
    return datetime(
        int(year), month_number, int(day), int(hour), int(minute), int(second), tzinfo=UTC
    )


def check_window(created: int, expires: int | None, now: datetime) -> None:
    """Accept a signature made at ``created`` (Unix seconds) if ``now`` is inside its window.

    Mirrors Mastodon: the signature may come from up to an hour in the future and lives
    until ``expires`` (default created + 5 min, capped at created + 12 h) plus an hour.
    Raises SignatureExpired otherwise.
    """
    current = now.timestamp()
    skew = CLOCK_SKEW.total_seconds()
    lifetime = expires - created if expires is not None else DEFAULT_LIFETIME.total_seconds()
    end = created + min(lifetime, MAX_LIFETIME.total_seconds())
    if created > current + skew:
        raise SignatureExpired("Signed request date is in the future")
    if current > end + skew:
        raise SignatureExpired("Signed request date outside acceptable time window")


def encode_text(text: str) -> bytes:
    """Return the bytes a signing string stands for (latin-1, the raw header bytes)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def has_line_break(value: str) -> bool:
    """Return True when ``value`` holds CR or LF (it would forge signing-string lines)."""
    return "\n" in value or "\r" in value


def default_algorithm(key: RSAPublicKey | Ed25519PublicKey) -> str:
    """Return the algorithm a key implies when the signature does not name one."""
    return ED25519 if isinstance(key, Ed25519PublicKey) else RSA_V1_5_SHA256


def verify_bytes(
    key: RSAPublicKey | Ed25519PublicKey, algorithm: str, signature: bytes, data: bytes
) -> bool:
    """Return True when ``signature`` over ``data`` verifies with ``key`` under ``algorithm``.

    A key of the wrong type for ``algorithm`` does not verify.
    """
    try:
        if isinstance(key, RSAPublicKey) and algorithm == RSA_V1_5_SHA256:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, RSAPublicKey) and algorithm == RSA_PSS_SHA512:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
            key.verify(signature, data, pss, hashes.SHA512())
        elif isinstance(key, Ed25519PublicKey) and algorithm == ED25519:
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_bytes(key: RSAPrivateKey | Ed25519PrivateKey, data: bytes) -> bytes:
    """Return the signature of ``data``: RSASSA-PKCS1-v1_5 SHA-256 for RSA, else Ed25519."""
    if isinstance(key, Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


async def verify_with_rotation(
    key_id: str, fetch_key: KeyFetcher, check: Callable[[PublicKey], bool]
) -> PublicKey:
    """Return the key of ``key_id`` for which ``check`` passes, refetching once on failure.

    The first fetch may come from a cache; if the signature does not verify the key is
    fetched again with ``refresh=True`` (the actor may have rotated it). Errors of
    ``fetch_key`` propagate. Raises SignatureInvalid when neither key verifies.
    """
    key = await fetch_key(key_id, False)
    if check(key):
        return key
    key = await fetch_key(key_id, True)
    if check(key):
        return key
    raise SignatureInvalid("Signature verification failed")
