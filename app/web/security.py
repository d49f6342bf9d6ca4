"""Request facts for signature checks, and the optional authorized-fetch gate on GETs."""

from __future__ import annotations

from starlette.requests import Request

from app.services.inbox import verify
from app.web.state import keys_of, runtime_of


def raw_headers(request: Request) -> list[tuple[str, str]]:
    """Headers exactly as received (names and values undecoded, repeats kept)."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]


def request_url(request: Request) -> str:
    """The absolute URL the sender addressed: our public origin plus the raw path and query.

    Built from the configured origin so that a reverse proxy terminating TLS does not change
    what ``@target-uri`` verifies against.
    """
    rt = runtime_of(request)
    path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    url = rt.settings.base_url + path.decode("latin-1")
    return url + ("?" + query.decode("latin-1") if query else "")


async def require_signed_get(request: Request) -> None:
    """In authorized-fetch mode, refuse unsigned or badly signed GETs with 401."""
    rt = runtime_of(request)
    if not rt.settings.authorized_fetch:
        return
    await verify(
        rt, keys_of(request), request.method, request_url(request), raw_headers(request), None
    )
