"""Default profile images, drawn with Pillow at `myna init` when the owner has none."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def _gradient(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(height - 1, 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    return image


def write_default_images(media_dir: Path, display_name: str) -> list[str]:
    """Create ``avatar.png`` (400x400) and ``header.png`` (1500x500) if absent; return new names."""
    media_dir.mkdir(parents=True, exist_ok=True)
    created = []
    avatar = media_dir / "avatar.png"
    if not avatar.exists():
        image = _gradient((400, 400), (38, 70, 83), (42, 157, 143))
        draw = ImageDraw.Draw(image)
        letter = (display_name.strip()[:1] or "M").upper()
        font = ImageFont.load_default(size=220)
        draw.text((200, 200), letter, font=font, fill=(255, 255, 255), anchor="mm")
        image.save(avatar, format="PNG")
        created.append(avatar.name)
    header = media_dir / "header.png"
    if not header.exists():
        _gradient((1500, 500), (233, 196, 106), (231, 111, 81)).save(header, format="PNG")
        created.append(header.name)
    return created
