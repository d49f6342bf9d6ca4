"""One signed POST of an activity to an inbox, with the double knock between signature schemes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from federation.client import AS2_CONTENT_TYPE
from federation.errors import BlockedAddress
from federation.httpsig import HttpSignatureAuth, Scheme, Signer

DEFAULT_FIRST_SCHEME = Scheme.CAVAGE


@dataclass(frozen=True)
class DeliveryResult:
    """The answer to the last knock: ``status`` None means no HTTP answer (``error`` says why)."""

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


async def _post(
    client: httpx.AsyncClient,
    inbox: str,
    body: bytes,
    signer: Signer,
    scheme: Scheme,
    clock: Callable[[], datetime] | None,
) -> DeliveryResult:
    headers = {"Content-Type": AS2_CONTENT_TYPE, "Accept": AS2_CONTENT_TYPE}
    try:
        response = await client.post(
            inbox,
            content=body,
            headers=headers,
            auth=HttpSignatureAuth(signer, scheme, clock),
            follow_redirects=False,
        )
        await response.aclose()
    except BlockedAddress as exc:
        return DeliveryResult(None, scheme, error=str(exc), blocked=True)
    except httpx.HTTPError as exc:
        return DeliveryResult(None, scheme, error=f"{type(exc).__name__}: {exc}"[:300])
    return DeliveryResult(response.status_code, scheme, response.headers.get("retry-after"))


async def deliver(
    client: httpx.AsyncClient,
    inbox: str,
    body: bytes,
    signer: Signer,
    *,
    first: Scheme | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryResult:
    """POST ``body`` to ``inbox`` signed with ``first`` (default draft-cavage); on 400 or 401
    knock again with the other scheme, freshly signed. Returns the last answer; the caller
    remembers ``result.scheme`` per origin when ``result.ok``. Never raises for network errors.
    """
    scheme = first or DEFAULT_FIRST_SCHEME
    result = await _post(client, inbox, body, signer, scheme, clock)
    if result.status in (400, 401):
        second = await _post(client, inbox, body, signer, other_scheme(scheme), clock)
        if second.status is not None:
            return second
    return result
