"""The one place where exceptions become HTTP responses: JSON ``{"error": reason}``."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.errors import AppError

log = logging.getLogger("myna.web")


def error_response(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    log.info("http.refused path=%s status=%s reason=%s", request.url.path, exc.status, exc.reason)
    return error_response(exc.status, exc.reason)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code)
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("http.error path=%s", request.url.path)
    return error_response(500, "internal error")


EXCEPTION_HANDLERS = {AppError: app_error, HTTPException: http_exception, Exception: unexpected}
