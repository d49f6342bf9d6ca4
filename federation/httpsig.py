"""HTTP signatures: sign outgoing requests and verify incoming ones (draft-cavage-12, RFC 9421).

Verification takes plain values ``(method, url, headers, body)`` and a key-fetch
coroutine, so it works under any framework; signing is an :class:`httpx.Auth`.
The schemes live in :mod:`federation.httpsig_cavage` and
:mod:`federation.httpsig_rfc9421`; this module picks one.

Errors (see :mod:`federation.errors`): SignatureMissing, SignatureMalformed,
SignatureExpired, DigestMismatch, SignatureInvalid, and whatever KeyError_ the key
fetcher raises.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import datetime

import httpx

from federation.errors import SignatureMalformed, SignatureMissing
from federation.httpsig_cavage import sign_cavage, verify_cavage
from federation.httpsig_common import (
    HeaderView,
    KeyFetcher,
    PublicKey,
    Scheme,
    Signer,
    Verified,
    content_digest_header,
    digest_header,
    http_date,
    parse_target,
    utc,
)
from federation.httpsig_rfc9421 import sign_rfc9421, verify_rfc9421

__all__ = [
    "HttpSignatureAuth",
    "KeyFetcher",
    "PublicKey",
    "Scheme",
    "Signer",
    "Verified",
    "content_digest_header",
    "digest_header",
    "http_date",
    "sign_request",
    "verify_request",
]


async def verify_request(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]] | Mapping[str, str],
    body: bytes | None,
    fetch_key: KeyFetcher,
    *,
    now: datetime | None = None,
    require_digest: bool | None = None,
) -> Verified:
    """Verify the HTTP signature of a received request; return who signed it and when.

    ``url`` is the absolute URL as the receiver sees it (scheme, Host, raw path and
    query); ``headers`` are the raw received headers, as pairs (repeated names are
    combined) or a mapping. A ``Signature-Input`` header selects RFC 9421; otherwise
    ``Signature`` (or ``Authorization: Signature ...``) selects draft-cavage.
    ``require_digest`` defaults to "the method is POST or there is a body".
    Malformed headers, the time window and the digest are checked before ``fetch_key``
    is called; a failed check with a cached key refetches it once (key rotation).

    Raises SignatureMissing, SignatureMalformed, SignatureExpired, DigestMismatch or
    SignatureInvalid; errors from ``fetch_key`` (KeyNotFound, KeyGone,
    KeyUnavailable) propagate unchanged.
    """
    view = HeaderView(headers)
    rfc9421 = "signature-input" in view
    raw_signature = view.get("signature")
    if raw_signature is None:
        authorization = view.get("authorization")
        if authorization is not None and authorization[:10].lower() == "signature ":
            raw_signature = authorization
    if not rfc9421 and raw_signature is None:
        raise SignatureMissing("Request not signed")
    try:
        target = parse_target(method, url)
    except ValueError as exc:
        raise SignatureMalformed("Invalid request URL") from exc
    if require_digest is None:
        require_digest = method.upper() == "POST" or bool(body)
    moment, content = utc(now), body or b""
    if rfc9421:
        return await verify_rfc9421(
            target, view, content, fetch_key, now=moment, require_digest=require_digest
        )
    assert raw_signature is not None
    return await verify_cavage(
        raw_signature, target, view, content, fetch_key, now=moment, require_digest=require_digest
    )


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    signer: Signer,
    scheme: Scheme,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Return the headers to add to (or replace in) a request so that it is signed.

    Always ``Date`` and the signature headers (``Signature``, or ``Signature-Input``
    and ``Signature``); ``Digest`` / ``Content-Digest`` when the request has a body or
    is a POST/PUT/PATCH; ``Host`` (the URL's authority) when ``headers`` has none.
    ``url`` must be exactly what is sent (raw path and query).
    Raises ValueError for a URL without a host or a key id RFC 9421 cannot carry.
    """
    target = parse_target(method, url)
    view = HeaderView(headers)
    if scheme is Scheme.RFC9421:
        return sign_rfc9421(target, view, body, signer, utc(now))
    return sign_cavage(target, view, body, signer, utc(now))


class HttpSignatureAuth(httpx.Auth):
    """httpx authentication that signs every request it sees, afresh each time.

    Signs what httpx sends: the exact body bytes, the raw path and query, and the Host
    header. Each attempt gets a fresh Date/``created`` from ``clock`` (default: now).
    """

    requires_request_body = True

    def __init__(
        self, signer: Signer, scheme: Scheme, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._signer = signer
        self._scheme = scheme
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the signature headers to ``request`` and send it once."""
        host = request.headers.get("host") or request.url.netloc.decode("ascii")
        url = f"{request.url.scheme}://{host}{request.url.raw_path.decode('ascii')}"
        now = self._clock() if self._clock is not None else None
        added = sign_request(
            request.method,
            url,
            dict(request.headers),
            request.content,
            self._signer,
            self._scheme,
            now=now,
        )
        for name, value in added.items():
            request.headers[name] = value
        yield request
