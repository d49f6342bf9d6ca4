"""Fixtures for the generation tests: the fake OpenAI-compatible server and providers on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from generation.config import ProviderConfig
from generation.openai_provider import OpenAIProvider
from tests.support.fake_openai import FakeOpenAI

MakeProvider = Callable[..., OpenAIProvider]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server on 127.0.0.1, stopped after the test."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def make_provider(fake_openai: FakeOpenAI) -> AsyncIterator[MakeProvider]:
    """Build ``OpenAIProvider``s on the fake server (short timeouts); all closed afterwards."""
    providers: list[OpenAIProvider] = []

    def make(**overrides: Any) -> OpenAIProvider:
        values: dict[str, Any] = {
            "base_url": fake_openai.base_url,
            "api_key": "test-key",
            "timeout": 2.0,
            "connect_timeout": 1.0,
            "max_retries": 2,
        }
        values.update(overrides)
        provider = OpenAIProvider(ProviderConfig(**values))
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.aclose()
