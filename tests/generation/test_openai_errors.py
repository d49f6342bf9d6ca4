"""Faults injected by the fake server: each gives one clear error and no partial result."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from generation.config import ProviderConfig
from generation.errors import (
    ContentBlocked,
    InvalidResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from generation.openai_provider import OpenAIProvider
from generation.types import ImageRequest, TextRequest
from tests.support.fake_openai import FakeOpenAI

MakeProvider = Callable[..., OpenAIProvider]  # the `make_provider` fixture

FAST_RETRY = {"retry-after-ms": "10"}


async def test_429_then_success_is_retried(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.fail("/chat/completions", 429, headers=FAST_RETRY)
    provider = make_provider(text_model="fake-model", max_retries=2)

    result = await provider.generate_text(TextRequest("patience"))

    assert result.text == "Fake reply about patience"
    assert len(fake_openai.requests_to("/chat/completions")) == 2


async def test_persistent_429_raises_rate_limited_after_the_retries(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.fail("/chat/completions", 429, times=5, headers={"retry-after": "0.01"})
    provider = make_provider(text_model="fake-model", max_retries=2)

    with pytest.raises(RateLimited) as caught:
        await provider.generate_text(TextRequest("x"))

    host = fake_openai.origin.removeprefix("http://")
    assert str(caught.value) == f"{host} is rate limiting text requests (429) after 3 attempts"
    assert caught.value.retry_after == pytest.approx(0.01)
    assert caught.value.status == 429
    assert len(fake_openai.requests_to("/chat/completions")) == 3


async def test_500_then_success_is_retried(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.fail("/images/generations", 500, headers=FAST_RETRY)
    provider = make_provider(max_retries=1)

    result = await provider.generate_image(ImageRequest("heron", size="64x64"))

    assert result.width == 64
    assert len(fake_openai.requests_to("/images/generations")) == 2


async def test_persistent_500_raises_provider_unavailable_with_a_clear_message(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.fail("/chat/completions", 500, times=3, headers=FAST_RETRY)
    provider = make_provider(text_model="fake-model", max_retries=1)

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.generate_text(TextRequest("x"))

    host = fake_openai.origin.removeprefix("http://")
    expected = f"{host} failed the text request (500) after 2 attempts: injected 500"
    assert str(caught.value) == expected
    assert caught.value.status == 500
    assert caught.value.provider == "openai-compatible"
    assert len(fake_openai.requests_to("/chat/completions")) == 2


async def test_slow_server_raises_provider_timeout(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.delay("/chat/completions", 5.0, times=2)
    provider = make_provider(text_model="fake-model", timeout=0.3, max_retries=1)

    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"did not answer the text request within 0.3 s"):
        await provider.generate_text(TextRequest("x"))

    assert time.monotonic() - started < 4.0
    assert len(fake_openai.requests_to("/chat/completions")) == 2


async def test_malformed_body_raises_invalid_response(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.malformed("/chat/completions")
    provider = make_provider(text_model="fake-model")

    with pytest.raises(InvalidResponse, match="malformed text response"):
        await provider.generate_text(TextRequest("x"))


async def test_malformed_moderation_body_raises_invalid_response(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.malformed("/moderations")
    provider = make_provider()

    with pytest.raises(InvalidResponse, match="malformed moderation response"):
        await provider.moderate("hello")


async def test_broken_stream_raises_and_returns_nothing(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.malformed("/chat/completions")
    provider = make_provider(text_model="fake-model")
    pieces: list[str] = []

    with pytest.raises(InvalidResponse, match="malformed text stream response"):
        await provider.stream_text(TextRequest("x"), pieces.append)

    assert pieces == ["Half"]  # delivered before the break; the caller discards them


async def test_rejected_api_key_raises_request_rejected(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    body = {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    fake_openai.fail("/chat/completions", 401, body=body)
    provider = make_provider(text_model="fake-model")

    with pytest.raises(RequestRejected, match=r"refused the API key \(401\): Incorrect API key"):
        await provider.generate_text(TextRequest("x"))

    assert len(fake_openai.requests_to("/chat/completions")) == 1  # 4xx are not retried


async def test_content_filter_raises_content_blocked(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.finish_reason = "content_filter"
    provider = make_provider(text_model="fake-model")

    with pytest.raises(ContentBlocked):
        await provider.generate_text(TextRequest("x"))


async def test_empty_answer_raises_invalid_response(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.queue_text("/chat/completions", "   ")
    provider = make_provider(text_model="fake-model")

    with pytest.raises(InvalidResponse, match="empty text"):
        await provider.generate_text(TextRequest("x"))


async def test_unreachable_server_raises_provider_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ProviderConfig(
        base_url=f"http://127.0.0.1:{port}/v1", text_model="m", timeout=1.0, max_retries=0
    )
    provider = OpenAIProvider(config)
    try:
        with pytest.raises(ProviderUnavailable, match=f"cannot reach 127.0.0.1:{port}"):
            await provider.generate_text(TextRequest("x"))
    finally:
        await provider.aclose()


async def test_responses_that_spent_all_tokens_on_reasoning_say_so(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.response_status = "incomplete"
    fake_openai.queue_text("/responses", "")
    provider = make_provider(text_model="fake-model", api_style="responses")

    with pytest.raises(InvalidResponse, match="used all 400 output tokens"):
        await provider.generate_text(TextRequest("x"))
