"""Outbound HTTP: the client factory and safe fetching of ActivityStreams documents.

Every request Myna makes to another server goes through a client built by `create_client`,
whose transport is wrapped in the address guard of `federation.addresses`.

Policy notes:
- Plain ``http`` is allowed to public hosts as well as ``https``. Refusing it would be a
  policy choice; the fediverse is https in practice, and WebFinger callers pick the scheme.
- Environment proxies are not used (an explicit transport disables them) and cookies are
  never stored, so one peer's answers cannot change what Myna sends to another.
"""

from __future__ import annotations

import http.cookiejar
import json
from typing import Any

import httpx

from federation.addresses import GuardedTransport, Resolver
from federation.errors import (
    FetchError,
    FetchStatusError,
    InvalidDocument,
    ResponseTooLarge,
)

__all__ = [
    "AS2_ACCEPT",
    "AS2_CONTENT_TYPE",
    "AS2_LD_CONTENT_TYPE",
    "AS2_PROFILE",
    "DEFAULT_FETCH_LIMIT",
    "create_client",
    "fetch_object",
    "get_following_redirects",
    "is_as2_content_type",
    "read_limited",
    "wants_as2",
]

AS2_CONTENT_TYPE = "application/activity+json"
AS2_PROFILE = "https://www.w3.org/ns/activitystreams"
AS2_LD_CONTENT_TYPE = f'application/ld+json; profile="{AS2_PROFILE}"'
AS2_ACCEPT = f"{AS2_CONTENT_TYPE}, {AS2_LD_CONTENT_TYPE}"
DEFAULT_FETCH_LIMIT = 1_048_576

# Interop: tolerant on what we receive. Mastodon >= 4.2.5 only accepts activity+json and
# ld+json with the AS profile (GHSA-3fjr-858r-92rw), but Pleroma, Misskey and others have
# been seen answering ld+json without a profile or plain application/json.
_ACCEPTED_DOCUMENT_TYPES = frozenset(
    {"application/activity+json", "application/ld+json", "application/json"}
)
_AS2_MEDIA_TYPES = frozenset({"application/activity+json", "application/ld+json"})
_HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def create_client(
    *,
    user_agent: str,
    allow_private: bool = False,
    timeout: float = 10.0,
    connect_timeout: float = 5.0,
    max_redirects: int = 3,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> httpx.AsyncClient:
    """Build the outbound ``httpx.AsyncClient``.

    Returns a client that sends ``User-Agent: {user_agent}`` on every request, has explicit
    timeouts (``connect_timeout`` to connect, ``timeout`` for read, write and pool), does
    not follow redirects unless asked (``max_redirects`` caps them when it does, and
    `fetch_object` uses it as its own cap), stores no cookies, and routes every request
    through a `GuardedTransport`. ``transport`` (the inner transport, e.g. an
    ``httpx.MockTransport``) and ``resolver`` are seams for tests.
    """
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=min(max_connections, 20),
            ),
        )
    guarded = GuardedTransport(transport, allow_private=allow_private, resolver=resolver)
    return httpx.AsyncClient(
        transport=guarded,
        headers={"User-Agent": user_agent},
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
        max_redirects=max_redirects,
        cookies=http.cookiejar.CookieJar(
            policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
        ),
        trust_env=False,
    )


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    """Read a streamed response body of at most ``limit`` bytes (after content decoding).

    Returns the body. Raises `ResponseTooLarge` (closing the response) as soon as the
    declared ``Content-Length`` or the bytes received exceed ``limit``, and `FetchError`
    when the connection fails while reading.
    """
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        await response.aclose()
        raise ResponseTooLarge(f"{response.url} declares {int(declared)} bytes > {limit}")
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > limit:
                raise ResponseTooLarge(f"{response.url} sent more than {limit} bytes")
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        await response.aclose()
        raise FetchError(f"{_reason(exc)} reading {response.url}") from exc
    except ResponseTooLarge:
        await response.aclose()
        raise
    return b"".join(chunks)


async def get_following_redirects(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
    same_host_only: bool = True,
) -> httpx.Response:
    """GET ``url``, following at most ``client.max_redirects`` redirects by hand.

    ``auth`` runs again on every hop, so signatures are fresh for each URL. With
    ``same_host_only`` a redirect to another host or from https to http is refused.

    Returns the final non-redirect response, **open and streamed**: the caller must read
    it (`read_limited`) or close it. ``response.url`` is the URL finally fetched.
    Raises `FetchError` on network failure, invalid URLs or too many redirects,
    `InvalidDocument` on a refused redirect, and `BlockedAddress` from the guard.
    """
    current = _parse_url(url)
    for hop in range(client.max_redirects + 1):
        request = client.build_request("GET", current, headers=headers)
        response = await _send(client, request, auth)
        if not response.has_redirect_location:
            return response
        location = response.headers["location"]
        await response.aclose()
        if hop == client.max_redirects:
            break
        try:
            target = current.join(location).copy_with(fragment=None)
        except httpx.InvalidURL as exc:
            raise FetchError(f"{current} redirects to an invalid URL") from exc
        if same_host_only and (
            target.host != current.host or (current.scheme == "https" and target.scheme != "https")
        ):
            raise InvalidDocument(f"{current} redirects to another origin: {target}")
        current = target
    raise FetchError(f"{url} redirected more than {client.max_redirects} times")


async def fetch_object(
    client: httpx.AsyncClient,
    url: str,
    *,
    auth: httpx.Auth | None = None,
    limit: int = DEFAULT_FETCH_LIMIT,
    accept: str = AS2_ACCEPT,
) -> dict[str, Any]:
    """Fetch the ActivityStreams document at ``url`` (a fragment is dropped first, so a
    keyId ``https://x/users/a#main-key`` fetches ``https://x/users/a``).

    Redirects are followed on the same host only, up to the client's cap, with ``auth``
    re-applied on each hop. Returns the JSON object, whose ``id`` equals the URL finally
    fetched. Raises `FetchStatusError` on a non-2xx status (``.status`` tells 404 from 410),
    `InvalidDocument` on a wrong content type, a body that is not a JSON object, an ``id``
    mismatch or a cross-host redirect, `ResponseTooLarge` past ``limit`` bytes,
    `BlockedAddress` for refused hosts and `FetchError` on network failure.
    """
    target = url.split("#", 1)[0]
    response = await get_following_redirects(
        client, target, headers={"Accept": accept}, auth=auth, same_host_only=True
    )
    final_url = str(response.url)
    try:
        if not 200 <= response.status_code < 300:
            raise FetchStatusError(response.status_code, final_url)
        media_type, _ = _parse_media_type(response.headers.get("content-type", ""))
        if media_type not in _ACCEPTED_DOCUMENT_TYPES:
            raise InvalidDocument(f"{final_url} answered content type {media_type or 'none'!r}")
        body = await read_limited(response, limit)
    finally:
        await response.aclose()
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidDocument(f"{final_url} did not answer JSON") from exc
    if not isinstance(document, dict):
        raise InvalidDocument(f"{final_url} did not answer a JSON object")
    expected = {final_url}
    if response.url == httpx.URL(target):
        expected.add(target)  # no redirect: also accept the caller's exact spelling
    if document.get("id") not in expected:
        raise InvalidDocument(f"{final_url} answered a document with another id")
    return document


def is_as2_content_type(value: str) -> bool:
    """Return True if ``value`` (a Content-Type) names an ActivityStreams document.

    True for ``application/activity+json`` (any parameters) and for ``application/ld+json``
    whose ``profile`` lists the ActivityStreams namespace; false otherwise, including
    plain ``application/ld+json`` and ``application/json`` (interop.md 2.1).
    """
    media_type, params = _parse_media_type(value)
    if media_type == "application/activity+json":
        return True
    if media_type == "application/ld+json":
        return AS2_PROFILE in params.get("profile", "").split()
    return False


def wants_as2(accept_header: str) -> bool:
    """Return True if an ``Accept`` header asks for ActivityStreams rather than HTML.

    True when it lists ``application/activity+json`` or ``application/ld+json`` (any
    profile) with a q-value above 0 and at least as high as any ``text/html`` entry.
    Wildcards never count: browsers' ``text/html,...,*/*;q=0.8`` gets HTML.
    """
    best_as2 = 0.0
    best_html = 0.0
    for item in accept_header.split(","):
        media_type, params = _parse_media_type(item)
        try:
            quality = min(max(float(params.get("q", "1")), 0.0), 1.0)
        except ValueError:
            continue
        if media_type in _AS2_MEDIA_TYPES:
            best_as2 = max(best_as2, quality)
        elif media_type in _HTML_MEDIA_TYPES:
            best_html = max(best_html, quality)
    return best_as2 > 0 and best_as2 >= best_html


def _parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """Split ``type/subtype; k=v; ...`` into a lower-cased type and its parameters."""
    media_type, *raw_params = value.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        key, sep, val = raw.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return media_type.strip().lower(), params


def _parse_url(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"invalid URL {url!r}") from exc


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, auth: httpx.Auth | None
) -> httpx.Response:
    try:
        return await client.send(
            request,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            follow_redirects=False,
            stream=True,
        )
    except httpx.HTTPError as exc:
        raise FetchError(f"{_reason(exc)} fetching {request.url}") from exc


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    return type(exc).__name__
