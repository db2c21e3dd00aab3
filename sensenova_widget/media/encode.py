"""Encoding an image well: upright, downscaled to `MAX_SIDE`, JPEG or PNG, within the size budget.

- the longest side is brought down to `max_side` (default `MAX_SIDE`, never upscaled), with
  `Image.reduce` (a fast box average) doing the bulk of the work;
- photographs become JPEG (`JPEG_QUALITY`), while alpha, palettes and flat graphics become PNG;
  which is which is decided on a `SAMPLE_SIDE`-pixel sample, so the decision costs almost nothing;
- an encoded JPEG/PNG that is already suitable (within `max_side`, no EXIF rotation to apply,
  small enough) is sent byte for byte;
- every result is kept in the encode cache (`caches.ENCODE_CACHE`) under the content key of
  its `Source`, `max_side` and `JPEG_QUALITY`, so a resent picture is encoded once.

`MAX_SIDE` and `JPEG_QUALITY` are public settings: `snw.media.MAX_SIDE = 1024` changes the
default for every later call, and a cache of results beyond this process should key on both.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

from ..errors import MediaError
from ..protocol import MAX_BODY_BYTES, MAX_IMAGES
from .caches import ENCODE_CACHE
from .pixels import to_uint8, uint16_to_uint8
from .sources import ORIENTATION, Source
from .values import named

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image as PILImage

MAX_SIDE = 2048  # longest side sent, in pixels; `snw.media.MAX_SIDE = 1024` changes the default
JPEG_QUALITY = 85  # of every JPEG made here (files that pass through keep their own)
# Six images of this size, base64-inflated by 4/3, stay under the 45 MB request limit.
MAX_PART_BYTES = MAX_BODY_BYTES * 3 // 4 // (MAX_IMAGES + 1)
SAMPLE_SIDE = 128  # the photograph-or-graphics decision looks at a sample this big
PNG_PASS_BYTES = 1_000_000  # a PNG this small passes through whatever it shows
PNG_WORTH = 2.0  # an ambiguous picture stays PNG unless that is over twice the JPEG's size
REDUCE_FLOOR = 0.85  # an integer `reduce` is used alone when it keeps >= 85% of max_side


def check_max_side(max_side: int | None) -> int:
    """`max_side`, or the module default `MAX_SIDE` for None; MediaError below 16 pixels."""
    if max_side is None:
        max_side = MAX_SIDE
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 16:
        raise MediaError(
            f"max_side={named(max_side)} is not allowed: expected an integer of at least 16 pixels.",
            field="max_side",
        )
    return max_side


def part_base64(source: Source, max_side: int) -> str:
    """The base64 to send for `source` (cached): the file itself when it suits, else re-encoded."""
    key = source.key + ("part", max_side, JPEG_QUALITY)
    return ENCODE_CACHE.get_or_make(key, lambda: _b64(encode_source(source, max_side)))


def thumbnail_bytes(source: Source, max_side: int) -> bytes:
    """A small PNG or JPEG of `source` (cached), at most `max_side` on a side, for a browser."""
    key = source.key + ("thumbnail", max_side, JPEG_QUALITY)
    made = ENCODE_CACHE.get_or_make(key, lambda: _b64(encode_image(source.open(max_side), max_side)))
    return base64.b64decode(made)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_source(source: Source, max_side: int) -> bytes:
    """The bytes to send: the file itself when it already suits, else a fresh JPEG or PNG."""
    if source.data is not None and _passes_through(source.data, max_side):
        return source.data
    return encode_image(source.open(max_side), max_side)


def _passes_through(data: bytes, max_side: int) -> bool:
    """A JPEG/PNG within max_side, small enough, with no EXIF rotation to apply, and decodable.

    "Small enough": under MAX_PART_BYTES, and a PNG under 1 MB or a byte a pixel."""
    if len(data) > MAX_PART_BYTES or not data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        return False
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
        if im.format not in ("JPEG", "PNG") or max(im.size) > max_side or min(im.size) == 0:
            return False
        if im.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):  # CMYK JPEG, 16-bit PNG: re-encode
            return False
        if im.format == "PNG" and len(data) > max(PNG_PASS_BYTES, im.width * im.height):
            return False  # over a byte a pixel: a photograph saved as PNG, far smaller as JPEG
        if im.getexif().get(ORIENTATION, 1) != 1:
            return False
        im.load()  # a truncated or corrupt file is decoded (and refused) when the source is opened instead
    except Exception:
        return False
    return True


def _normalize_mode(im: PILImage) -> PILImage:
    """One of L, LA, RGB, RGBA, P, 1: the modes JPEG/PNG carry well in 8 bits."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA", "P", "1"):
        return im
    if mode.startswith("I") or mode == "F":
        import numpy as np
        from PIL import Image

        a = np.asarray(im)
        if mode.startswith("I"):  # 16-bit samples (Pillow reads 16-bit PNGs as I;16 or I)
            return Image.fromarray(np.take(uint16_to_uint8(), np.clip(a, 0, 65535)))
        return Image.fromarray(to_uint8(a, f"PIL {mode} image"))
    if mode in ("PA", "RGBa", "RGBX") or "A" in mode:
        return im.convert("RGBA" if mode != "La" else "LA")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def _downscale(im: PILImage, max_side: int) -> PILImage:
    """Longest side at most max_side; never upscale. `reduce` (box average) does the bulk."""
    from PIL import Image

    longest = max(im.size)
    if longest <= max_side:
        return im
    if im.mode in ("P", "1"):  # resize would fall back to nearest neighbour for these
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    factor = -(-longest // max_side)
    if factor >= 2 and -(-longest // factor) >= REDUCE_FLOOR * max_side:
        return im.reduce(factor)
    scale = max_side / longest
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)


def _drop_opaque_alpha(im: PILImage) -> PILImage:
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema()[0] == 255:
        return im.convert("RGB" if im.mode == "RGBA" else "L")
    return im


def _save(im: PILImage, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.save(buf, "JPEG", quality=JPEG_QUALITY)
    else:
        im.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _choose_format(im: PILImage) -> str:
    """'PNG', 'JPEG' or 'both' (encode both, keep the smaller) for an RGB or L image.

    Judged on a nearest-neighbour sample of at most SAMPLE_SIDE pixels a side, which keeps exact
    colours: few distinct colours means graphics (PNG); a dominant single colour (a plot's white
    background, a screenshot) is ambiguous; otherwise a photograph (JPEG).
    """
    from PIL import Image

    scale = min(1.0, SAMPLE_SIDE / max(im.size))
    sample = im.resize(
        (max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.NEAREST
    )
    top = _top_colour_share(sample, 256 if im.mode == "RGB" else 32)
    if top is None:
        return "PNG"
    if top >= 0.3:
        return "both"
    return "JPEG"


def _top_colour_share(sample: PILImage, graphics_colours: int) -> float | None:
    """None when `sample` has at most `graphics_colours` distinct colours, fewer than half its
    pixels (graphics); else the share of its commonest colour, or 0.0 when that is surely < 0.3.

    Counting every colour of a photograph is the costly part (Pillow hashes each pixel), so it
    is done only when needed: `getcolors(n)` gives up cheaply past n colours, and a colour
    covering 30% of the pixels covers 30% of every band's histogram, which a photo's never do."""
    pixels = sample.width * sample.height
    colours = sample.getcolors(graphics_colours)
    if colours is None:
        histogram = sample.histogram()
        peaks = [max(histogram[band : band + 256]) for band in range(0, len(histogram), 256)]
        if min(peaks) / pixels < 0.3:  # as `top / pixels` below: the same rounding
            return 0.0
        colours = sample.getcolors(pixels)
    elif len(colours) < pixels // 2:
        return None
    return max(colours)[0] / pixels


def encode_image(im: PILImage, max_side: int) -> bytes:
    """JPEG for photographs, PNG for alpha, palettes and flat graphics, within MAX_PART_BYTES.

    A picture still over MAX_PART_BYTES (noise at a large max_side) is sent smaller rather than
    breaking the 45 MB request limit: its longest side shrinks by 30% until it fits.
    """
    im = _drop_opaque_alpha(_downscale(_normalize_mode(im), max_side))
    data = _encode_fitted(im)
    while len(data) > MAX_PART_BYTES and max(im.size) > 64:
        im = _downscale(im, int(max(im.size) * 0.7))
        data = _encode_fitted(im)
    return data


def _encode_fitted(im: PILImage) -> bytes:
    if im.mode in ("RGBA", "LA", "P", "1"):
        data = _save(im, "PNG")
        if len(data) <= MAX_PART_BYTES:
            return data
        return _save(_flatten(im), "JPEG")  # too big as PNG: white background, JPEG
    choice = _choose_format(im)
    if choice == "JPEG":
        return _save(im, "JPEG")
    png = _save(im, "PNG")
    if choice == "PNG" and len(png) <= MAX_PART_BYTES:
        return png
    jpeg = _save(im, "JPEG")
    # Lossless lines and text are worth up to twice the bytes of a JPEG.
    return png if len(png) <= min(PNG_WORTH * len(jpeg), MAX_PART_BYTES) else jpeg


def _flatten(im: PILImage) -> PILImage:
    from PIL import Image

    rgba = im.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
