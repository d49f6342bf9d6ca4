"""Images, alt text through a vision request, and moderation against the fake server."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import pytest
from PIL import Image

from generation.errors import InvalidResponse, Unsupported
from generation.openai_provider import OpenAIProvider
from generation.types import AltTextRequest, ImageInput, ImageRequest
from tests.support.fake_openai import FakeOpenAI, png_bytes

MakeProvider = Callable[..., OpenAIProvider]  # the `make_provider` fixture


def _decoded_size(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


async def test_generate_image_decodes_b64_json(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(image_model="fake-image")

    result = await provider.generate_image(ImageRequest("a heron at dawn", size="96x64"))

    assert _decoded_size(result.data) == ("PNG", (96, 64))
    assert (result.mime, result.width, result.height) == ("image/png", 96, 64)
    assert result.alt_text == "AI-generated image: a heron at dawn (revised)"
    assert result.revised_prompt == "a heron at dawn (revised)"
    assert (result.provider, result.model, result.api) == (
        "openai-compatible",
        "fake-image",
        "images.generate",
    )
    assert result.usage.output_tokens == 272
    body = fake_openai.requests[0].body
    assert body["response_format"] == "b64_json"  # compat servers may default to url
    assert body["size"] == "96x64"
    assert body["model"] == "fake-image"


async def test_generate_image_prefers_given_alt_text(make_provider: MakeProvider) -> None:
    provider = make_provider()

    result = await provider.generate_image(
        ImageRequest("heron", size="64x64", alt_text="A grey heron standing in reeds.")
    )

    assert result.alt_text == "AI-generated image: A grey heron standing in reeds."


async def test_generate_image_downloads_url_from_the_same_server(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.image_mode = "url"
    provider = make_provider()

    result = await provider.generate_image(ImageRequest("a heron", size="80x80"))

    assert _decoded_size(result.data) == ("PNG", (80, 80))
    assert fake_openai.paths() == ["/v1/images/generations", "/files/img-1.png"]
    assert "authorization" not in fake_openai.requests[1].headers  # the key stays with the API


async def test_generate_image_refuses_url_on_another_host(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.image_mode = "url"
    fake_openai.image_url_origin = "http://169.254.169.254"
    provider = make_provider()

    with pytest.raises(InvalidResponse, match=r"169\.254\.169\.254"):
        await provider.generate_image(ImageRequest("a heron", size="64x64"))

    assert fake_openai.paths() == ["/v1/images/generations"]


async def test_generate_image_without_images_endpoint_is_unsupported(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.disable("/images/generations")
    provider = make_provider()

    with pytest.raises(Unsupported, match="no image generation endpoint"):
        await provider.generate_image(ImageRequest("a heron"))


async def test_generate_image_rejects_undecodable_data(
    fake_openai: FakeOpenAI, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.support.fake_openai.png_bytes", lambda w, h: b"not a png")
    provider = make_provider()

    with pytest.raises(InvalidResponse, match="cannot be decoded"):
        await provider.generate_image(ImageRequest("a heron", size="64x64"))


async def test_describe_image_sends_a_vision_request(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model", vision_model="fake-vision")
    image = ImageInput(png_bytes(32, 32), "image/png")

    result = await provider.describe_image(AltTextRequest(image, context="My new banner"))

    assert result.text == "A blue square on a plain background."
    assert (result.model, result.api) == ("fake-vision", "chat.completions")
    body = fake_openai.requests[0].body
    assert body["model"] == "fake-vision"
    parts = body["messages"][0]["content"]
    image_parts = [p for p in parts if p["type"] == "image_url"]
    assert len(image_parts) == 1
    url = image_parts[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == image.data
    assert "My new banner" in parts[0]["text"]


async def test_describe_image_over_responses_labels_generated_images(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model", api_style="responses")
    image = ImageInput(png_bytes(32, 32), "image/png")

    result = await provider.describe_image(AltTextRequest(image, generated=True))

    assert result.text == "AI-generated image: A blue square on a plain background."
    assert result.api == "responses"
    content = fake_openai.requests[0].body["input"][0]["content"]
    assert [p["type"] for p in content] == ["input_text", "input_image"]
    assert content[1]["detail"] == "low"


async def test_moderate_flags_harmful_text(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(moderation_model="omni-moderation-latest")

    verdict = await provider.moderate("I will attack the castle")

    assert verdict.flagged is True
    assert verdict.categories == ("violence",)
    assert verdict.scores["violence"] == pytest.approx(0.97)
    assert (verdict.provider, verdict.model) == ("openai-compatible", "omni-moderation-latest")
    assert fake_openai.requests[0].body == {
        "input": "I will attack the castle",
        "model": "omni-moderation-latest",
    }


async def test_moderate_passes_harmless_text_with_images(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider()

    verdict = await provider.moderate(
        "A heron in the reeds", [ImageInput(png_bytes(16, 16), "image/png")]
    )

    assert verdict.flagged is False
    assert verdict.categories == ()
    parts = fake_openai.requests[0].body["input"]
    assert [p["type"] for p in parts] == ["text", "image_url"]


async def test_moderate_without_moderation_endpoint_is_unsupported(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.disable("/moderations")
    provider = make_provider()

    with pytest.raises(Unsupported, match="no moderation endpoint"):
        await provider.moderate("hello")
