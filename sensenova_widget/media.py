"""Notebook values become request parts: any image-like value, encoded well, within the limits.

What people hold in a notebook is not base64: PIL images, numpy arrays, tensors, matplotlib
figures, bytes, paths, URLs and stacks of video frames. `to_part` turns each into the wire dict
the service reads, small and fast:

- the longest side is brought down to `max_side` (module default `MAX_SIDE`, never upscaled),
  with `Image.reduce` (a fast box average) doing the bulk of the work;
- photographs become JPEG (`JPEG_QUALITY`), while alpha, palettes and flat graphics become PNG;
  which is which is decided on a 128-pixel sample, so the decision costs almost nothing;
- an encoded JPEG/PNG that is already suitable (within `max_side`, no EXIF rotation to apply,
  small enough) is sent byte for byte;
- every result is cached by a hash of the whole content (plus mode, shape and `max_side`), so
  a conversation that resends a picture on every turn encodes it once (see `_digest`).

numpy, PIL and matplotlib are imported inside functions: `import sensenova_widget.media` stays
cheap, and matplotlib is touched only when the value is a Figure.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import math
import os
import re
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from .errors import MediaError
from .protocol import IMAGE_PART_TYPES, MAX_BODY_BYTES, MAX_IMAGES, PART_TYPES, VIDEO_PART_TYPES

if TYPE_CHECKING:  # pragma: no cover
    from PIL.Image import Image as PILImage

__all__ = [
    "MAX_SIDE",
    "JPEG_QUALITY",
    "Media",
    "FileId",
    "to_part",
    "image",
    "video",
    "file_id",
    "is_image_like",
    "is_video_like",
    "thumbnail",
    "describe",
    "cache_info",
    "clear_cache",
]

MAX_SIDE = 2048  # longest side sent, in pixels; `snw.media.MAX_SIDE = 1024` changes the default
JPEG_QUALITY = 85
# Six images of this size, base64-inflated by 4/3, stay under the 45 MB request limit.
MAX_PART_BYTES = MAX_BODY_BYTES * 3 // 4 // (MAX_IMAGES + 1)
CACHE_MAX_ENTRIES = 256
CACHE_MAX_BYTES = 200_000_000  # of base64 text held by the encode cache
SAMPLE_SIDE = 128  # the photograph-or-graphics decision looks at a sample this big
PNG_PASS_BYTES = 1_000_000  # a PNG this small passes through whatever it shows
PNG_WORTH = 2.0  # an ambiguous picture stays PNG unless that is over twice the JPEG's size
REDUCE_FLOOR = 0.85  # an integer `reduce` is used alone when it keeps >= 85% of max_side

ACCEPTED = (
    "a PIL image; a numpy array HxW, HxWx1, HxWx3, HxWx4 or CxHxW (uint8, uint16, bool, float); "
    "an object with __array__ such as a CPU torch tensor; bytes of a JPEG/PNG/GIF/WebP/BMP/TIFF "
    "file; a pathlib.Path or image('path'); an http(s) URL; a data: URL or base64 string; "
    "a matplotlib Figure; IPython.display.Image; file_id('...'); video(...); or a wire part dict"
)
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")
# Magic numbers of the image files PIL reads, for cheap checks that decode nothing.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$")
_ORIENTATION = 0x0112


# ---------------------------------------------------------------------------------------------
# Marking a value's kind


class Media:
    """A value marked as an image or a video by `image(...)` / `video(...)`."""

    __slots__ = ("kind", "value", "fps")

    def __init__(self, kind: str, value: Any, fps: float | None = None) -> None:
        self.kind = kind
        self.value = value
        self.fps = fps

    def __repr__(self) -> str:
        fps = f", fps={self.fps}" if self.fps is not None else ""
        return f"{self.kind}({describe(self.value)}{fps})"


class FileId:
    """An id from the file service, sent as `image_file_id` or `video_file_id`."""

    __slots__ = ("id", "kind")

    def __init__(self, id: str, kind: str = "image") -> None:
        self.id = id
        self.kind = kind

    def __repr__(self) -> str:
        return f"file_id({self.id!r}, kind={self.kind!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileId) and (other.id, other.kind) == (self.id, self.kind)

    def __hash__(self) -> int:
        return hash((self.id, self.kind))


def image(value: Any) -> Media:
    """Mark `value` as an image: needed for path strings (`image("photo.jpg")`)."""
    if isinstance(value, Media):
        if value.kind == "image":
            return value
        raise MediaError(f"{value!r} is already marked as a video; pass the frames or path to image() instead.")
    if isinstance(value, FileId):
        return Media("image", FileId(value.id, "image"))
    return Media("image", value)


def video(value: Any, *, fps: float | None = None) -> Media:
    """Mark `value` as a video: an http(s) URL, a file path, mp4 bytes, or frames.

    Frames are a list of images or a TxHxWxC / TxCxHxW array; they are encoded to H.264 at
    `fps` frames per second (default 8) and uploaded through the file service.
    """
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 240):
        raise MediaError(f"fps={fps!r} is not allowed: expected a number in (0, 240].", field="fps")
    if isinstance(value, Media):
        return Media("video", value.value, fps if fps is not None else value.fps)
    if isinstance(value, FileId):
        return Media("video", FileId(value.id, "video"), fps)
    return Media("video", value, fps)


def file_id(id: str, kind: str = "image") -> FileId:
    """An uploaded file's id: `file_id("abc")` for an image, `file_id("abc", kind="video")`."""
    if kind not in ("image", "video"):
        raise MediaError(f"kind={kind!r} is not allowed: expected 'image' or 'video'.", field="kind")
    if not isinstance(id, str) or not id.strip():
        raise MediaError(f"file_id({id!r}) is not allowed: expected a non-empty id string from the file service.")
    return FileId(id.strip(), kind)


# ---------------------------------------------------------------------------------------------
# The encode cache


class _LRU:
    """A thread-safe LRU of base64 strings, bounded in entries and in characters held."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.encodes = 0

    def get_or_make(self, key: tuple, make: Callable[[], str]) -> str:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        value = make()  # outside the lock: encodes run in parallel across threads
        with self._lock:
            self.encodes += 1
            if key not in self._items:
                self._items[key] = value
                self._bytes += len(value)
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)
        return value

    def info(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "encodes": self.encodes,
                    "entries": len(self._items), "bytes": self._bytes}

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = self.encodes = 0


_CACHE = _LRU(CACHE_MAX_ENTRIES, CACHE_MAX_BYTES)
# file ids of uploaded videos, per client, so a conversation uploads a video once
_UPLOADS: "weakref.WeakKeyDictionary[Any, dict[tuple, str]]" = weakref.WeakKeyDictionary()
_UPLOADS_LOCK = threading.Lock()


def cache_info() -> dict[str, int]:
    """Counters of the encode cache: hits, misses, encodes, entries and bytes held."""
    return _CACHE.info()


def clear_cache() -> None:
    """Forget every cached encoding (and reset the counters)."""
    _CACHE.clear()


def _digest(buffer: Any) -> str:
    """A content hash over every byte. XXH3-128 (the `media` extra) runs at memory speed, ten
    times SHA-256: a 4000x3000 photo hashes in ~4 ms instead of ~40 ms, so a cache hit is nearly
    free. 128 bits make an accidental collision between two pictures practically impossible;
    SHA-256 stands in when xxhash is not installed."""
    try:
        import xxhash
    except ImportError:
        return "sha256:" + hashlib.sha256(buffer).hexdigest()
    return xxhash.xxh3_128_hexdigest(buffer)


# ---------------------------------------------------------------------------------------------
# Recognising values without importing heavy libraries


def _type_path(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_pil(value: Any) -> bool:
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


def _is_figure(value: Any) -> bool:
    """A matplotlib Figure (or SubFigure's parent), known by its class, matplotlib untouched."""
    return any(c.__module__.startswith("matplotlib.") and c.__name__ == "Figure" for c in type(value).__mro__)


def _is_ipython_image(value: Any) -> bool:
    return any(c.__module__.startswith("IPython.") and c.__name__ == "Image" for c in type(value).__mro__)


def _is_array_like(value: Any) -> bool:
    return not isinstance(value, (str, bytes, bytearray, memoryview)) and (
        hasattr(value, "__array__") or hasattr(value, "__array_interface__")
    )


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    try:
        return tuple(int(n) for n in shape) if shape is not None else None
    except (TypeError, ValueError):
        return None


def _is_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


def _is_frame_array(value: Any) -> bool:
    """A 4-D array: frames, once the value is known to be a video."""
    return _is_array_like(value) and len(_shape(value) or ()) == 4


def _is_frame_stack(value: Any) -> bool:
    """4-D arrays with more than one frame are video; a list of images stays ambiguous."""
    return _is_frame_array(value) and _shape(value)[0] > 1


def _is_frame_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Public entry points


def to_part(value: Any, *, client: Any = None, max_side: int | None = None) -> dict:
    """The wire part for a notebook value; raises MediaError saying what was wrong.

    Accepted: see `ACCEPTED`. Wire dicts pass through. A bare str is read as an http(s) URL,
    a data: URL or base64; a path must be marked, `image("photo.jpg")`. A 4-D array with more
    than one frame, a Path with a video suffix, and anything marked `video(...)` become a video part; a video that must be
    uploaded (a path, bytes, frames) needs `client` (the `Client` does this for you).

    Array values: uint8 as is; bool as 0/255; uint16 divided by 257 (the full 16-bit range);
    float in [0, 1] scaled by 255, else float within [0, 255] taken as is, anything else an
    error; other integer types must lie within [0, 255]. Shapes: HxW, HxWx1, HxWx3, HxWx4, and
    CxHxW when C is 1, 3 or 4 and the last dimension is not.
    """
    max_side = _check_max_side(max_side)
    if isinstance(value, Mapping):
        return _wire_part(value)
    if isinstance(value, FileId):
        return {"type": f"{value.kind}_file_id", f"{value.kind}_file_id": value.id}
    if isinstance(value, Media):
        if isinstance(value.value, Mapping):  # image(part) / video(part): the part as it is
            return _wire_part(value.value)
        if value.kind == "video":
            return _video_part(value.value, client, value.fps)
        return _image_part(value.value, max_side, marked=True)
    if is_video_like(value):  # a 4-D frame stack, or a Path ending in .mp4, .mov, ...
        return _video_part(value, client, None)
    return _image_part(value, max_side, marked=False)


def is_image_like(value: Any) -> bool:
    """Whether `value` is a picture to offer in a picker (cheap: decodes and imports nothing).

    Conservative where `to_part` is generous: plain strings are not image-like (a URL or base64
    text is more often just text), nor is a list of images (several images, or frames when marked
    with `video(...)`), nor an array that looks like data (see `_array_is_image_like`).
    """
    if isinstance(value, (Media, FileId, Mapping)):
        return _declared_kind(value) == "image"
    if _is_pil(value) or _is_figure(value) or _is_ipython_image(value):
        return True
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:12]).startswith(_IMAGE_MAGIC) or bytes(value[8:12]) == b"WEBP"
    if isinstance(value, os.PathLike):
        return os.fspath(value).lower().endswith(IMAGE_SUFFIXES)
    if isinstance(value, str):
        return value.startswith("data:image/")
    if _is_array_like(value):
        return _array_is_image_like(value)
    return False


def _declared_kind(value: Media | FileId | Mapping) -> str | None:
    """The kind a value states itself: a marked value's or file id's, or a wire part's type."""
    if isinstance(value, Mapping):
        kind = value.get("type")
        return "image" if kind in IMAGE_PART_TYPES else "video" if kind in VIDEO_PART_TYPES else None
    return value.kind


def _array_is_image_like(value: Any) -> bool:
    """Pickers look at every value in the namespace: a data matrix (int64 columns, a 1000x3
    table, a DataFrame) is not offered as a picture, though `to_part` would encode it."""
    dtype = str(getattr(value, "dtype", ""))
    if not dtype.endswith(("uint8", "uint16", "bool", "float16", "float32", "float64")):
        return False
    shape = _shape(value)
    if shape is None:
        return False
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[-1] not in (1, 3, 4):
        shape = shape[1:]
    elif len(shape) == 3 and shape[-1] in (1, 3, 4):
        shape = shape[:2]
    return len(shape) == 2 and min(shape) >= 8


def is_video_like(value: Any) -> bool:
    """Whether `value` is a video: marked `video(...)`, a video file id or part, a 4-D array
    with more than one frame, or a path ending in a video suffix (.mp4, .mov, ...)."""
    if isinstance(value, (Media, FileId, Mapping)):
        return _declared_kind(value) == "video"
    if isinstance(value, os.PathLike):
        return os.fspath(value).lower().endswith(VIDEO_SUFFIXES)
    return _is_frame_stack(value)


def thumbnail(value: Any, max_side: int = 256) -> bytes:
    """PNG or JPEG bytes at most `max_side` on a side, for showing `value` in the browser.

    Videos given as frames show their first frame. URLs and file ids cannot be shown without
    downloading them: MediaError.
    """
    max_side = _check_max_side(max_side)
    if isinstance(value, Media):
        if value.kind == "video":
            return thumbnail(_first_frame(value.value), max_side)
        value = value.value
    elif _is_frame_stack(value):
        return thumbnail(_first_frame(value), max_side)
    if isinstance(value, Mapping) and value.get("type") == "image_base64":
        value = _decode_base64(value.get("image_base64") or "", "the image_base64 part")
    if isinstance(value, (FileId, Mapping)) or (isinstance(value, str) and _is_url(value.strip())):
        raise MediaError(f"{describe(value)} cannot be shown as a thumbnail: it is not held in the kernel.")
    source = _image_source(value, marked=True)
    if source is None:
        raise MediaError(f"{_type_path(value)} cannot be shown as an image: expected {ACCEPTED}.")
    key = source.key + ("thumbnail", max_side)
    return base64.b64decode(_CACHE.get_or_make(key, lambda: _b64(_encode_image(source.open(max_side), max_side))))


def content_key(value: Any) -> str:
    """A stable identity of an image value's content, for caches beyond this process.

    It is the content hash the encode cache keys on (of the file bytes or the pixels), so equal
    content gives an equal key whatever the value's type; URLs and file ids are their own
    identity, since their content is not held here. Raises MediaError when `value` is no image.
    """
    if isinstance(value, Media):
        value = value.value
    if isinstance(value, FileId):
        return f"file_id:{value.kind}:{value.id}"
    if isinstance(value, str) and _is_url(value.strip()):
        return "url:" + value.strip()
    source = None if isinstance(value, Mapping) else _image_source(value, marked=True)
    if source is None:  # a wire part, or a value held elsewhere: the part is its own identity
        identity = repr(sorted(to_part(image(value)).items()))
    else:
        identity = repr(source.key)
    return hashlib.sha256(identity.encode()).hexdigest()


def keyed(value: Any) -> tuple[str, Any]:
    """(`content_key(value)`, the value to send in its place): an image held in the kernel is read,
    rendered and hashed once for both, where `content_key` then `to_part` would do it twice (a
    figure saved twice, a file read twice). caption() keys its cache on the first, sends the second."""
    inner = value.value if isinstance(value, Media) and value.kind == "image" else value
    if isinstance(inner, (Media, FileId, Mapping)) or (isinstance(inner, str) and _is_url(inner.strip())):
        return content_key(value), value
    source = _image_source(inner, marked=True)
    if source is None:
        return content_key(value), value
    held = Media("image", source)
    return content_key(held), held


def describe(value: Any) -> str:
    """A short human label: "PIL RGB 640x480", "ndarray uint8 480x640x3", "figure 640x480"."""
    if isinstance(value, Media):
        path = isinstance(value.value, str) and not _is_url(value.value) and not value.value.startswith("data:")
        inner = f"file {value.value}" if path else describe(value.value)
        return f"video {inner}" if value.kind == "video" and not inner.startswith("frames") else inner
    if isinstance(value, FileId):
        return f"{value.kind} file id {value.id}"
    if isinstance(value, Mapping):
        kind = value.get("type", "?")
        return f"{kind} part"
    if _is_pil(value):
        return f"PIL {value.mode} {value.width}x{value.height}"
    if _is_figure(value):
        w, h = (value.get_size_inches() * value.dpi).round().astype(int)
        return f"figure {w}x{h}"
    if _is_ipython_image(value):
        return f"IPython Image {value.format or ''}".rstrip()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{type(value).__name__} of {len(value):,} bytes"
    if isinstance(value, os.PathLike):
        return f"file {os.fspath(value)}"
    if isinstance(value, str):
        if _is_url(value):
            return f"URL {value if len(value) <= 60 else value[:57] + '...'}"
        if value.startswith("data:"):
            return f"data URL {value[5:value.find(';')] if ';' in value[:40] else ''} ({len(value):,} chars)"
        return f"str {_short(value, 40)}"
    if _is_array_like(value):
        shape = _shape(value) or ()
        dtype = getattr(value, "dtype", "")
        dtype = str(dtype).replace("torch.", "")
        dims = "x".join(str(n) for n in shape)
        if len(shape) == 4 and shape[0] > 1:
            return f"frames {dims}"
        return f"{type(value).__name__} {dtype} {dims}".replace("  ", " ")
    if _is_frame_list(value):
        return f"list of {len(value)} {describe(value[0]).split(' ')[0]} values"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
# Images


class _Source:
    """A decodable image: its content identity and how to open it as a PIL image."""

    __slots__ = ("key", "data", "open")

    def __init__(self, key: tuple, open: Callable[[int], PILImage], data: bytes | None = None) -> None:
        self.key = key
        self.open = open  # (max_side) -> oriented image, possibly decoded at reduced size
        self.data = data  # the encoded file, when the value is one


def _check_max_side(max_side: int | None) -> int:
    if max_side is None:
        max_side = MAX_SIDE
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 16:
        raise MediaError(f"max_side={max_side!r} is not allowed: expected an integer of at least 16 pixels.",
                         field="max_side")
    return max_side


def _wire_part(part: Mapping) -> dict:
    kind = part.get("type")
    if kind not in PART_TYPES:
        raise MediaError(f"part type {kind!r} is not allowed: expected one of {', '.join(PART_TYPES)}.")
    if kind != "text" and not (isinstance(part.get(kind), str) and part.get(kind)):
        raise MediaError(f"a {kind} part needs a non-empty string under {kind!r}.")
    return part if isinstance(part, dict) else dict(part)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _image_part(value: Any, max_side: int, *, marked: bool) -> dict:
    if isinstance(value, FileId):
        return {"type": "image_file_id", "image_file_id": value.id}
    if isinstance(value, str) and _is_url(value.strip()):
        return {"type": "image_url", "image_url": value.strip()}
    if _is_ipython_image(value) and not value.data and getattr(value, "url", None):
        return {"type": "image_url", "image_url": value.url}
    source = _image_source(value, marked=marked)
    if source is None:
        raise MediaError(f"{_type_path(value)} cannot be sent as an image: expected {ACCEPTED}.")
    key = source.key + ("part", max_side)
    return {"type": "image_base64", "image_base64": _CACHE.get_or_make(key, lambda: _b64(_encode_source(source, max_side)))}


def _image_source(value: Any, *, marked: bool) -> _Source | None:
    """A _Source for any value held in the kernel, or None when the type is not an image."""
    if isinstance(value, _Source):  # already read and hashed (see `keyed`)
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_source(bytes(value), f"{type(value).__name__} of {len(value):,} bytes")
    if isinstance(value, os.PathLike):
        return _path_source(os.fspath(value))
    if isinstance(value, str):
        return _str_source(value, marked)
    if _is_pil(value):
        return _pil_source(value)
    if _is_figure(value):
        return _figure_source(value)
    if _is_ipython_image(value):
        data = value.data if isinstance(value.data, bytes) else None
        if not data:
            return None
        return _bytes_source(data, "IPython.display.Image")
    if _is_array_like(value):
        return _array_source(value)
    return None


def _str_source(text: str, marked: bool) -> _Source:
    stripped = text.strip()
    if stripped.startswith("data:"):
        head, sep, payload = stripped.partition(",")
        if not sep or ";base64" not in head:
            raise MediaError(f"data URL {_short(stripped, 40)} is not allowed: expected data:image/...;base64,<data>.")
        return _bytes_source(_decode_base64(payload, "the data URL"), "the data URL")
    if marked and (os.path.exists(stripped) or not _looks_base64(stripped)):
        return _path_source(os.path.expanduser(stripped))
    if _looks_base64(stripped):
        return _bytes_source(_decode_base64(stripped, "the base64 string"), "the base64 string")
    raise MediaError(
        f"the string {_short(text, 50)} cannot be sent as an image: a str is read as an http(s) URL, "
        f"a data: URL or base64. To send a file, mark its path: snw.image({_short(text, 40)})."
    )


def _looks_base64(text: str) -> bool:
    return len(text) >= 16 and bool(_BASE64_RE.match(text[:4096])) and bool(_BASE64_RE.match(text[-4096:]))


def _decode_base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"{what} is not valid base64: {exc}.") from None


def _path_source(path: str) -> _Source:
    if not os.path.exists(path):
        raise MediaError(f"no such file: {path!r}.")
    if os.path.isdir(path):
        raise MediaError(f"{path!r} is a directory, not an image file.")
    with open(path, "rb") as f:
        data = f.read()
    return _bytes_source(data, f"file {path!r}")


def _bytes_source(data: bytes, what: str) -> _Source:
    if not data:
        raise MediaError(f"{what} is empty: expected the bytes of an image file.")

    def open_(max_side: int) -> PILImage:
        return _open_bytes(data, what, max_side)

    return _Source(("bytes", _digest(data)), open_, data)


def _open_bytes(data: bytes, what: str, max_side: int | None = None) -> PILImage:
    """Decode `data` (first frame of an animation), EXIF orientation applied; errors name `what`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
        if im.format == "JPEG" and max_side is not None and max(im.size) > 2 * max_side:
            im.draft(im.mode, (max(1, im.width * max_side // max(im.size)), max(1, im.height * max_side // max(im.size))))
        im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"{what} is not a readable image ({len(data):,} bytes starting {data[:8]!r}): {exc}") from None
    if im.width == 0 or im.height == 0:
        raise MediaError(f"{what} is an empty {im.width}x{im.height} image.")
    return ImageOps.exif_transpose(im)


def _pil_source(im: PILImage) -> _Source:
    if im.width == 0 or im.height == 0:
        raise MediaError(f"PIL image of size {im.width}x{im.height} is empty: expected at least 1x1 pixels.")
    try:
        pixels = im.tobytes()
    except (OSError, ValueError) as exc:
        raise MediaError(f"PIL {im.mode} image could not be read: {exc}") from None
    palette = im.palette.tobytes() if im.mode in ("P", "PA") and im.palette is not None else b""
    orientation = im.getexif().get(_ORIENTATION, 1) if hasattr(im, "getexif") else 1
    key = ("pil", _digest(pixels), _digest(palette), im.mode, im.size, orientation, repr(im.info.get("transparency")))

    def open_(max_side: int) -> PILImage:
        from PIL import ImageOps

        return ImageOps.exif_transpose(im) if orientation != 1 else im

    return _Source(key, open_)


def _figure_source(fig: Any) -> _Source:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # as the inline backend shows it
    return _bytes_source(buf.getvalue(), "matplotlib figure")


def _as_array(value: Any, what: str) -> tuple[Any, tuple]:
    """(contiguous numpy array, its content identity) for arrays, tensors, anything `__array__`."""
    import numpy as np

    try:
        a = np.asarray(value)
    except Exception as exc:  # torch raises TypeError/RuntimeError for GPU or grad tensors
        raise MediaError(f"{what} could not be read as an array ({exc}); a torch tensor must be "
                         f"detached and on the CPU: tensor.detach().cpu().") from None
    if a.dtype.kind not in "biuf":
        raise MediaError(f"{what}: dtype {a.dtype} cannot be an image: expected uint8, uint16, bool or float.")
    a = np.ascontiguousarray(a)
    return a, ("array", _digest(a.data), a.dtype.str, a.shape)


def _array_source(value: Any) -> _Source:
    what = describe(value)
    a, key = _as_array(value, what)
    shaped = _image_array_shape(a, what)  # fail early, before anything is cached

    def open_(max_side: int) -> PILImage:
        from PIL import Image

        return Image.fromarray(_to_uint8(shaped, what))

    return _Source(key, open_)


def _image_array_shape(a: Any, what: str) -> Any:
    """The array as HxW or HxWxC (C 3 or 4); errors name the shape and what is allowed."""
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):  # CxHxW
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise MediaError(f"{what}: shape {tuple(a.shape)} is not an image: expected HxW, HxWx1, HxWx3, "
                         "HxWx4 or CxHxW with C in (1, 3, 4) (a TxHxWxC stack is a video: snw.video(...)).")
    if a.size == 0:
        raise MediaError(f"{what}: shape {tuple(a.shape)} is an empty image: expected at least 1x1 pixels.")
    return a


@functools.lru_cache(maxsize=1)
def _uint16_to_uint8() -> Any:
    """round(v / 257) for every 16-bit value: one table lookup per pixel beats integer division."""
    import numpy as np

    return ((np.arange(65536, dtype=np.uint32) + 128) // 257).astype(np.uint8)


def _to_uint8(a: Any, what: str) -> Any:
    import numpy as np

    kind = a.dtype.kind
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if kind == "b":
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype == np.uint16:
        return np.take(_uint16_to_uint8(), a)
    if kind == "f":
        lo, hi = float(a.min()), float(a.max())  # NaN and infinities show up here too
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise MediaError(f"{what}: dtype {a.dtype} with NaN or infinite values cannot be an image.")
        if lo >= 0 and hi <= 255:
            scaled = np.multiply(a, 255.0 if hi <= 1 else 1.0, dtype=np.float32, casting="same_kind")
            scaled += 0.5
            return scaled.astype(np.uint8)
        raise MediaError(f"{what}: dtype {a.dtype} values span [{lo:g}, {hi:g}]: float images must lie in "
                         "[0, 1] (scaled by 255) or in [0, 255] (taken as is); rescale the array first.")
    if kind in "iu":
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0 and hi <= 255:
            return a.astype(np.uint8)
        raise MediaError(f"{what}: dtype {a.dtype} values span [{lo}, {hi}]: integer images other than "
                         "uint16 must lie in [0, 255]; use uint8, uint16 (divided by 257) or floats in [0, 1].")
    raise MediaError(f"{what}: dtype {a.dtype} cannot be an image: expected uint8, uint16, bool or float.")


# ---------------------------------------------------------------------------------------------
# Encoding


def _encode_source(source: _Source, max_side: int) -> bytes:
    """The bytes to send: the file itself when it already suits, else a fresh JPEG or PNG."""
    if source.data is not None and _passes_through(source.data, max_side):
        return source.data
    return _encode_image(source.open(max_side), max_side)


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
        if im.getexif().get(_ORIENTATION, 1) != 1:
            return False
        im.load()  # a truncated or corrupt file is decoded (and refused) by _open_bytes instead
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
            return Image.fromarray(np.take(_uint16_to_uint8(), np.clip(a, 0, 65535)))
        return Image.fromarray(_to_uint8(a, f"PIL {mode} image"))
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
    sample = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.NEAREST)
    pixels = sample.width * sample.height
    colours = sample.getcolors(pixels)
    distinct = len(colours)
    top = max(count for count, _ in colours) / pixels
    if distinct <= (256 if im.mode == "RGB" else 32) and distinct < pixels // 2:
        return "PNG"
    if top >= 0.3:
        return "both"
    return "JPEG"


def _encode_image(im: PILImage, max_side: int) -> bytes:
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


# ---------------------------------------------------------------------------------------------
# Video


def _first_frame(value: Any) -> Any:
    if isinstance(value, FileId) or (isinstance(value, str) and _is_url(value.strip())):
        raise MediaError(f"{describe(value)} cannot be shown as a thumbnail: it is not held in the kernel.")
    if _is_frame_list(value):
        return value[0]
    if _is_frame_array(value):
        import numpy as np

        return np.asarray(value)[0]
    if isinstance(value, (str, os.PathLike, bytes, bytearray, memoryview)):
        from .mp4 import first_frame

        return first_frame(value)
    raise MediaError(f"{describe(value)} cannot be shown as a thumbnail: it is not held in the kernel.")


def _video_part(value: Any, client: Any, fps: float | None) -> dict:
    """video_url for URLs; otherwise upload (file, mp4 bytes, or frames encoded to H.264)."""
    if isinstance(value, FileId):
        return {"type": "video_file_id", "video_file_id": value.id}
    if isinstance(value, str) and _is_url(value.strip()):
        return {"type": "video_url", "video_url": value.strip()}
    if isinstance(value, (str, os.PathLike)):
        path = os.path.expanduser(os.fspath(value).strip())
        if not os.path.exists(path):
            raise MediaError(f"no such file: {path!r}.")
        if os.path.isdir(path):
            raise MediaError(f"{path!r} is a directory, not a video file.")
        stat = os.stat(path)
        key = ("path", os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
        return _uploaded(client, key, lambda: path, os.path.basename(path), describe(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if not data:
            raise MediaError("the video bytes are empty: expected an mp4 file's bytes.")
        return _uploaded(client, ("bytes", _digest(data)), lambda: data, "video.mp4", describe(value))
    if _is_frame_list(value) or _is_frame_array(value):
        from .mp4 import DEFAULT_FPS, encode_frames, frames_key

        fps = DEFAULT_FPS if fps is None else fps
        key = ("frames", frames_key(value), fps)
        return _uploaded(client, key, lambda: encode_frames(value, fps=fps), "frames.mp4", describe(value))
    raise MediaError(f"{_type_path(value)} cannot be sent as a video: expected an http(s) URL, a file path, "
                     "mp4 bytes, a list of images or a TxHxWxC array of frames, or file_id('...', kind='video').")


def _uploaded(client: Any, key: tuple, make: Callable[[], Any], filename: str, what: str) -> dict:
    if client is None:
        raise MediaError(f"{what} must be uploaded to the file service before it can be sent: pass client=... "
                         "to to_part (Client.chat and Conversation do this for you), or send an http(s) URL.")
    with _UPLOADS_LOCK:
        try:
            uploads = _UPLOADS.setdefault(client, {})
        except TypeError:  # a client that cannot be weakly referenced: no upload cache
            uploads = {}
        found = uploads.get(key)
    if found is None:
        content = make()
        found = client.upload(content, scheme="MULTIMODAL_2", filename=filename)
        client.wait_for_file(found)
        with _UPLOADS_LOCK:
            uploads[key] = found
    return {"type": "video_file_id", "video_file_id": found}
