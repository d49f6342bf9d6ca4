"""Content negotiation between ActivityStreams JSON and HTML, and AS2 responses."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from federation.client import AS2_CONTENT_TYPE, wants_as2

AS2_MEDIA_TYPE = AS2_CONTENT_TYPE + "; charset=utf-8"


def prefers_as2(request: Request) -> bool:
    """True when the Accept header asks for ActivityStreams rather than a web page."""
    return wants_as2(request.headers.get("accept", ""))


def as2_response(
    document: dict[str, Any], status: int = 200, extra_headers: dict[str, str] | None = None
) -> Response:
    """The document as ``application/activity+json``, varying by Accept (URLs serve HTML too)."""
    headers = {"Vary": "Accept, Signature", "Access-Control-Allow-Origin": "*"}
    headers.update(extra_headers or {})
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=AS2_MEDIA_TYPE, headers=headers)


def json_response(
    document: dict[str, Any], media_type: str = "application/json", status: int = 200
) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(
        body,
        status_code=status,
        media_type=media_type,
        headers={"Access-Control-Allow-Origin": "*"},
    )
