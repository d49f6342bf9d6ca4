"""draft-cavage-12 HTTP signatures, signed and checked the way Mastodon does.

The ``Signature`` header is a list of ``key="value"`` parameters (``keyId``,
``algorithm``, ``headers``, ``signature``, optionally ``created``/``expires``).
The signing string has one ``name: value`` line per entry of ``headers``, joined
by ``\\n``. Sources: Mastodon ``app/lib/signature_parser.rb``,
``app/lib/signed_request.rb``, ``app/lib/http_signature_draft.rb``.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation.errors import (
    DigestMismatch,
    SignatureInvalid,
    SignatureMalformed,
)
from federation.httpsig_common import (
    ED25519,
    MAX_SIGNATURE_FIELD,
    HeaderView,
    KeyFetcher,
    PublicKey,
    Scheme,
    Signer,
    Target,
    Verified,
    check_digests,
    check_window,
    default_algorithm,
    digest_header,
    encode_text,
    has_line_break,
    http_date,
    needs_digest,
    parse_http_date,
    sign_bytes,
    verify_bytes,
    verify_with_rotation,
)

_TOKEN = r"[0-9A-Za-z!#$%&'*+.^_`|~-]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*({_TOKEN}|"(?:[^"\\]|\\.)*")\s*', re.ASCII)
_PREFIX = re.compile(r"signature\s+(?![\s=])", re.IGNORECASE | re.ASCII)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_TIMESTAMP = re.compile(r"(\d{1,15})(?:\.\d{1,9})?", re.ASCII)
_ALGORITHMS = ("rsa-sha256", "hs2019", "ed25519")
REQUEST_TARGET = "(request-target)"


def parse_signature_header(value: str) -> dict[str, str]:
    """Return the parameters of a cavage ``Signature`` value, names lowercased.

    Tolerates whitespace around ``=`` and ``,``, unquoted token values and the legacy
    ``Signature `` prefix. Raises SignatureMalformed for anything else, including a
    repeated parameter.
    """
    if len(value) > MAX_SIGNATURE_FIELD:
        raise SignatureMalformed("Signature header too long")
    text = value.strip()
    # Interop: old node-http-signature versions (and the Authorization form) put a
    # "Signature " prefix before the parameters; Mastodon's SignatureParser drops it.
    prefix = _PREFIX.match(text)
    if prefix is not None:
        text = text[prefix.end() :]
    params: dict[str, str] = {}
    pos = 0
    while True:
        match = _PARAM.match(text, pos)
        if match is None:
            raise SignatureMalformed("Unparsable Signature header")
        name, raw = match.group(1).lower(), match.group(2)
        if name in params:
            raise SignatureMalformed("Duplicate parameter in Signature header")
        params[name] = _ESCAPE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
        pos = match.end()
        if pos == len(text):
            return params
        if text[pos] != ",":
            raise SignatureMalformed("Unparsable Signature header")
        pos += 1


def signing_string(
    signed: list[str],
    target: Target,
    headers: HeaderView,
    params: dict[str, str],
    *,
    include_query: bool = True,
) -> str:
    """Return the cavage signing string for the header names in ``signed``, in order.

    Raises SignatureInvalid when a signed header is absent and SignatureMalformed when
    a value holds a line break or a signed pseudo-header has no parameter.
    """
    lines = []
    for name in signed:
        if name == REQUEST_TARGET:
            path = target.path + (f"?{target.query}" if include_query and target.query else "")
            value = f"{target.method.lower()} {path}"
        elif name in ("(created)", "(expires)"):
            param = params.get(name[1:-1])
            if param is None:
                raise SignatureMalformed(f"Signature covers {name} without its parameter")
            value = param
        else:
            header = headers.get(name)
            if header is None and name == "host":
                header = target.authority  # HTTP/2 carries it as :authority
            if header is None:
                raise SignatureInvalid(f"Signed header {name[:40]} is missing")
            value = header
        if has_line_break(value):
            raise SignatureMalformed("Signed header value holds a line break")
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


async def verify_cavage(
    raw_signature: str,
    target: Target,
    headers: HeaderView,
    body: bytes,
    fetch_key: KeyFetcher,
    *,
    now: datetime,
    require_digest: bool,
) -> Verified:
    """Verify a draft-cavage signature; return the key, scheme and signing time.

    Checks, in order and before any key fetch: the header syntax, the algorithm,
    Mastodon's strength rules, the time window and the Digest. Then verifies with the
    (possibly cached) key, retrying without the query and with a refreshed key.
    Raises the SignatureError family; errors of ``fetch_key`` propagate.
    """
    params = parse_signature_header(raw_signature)
    key_id, encoded = params.get("keyid"), params.get("signature")
    if not key_id or not encoded:
        raise SignatureMalformed("Signature needs keyId and signature")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise SignatureMalformed("Signature is not valid base64") from exc
    algorithm = params.get("algorithm", "").lower() or None
    if algorithm is not None and algorithm not in _ALGORITHMS:
        raise SignatureInvalid("Unsupported signature algorithm (use rsa-sha256 or hs2019)")
    # Mastodon: "date" is assumed when headers= is absent.
    signed = params.get("headers", "date").lower().split()
    _check_strength(signed, target.method, algorithm, require_digest=require_digest)
    created = _created(signed, params, headers)
    expires = _timestamp(params, "expires") if "(expires)" in signed else None
    check_window(created, expires, now)
    if "digest" in signed:
        _check_digest(headers, body)
    candidates = [signing_string(signed, target, headers, params)]
    if target.query and REQUEST_TARGET in signed:
        # Interop: some senders sign the path without its query (GoToSocial #894,
        # Mastodon before 4.3); Mastodon also retries without it.
        candidates.append(signing_string(signed, target, headers, params, include_query=False))
    data = [encode_text(text) for text in candidates]

    def check(key: PublicKey) -> bool:
        alg = _algorithm_for(key, algorithm)
        return alg is not None and any(verify_bytes(key.key, alg, signature, d) for d in data)

    key = await verify_with_rotation(key_id, fetch_key, check)
    return Verified(key, Scheme.CAVAGE, datetime.fromtimestamp(created, UTC))


def sign_cavage(
    target: Target, headers: HeaderView, body: bytes | None, signer: Signer, now: datetime
) -> dict[str, str]:
    """Return the headers that sign a request with draft-cavage (Mastodon's layout).

    Bodies sign ``(request-target) host date digest content-type`` (content-type only
    when present); other requests ``(request-target) host date``. The algorithm is
    ``rsa-sha256`` for RSA keys and ``hs2019`` for Ed25519.
    """
    added: dict[str, str] = {}
    host = headers.get("host")
    if host is None:
        host = added["Host"] = target.authority
    added["Date"] = http_date(now)
    values = {REQUEST_TARGET: f"{target.method.lower()} {target.request_target}"}
    values["host"] = host
    values["date"] = added["Date"]
    if needs_digest(target.method, body):
        values["digest"] = added["Digest"] = digest_header(body or b"")
        content_type = headers.get("content-type")
        if content_type is not None:
            values["content-type"] = content_type
    text = "\n".join(f"{name}: {value}" for name, value in values.items())
    signature = base64.b64encode(sign_bytes(signer.key, encode_text(text))).decode("ascii")
    algorithm = "hs2019" if isinstance(signer.key, Ed25519PrivateKey) else "rsa-sha256"
    key_id = signer.key_id.replace("\\", "\\\\").replace('"', '\\"')
    added["Signature"] = (
        f'keyId="{key_id}",algorithm="{algorithm}",'
        f'headers="{" ".join(values)}",signature="{signature}"'
    )
    return added


def _check_strength(
    signed: list[str], method: str, algorithm: str | None, *, require_digest: bool
) -> None:
    """Apply Mastodon's verify_signature_strength! rules to the signed header list."""
    if "date" not in signed and "(created)" not in signed:
        raise SignatureInvalid("Signature must cover date or (created)")
    if REQUEST_TARGET not in signed and "digest" not in signed:
        raise SignatureInvalid("Signature must cover (request-target) or digest")
    if method.upper() == "GET" and "host" not in signed:
        raise SignatureInvalid("Signature must cover host on GET")
    if require_digest and "digest" not in signed:
        raise DigestMismatch("Signature must cover digest when there is a body")
    if algorithm == "rsa-sha256" and ("(created)" in signed or "(expires)" in signed):
        raise SignatureInvalid("(created) and (expires) need algorithm hs2019")


def _created(signed: list[str], params: dict[str, str], headers: HeaderView) -> int:
    """Return the signing time (Unix seconds): (created) when signed, else the Date header."""
    if "(created)" in signed:
        return _timestamp(params, "created")
    date = headers.get("date")
    if date is None:
        raise SignatureMalformed("Date header missing")
    try:
        return int(parse_http_date(date).timestamp())
    except ValueError as exc:
        raise SignatureMalformed("Invalid Date header (use IMF-fixdate, with weekday)") from exc


def _timestamp(params: dict[str, str], name: str) -> int:
    match = _TIMESTAMP.fullmatch(params.get(name, ""))
    if match is None:
        raise SignatureMalformed(f"Invalid {name} parameter")
    return int(match.group(1))


def _check_digest(headers: HeaderView, body: bytes) -> None:
    """Check the Digest header (comma-separated ``ALG=base64``) against ``body``."""
    value = headers.get("digest")
    if value is None:
        raise DigestMismatch("Digest header missing")
    offered: dict[str, bytes] = {}
    for part in value.split(","):
        name, sep, encoded = part.strip().partition("=")
        if not sep:
            raise DigestMismatch("Invalid Digest header")
        try:
            offered[name.strip().lower()] = base64.b64decode(encoded.strip(), validate=True)
        except ValueError as exc:  # binascii.Error, or non-ASCII text
            raise DigestMismatch("Invalid Digest value") from exc
    check_digests(offered, body, "Digest")


def _algorithm_for(key: PublicKey, algorithm: str | None) -> str | None:
    """Return the concrete algorithm for ``key`` given the header's ``algorithm``, or None."""
    if algorithm is None or algorithm == "hs2019":
        return default_algorithm(key.key)
    if algorithm == "ed25519":
        return ED25519 if default_algorithm(key.key) == ED25519 else None
    return None if default_algorithm(key.key) == ED25519 else default_algorithm(key.key)
