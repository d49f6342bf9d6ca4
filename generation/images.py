"""Checking image bytes a provider returned: decodable, a known format, a sane size."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from generation.errors import InvalidResponse

MIME_BY_FORMAT = {
    "PNG": "image/png",
    "WEBP": "image/webp",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
}
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int


def parse_size(size: str) -> tuple[int, int]:
    """Return ``(width, height)`` of a "WxH" size.

    Raises:
        ValueError: the size is not two positive integers joined by "x".

    >>> parse_size("1024x768")
    (1024, 768)
    """
    parts = size.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"image size must look like 1024x1024, not {size!r}")
    width, height = int(parts[0]), int(parts[1])
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, not {size!r}")
    return width, height


def inspect_image(data: bytes, *, provider: str | None = None) -> ImageInfo:
    """Return the MIME type and pixel size of encoded image ``data``.

    Raises:
        InvalidResponse: the bytes are not a complete PNG, WebP, JPEG or GIF image, or the image
            has more than 40 megapixels.
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns (DecompressionBombWarning) before it refuses; the size check is ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise InvalidResponse(
                        f"the image is too large ({width}x{height})", provider=provider
                    )
                image.verify()
    except InvalidResponse:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidResponse("the image data cannot be decoded", provider=provider) from exc
    mime = MIME_BY_FORMAT.get(fmt)
    if mime is None:
        raise InvalidResponse(f"unsupported image format {fmt or 'unknown'}", provider=provider)
    return ImageInfo(mime, width, height)
