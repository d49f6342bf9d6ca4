"""The optional local provider (SmolLM2-135M in-process); skipped when the extra is absent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from generation.config import ProviderConfig
from generation.local_provider import MISSING_REASON, LocalProvider, local_available
from generation.types import ImageRequest, TextRequest

pytestmark = pytest.mark.skipif(not local_available(), reason=MISSING_REASON)


@pytest.fixture
async def local() -> AsyncIterator[LocalProvider]:
    provider = LocalProvider(ProviderConfig(kind="local", image_size="128x128"))
    yield provider
    await provider.aclose()


async def test_local_generates_short_text(local: LocalProvider) -> None:
    request = TextRequest("Write one sentence about autumn.", max_tokens=40, max_chars=200, seed=1)

    result = await local.generate_text(request)

    assert 0 < len(result.text) <= 200
    assert (result.provider, result.api) == ("local", "llama-cpp")
    assert result.usage.output_tokens > 0


class Draft(BaseModel):
    text: str


async def test_local_structured_output_validates(local: LocalProvider) -> None:
    request = TextRequest("A post about tea.", max_tokens=60, seed=1)

    result = await local.generate_structured(request, Draft)

    assert isinstance(result.value, Draft)
    assert result.mode == "json_object"


async def test_local_images_are_offline_cards(local: LocalProvider) -> None:
    result = await local.generate_image(ImageRequest("tea"))

    assert result.provider == "offline"
    assert result.alt_text.startswith("AI-generated image:")
