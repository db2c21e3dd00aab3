"""Reading an image value held in the kernel: its content identity and how to open it.

Every kind of image value (bytes, paths, base64 and data: URLs, PIL images, matplotlib
figures, IPython images, arrays and tensors) becomes a `Source`: a content key for the caches
and a function that opens it as an upright PIL image. Nothing is decoded until a cache misses.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import MediaError
from .caches import digest
from .pixels import as_array, image_array_shape, to_uint8
from .values import describe, is_array_like, is_figure, is_ipython_image, is_pil, short

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image as PILImage

ORIENTATION = 0x0112  # the EXIF tag that asks viewers to rotate a picture
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$")


class Source:
    """A decodable image: its content identity and how to open it as a PIL image.

    `key` is a tuple over the whole content (see `caches.digest`); `open(max_side)` returns the
    oriented image, possibly decoded at a reduced size for a `max_side` far below its own;
    `data` is the encoded file when the value is one, so a suitable file can pass untouched.
    """

    __slots__ = ("data", "key", "open")

    def __init__(self, key: tuple, open: Callable[[int], PILImage], data: bytes | None = None) -> None:
        self.key = key
        self.open = open
        self.data = data


def image_source(value: Any, *, marked: bool) -> Source | None:
    """A Source for any value held in the kernel, or None when the type is not an image."""
    if isinstance(value, Source):  # already read and hashed (see `keyed`)
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_source(bytes(value), f"{type(value).__name__} of {len(value):,} bytes")
    if isinstance(value, os.PathLike):
        return _path_source(os.fspath(value))
    if isinstance(value, str):
        return _str_source(value, marked)
    if is_pil(value):
        return _pil_source(value)
    if is_figure(value):
        return _figure_source(value)
    if is_ipython_image(value):
        data = value.data if isinstance(value.data, bytes) else None
        if not data:
            return None
        return _bytes_source(data, "IPython.display.Image")
    if is_array_like(value):
        return _array_source(value)
    return None


def _str_source(text: str, marked: bool) -> Source:
    stripped = text.strip()
    if stripped.startswith("data:"):
        head, sep, payload = stripped.partition(",")
        if not sep or ";base64" not in head:
            raise MediaError(
                f"data URL {short(stripped, 40)} is not allowed: expected data:image/...;base64,<data>."
            )
        return _bytes_source(decode_base64(payload, "the data URL"), "the data URL")
    if marked and (os.path.exists(stripped) or not _looks_base64(stripped)):
        return _path_source(os.path.expanduser(stripped))
    if _looks_base64(stripped):
        return _bytes_source(decode_base64(stripped, "the base64 string"), "the base64 string")
    raise MediaError(
        f"the string {short(text, 50)} cannot be sent as an image: a str is read as an http(s) URL, "
        f"a data: URL or base64. To send a file, mark its path: snw.image({short(text, 40)})."
    )


def _looks_base64(text: str) -> bool:
    return len(text) >= 16 and bool(_BASE64_RE.match(text[:4096])) and bool(_BASE64_RE.match(text[-4096:]))


def decode_base64(text: str, what: str) -> bytes:
    """The bytes of base64 `text` (whitespace ignored); MediaError naming `what` when invalid."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"{what} is not valid base64: {exc}.") from None


def _path_source(path: str) -> Source:
    if not os.path.exists(path):
        raise MediaError(f"no such file: {path!r}.")
    if os.path.isdir(path):
        raise MediaError(f"{path!r} is a directory, not an image file.")
    with open(path, "rb") as f:
        data = f.read()
    return _bytes_source(data, f"file {path!r}")


def _bytes_source(data: bytes, what: str) -> Source:
    if not data:
        raise MediaError(f"{what} is empty: expected the bytes of an image file.")

    def open_(max_side: int) -> PILImage:
        return _open_bytes(data, what, max_side)

    return Source(("bytes", digest(data)), open_, data)


def _open_bytes(data: bytes, what: str, max_side: int | None = None) -> PILImage:
    """Decode `data` (first frame of an animation), EXIF orientation applied; errors name `what`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
        if im.format == "JPEG" and max_side is not None and max(im.size) > 2 * max_side:
            im.draft(
                im.mode,
                (max(1, im.width * max_side // max(im.size)), max(1, im.height * max_side // max(im.size))),
            )
        im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(
            f"{what} is not a readable image ({len(data):,} bytes starting {data[:8]!r}): {exc}"
        ) from None
    if im.width == 0 or im.height == 0:
        raise MediaError(f"{what} is an empty {im.width}x{im.height} image.")
    return ImageOps.exif_transpose(im)


def _pil_source(im: PILImage) -> Source:
    if im.width == 0 or im.height == 0:
        raise MediaError(f"PIL image of size {im.width}x{im.height} is empty: expected at least 1x1 pixels.")
    try:
        pixels = im.tobytes()
    except (OSError, ValueError) as exc:
        raise MediaError(f"PIL {im.mode} image could not be read: {exc}") from None
    palette = im.palette.tobytes() if im.mode in ("P", "PA") and im.palette is not None else b""
    orientation = im.getexif().get(ORIENTATION, 1) if hasattr(im, "getexif") else 1
    key = (
        "pil",
        digest(pixels),
        digest(palette),
        im.mode,
        im.size,
        orientation,
        repr(im.info.get("transparency")),
    )

    def open_(max_side: int) -> PILImage:
        from PIL import ImageOps

        return ImageOps.exif_transpose(im) if orientation != 1 else im

    return Source(key, open_)


def _figure_source(fig: Any) -> Source:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # as the inline backend shows it
    return _bytes_source(buf.getvalue(), "matplotlib figure")


def _array_source(value: Any) -> Source:
    what = describe(value)
    a, key = as_array(value, what)
    shaped = image_array_shape(a, what)  # fail early, before anything is cached

    def open_(max_side: int) -> PILImage:
        from PIL import Image

        return Image.fromarray(to_uint8(shaped, what))

    return Source(key, open_)
