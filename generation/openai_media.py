"""Images, alt text and moderation on an OpenAI-compatible endpoint.

Images are decoded from ``b64_json``; a ``url`` answer (servers other than OpenAI) is downloaded
only from the endpoint's own origin or ``ProviderConfig.image_url_hosts``, without the API key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from openai import omit
from openai.types.chat import ChatCompletionMessageParam

from generation.config import DEFAULT_MODERATION_MODEL, DEFAULT_OPENAI_IMAGE_MODEL, OPENAI_BASE_URL
from generation.errors import InvalidResponse, ProviderTimeout, ProviderUnavailable, Unsupported
from generation.images import inspect_image
from generation.labels import label_alt_text
from generation.openai_client import is_model_not_found
from generation.openai_endpoint import CHAT, RESPONSES, OpenAIEndpoint, chat_usage
from generation.types import (
    AltTextRequest,
    AltTextResult,
    ImageInput,
    ImageRequest,
    ImageResult,
    ModerationVerdict,
    Usage,
)

ALT_TEXT_INSTRUCTIONS = (
    "You write alt text for images posted on a social network. Describe what is visible in one "
    "or two plain sentences, most important first. Do not start with 'Image of' or mention that "
    "it is an image. Answer in the language with code {language}, under {max_chars} characters."
)


def data_url(image: ImageInput) -> str:
    """Return ``image`` as a ``data:`` URL."""
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"


def _image_url_allowed(ep: OpenAIEndpoint, url: str) -> bool:
    target = urlsplit(url)
    base = urlsplit(ep.config.base_url or OPENAI_BASE_URL)
    if target.scheme not in ("http", "https"):
        return False
    same_origin = (target.scheme, target.netloc) == (base.scheme, base.netloc)
    return same_origin or (target.hostname or "") in ep.config.image_url_hosts


async def download_image(ep: OpenAIEndpoint, url: str) -> bytes:
    """Return the bytes at ``url`` (an image a server answered with), size-capped."""
    if not _image_url_allowed(ep, url):
        host = urlsplit(url).hostname or "?"
        raise InvalidResponse(
            f"the image URL points at {host}, which is not the configured endpoint",
            provider=ep.name,
        )
    cap = ep.config.max_image_bytes
    try:
        async with ep.downloader().stream("GET", url) as response:
            if response.status_code != 200:
                raise InvalidResponse(
                    f"downloading the generated image failed ({response.status_code})",
                    provider=ep.name,
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise InvalidResponse(
                        f"the generated image is larger than {cap} bytes", provider=ep.name
                    )
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx2.TimeoutException as exc:
        raise ProviderTimeout(
            f"downloading the generated image timed out after {ep.config.timeout:g} s",
            provider=ep.name,
        ) from exc
    except httpx2.HTTPError as exc:
        raise ProviderUnavailable(
            f"downloading the generated image failed ({type(exc).__name__})",
            provider=ep.name,
        ) from exc


async def generate_image(ep: OpenAIEndpoint, request: ImageRequest) -> ImageResult:
    """Return one generated image (``b64_json``, or a ``url`` on the endpoint's own host).

    Raises:
        Unsupported: the server has no images endpoint (404).
        InvalidResponse: no image, undecodable data, or a URL on a foreign host.
        ProviderTimeout, RateLimited, ProviderUnavailable, RequestRejected.
    """
    official = ep.config.is_openai
    model = ep.config.image_model or (DEFAULT_OPENAI_IMAGE_MODEL if official else None)
    with ep.errors("image"):
        try:
            response = await ep.client.images.generate(
                prompt=request.prompt,
                model=model if model is not None else omit,
                n=1,
                size=request.size or ep.config.image_size,
                quality=request.quality if request.quality is not None else omit,
                # GPT image models always answer base64 and refuse `response_format`;
                # other servers may default to `url` unless asked.
                output_format=request.format if official else omit,
                response_format=omit if official else "b64_json",
            )
        except openai.NotFoundError as exc:
            if is_model_not_found(exc):
                raise
            raise Unsupported(
                f"{ep.host} has no image generation endpoint (404)", provider=ep.name
            ) from exc
        item = response.data[0] if response.data else None
        if item is None or not (item.b64_json or item.url):
            raise InvalidResponse(f"{ep.host} returned no image", provider=ep.name)
        if item.b64_json:
            data = base64.b64decode(item.b64_json, validate=True)
        else:
            data = await download_image(ep, str(item.url))
    info = inspect_image(data, provider=ep.name)
    u = response.usage
    usage = Usage(u.input_tokens, u.output_tokens) if u is not None else Usage()
    alt = label_alt_text(request.alt_text or item.revised_prompt or request.prompt)
    return ImageResult(
        data,
        info.mime,
        info.width,
        info.height,
        alt,
        model or "default",
        ep.name,
        usage,
        "images.generate",
        item.revised_prompt,
    )


async def describe_image(ep: OpenAIEndpoint, request: AltTextRequest) -> AltTextResult:
    """Return alt text written by the vision model (``vision_model`` or the text model).

    Raises:
        InvalidResponse: an empty answer.
        ProviderTimeout, RateLimited, ProviderUnavailable, RequestRejected, ContentBlocked.
    """
    model = ep.config.vision_model or await ep.text_model()
    instructions = ALT_TEXT_INSTRUCTIONS.format(
        language=request.language, max_chars=request.max_chars
    )
    if request.context:
        instructions += f" The image accompanies this post: {request.context[:500]}"
    url = data_url(request.image)

    async def via_responses() -> tuple[str, Usage, str]:
        response = await ep.client.responses.create(
            model=model,
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": instructions},
                        {"type": "input_image", "image_url": url, "detail": "low"},
                    ],
                }
            ],
            max_output_tokens=300,
            store=False,
        )
        u = response.usage
        usage = Usage(u.input_tokens, u.output_tokens) if u is not None else Usage()
        return response.output_text, usage, RESPONSES

    async def via_chat() -> tuple[str, Usage, str]:
        messages: list[ChatCompletionMessageParam] = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": instructions},
                    {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
                ],
            }
        ]
        completion = await ep.chat(model, messages, max_tokens=300)
        return ep.completion_text(completion), chat_usage(completion), CHAT

    with ep.errors("alt text"):
        raw, usage, api = await ep.with_api_fallback(via_responses, via_chat)
    text = ep.finish_text(raw, request.max_chars, what="description")
    if request.generated:
        text = label_alt_text(text, max_chars=request.max_chars)
    return AltTextResult(text, model, ep.name, usage, api)


async def moderate(
    ep: OpenAIEndpoint, text: str, images: Sequence[ImageInput] = ()
) -> ModerationVerdict:
    """Return the endpoint's moderation verdict for ``text`` and ``images``.

    Raises:
        Unsupported: the server has no moderation endpoint (404).
        ProviderTimeout, RateLimited, ProviderUnavailable, RequestRejected, InvalidResponse.
    """
    official = ep.config.is_openai
    model = ep.config.moderation_model or (DEFAULT_MODERATION_MODEL if official else None)
    payload: Any = text
    if images:
        payload = [{"type": "text", "text": text}] + [
            {"type": "image_url", "image_url": {"url": data_url(i)}} for i in images
        ]
    with ep.errors("moderation"):
        try:
            response = await ep.client.moderations.create(
                input=payload, model=model if model is not None else omit
            )
        except openai.NotFoundError as exc:
            if is_model_not_found(exc):
                raise
            raise Unsupported(
                f"{ep.host} has no moderation endpoint (404)", provider=ep.name
            ) from exc
        if not response.results:
            raise InvalidResponse(f"{ep.host} returned no verdict", provider=ep.name)
        flagged = any(r.flagged for r in response.results)
        categories: set[str] = set()
        scores: dict[str, float] = {}
        for result in response.results:
            for name, value in result.categories.model_dump(by_alias=True).items():
                if value:
                    categories.add(name)
            for name, score in result.category_scores.model_dump(by_alias=True).items():
                if isinstance(score, int | float):
                    scores[name] = max(scores.get(name, 0.0), float(score))
    return ModerationVerdict(
        flagged, tuple(sorted(categories)), ep.name, response.model or (model or ""), scores
    )
