"""The one configuration value the app passes to :func:`generation.provider.create_provider`.

``generation`` never reads the environment or the app's settings; the app builds a
:class:`ProviderConfig` from its own settings and hands it over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

ProviderKind = Literal["auto", "openai", "local", "offline"]
ApiStyle = Literal["auto", "responses", "chat"]

OPENAI_HOST = "api.openai.com"
OPENAI_BASE_URL = "https://api.openai.com/v1"

# Defaults for api.openai.com only; a custom endpoint uses the first model it lists.
DEFAULT_OPENAI_TEXT_MODEL = "gpt-5.4-mini"
DEFAULT_OPENAI_IMAGE_MODEL = "gpt-image-1-mini"
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach a text/image provider.

    ``kind="auto"`` picks the OpenAI-compatible provider when ``base_url`` or ``api_key`` is set
    and the offline provider otherwise. ``api_style="auto"`` uses the Responses API only for
    api.openai.com and Chat Completions for every other endpoint; ``"responses"`` prefers
    Responses and falls back to Chat Completions when the server answers 404. Model names left
    as ``None`` get provider defaults. ``timeout`` and ``connect_timeout`` are seconds per
    attempt; ``max_retries`` counts retries after the first attempt (429, 5xx, timeouts,
    connection errors).
    """

    kind: ProviderKind = "auto"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    text_model: str | None = None
    image_model: str | None = None
    moderation_model: str | None = None
    vision_model: str | None = None
    api_style: ApiStyle = "auto"
    timeout: float = 60.0
    connect_timeout: float = 5.0
    max_retries: int = 2
    image_size: str = "1024x1024"
    image_url_hosts: tuple[str, ...] = ()
    max_image_bytes: int = 20 * 1024 * 1024

    @property
    def is_openai(self) -> bool:
        """True when the endpoint is OpenAI's own API (no ``base_url`` or api.openai.com)."""
        if not self.base_url:
            return True
        return (urlsplit(self.base_url).hostname or "").lower() == OPENAI_HOST

    def resolved_kind(self) -> Literal["openai", "local", "offline"]:
        """Return the provider kind ``create_provider`` builds for this configuration."""
        if self.kind != "auto":
            return self.kind
        return "openai" if (self.base_url or self.api_key) else "offline"
