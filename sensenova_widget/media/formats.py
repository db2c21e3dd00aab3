"""Image files by their first bytes, and the base64 and `data:` URLs made of them: one home.

Every place that asks "is this a PNG?", "which MIME type are these bytes?" or needs a `data:`
URL of a picture (the encoder, the panel's thumbnails, the transcript and exports, the OpenAI
dialect's image parts) asks here. Nothing is decoded: a check reads at most 12 bytes.
"""

from __future__ import annotations

import base64
import binascii
import re

# magic number -> (PIL's format name, MIME type), for the image files PIL reads
FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "PNG", "image/png"),
    (b"\xff\xd8\xff", "JPEG", "image/jpeg"),
    (b"GIF87a", "GIF", "image/gif"),
    (b"GIF89a", "GIF", "image/gif"),
    (b"BM", "BMP", "image/bmp"),
    (b"II*\x00", "TIFF", "image/tiff"),
    (b"MM\x00*", "TIFF", "image/tiff"),
)
WEBP = ("WebP", "image/webp")  # RIFF....WEBP: its magic is not a prefix
# What a page shows inline, and so all the `data:` URLs made here (the transcript allows only these).
WEB_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_WEB_TYPES = "|".join(map(re.escape, (*WEB_MIMES, "image/jpg")))
_WEB_DATA_URL = re.compile(f"data:(?:{_WEB_TYPES});base64,[A-Za-z0-9+/]+={{0,2}}", re.IGNORECASE)


def _sniff(data: bytes) -> tuple[str, str] | None:
    for magic, name, mime in FORMATS:
        if data.startswith(magic):
            return name, mime
    return WEBP if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


def sniff_format(data: bytes) -> str | None:
    """The image format the bytes start as ("PNG", "JPEG", "GIF", "WebP", ...), or None: a name,
    never the bytes (a message may say it; a text file may hold a secret)."""
    found = _sniff(bytes(data[:12]))
    return found[0] if found else None


def is_jpeg_or_png(data: bytes) -> bool:
    """The two formats the service takes as they are."""
    return sniff_format(data) in ("JPEG", "PNG")


def image_mime(data: bytes) -> str:
    """The MIME type of PNG, JPEG, GIF or WebP bytes; image/png for anything else (browsers read
    the bytes, not the label, and a page allows only `WEB_MIMES`)."""
    found = _sniff(bytes(data[:12]))
    return found[1] if found and found[1] in WEB_MIMES else "image/png"


def b64(data: bytes) -> str:
    """The base64 text of `data` (ASCII), as the service and `data:` URLs carry it."""
    return base64.b64encode(data).decode("ascii")


def base64_data_url(text: str) -> str:
    """A `data:` URL of an image given as base64 text, typed by its first bytes."""
    try:
        head = base64.b64decode(text[:16] + "=" * (-len(text[:16]) % 4))
    except (binascii.Error, ValueError):
        head = b""
    return f"data:{image_mime(head)};base64,{text}"


def data_url(data: bytes) -> str:
    """A `data:` URL of image bytes, typed by their magic number."""
    return base64_data_url(b64(data))


def is_web_data_url(text: str) -> bool:
    """`text` (spaces around it ignored) is a base64 `data:` URL of a PNG, JPEG, GIF or WebP:
    the only pictures a rendered page shows inline (anything else would be fetched, or run)."""
    return _WEB_DATA_URL.fullmatch(text.strip()) is not None
