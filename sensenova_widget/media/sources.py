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
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import MediaError
from .caches import digest
from .formats import sniff_format
from .pixels import as_array, image_array_shape, to_uint8
from .strings import (
    check_url,
    data_url_head,
    expand,
    has_scheme,
    looks_base64,
    not_media_text,
    path_of,
)
from .values import (
    describe,
    in_words,
    is_array_like,
    is_figure,
    is_file_like,
    is_ipython_image,
    is_pil,
    scrub,
    short,
)

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image as PILImage

ORIENTATION = 0x0112  # the EXIF tag that asks viewers to rotate a picture
READABLE = "JPEG, PNG, GIF, WebP, BMP, TIFF, ..."


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
        given = os.fspath(value)
        return _path_source(expand(given), given)
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
    if is_file_like(value):
        return _file_like_source(value)
    if is_array_like(value):
        return _array_source(value)
    return None


def _str_source(text: str, marked: bool) -> Source:
    """A data: URL, base64, or (marked, e.g. by `image()` or a caption column) a path; a string
    that is none of these is refused, quoted only by a short prefix."""
    stripped = text.strip()
    if stripped[:5].lower() == "data:":
        head, sep, payload = stripped.partition(",")
        if not sep or ";base64" not in head.lower() or not head[5:].lower().startswith("image/"):
            raise MediaError(
                f"a data URL of {data_url_head(stripped)} is not allowed: "
                "expected data:image/...;base64,<data>."
            )
        return _bytes_source(decode_base64(payload, "the data URL"), "the data URL")
    if has_scheme(stripped):
        check_url(stripped)  # raises: an http(s) URL never reaches here, other schemes are refused
    path = path_of(stripped)
    if path is not None and marked:
        return _path_source(path, stripped)
    if looks_base64(stripped):
        return _bytes_source(decode_base64(stripped, "the base64 string"), "the base64 string")
    if path is not None:
        raise MediaError(
            f"the string {short(stripped, 80)} cannot be sent as an image: a str is read as an http(s) URL, "
            f"a data: URL or base64. To send a file, mark its path: snw.image({short(stripped, 80)})."
        )
    raise not_media_text(text, marked=marked)


def decode_base64(text: str, what: str) -> bytes:
    """The bytes of base64 `text` (whitespace ignored); MediaError naming `what` when invalid."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"{what} is not valid base64: {exc}.") from None


def _path_source(path: str, given: str | None = None) -> Source:
    """The file at `path` (`~` already expanded; `given` is the path as the user wrote it)."""
    shown = repr(given if given is not None else path)
    if given is not None and given != path:
        shown += f" (~ expanded to {path!r})"
    if not os.path.exists(path):
        raise MediaError(f"no such file: {shown}.")
    if os.path.isdir(path):
        raise MediaError(f"{shown} is a directory, not an image file.")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise MediaError(f"file {shown} could not be read: {exc.strerror or type(exc).__name__}.") from None
    return _bytes_source(data, f"file {shown}")


def _file_like_source(value: Any) -> Source:
    """An open binary file or a BytesIO, read whole; an open file is left where it was."""
    name = getattr(value, "name", None)
    what = f"file {name!r}" if isinstance(name, str) else in_words(value)
    data = read_file_like(value, what)
    return _bytes_source(data, f"{what} of {len(data):,} bytes" if not isinstance(name, str) else what)


def read_file_like(value: Any, what: str) -> bytes:
    """All the bytes of a binary file-like value, from its start; its position is restored."""
    if getattr(value, "closed", False) is True:
        raise MediaError(f"{what} is closed: pass an open file, or its path.")
    if isinstance(value, io.TextIOBase) or "b" not in str(getattr(value, "mode", "b")):
        raise MediaError(f"{what} is open in text mode: open an image file in binary mode, open(path, 'rb').")
    getvalue = getattr(value, "getvalue", None)
    try:
        if callable(getvalue):  # BytesIO: the whole buffer, whatever the position
            data = getvalue()
        else:
            seekable = callable(getattr(value, "seek", None)) and getattr(value, "seekable", lambda: True)()
            position = value.tell() if seekable else None
            if seekable:
                value.seek(0)
            data = value.read()
            if position is not None:
                value.seek(position)
    except (OSError, ValueError) as exc:  # words of our own: a decode error would quote a byte
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise MediaError(f"{what} could not be read: {reason}.") from None
    if isinstance(data, str):
        raise MediaError(f"{what} is open in text mode: open an image file in binary mode, open(path, 'rb').")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MediaError(f"{what} gave {in_words(data)} when read: expected bytes.")
    return bytes(data)


def _bytes_source(data: bytes, what: str) -> Source:
    if not data:
        raise MediaError(f"{what} is empty: expected the bytes of an image file.")

    def open_(max_side: int) -> PILImage:
        return open_bytes(data, what, max_side)

    return Source(("bytes", digest(data)), open_, data)


def open_bytes(data: bytes, what: str, max_side: int | None = None) -> PILImage:
    """Decode `data` (first frame of an animation), EXIF orientation applied. An error names
    `what` and says what the bytes are not, never what they hold (a text file may be a secret)."""
    from PIL import Image, ImageOps

    try:
        im = Image.open(io.BytesIO(data))
        if im.format == "JPEG" and max_side is not None and max(im.size) > 2 * max_side:
            im.draft(
                im.mode,
                (max(1, im.width * max_side // max(im.size)), max(1, im.height * max_side // max(im.size))),
            )
        im.load()
    except Image.DecompressionBombError:
        raise MediaError(
            f"{what} is too large to decode safely: over {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):  # UnidentifiedImageError too
        fmt = sniff_format(data)
        if fmt in (None, "BMP"):  # "BM" is two letters a text file may start with too
            raise MediaError(f"{what} is not an image PIL can read ({READABLE}).") from None
        raise MediaError(
            f"{what} is not a readable image: it starts as a {fmt} file but is truncated or corrupt."
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
        raise MediaError(f"PIL {im.mode} image could not be read: {scrub(str(exc))}") from None
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
