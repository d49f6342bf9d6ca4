"""The offline provider: deterministic composer, text cards, blocklist moderation."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pydantic import BaseModel

from generation.composer import compose_post, detect_tone, extract_topic
from generation.errors import InvalidResponse, RequestRejected, Unsupported
from generation.offline import OfflineProvider
from generation.types import AltTextRequest, ImageInput, ImageRequest, TextRequest

PROMPTS = [
    "Write a post about autumn walks in the park",
    "coffee",
    "Compose a short toot on saving money for a rainy day",
    "the fediverse and small communities",
    "quantum chromodynamics",
    "",
    "Please write a cheerful post about the first snow of winter, the quiet streets, "
    "children building snowmen and the smell of wood smoke in the evening air",
]


@pytest.fixture
def offline() -> OfflineProvider:
    return OfflineProvider(image_size="128x128")


async def test_offline_text_is_deterministic(offline: OfflineProvider) -> None:
    request = TextRequest("Write a post about autumn walks", system="A calm gardener.", seed=7)

    first = await offline.generate_text(request)
    second = await OfflineProvider().generate_text(request)

    assert first == second


async def test_offline_text_exact_output(offline: OfflineProvider) -> None:
    # Pins the composer, templates and corpus: update deliberately when they change.
    request = TextRequest(
        "Write a post about autumn walks in the park",
        system="You are a calm, reflective gardener.",
        seed=7,
    )

    result = await offline.generate_text(request)

    assert result.text == (
        "Autumn walks in the park, taken slowly.\n\n"
        "I keep coming back to this: “Afoot and light-hearted I take to the open road.” — "
        "Whitman\n\n"
        "Enough for today. #Autumn #Walks"
    )


async def test_offline_text_varies_with_seed_and_persona(offline: OfflineProvider) -> None:
    texts = {
        (await offline.generate_text(TextRequest("coffee", system=persona, seed=seed))).text
        for seed in range(4)
        for persona in ("", "You are cheerful and upbeat.")
    }

    assert len(texts) >= 6


@pytest.mark.parametrize("prompt", PROMPTS)
async def test_offline_text_stays_within_length_bounds(
    offline: OfflineProvider, prompt: str
) -> None:
    for seed in range(10):
        result = await offline.generate_text(TextRequest(prompt, seed=seed))
        assert 20 <= len(result.text) <= 500
        short = await offline.generate_text(TextRequest(prompt, seed=seed, max_chars=90))
        assert 1 <= len(short.text) <= 90


async def test_offline_text_names_the_topic(offline: OfflineProvider) -> None:
    for seed in range(5):
        result = await offline.generate_text(TextRequest("Write a post about coffee", seed=seed))
        assert "coffee" in result.text.lower()


def test_composer_picks_a_quote_that_matches_the_topic() -> None:
    for seed in range(5):
        composition = compose_post("patience", seed=seed)
        assert "patience" in composition.quote.themes


def test_extract_topic_drops_instructions() -> None:
    assert extract_topic("Write a cheerful post about the first snow.") == "the first snow"
    assert extract_topic("Compose a toot on bread baking!") == "bread baking"
    assert extract_topic("about gardens") == "gardens"
    assert len(extract_topic("x " * 80)) <= 60


def test_detect_tone_reads_the_persona() -> None:
    assert detect_tone("You are a cheerful, upbeat baker.") == "cheerful"
    assert detect_tone("A formal, professional voice.") == "formal"
    assert detect_tone("") == "neutral"


async def test_offline_results_are_labelled_offline(offline: OfflineProvider) -> None:
    text = await offline.generate_text(TextRequest("coffee"))
    image = await offline.generate_image(ImageRequest("coffee"))
    verdict = await offline.moderate("coffee")

    assert offline.name == "offline"
    assert {text.provider, image.provider, verdict.provider} == {"offline"}
    assert text.model.startswith("offline-")
    assert image.model.startswith("offline-")
    assert verdict.model.startswith("offline-")
    assert text.usage.output_tokens == len(text.text.split())


async def test_offline_candidates_use_different_quotes(offline: OfflineProvider) -> None:
    result = await offline.generate_text(TextRequest("nature walks", n=3, seed=1))

    assert len(result.candidates) == 3
    assert len(set(result.candidates)) == 3


async def test_offline_stream_delivers_the_same_text(offline: OfflineProvider) -> None:
    pieces: list[str] = []
    request = TextRequest("coffee", seed=3)

    result = await offline.stream_text(request, pieces.append)

    assert "".join(pieces) == result.text == (await offline.generate_text(request)).text


class PostDraft(BaseModel):
    text: str
    hashtags: list[str]
    language: str
    content_warning: str | None = None
    image_prompt: str | None = None


async def test_offline_structured_fills_a_post_draft(offline: OfflineProvider) -> None:
    request = TextRequest("Write a post about coffee", language="en", seed=2)

    result = await offline.generate_structured(request, PostDraft)

    assert result.value.text == (await offline.generate_text(request)).text
    assert result.value.language == "en"
    assert result.value.content_warning is None
    assert all(not tag.startswith("#") for tag in result.value.hashtags)
    assert (result.provider, result.mode) == ("offline", "offline")
    assert PostDraft.model_validate_json(result.raw) == result.value


class Unfillable(BaseModel):
    rating: list[int]


async def test_offline_structured_reports_unfillable_schemas(offline: OfflineProvider) -> None:
    with pytest.raises(InvalidResponse, match="cannot fill Unfillable"):
        await offline.generate_structured(TextRequest("x"), Unfillable)


async def test_offline_image_is_a_png_card_with_exact_alt_text(offline: OfflineProvider) -> None:
    words = "Slow and steady wins the race."

    result = await offline.generate_image(ImageRequest("tortoise", text=words, size="320x200"))

    with Image.open(io.BytesIO(result.data)) as image:
        assert (image.format, image.size) == ("PNG", (320, 200))
    assert (result.mime, result.width, result.height) == ("image/png", 320, 200)
    assert result.alt_text == f"AI-generated image: a card reading “{words}”"
    assert result.alt_text.startswith("AI-generated image:")
    assert words in result.alt_text


async def test_offline_image_is_deterministic_and_seeded(offline: OfflineProvider) -> None:
    request = ImageRequest("a card", size="96x96", seed=1)

    first = await offline.generate_image(request)
    again = await offline.generate_image(request)
    other = await offline.generate_image(ImageRequest("a card", size="96x96", seed=2))

    assert first.data == again.data
    assert first.data != other.data


async def test_offline_image_webp_and_default_size(offline: OfflineProvider) -> None:
    result = await offline.generate_image(ImageRequest("hello", format="webp"))

    with Image.open(io.BytesIO(result.data)) as image:
        assert (image.format, image.size) == ("WEBP", (128, 128))
    assert result.mime == "image/webp"


async def test_offline_image_alt_text_matches_what_the_font_can_print(
    offline: OfflineProvider,
) -> None:
    result = await offline.generate_image(ImageRequest("x", text="Café — naïve 日本", size="96x96"))

    assert result.alt_text == "AI-generated image: a card reading “Cafe - naive”"


async def test_offline_image_rejects_bad_sizes(offline: OfflineProvider) -> None:
    with pytest.raises(RequestRejected):
        await offline.generate_image(ImageRequest("x", size="big"))
    with pytest.raises(RequestRejected):
        await offline.generate_image(ImageRequest("x", size="10x10"))


async def test_offline_cannot_describe_images(offline: OfflineProvider) -> None:
    request = AltTextRequest(ImageInput(b"\x89PNG", "image/png"))

    with pytest.raises(Unsupported, match="write the alt text yourself"):
        await offline.describe_image(request)


async def test_offline_moderation_uses_the_blocklist(offline: OfflineProvider) -> None:
    flagged = await offline.moderate("You absolute idiot, I will murder you")
    clean = await offline.moderate("A gentle walk by the river.")

    assert flagged.flagged is True
    assert flagged.categories == ("violence", "harassment")
    assert flagged.scores == {"violence": 1.0, "harassment": 1.0}
    assert clean.flagged is False
    assert clean.categories == ()
