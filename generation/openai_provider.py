"""The OpenAI-compatible provider: the ``openai`` v3 SDK against api.openai.com or any server that
speaks its protocol (Ollama, llama.cpp, vLLM, LM Studio, LocalAI...).

Text goes through the Responses API for api.openai.com and Chat Completions elsewhere
(``ProviderConfig.api_style``); a server that answers 404 to ``/responses`` is served through
Chat Completions from then on. The work is done in :mod:`generation.openai_text` and
:mod:`generation.openai_media` on one :class:`generation.openai_endpoint.OpenAIEndpoint`.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx2

from generation import openai_media, openai_text
from generation.config import ProviderConfig
from generation.openai_endpoint import Api, OpenAIEndpoint
from generation.provider import DeltaCallback
from generation.types import (
    AltTextRequest,
    AltTextResult,
    ImageInput,
    ImageRequest,
    ImageResult,
    ModerationVerdict,
    SchemaT,
    StructuredResult,
    TextRequest,
    TextResult,
)


class OpenAIProvider:
    """A :class:`generation.provider.Provider` on the ``openai`` SDK. Call ``aclose()`` when done.

    ``http_client`` replaces the SDK's HTTP client (proxies, tests); ``aclose`` closes it too.
    Every method raises only :class:`generation.errors.GenerationError` subclasses.
    """

    def __init__(
        self, config: ProviderConfig, *, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        self._endpoint = OpenAIEndpoint(config, http_client=http_client)

    @property
    def name(self) -> str:
        """ "openai" for api.openai.com, "openai-compatible" for any other endpoint."""
        return self._endpoint.name

    @property
    def api(self) -> Api:
        """The text API in use now ("responses" or "chat"); it may change after a fallback."""
        return self._endpoint.api

    async def aclose(self) -> None:
        """Close the SDK client and the image downloader."""
        await self._endpoint.aclose()

    async def generate_text(self, request: TextRequest) -> TextResult:
        """See :func:`generation.openai_text.generate_text`."""
        return await openai_text.generate_text(self._endpoint, request)

    async def stream_text(self, request: TextRequest, on_delta: DeltaCallback) -> TextResult:
        """See :func:`generation.openai_text.stream_text`."""
        return await openai_text.stream_text(self._endpoint, request, on_delta)

    async def generate_structured(
        self, request: TextRequest, schema: type[SchemaT]
    ) -> StructuredResult[SchemaT]:
        """See :func:`generation.openai_text.generate_structured`."""
        return await openai_text.generate_structured(self._endpoint, request, schema)

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        """See :func:`generation.openai_media.generate_image`."""
        return await openai_media.generate_image(self._endpoint, request)

    async def describe_image(self, request: AltTextRequest) -> AltTextResult:
        """See :func:`generation.openai_media.describe_image`."""
        return await openai_media.describe_image(self._endpoint, request)

    async def moderate(self, text: str, images: Sequence[ImageInput] = ()) -> ModerationVerdict:
        """See :func:`generation.openai_media.moderate`."""
        return await openai_media.moderate(self._endpoint, text, images)
