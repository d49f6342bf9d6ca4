"""Text on an OpenAI-compatible endpoint: plain, streamed, and structured (validated) output.

Structured output steps down from a JSON schema to JSON mode (the schema in the instructions) to
plain text when the server refuses the richer format; the answer is always validated here.
"""

from __future__ import annotations

import logging

import openai
from openai import omit
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import ResponseFormat
from pydantic import ValidationError

from generation.errors import ContentBlocked, InvalidResponse
from generation.openai_endpoint import (
    CHAT,
    RESPONSES,
    OpenAIEndpoint,
    chat_messages,
    chat_usage,
)
from generation.provider import DeltaCallback
from generation.structured import parse_structured, schema_instructions, validation_summary
from generation.textfit import trim_unfinished
from generation.types import (
    SchemaT,
    StructuredMode,
    StructuredResult,
    TextRequest,
    TextResult,
    Usage,
)

logger = logging.getLogger(__name__)

STRUCTURED_MODES: tuple[StructuredMode, ...] = ("json_schema", "json_object", "text")


def system_prompt(request: TextRequest) -> str:
    """Return the persona followed by the language and length rules."""
    rules = (
        f"Write in the language with code {request.language}. Answer with the post text only, "
        f"under {request.max_chars} characters."
    )
    return f"{request.system.strip()}\n\n{rules}" if request.system.strip() else rules


async def generate_text(ep: OpenAIEndpoint, request: TextRequest) -> TextResult:
    """Return ``request.n`` candidates from the endpoint.

    Raises:
        ProviderTimeout, RateLimited, ProviderUnavailable, RequestRejected, InvalidResponse,
        ContentBlocked.
    """
    model = await ep.text_model()
    system = system_prompt(request)
    temperature = request.temperature if request.temperature is not None else omit

    async def via_responses() -> TextResult:
        texts: list[str] = []
        usage = Usage()
        for _ in range(request.n):  # Responses has no `n`
            response = await ep.client.responses.create(
                model=model,
                instructions=system,
                input=request.prompt,
                max_output_tokens=request.max_tokens,
                temperature=temperature,
                store=False,
            )
            if response.status == "incomplete" and not response.output_text.strip():
                raise InvalidResponse(
                    f"{ep.host} used all {request.max_tokens} output tokens before writing "
                    "any text; raise max_tokens",
                    provider=ep.name,
                )
            texts.append(ep.finish_text(response.output_text, request.max_chars))
            if response.usage is not None:
                usage += Usage(response.usage.input_tokens, response.usage.output_tokens)
        return TextResult(texts[0], model, ep.name, usage, RESPONSES, tuple(texts[1:]))

    async def via_chat() -> TextResult:
        texts: list[str] = []
        usage = Usage()
        while len(texts) < request.n:
            # Interop: some servers ignore `n` and answer one choice; ask again for the rest.
            completion = await ep.chat(
                model,
                chat_messages(system, request.prompt),
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                n=request.n - len(texts),
                seed=request.seed,
            )
            for index in range(max(1, len(completion.choices))):
                text = ep.completion_text(completion, index)
                if completion.choices[index].finish_reason == "length":
                    text = trim_unfinished(text)
                texts.append(ep.finish_text(text, request.max_chars))
            usage += chat_usage(completion)
        texts = texts[: request.n]
        return TextResult(texts[0], model, ep.name, usage, CHAT, tuple(texts[1:]))

    with ep.errors("text"):
        return await ep.with_api_fallback(via_responses, via_chat)


async def stream_text(
    ep: OpenAIEndpoint, request: TextRequest, on_delta: DeltaCallback
) -> TextResult:
    """Stream one text, calling ``on_delta`` per piece; return the result with usage.

    The SDK retries the request until the stream starts; a stream that breaks is not retried.

    Raises:
        the same errors as :func:`generate_text`.
    """
    model = await ep.text_model()
    system = system_prompt(request)
    temperature = request.temperature if request.temperature is not None else omit

    async def via_responses() -> TextResult:
        stream = await ep.client.responses.create(
            model=model,
            instructions=system,
            input=request.prompt,
            max_output_tokens=request.max_tokens,
            temperature=temperature,
            store=False,
            stream=True,
        )
        parts: list[str] = []
        usage = Usage()
        async with stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    parts.append(event.delta)
                    on_delta(event.delta)
                elif event.type == "response.completed" and event.response.usage:
                    u = event.response.usage
                    usage = Usage(u.input_tokens, u.output_tokens)
                elif event.type in ("response.failed", "error"):
                    raise InvalidResponse(
                        f"{ep.host} reported a failure mid-stream", provider=ep.name
                    )
        text = ep.finish_text("".join(parts), request.max_chars)
        return TextResult(text, model, ep.name, usage, RESPONSES)

    async def via_chat() -> TextResult:
        official = ep.config.is_openai
        stream = await ep.client.chat.completions.create(
            model=model,
            messages=chat_messages(system, request.prompt),
            max_completion_tokens=request.max_tokens if official else omit,
            max_tokens=omit if official else request.max_tokens,
            temperature=temperature,
            seed=request.seed if request.seed is not None else omit,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        usage = Usage()
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.finish_reason == "content_filter":
                    raise ContentBlocked(f"{ep.host} refused to write this", provider=ep.name)
                if choice.delta.content:
                    parts.append(choice.delta.content)
                    on_delta(choice.delta.content)
        text = ep.finish_text("".join(parts), request.max_chars)
        return TextResult(text, model, ep.name, usage, CHAT)

    with ep.errors("text stream", retried=False):
        return await ep.with_api_fallback(via_responses, via_chat)


async def _structured_once(
    ep: OpenAIEndpoint,
    request: TextRequest,
    schema: type[SchemaT],
    model: str,
    mode: StructuredMode,
    correction: str | None,
) -> StructuredResult[SchemaT]:
    """Ask once in ``mode``; SDK errors and validation errors are left to the caller."""
    parts = (
        request.system.strip(),
        f"Write in the language with code {request.language}.",
        schema_instructions(schema) if mode != "json_schema" else "",
    )
    system = "\n\n".join(p for p in parts if p)
    prompt = request.prompt if correction is None else f"{request.prompt}\n\n{correction}"

    async def via_responses() -> StructuredResult[SchemaT]:
        value: SchemaT | None = None
        if mode == "json_schema":
            parsed = await ep.client.responses.parse(
                model=model,
                instructions=system,
                input=prompt,
                max_output_tokens=request.max_tokens,
                text_format=schema,
                store=False,
            )
            raw, value, u = parsed.output_text, parsed.output_parsed, parsed.usage
        else:
            response = await ep.client.responses.create(
                model=model,
                instructions=system,
                input=prompt,
                max_output_tokens=request.max_tokens,
                text={"format": {"type": "json_object"}} if mode == "json_object" else omit,
                store=False,
            )
            raw, u = response.output_text, response.usage
        usage = Usage(u.input_tokens, u.output_tokens) if u is not None else Usage()
        if value is None:
            value = parse_structured(raw, schema, provider=ep.name)
        return StructuredResult(value, raw, model, ep.name, usage, RESPONSES, mode)

    async def via_chat() -> StructuredResult[SchemaT]:
        messages = chat_messages(system, prompt)
        completion: ChatCompletion
        if mode == "json_schema":
            official = ep.config.is_openai
            completion = await ep.client.chat.completions.parse(
                model=model,
                messages=messages,
                max_completion_tokens=request.max_tokens if official else omit,
                max_tokens=omit if official else request.max_tokens,
                response_format=schema,
            )
        else:
            fmt: ResponseFormat | None = {"type": "json_object"} if mode == "json_object" else None
            completion = await ep.chat(
                model, messages, max_tokens=request.max_tokens, response_format=fmt
            )
        raw = ep.completion_text(completion)
        value = parse_structured(raw, schema, provider=ep.name)
        return StructuredResult(value, raw, model, ep.name, chat_usage(completion), CHAT, mode)

    return await ep.with_api_fallback(via_responses, via_chat)


async def generate_structured(
    ep: OpenAIEndpoint, request: TextRequest, schema: type[SchemaT]
) -> StructuredResult[SchemaT]:
    """Return a validated ``schema`` instance.

    Tries a JSON schema, then JSON mode, then plain text, stepping down when the server refuses
    a format (400, 422, or 500 after the retries); once a simpler format has worked, later calls
    start there. An answer that does not validate is asked for once more, with the error.

    Raises:
        InvalidResponse: the answers did not match the schema.
        ProviderTimeout, RateLimited, ProviderUnavailable, RequestRejected, ContentBlocked.
    """
    model = await ep.text_model()
    level = ep.structured_level
    correction: str | None = None
    with ep.errors("structured output"):
        while True:
            mode = STRUCTURED_MODES[level]
            try:
                result = await _structured_once(ep, request, schema, model, mode, correction)
            except (
                openai.BadRequestError,
                openai.UnprocessableEntityError,
                # Interop: llama-cpp-python answers 500 to a json_schema response_format.
                openai.InternalServerError,
            ) as exc:
                if level + 1 >= len(STRUCTURED_MODES):
                    raise
                level += 1
                logger.warning(
                    "generation.structured_downgrade host=%s mode=%s status=%s",
                    ep.host,
                    STRUCTURED_MODES[level],
                    exc.status_code,
                )
                continue
            except (InvalidResponse, ValidationError) as exc:
                problem = validation_summary(exc) if isinstance(exc, ValidationError) else None
                if correction is not None:
                    if problem is None:
                        raise
                    raise InvalidResponse(
                        f"the answer does not match {schema.__name__}: {problem}",
                        provider=ep.name,
                    ) from exc
                correction = (
                    f"Your previous answer was invalid ({problem or exc}). "
                    "Answer again with one JSON object that matches the schema."
                )
                continue
            # Remember a format the server refused only once a simpler one has worked.
            ep.structured_level = max(ep.structured_level, level)
            return result
