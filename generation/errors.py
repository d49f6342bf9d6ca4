"""Errors raised by the generation package.

GenerationError            base class; ``provider`` names the provider, ``status`` the HTTP status
├── ProviderUnavailable    no answer can be had now: connection refused, 5xx after the retries,
│   │                      an optional dependency that is not installed
│   ├── ProviderTimeout    no answer within the configured timeout (after the retries)
│   └── RateLimited        still 429 after the retries; ``retry_after`` in seconds when known
├── RequestRejected        the provider refused the request (4xx: bad key, unknown model, ...)
├── Unsupported            the provider does not offer this capability (no images endpoint, ...)
├── InvalidResponse        the answer is malformed, empty, or fails schema validation
└── ContentBlocked         the provider refused to produce the content (content filter, refusal)

A call that raises never returns a partial result. Messages are short and safe to show to the owner.
"""

from __future__ import annotations


class GenerationError(Exception):
    """Base class of every error raised by ``generation``."""

    def __init__(
        self, message: str, *, provider: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status


class ProviderUnavailable(GenerationError):
    """The provider cannot answer now (unreachable, failing, or not installed)."""


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer within the configured timeout."""


class RateLimited(ProviderUnavailable):
    """The provider kept answering 429 Too Many Requests."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after


class RequestRejected(GenerationError):
    """The provider refused the request itself (a 4xx answer other than 429)."""


class Unsupported(GenerationError):
    """The provider does not offer the requested capability."""


class InvalidResponse(GenerationError):
    """The provider's answer is malformed, empty or does not match the expected schema."""


class ContentBlocked(GenerationError):
    """The provider refused to produce the content (content filter or model refusal)."""
