"""Structured output: JSON schema first, JSON mode when the server rejects it, always validated."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from pydantic import BaseModel, Field

from generation.errors import InvalidResponse
from generation.openai_provider import OpenAIProvider
from generation.types import TextRequest
from tests.support.fake_openai import FakeOpenAI

MakeProvider = Callable[..., OpenAIProvider]  # the `make_provider` fixture


class PostDraft(BaseModel):
    text: str
    hashtags: list[str] = Field(max_length=5)
    content_warning: str | None = None


DRAFT: dict[str, object] = {
    "text": "Leaves are falling.",
    "hashtags": ["Autumn"],
    "content_warning": None,
}
EXPECTED = PostDraft.model_validate(DRAFT)


async def test_structured_uses_json_schema_over_chat(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.queue_text("/chat/completions", json.dumps(DRAFT))
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_structured(TextRequest("autumn"), PostDraft)

    assert result.value == EXPECTED
    assert (result.mode, result.api) == ("json_schema", "chat.completions")
    assert result.usage.output_tokens > 0
    fmt = fake_openai.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "PostDraft"


async def test_structured_uses_json_schema_over_responses(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.queue_text("/responses", json.dumps(DRAFT))
    provider = make_provider(text_model="fake-model", api_style="responses")

    result = await provider.generate_structured(TextRequest("autumn"), PostDraft)

    assert result.value.hashtags == ["Autumn"]
    assert (result.mode, result.api) == ("json_schema", "responses")
    assert fake_openai.requests[0].body["text"]["format"]["type"] == "json_schema"


async def test_structured_falls_back_to_json_mode_when_schema_is_rejected(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    # Given a server that answers 400 to response_format json_schema
    fake_openai.reject_json_schema = True
    fake_openai.queue_text("/chat/completions", json.dumps(DRAFT), json.dumps(DRAFT))
    provider = make_provider(text_model="fake-model")

    # When two structured requests are made
    first = await provider.generate_structured(TextRequest("autumn"), PostDraft)
    second = await provider.generate_structured(TextRequest("winter"), PostDraft)

    # Then the first steps down to JSON mode with the schema in the prompt, and the second
    # starts there
    assert first.value == second.value == EXPECTED
    assert (first.mode, second.mode) == ("json_object", "json_object")
    formats = [r.body["response_format"]["type"] for r in fake_openai.requests]
    assert formats == ["json_schema", "json_object", "json_object"]
    system = fake_openai.requests[1].body["messages"][0]["content"]
    assert "JSON schema" in system
    assert '"hashtags"' in system


async def test_structured_json_mode_tolerates_code_fences(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.reject_json_schema = True
    fenced = "Here you go:\n```json\n" + json.dumps(DRAFT) + "\n```"
    fake_openai.queue_text("/chat/completions", fenced)
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_structured(TextRequest("autumn"), PostDraft)

    assert result.value.text == "Leaves are falling."
    assert result.raw == fenced


async def test_structured_asks_again_once_after_an_invalid_answer(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.queue_text("/chat/completions", '{"text": 42}', json.dumps(DRAFT))
    provider = make_provider(text_model="fake-model")

    result = await provider.generate_structured(TextRequest("autumn"), PostDraft)

    assert result.value == EXPECTED
    retry_prompt = fake_openai.requests[1].body["messages"][1]["content"]
    assert "previous answer was invalid" in retry_prompt


async def test_structured_validation_failure_raises_invalid_response(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.queue_text("/chat/completions", '{"text": 42}', '{"hashtags": "nope"}')
    provider = make_provider(text_model="fake-model")

    with pytest.raises(InvalidResponse, match="does not match PostDraft"):
        await provider.generate_structured(TextRequest("autumn"), PostDraft)

    assert len(fake_openai.requests_to("/chat/completions")) == 2


async def test_structured_non_json_answer_in_json_mode_raises_invalid_response(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake_openai.reject_json_schema = True
    fake_openai.queue_text("/chat/completions", "I cannot do JSON.", "Still no JSON.")
    provider = make_provider(text_model="fake-model")

    with pytest.raises(InvalidResponse, match="PostDraft"):
        await provider.generate_structured(TextRequest("autumn"), PostDraft)


async def test_structured_steps_down_after_llama_cpp_python_500(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    # Interop: llama-cpp-python answers 500 (retried by the SDK) to json_schema.
    fake_openai.reject_json_schema = True
    fake_openai.json_schema_status = 500
    fake_openai.queue_text("/chat/completions", json.dumps(DRAFT), json.dumps(DRAFT))
    provider = make_provider(text_model="fake-model", max_retries=1)

    first = await provider.generate_structured(TextRequest("autumn"), PostDraft)
    second = await provider.generate_structured(TextRequest("winter"), PostDraft)

    assert (first.mode, second.mode) == ("json_object", "json_object")
    formats = [r.body["response_format"]["type"] for r in fake_openai.requests]
    assert formats == ["json_schema", "json_schema", "json_object", "json_object"]
