"""Text through the real ``openai`` SDK against the fake server: which API, fallbacks, usage."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from generation.config import ProviderConfig
from generation.openai_provider import OpenAIProvider
from generation.types import TextRequest
from tests.support.fake_openai import FakeOpenAI

MakeProvider = Callable[..., OpenAIProvider]  # the `make_provider` fixture

PERSONA = "You are a calm gardener."


async def test_generate_text_uses_chat_completions_for_custom_base_url(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_text(TextRequest("autumn leaves", system=PERSONA))

    assert result.text == "Fake reply about autumn leaves"
    assert (result.provider, result.model, result.api) == (
        "openai-compatible",
        "fake-model",
        "chat.completions",
    )
    assert fake_openai.paths() == ["/v1/chat/completions"]
    body = fake_openai.requests[0].body
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][0]["content"].startswith(PERSONA)
    assert body["messages"][1] == {"role": "user", "content": "autumn leaves"}
    assert body["max_tokens"] == 400  # local servers know max_tokens
    assert "max_completion_tokens" not in body


async def test_generate_text_returns_token_usage(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_text(TextRequest("two words"))

    system_words = len(fake_openai.requests[0].body["messages"][0]["content"].split())
    assert result.usage.input_tokens == system_words + 2
    assert result.usage.output_tokens == len(result.text.split())
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens


async def test_generate_text_uses_first_listed_model_when_none_configured(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider()

    first = await provider.generate_text(TextRequest("hello"))
    await provider.generate_text(TextRequest("again"))

    assert first.model == "fake-model"
    assert fake_openai.paths() == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]
    assert fake_openai.requests[1].body["model"] == "fake-model"


async def test_generate_text_uses_responses_api_when_asked(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model", api_style="responses")

    result = await provider.generate_text(TextRequest("spring rain", system=PERSONA))

    assert result.api == "responses"
    assert result.text == "Fake reply about spring rain"
    assert result.usage.output_tokens == 5
    assert fake_openai.paths() == ["/v1/responses"]
    body = fake_openai.requests[0].body
    assert body["instructions"].startswith(PERSONA)
    assert body["input"] == "spring rain"
    assert body["store"] is False
    assert body["max_output_tokens"] == 400


async def test_auto_api_style_uses_responses_only_for_api_openai_com() -> None:
    providers = [
        OpenAIProvider(ProviderConfig(api_key="sk-test")),
        OpenAIProvider(ProviderConfig(base_url="https://api.openai.com/v1", api_key="sk-test")),
        OpenAIProvider(ProviderConfig(base_url="http://127.0.0.1:11434/v1")),
        OpenAIProvider(ProviderConfig(base_url="http://127.0.0.1:11434/v1", api_style="responses")),
    ]
    try:
        assert [p.api for p in providers] == ["responses", "responses", "chat", "responses"]
        assert [p.name for p in providers] == [
            "openai",
            "openai",
            "openai-compatible",
            "openai-compatible",
        ]
    finally:
        for provider in providers:
            await provider.aclose()


async def test_responses_404_falls_back_to_chat_completions_and_remembers(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    # Given a llama.cpp-like server without /v1/responses
    fake_openai.disable("/responses")
    provider = make_provider(text_model="fake-model", api_style="responses")

    # When two texts are generated
    first = await provider.generate_text(TextRequest("first"))
    second = await provider.generate_text(TextRequest("second"))

    # Then the first call falls back after one 404 and the second goes straight to chat
    assert (first.api, second.api) == ("chat.completions", "chat.completions")
    assert first.text == "Fake reply about first"
    assert fake_openai.paths() == [
        "/v1/responses",
        "/v1/chat/completions",
        "/v1/chat/completions",
    ]
    assert provider.api == "chat"


async def test_unknown_model_404_on_responses_is_not_mistaken_for_a_missing_api(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    from generation.errors import RequestRejected

    body = {"message": "The model `nope` does not exist", "code": "model_not_found"}
    fake_openai.fail("/responses", 404, body={"error": body})
    provider = make_provider(text_model="nope", api_style="responses")

    with pytest.raises(RequestRejected, match=r"404.*does not exist"):
        await provider.generate_text(TextRequest("x"))

    assert fake_openai.paths() == ["/v1/responses"]


async def test_generate_text_returns_n_candidates(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_text(TextRequest("bread", n=3))

    assert result.candidates == (
        "Fake reply about bread",
        "Fake reply about bread (1)",
        "Fake reply about bread (2)",
    )
    assert len(fake_openai.requests) == 1
    assert fake_openai.requests[0].body["n"] == 3


async def test_generate_text_cuts_long_answers_to_max_chars(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.queue_text("/chat/completions", "One sentence here. " * 40)
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_text(TextRequest("x", max_chars=100))

    assert len(result.text) <= 100
    assert result.text.endswith("here.")


async def test_stream_text_over_chat_delivers_pieces_and_usage(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model")
    pieces: list[str] = []

    result = await provider.stream_text(TextRequest("streamed words"), pieces.append)

    assert "".join(pieces) == result.text == "Fake reply about streamed words"
    assert len(pieces) == 5
    assert result.api == "chat.completions"
    assert result.usage.output_tokens == 5
    body = fake_openai.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_stream_text_over_responses_delivers_pieces_and_usage(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    provider = make_provider(text_model="fake-model", api_style="responses")
    pieces: list[str] = []

    result = await provider.stream_text(TextRequest("streamed words"), pieces.append)

    assert "".join(pieces) == result.text == "Fake reply about streamed words"
    assert result.api == "responses"
    assert result.usage.output_tokens == 5
    assert fake_openai.paths() == ["/v1/responses"]


async def test_sdk_never_reads_openai_environment_variables(
    fake_openai: FakeOpenAI, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    provider = make_provider(text_model="fake-model", api_key=None)

    await provider.generate_text(TextRequest("x"))

    assert fake_openai.requests[0].headers["authorization"] == "Bearer sk-no-key-required"


async def test_generate_text_drops_a_sentence_cut_by_the_token_limit(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.finish_reason = "length"
    fake_openai.queue_text("/chat/completions", "The leaves fell all night. The park is quiet and")
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_text(TextRequest("autumn"))

    assert result.text == "The leaves fell all night."
