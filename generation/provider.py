"""The provider interface every generator implements, and the factory that picks one.

Three implementations exist: :class:`generation.openai_provider.OpenAIProvider` (any
OpenAI-compatible endpoint through the ``openai`` SDK), :class:`generation.offline.OfflineProvider`
(deterministic, no network, the default) and :class:`generation.local_provider.LocalProvider`
(SmolLM2-135M in-process through llama-cpp-python, the optional ``local`` extra). They are imported
lazily by :func:`create_provider` so importing ``generation`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from generation.config import ProviderConfig
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

DeltaCallback = Callable[[str], object]


class Provider(Protocol):
    """Turns generation requests into text, images, alt text and moderation verdicts.

    Every method returns a complete result or raises a
    :class:`generation.errors.GenerationError`; there are no partial results.
    """

    @property
    def name(self) -> str:
        """ "openai", "openai-compatible", "local" or "offline"; stored as provenance."""
        ...

    async def generate_text(self, request: TextRequest) -> TextResult:
        """Return ``request.n`` candidate texts of at most ``request.max_chars`` characters."""
        ...

    async def stream_text(self, request: TextRequest, on_delta: DeltaCallback) -> TextResult:
        """Generate one text, calling ``on_delta`` with each piece as it arrives.

        Returns the final result (with usage). On an error nothing is returned and the pieces
        already delivered must be discarded.
        """
        ...

    async def generate_structured(
        self, request: TextRequest, schema: type[SchemaT]
    ) -> StructuredResult[SchemaT]:
        """Return an instance of ``schema`` generated for ``request``, validated by pydantic.

        Raises InvalidResponse when no valid instance could be had.
        """
        ...

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        """Return one image whose alt text starts with "AI-generated image:"."""
        ...

    async def describe_image(self, request: AltTextRequest) -> AltTextResult:
        """Return alt text for an image (Unsupported when the provider cannot see images)."""
        ...

    async def moderate(self, text: str, images: Sequence[ImageInput] = ()) -> ModerationVerdict:
        """Return whether ``text`` (and ``images``) should be held back from publication."""
        ...

    async def aclose(self) -> None:
        """Release connections and models; the provider is unusable afterwards."""
        ...


def create_provider(config: ProviderConfig) -> Provider:
    """Return the provider ``config`` asks for.

    ``kind="auto"`` gives the OpenAI-compatible provider when a ``base_url`` or ``api_key`` is
    set and the offline provider otherwise. No network request is made here.

    Raises:
        ProviderUnavailable: ``kind="local"`` and the optional ``local`` extra is not installed.
    """
    kind = config.resolved_kind()
    if kind == "openai":
        from generation.openai_provider import OpenAIProvider

        return OpenAIProvider(config)
    if kind == "local":
        from generation.local_provider import LocalProvider

        return LocalProvider(config)
    from generation.offline import OfflineProvider

    return OfflineProvider(image_size=config.image_size)
