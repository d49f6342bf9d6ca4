"""One signed POST of an activity to an inbox, with the double knock between signature schemes.

Every knock is signed afresh (new ``Date`` / ``created``) just before it is sent, so a retry
hours later never resends a stale signature (interop.md 6.3). RSA signing releases the GIL,
so with ``sign_in_thread`` the signature is computed in the default thread pool and
concurrent deliveries use a second core while the event loop keeps sending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from federation.client import AS2_CONTENT_TYPE
from federation.errors import BlockedAddress
from federation.httpsig import Scheme, Signer, sign_request

DEFAULT_FIRST_SCHEME = Scheme.CAVAGE
_ERROR_LIMIT = 300


@dataclass(frozen=True)
class DeliveryResult:
    """The answer to the last knock: ``status`` None means no HTTP answer (``error`` says why);
    ``blocked`` means the request was refused before sending (an address the guard blocks, a
    URL that cannot be used), so retrying cannot help."""

    status: int | None
    scheme: Scheme
    retry_after: str | None = None
    error: str | None = None
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def other_scheme(scheme: Scheme) -> Scheme:
    return Scheme.RFC9421 if scheme is Scheme.CAVAGE else Scheme.CAVAGE


def _signature_headers(
    request: httpx.Request, signer: Signer, scheme: Scheme, now: datetime | None
) -> dict[str, str]:
    """The headers that sign ``request`` exactly as httpx will send it (raw path, Host)."""
    host = request.headers.get("host") or request.url.netloc.decode("ascii")
    url = f"{request.url.scheme}://{host}{request.url.raw_path.decode('ascii')}"
    return sign_request(
        request.method, url, dict(request.headers), request.content, signer, scheme, now=now
    )


async def _post(
    client: httpx.AsyncClient,
    inbox: str,
    body: bytes,
    signer: Signer,
    scheme: Scheme,
    clock: Callable[[], datetime] | None,
    sign_in_thread: bool,
) -> DeliveryResult:
    headers = {"Content-Type": AS2_CONTENT_TYPE, "Accept": AS2_CONTENT_TYPE}
    try:
        request = client.build_request("POST", inbox, content=body, headers=headers)
        now = clock() if clock is not None else None
        if sign_in_thread:
            added = await asyncio.to_thread(_signature_headers, request, signer, scheme, now)
        else:
            added = _signature_headers(request, signer, scheme, now)
        request.headers.update(added)
        response = await client.send(request, follow_redirects=False)
        await response.aclose()
    except BlockedAddress as exc:
        return DeliveryResult(None, scheme, error=str(exc), blocked=True)
    except httpx.HTTPError as exc:
        return DeliveryResult(None, scheme, error=f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT])
    except (httpx.InvalidURL, ValueError) as exc:  # a URL we cannot use: retrying cannot help
        error = f"invalid inbox URL: {exc}"[:_ERROR_LIMIT]
        return DeliveryResult(None, scheme, error=error, blocked=True)
    return DeliveryResult(response.status_code, scheme, response.headers.get("retry-after"))


async def deliver(
    client: httpx.AsyncClient,
    inbox: str,
    body: bytes,
    signer: Signer,
    *,
    first: Scheme | None = None,
    clock: Callable[[], datetime] | None = None,
    sign_in_thread: bool = False,
) -> DeliveryResult:
    """POST ``body`` to ``inbox`` signed with ``first`` (default draft-cavage); on 400 or 401
    knock again with the other scheme, freshly signed. Returns the last answer (the first
    one if the second knock got no HTTP answer); the caller remembers ``result.scheme`` per
    origin when ``result.ok``. Never raises for network errors or an unusable URL: those come
    back with ``status`` None (``blocked`` True when retrying cannot help).
    """
    scheme = first or DEFAULT_FIRST_SCHEME
    result = await _post(client, inbox, body, signer, scheme, clock, sign_in_thread)
    if result.status in (400, 401):
        second = await _post(
            client, inbox, body, signer, other_scheme(scheme), clock, sign_in_thread
        )
        if second.status is not None:
            return second
    return result
