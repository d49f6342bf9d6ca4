"""Offline images: a Pillow "text card" (a soft gradient with the text centred on it).

The card depends only on its text, size and seed, so it is reproducible, and its alt text is
known exactly: "AI-generated image: a card reading “<the printed text>”". The font is Pillow's
bundled one (``ImageFont.load_default(size=...)``), so no system font is needed.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from generation.labels import label_alt_text
from generation.textfit import fit_text

MAX_CARD_CHARS = 280
MIN_SIDE = 64
MAX_SIDE = 2048


@dataclass(frozen=True)
class Card:
    """An encoded card image, its size, and the exact text printed on it."""

    data: bytes
    mime: str
    width: int
    height: int
    text: str
    alt_text: str


_REPLACEMENTS = str.maketrans(
    {
        "—": " - ",
        "–": "-",
        "‐": "-",
        "−": "-",
        "ß": "ss",
        "€": "EUR",
        "£": "GBP",
        "«": '"',
        "»": '"',
        "„": "“",
        "\u00a0": " ",
    }
)


@lru_cache(maxsize=4096)
def _has_glyph(char: str) -> bool:
    """True when the bundled font draws ``char`` (not its "missing glyph" box)."""

    def mask(c: str) -> bytes:
        image = Image.new("L", (40, 40))
        ImageDraw.Draw(image).text((4, 4), c, font=_probe_font(), fill=255)
        return image.tobytes()

    return char.isspace() or mask(char) != mask("\U000f0000")


@lru_cache(maxsize=1)
def _probe_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=20)


def printable_text(text: str) -> str:
    """Return ``text`` as the bundled font can print it: accents stripped, dashes made ASCII,
    characters it cannot draw dropped, whitespace collapsed.

    >>> printable_text("Café — naïve  日本")
    'Cafe - naive'
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_REPLACEMENTS))
    kept = "".join(c for c in decomposed if not unicodedata.combining(c) and _has_glyph(c))
    return " ".join(kept.split())


def card_alt_text(text: str) -> str:
    """Return the alt text of a card printing ``text``.

    >>> card_alt_text("Slow and steady.")
    'AI-generated image: a card reading “Slow and steady.”'
    """
    if not text:
        return label_alt_text("an abstract colour gradient")
    return label_alt_text(f"a card reading “{text}”")


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _background(width: int, height: int, digest: bytes) -> Image.Image:
    hue = digest[0] / 255
    top = Image.new("RGB", (width, height), _colour(hue, 0.55, 0.55))
    bottom = Image.new("RGB", (width, height), _colour(hue + 0.12, 0.65, 0.28))
    mask = Image.linear_gradient("L").resize((width, height))
    if digest[1] % 2:
        mask = mask.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    image = Image.composite(bottom, top, mask)
    # A few soft light blobs; positions and sizes come from the digest.
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for i in range(3):
        cx = digest[2 + i] / 255 * width
        cy = digest[5 + i] / 255 * height
        radius = (0.15 + digest[8 + i] / 255 * 0.25) * min(width, height)
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        draw.ellipse(box, fill=(255, 255, 255, 40 + digest[11 + i] % 40))
    overlay = overlay.filter(ImageFilter.GaussianBlur(radius=max(2, min(width, height) // 25)))
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: float
) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _layout(
    draw: ImageDraw.ImageDraw, text: str, width: int, height: int
) -> tuple[ImageFont.FreeTypeFont, list[str], int]:
    """Return the largest font (and its lines and line height) that fits the card."""
    size = max(10, min(width, height) // 9)
    while True:
        font = ImageFont.load_default(size=size)
        assert isinstance(font, ImageFont.FreeTypeFont)  # Pillow is built with FreeType
        lines = _wrap(draw, text, font, width * 0.82)
        line_height = round(size * 1.3)
        widest = max((draw.textlength(line, font=font) for line in lines), default=0.0)
        fits = len(lines) * line_height <= height * 0.8 and widest <= width * 0.9
        if fits or size <= 8:
            return font, lines, line_height
        size = max(8, int(size * 0.9))


def render_card(
    text: str,
    *,
    width: int = 1024,
    height: int = 1024,
    seed: int | None = None,
    fmt: Literal["png", "webp"] = "png",
) -> Card:
    """Return a card printing ``text`` (as :func:`printable_text`, cut to 280 characters).

    Text with nothing printable left (e.g. a script the bundled font lacks) gives a plain
    gradient whose alt text says so.

    The same arguments always give the same pixels. WebP cards are lossless.

    Raises:
        ValueError: a side is outside 64..2048 pixels.
    """
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValueError(f"card sides must be {MIN_SIDE}..{MAX_SIDE} pixels")
    printed = fit_text(printable_text(text), MAX_CARD_CHARS)
    if not any(c.isalnum() for c in printed):
        printed = ""
    digest = hashlib.sha256(f"{printed}\x00{seed or 0}".encode()).digest()
    image = _background(width, height, digest)
    draw = ImageDraw.Draw(image)
    font, lines, line_height = _layout(draw, printed, width, height)
    stroke = max(1, round(font.size / 18))
    y = (height - len(lines) * line_height) / 2
    for line in lines:
        x = (width - draw.textlength(line, font=font)) / 2
        draw.text(
            (x, y),
            line,
            font=font,
            fill=(255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(20, 20, 20),
        )
        y += line_height
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, format="WEBP", lossless=True)
        mime = "image/webp"
    else:
        image.save(buffer, format="PNG", optimize=False)
        mime = "image/png"
    return Card(buffer.getvalue(), mime, width, height, printed, card_alt_text(printed))
