"""Building the ``AsyncOpenAI`` client and translating the SDK's errors into ours.

The SDK is given every value explicitly (base URL, key, timeout, retries) so that it never falls
back to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` from the environment: settings are the app's job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx2
import openai
from openai import AsyncOpenAI

from generation.config import OPENAI_BASE_URL, ProviderConfig
from generation.errors import (
    ContentBlocked,
    GenerationError,
    InvalidResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)

# Local servers ignore the key, but the SDK refuses to build a client without one.
PLACEHOLDER_API_KEY = "sk-no-key-required"


def make_client(
    config: ProviderConfig, *, http_client: httpx2.AsyncClient | None = None
) -> AsyncOpenAI:
    """Return an ``AsyncOpenAI`` client for ``config`` with explicit timeouts and retries.

    The caller owns the client and must ``await client.close()``.
    """
    return AsyncOpenAI(
        base_url=config.base_url or OPENAI_BASE_URL,
        api_key=config.api_key or PLACEHOLDER_API_KEY,
        timeout=httpx2.Timeout(config.timeout, connect=config.connect_timeout),
        max_retries=config.max_retries,
        http_client=http_client,
    )


def endpoint_label(config: ProviderConfig) -> str:
    """Return ``host[:port]`` of the configured endpoint, for messages and logs."""
    parts = urlsplit(config.base_url or OPENAI_BASE_URL)
    return parts.netloc.rsplit("@", 1)[-1] or "the provider"


def _retry_after(response: httpx2.Response) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def _detail(exc: openai.APIStatusError) -> str:
    """The server's own one-line message, cut short (it may be long or HTML)."""
    body = exc.body
    message = ""
    if isinstance(body, dict):
        raw = body.get("message") or body.get("error") or ""
        message = raw if isinstance(raw, str) else ""
    message = " ".join(message.split())
    return f": {message[:160]}" if message else ""


def is_model_not_found(exc: openai.NotFoundError) -> bool:
    """True when a 404 means "no such model" rather than "no such endpoint"."""
    if exc.code == "model_not_found":
        return True
    text = str(exc.body).lower() if exc.body is not None else ""
    return (
        "model" in text
        and ("does not exist" in text or "not found" in text)
        and ("endpoint" not in text)
    )


@contextmanager
def translated_errors(
    config: ProviderConfig, provider: str, what: str, *, retried: bool = True
) -> Iterator[None]:
    """Turn SDK and decoding errors raised inside the block into :mod:`generation.errors`.

    ``what`` names the operation in messages ("text", "image", ...); ``retried`` says whether
    the SDK retried (streams and single-shot probes are not).
    """
    host = endpoint_label(config)
    attempts = config.max_retries + 1 if retried else 1
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    try:
        yield
    except GenerationError:
        raise
    except openai.APITimeoutError as exc:
        raise ProviderTimeout(
            f"{host} did not answer the {what} request within {config.timeout:g} s{tries}",
            provider=provider,
        ) from exc
    except openai.APIConnectionError as exc:
        cause = exc.__cause__
        reason = f" ({type(cause).__name__})" if cause is not None else ""
        raise ProviderUnavailable(
            f"cannot reach {host} for the {what} request{reason}{tries}", provider=provider
        ) from exc
    except openai.RateLimitError as exc:
        raise RateLimited(
            f"{host} is rate limiting {what} requests (429){tries}",
            provider=provider,
            retry_after=_retry_after(exc.response),
        ) from exc
    except openai.AuthenticationError as exc:
        raise RequestRejected(
            f"{host} refused the API key (401){_detail(exc)}", provider=provider, status=401
        ) from exc
    except openai.InternalServerError as exc:
        raise ProviderUnavailable(
            f"{host} failed the {what} request ({exc.status_code}){tries}{_detail(exc)}",
            provider=provider,
            status=exc.status_code,
        ) from exc
    except openai.APIStatusError as exc:
        raise RequestRejected(
            f"{host} rejected the {what} request ({exc.status_code}){_detail(exc)}",
            provider=provider,
            status=exc.status_code,
        ) from exc
    except openai.ContentFilterFinishReasonError as exc:
        raise ContentBlocked(
            f"{host} withheld the {what} (content filter)", provider=provider
        ) from exc
    except openai.LengthFinishReasonError as exc:
        raise InvalidResponse(
            f"{host} stopped the {what} at the token limit before it was complete",
            provider=provider,
        ) from exc
    except (openai.APIResponseValidationError, ValueError, TypeError, KeyError) as exc:
        # JSONDecodeError and pydantic's ValidationError are ValueErrors: a malformed body.
        raise InvalidResponse(
            f"{host} sent a malformed {what} response", provider=provider
        ) from exc
    except (AttributeError, IndexError) as exc:
        raise InvalidResponse(
            f"{host} sent an incomplete {what} response", provider=provider
        ) from exc
    except openai.OpenAIError as exc:
        raise ProviderUnavailable(
            f"{what} request to {host} failed: {exc}", provider=provider
        ) from exc
