"""One OpenAI-compatible endpoint: its SDK client and what has been learnt about it.

Shared by :mod:`generation.openai_text` and :mod:`generation.openai_media`: the client, the text
API in use (a 404 from ``/responses`` switches it to Chat Completions for good), the structured
output format the server accepts, the text model, and the error translation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Literal, TypeVar

import httpx2
import openai
from openai import AsyncOpenAI, omit
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from generation.config import DEFAULT_OPENAI_TEXT_MODEL, ProviderConfig
from generation.errors import ContentBlocked, InvalidResponse, RequestRejected
from generation.openai_client import (
    endpoint_label,
    is_model_not_found,
    make_client,
    translated_errors,
)
from generation.textfit import clean_text, fit_text
from generation.types import Usage

logger = logging.getLogger(__name__)

Api = Literal["responses", "chat"]
ResultT = TypeVar("ResultT")

CHAT = "chat.completions"
RESPONSES = "responses"


class OpenAIEndpoint:
    """The SDK client for one configured endpoint plus its learnt capabilities."""

    def __init__(
        self, config: ProviderConfig, *, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        self.config = config
        self.name = "openai" if config.is_openai else "openai-compatible"
        self.host = endpoint_label(config)
        self.client: AsyncOpenAI = make_client(config, http_client=http_client)
        self.api: Api = (
            "responses"
            if config.api_style == "responses" or (config.api_style == "auto" and config.is_openai)
            else "chat"
        )
        self.structured_level = 0
        self._text_model = config.text_model or (
            DEFAULT_OPENAI_TEXT_MODEL if config.is_openai else None
        )
        self._model_lock = asyncio.Lock()
        self._downloader: httpx2.AsyncClient | None = None

    async def aclose(self) -> None:
        """Close the SDK client and the image downloader."""
        await self.client.close()
        if self._downloader is not None:
            await self._downloader.aclose()

    def downloader(self) -> httpx2.AsyncClient:
        """Return the plain HTTP client for image URLs (no API key), created on first use."""
        if self._downloader is None:
            timeout = httpx2.Timeout(self.config.timeout, connect=self.config.connect_timeout)
            self._downloader = httpx2.AsyncClient(timeout=timeout, follow_redirects=False)
        return self._downloader

    def errors(self, what: str, *, retried: bool = True) -> AbstractContextManager[None]:
        """Translate SDK errors inside the block (see ``translated_errors``)."""
        return translated_errors(self.config, self.name, what, retried=retried)

    async def text_model(self) -> str:
        """Return the text model: configured, OpenAI's default, or the server's first model.

        Raises:
            RequestRejected: none is configured and the server lists none.
        """
        if self._text_model is not None:
            return self._text_model
        async with self._model_lock:
            if self._text_model is None:
                with self.errors("model list"):
                    page = await self.client.models.list()
                    ids = [m.id for m in page.data]
                if not ids:
                    raise RequestRejected(
                        f"no text model is configured and {self.host} lists none",
                        provider=self.name,
                    )
                self._text_model = ids[0]
            return self._text_model

    async def with_api_fallback(
        self,
        responses_call: Callable[[], Awaitable[ResultT]],
        chat_call: Callable[[], Awaitable[ResultT]],
    ) -> ResultT:
        """Run ``responses_call`` when the Responses API is in use, else ``chat_call``; a 404
        from ``/responses`` (not an unknown model) switches to Chat Completions for good."""
        if self.api == "responses":
            try:
                return await responses_call()
            except openai.NotFoundError as exc:
                if is_model_not_found(exc):
                    raise
                logger.warning("generation.responses_missing host=%s fallback=chat", self.host)
                self.api = "chat"
        return await chat_call()

    async def chat(
        self,
        model: str,
        messages: list[ChatCompletionMessageParam],
        *,
        max_tokens: int,
        temperature: float | None = None,
        n: int = 1,
        seed: int | None = None,
        response_format: ResponseFormat | None = None,
    ) -> ChatCompletion:
        """Return one (non-streamed) chat completion; SDK errors are left to the caller."""
        # Interop: llama.cpp and Ollama know `max_tokens`; OpenAI wants `max_completion_tokens`.
        official = self.config.is_openai
        return await self.client.chat.completions.create(
            model=model,
            messages=messages,
            max_completion_tokens=max_tokens if official else omit,
            max_tokens=omit if official else max_tokens,
            temperature=temperature if temperature is not None else omit,
            n=n if n > 1 else omit,
            seed=seed if seed is not None else omit,
            response_format=response_format if response_format is not None else omit,
            stream=False,
        )

    def completion_text(self, completion: ChatCompletion, index: int = 0) -> str:
        """Return the text of choice ``index``.

        Raises:
            InvalidResponse: the completion has no such choice.
            ContentBlocked: the choice was withheld by a content filter or refused.
        """
        if len(completion.choices) <= index:
            raise InvalidResponse(f"{self.host} returned no choices", provider=self.name)
        choice = completion.choices[index]
        if choice.finish_reason == "content_filter" or choice.message.refusal:
            raise ContentBlocked(f"{self.host} refused to write this", provider=self.name)
        return choice.message.content or ""

    def finish_text(self, text: str, max_chars: int, *, what: str = "text") -> str:
        """Return ``text`` cleaned and cut to ``max_chars``.

        Raises:
            InvalidResponse: nothing is left.
        """
        text = fit_text(clean_text(text), max_chars)
        if not text:
            raise InvalidResponse(f"{self.host} returned an empty {what}", provider=self.name)
        return text


def chat_messages(system: str, user: str) -> list[ChatCompletionMessageParam]:
    """Return a system + user message list (the system message only when non-empty)."""
    messages: list[ChatCompletionMessageParam] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    return messages


def chat_usage(completion: ChatCompletion) -> Usage:
    """Return a chat completion's usage (zero when the server sent none)."""
    u = completion.usage
    return Usage(u.prompt_tokens, u.completion_tokens) if u is not None else Usage()
