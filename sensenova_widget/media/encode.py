"""Encoding an image well: upright, downscaled to `max_side`, JPEG or PNG, within the size budget.

Every function takes the caller's `MediaOptions` (see `options`), never a process-wide setting:
- the longest side is brought down to `options.max_side` (never upscaled), with `Image.reduce`
  (a fast box average) doing the bulk of the work;
- photographs become JPEG (`options.jpeg_quality`), while alpha, palettes and flat graphics
  become PNG; which is which is decided on a `SAMPLE_SIDE`-pixel sample, so the decision costs
  almost nothing;
- an encoded JPEG/PNG that is already suitable (within `max_side`, no EXIF rotation to apply,
  small enough) is sent byte for byte;
- every result is kept in the encode cache (`caches.ENCODE_CACHE`) under the content key of
  its `Source` and `options.image_encoding()`, so a resent picture is encoded once and two
  clients with different options never share a result.

The constants below are tuning of the format decision, not settings.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

from .caches import ENCODE_CACHE
from .formats import b64, is_jpeg_or_png
from .options import MediaOptions
from .pixels import to_uint8, uint16_to_uint8
from .sources import ORIENTATION, Source

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image as PILImage

SAMPLE_SIDE = 128  # the photograph-or-graphics decision looks at a sample this big
PNG_PASS_BYTES = 1_000_000  # a PNG this small passes through whatever it shows
PNG_WORTH = 2.0  # an ambiguous picture stays PNG unless that is over twice the JPEG's size
REDUCE_FLOOR = 0.85  # an integer `reduce` is used alone when it keeps >= 85% of max_side


def _key(source: Source, use: str, options: MediaOptions) -> tuple:
    return source.key + (use, *options.image_encoding().items())


def part_base64(source: Source, options: MediaOptions) -> str:
    """The base64 to send for `source` (cached): the file itself when it suits, else re-encoded."""
    return ENCODE_CACHE.get_or_make(
        _key(source, "part", options), lambda: b64(encode_source(source, options))
    )


def thumbnail_bytes(source: Source, options: MediaOptions) -> bytes:
    """A small PNG or JPEG of `source` (cached), at most `options.max_side` on a side, for a browser."""
    made = ENCODE_CACHE.get_or_make(
        _key(source, "thumbnail", options),
        lambda: b64(encode_image(source.open(options.max_side), options)),
    )
    return base64.b64decode(made)


def encode_source(source: Source, options: MediaOptions) -> bytes:
    """The bytes to send: the file itself when it already suits, else a fresh JPEG or PNG."""
    if source.data is not None and _passes_through(source.data, options):
        return source.data
    return encode_image(source.open(options.max_side), options)


def _passes_through(data: bytes, options: MediaOptions) -> bool:
    """A JPEG/PNG within max_side, small enough, with no EXIF rotation to apply, and decodable.

    "Small enough": under `max_part_bytes`, and a PNG under 1 MB or a byte a pixel."""
    max_side = options.max_side
    if len(data) > options.max_part_bytes or not is_jpeg_or_png(data):
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


def _save(im: PILImage, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.save(buf, "JPEG", quality=quality)
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


def encode_image(im: PILImage, options: MediaOptions) -> bytes:
    """JPEG for photographs, PNG for alpha, palettes and flat graphics, within `max_part_bytes`.

    A picture still over `max_part_bytes` (noise at a large max_side) is sent smaller rather than
    breaking the 45 MB request limit: its longest side shrinks by 30% until it fits.
    """
    im = _drop_opaque_alpha(_downscale(_normalize_mode(im), options.max_side))
    data = _encode_fitted(im, options)
    while len(data) > options.max_part_bytes and max(im.size) > 64:
        im = _downscale(im, int(max(im.size) * 0.7))
        data = _encode_fitted(im, options)
    return data


def _encode_fitted(im: PILImage, options: MediaOptions) -> bytes:
    budget, quality = options.max_part_bytes, options.jpeg_quality
    if im.mode in ("RGBA", "LA", "P", "1"):
        data = _save(im, "PNG", quality)
        if len(data) <= budget:
            return data
        return _save(_flatten(im), "JPEG", quality)  # too big as PNG: white background, JPEG
    choice = _choose_format(im)
    if choice == "JPEG":
        return _save(im, "JPEG", quality)
    png = _save(im, "PNG", quality)
    if choice == "PNG" and len(png) <= budget:
        return png
    jpeg = _save(im, "JPEG", quality)
    # Lossless lines and text are worth up to twice the bytes of a JPEG.
    return png if len(png) <= min(PNG_WORTH * len(jpeg), budget) else jpeg


def _flatten(im: PILImage) -> PILImage:
    from PIL import Image

    rgba = im.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
