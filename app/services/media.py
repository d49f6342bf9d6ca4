"""Images for posts: decoded, re-encoded without metadata (EXIF, GPS, XMP), measured, hashed."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import blurhash
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import UserError

MAX_BYTES = 16 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
    "GIF": ("image/png", ".png"),
}


@dataclass(frozen=True)
class StoredImage:
    file_name: str
    media_type: str
    width: int
    height: int
    blurhash: str


def _blurhash(image: Image.Image) -> str:
    thumb = image.convert("RGB")
    thumb.thumbnail((32, 32))
    raw, width = thumb.tobytes(), thumb.width
    rows = [
        [list(raw[(y * width + x) * 3 : (y * width + x) * 3 + 3]) for x in range(width)]
        for y in range(thumb.height)
    ]
    return str(blurhash.encode(rows, components_x=4, components_y=3))


def store_image(data: bytes, media_dir: Path) -> StoredImage:
    """Re-encode ``data`` into ``media_dir`` with no metadata; UserError if it is not an image."""
    if len(data) > MAX_BYTES:
        raise UserError("image larger than 16 MiB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format or ""
            if kind not in FORMATS:
                raise UserError(f"unsupported image format {kind or 'unknown'}")
            if probe.width * probe.height > MAX_PIXELS:
                raise UserError("image has too many pixels")
            probe.seek(0)
            oriented = ImageOps.exif_transpose(probe)
            mode = "RGBA" if oriented.mode in ("RGBA", "LA", "P") else "RGB"
            # Copying the pixels into a new image leaves EXIF/XMP/ICC text chunks behind.
            clean = Image.new(mode, oriented.size)
            clean.paste(oriented.convert(mode))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise UserError(f"not a readable image: {exc}") from exc
    media_type, suffix = FORMATS[kind]
    if kind == "JPEG" and mode == "RGBA":
        media_type, suffix = "image/png", ".png"
    out = io.BytesIO()
    save_format = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[media_type]
    clean.save(out, format=save_format, **({"quality": 90} if save_format == "JPEG" else {}))
    encoded = out.getvalue()
    name = hashlib.sha256(encoded).hexdigest()[:32] + suffix
    media_dir.mkdir(parents=True, exist_ok=True)
    path = media_dir / name
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(encoded)
        tmp.replace(path)
    return StoredImage(name, media_type, clean.width, clean.height, _blurhash(clean))
