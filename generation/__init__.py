"""Text, images, alt text and moderation for AI-assisted posts; no DB, no federation, no web.

The app builds a :class:`ProviderConfig` from its settings and calls :func:`create_provider`.
Importing this package is cheap: the ``openai`` SDK and llama-cpp-python are imported only when
their provider is created.
"""

from __future__ import annotations

from generation.config import ApiStyle, ProviderConfig, ProviderKind
from generation.errors import (
    ContentBlocked,
    GenerationError,
    InvalidResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    Unsupported,
)
from generation.labels import AI_IMAGE_PREFIX, label_alt_text
from generation.provider import DeltaCallback, Provider, create_provider
from generation.types import (
    AltTextRequest,
    AltTextResult,
    ImageInput,
    ImageRequest,
    ImageResult,
    ModerationVerdict,
    StructuredResult,
    TextRequest,
    TextResult,
    Usage,
)

__all__ = [
    "AI_IMAGE_PREFIX",
    "AltTextRequest",
    "AltTextResult",
    "ApiStyle",
    "ContentBlocked",
    "DeltaCallback",
    "GenerationError",
    "ImageInput",
    "ImageRequest",
    "ImageResult",
    "InvalidResponse",
    "ModerationVerdict",
    "Provider",
    "ProviderConfig",
    "ProviderKind",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RequestRejected",
    "StructuredResult",
    "TextRequest",
    "TextResult",
    "Unsupported",
    "Usage",
    "create_provider",
    "label_alt_text",
]
