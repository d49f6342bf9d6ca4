"""Errors of the app layer; ``app/web/errors.py`` turns them into JSON responses.

AppError(status, reason)
├── BadRequest        400
├── Unauthorized      401
├── Forbidden         403
├── NotFound          404
├── Gone              410
├── PayloadTooLarge   413
└── Unavailable       503
UserError             a CLI or service-level refusal with a one-line message (exit code 1)
"""

from __future__ import annotations


class AppError(Exception):
    status = 500

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class Gone(AppError):
    status = 410


class PayloadTooLarge(AppError):
    status = 413


class Unavailable(AppError):
    status = 503


class UserError(Exception):
    """A refusal to show the user as one line (bad handle, unknown id, unreachable server)."""
