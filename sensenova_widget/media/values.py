"""What a notebook value is: marked media, file ids, and recognising images and videos.

Everything here is cheap: values are recognised by their class and shape, never decoded, and
numpy, PIL and matplotlib are not imported (a PIL image is known only once PIL is loaded).
Pickers (the panel, the magic) call `is_image_like`, `is_video_like` and `describe` on every
value of a namespace, so this module must stay fast on anything.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import MediaError
from ..protocol import media_kind, plural
from .formats import sniff_format

ACCEPTED = (
    "a PIL image; a numpy array HxW, HxWx1, HxWx3, HxWx4 or CxHxW (uint8, uint16, bool, float); "
    "an object with __array__ such as a CPU torch tensor; bytes of a JPEG/PNG/GIF/WebP/BMP/TIFF "
    "file, or an open binary file or BytesIO holding them; a pathlib.Path or image('path') (~ is "
    "expanded); an http(s) URL; a data:image/...;base64 URL or base64 string; a matplotlib Figure; "
    "IPython.display.Image; file_id('...'); video(...); or a wire part dict"
)
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")
_OBJECT_REPR = re.compile(r"<[^<>\n]{1,200}? at 0x[0-9a-fA-F]+>")  # `<_io.BytesIO object at 0x7f...>`


# ---------------------------------------------------------------------------------------------
# Marking a value's kind


class Media:
    """A value marked as an image or a video by `image(...)` / `video(...)`."""

    __slots__ = ("fps", "kind", "value")

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

    def part(self) -> dict:
        """The wire part naming this file: `image_file_id` or `video_file_id`."""
        return {"type": f"{self.kind}_file_id", f"{self.kind}_file_id": self.id}


def image(value: Any) -> Media:
    """Mark `value` as an image: needed for path strings (`image("photo.jpg")`)."""
    if isinstance(value, Media):
        if value.kind == "image":
            return value
        raise MediaError(
            "this value is already marked as a video; pass the frames or path to image() instead."
        )
    if isinstance(value, FileId):
        return Media("image", FileId(value.id, "image"))
    return Media("image", value)


def check_fps(fps: Any) -> float:
    """`fps`, once it is a number of frames per second in (0, 240]; else MediaError."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 240:
        raise MediaError(f"fps={named(fps)} is not allowed: expected a number in (0, 240].", field="fps")
    return fps


def video(value: Any, *, fps: float | None = None) -> Media:
    """Mark `value` as a video: an http(s) URL, a file path, mp4 bytes, or frames.

    Frames are a list of images or a TxHxWxC / TxCxHxW array; they are encoded to H.264 at
    `fps` frames per second (default: the client's `MediaOptions.fps`, 8) and uploaded through
    the file service.
    """
    if fps is not None:
        check_fps(fps)
    if isinstance(value, Media):
        return Media("video", value.value, fps if fps is not None else value.fps)
    if isinstance(value, FileId):
        return Media("video", FileId(value.id, "video"), fps)
    return Media("video", value, fps)


def file_id(id: str, kind: str = "image") -> FileId:
    """An uploaded file's id: `file_id("abc")` for an image, `file_id("abc", kind="video")`."""
    if kind not in ("image", "video"):
        raise MediaError(f"kind={named(kind)} is not allowed: expected 'image' or 'video'.", field="kind")
    if not isinstance(id, str) or not id.strip():
        raise MediaError(
            f"file_id({in_words(id)}) is not allowed: expected a non-empty id string from the file service."
        )
    return FileId(id.strip(), kind)


# ---------------------------------------------------------------------------------------------
# Recognising values without importing heavy libraries


def type_path(value: Any) -> str:
    """`module.QualifiedName` of the value's class, for errors that say what was given."""
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_pil(value: Any) -> bool:
    """A PIL image; PIL is not imported to find out (no PIL loaded means no PIL image)."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


def is_figure(value: Any) -> bool:
    """A matplotlib Figure (or SubFigure's parent), known by its class, matplotlib untouched."""
    return any(c.__module__.startswith("matplotlib.") and c.__name__ == "Figure" for c in type(value).__mro__)


def is_ipython_image(value: Any) -> bool:
    """An `IPython.display.Image`, known by its class."""
    return any(c.__module__.startswith("IPython.") and c.__name__ == "Image" for c in type(value).__mro__)


def is_array_like(value: Any) -> bool:
    """numpy arrays, tensors and anything else numpy can read through `__array__`."""
    return not isinstance(value, (str, bytes, bytearray, memoryview)) and (
        hasattr(value, "__array__") or hasattr(value, "__array_interface__")
    )


def shape_of(value: Any) -> tuple[int, ...] | None:
    """The value's `.shape` as ints, or None when it has none that reads as one."""
    shape = getattr(value, "shape", None)
    try:
        return tuple(int(n) for n in shape) if shape is not None else None
    except (TypeError, ValueError):
        return None


def is_url(value: str) -> bool:
    """An http(s) URL: sent as it is, never downloaded (`strings.check_url` checks it first)."""
    return value[:8].lower().startswith(("http://", "https://"))


def is_frame_array(value: Any) -> bool:
    """A 4-D array: frames, once the value is known to be a video."""
    return is_array_like(value) and len(shape_of(value) or ()) == 4


def is_frame_stack(value: Any) -> bool:
    """4-D arrays with more than one frame are video; a list of images stays ambiguous."""
    return is_frame_array(value) and shape_of(value)[0] > 1


def is_frame_list(value: Any) -> bool:
    """A non-empty list or tuple: frames, once the value is marked `video(...)`."""
    return isinstance(value, (list, tuple)) and len(value) > 0


def is_held_elsewhere(value: Any) -> bool:
    """A file id or an http(s) URL: content the kernel does not hold, so cannot read or show."""
    return isinstance(value, FileId) or (isinstance(value, str) and is_url(value.strip()))


def in_words(value: Any) -> str:
    """A value named for an error message by its type and size, never by an object repr
    (`<_io.BytesIO object at 0x...>`) nor by its content: "a BytesIO object", "a list of 3
    items", "a string of 12 characters", "the float 2.5", "None"."""
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float)):
        text = repr(value)
        return f"the {type(value).__name__} {text}" if len(text) <= 24 else "a very long number"
    if isinstance(value, str):
        return "an empty string" if not value else f"a string of {plural(len(value), 'character')}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{type(value).__name__} of {len(value):,} bytes"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return article(f"{type(value).__name__} of {plural(len(value), 'item')}")
    cls = type(value)
    if cls is object:
        return "a bare object()"
    where = "" if cls.__module__ in ("builtins", "_io", "io") else f" ({cls.__module__}.{cls.__qualname__})"
    return article(f"{cls.__name__} object{where}")


def named(value: Any) -> str:
    """An argument's value for an error message: a short string (a keyword like 'audio') quoted,
    anything else `in_words`."""
    if isinstance(value, str) and len(value) <= 20 and value.isprintable():
        return repr(value)
    if isinstance(value, (bool, int, float)) and len(repr(value)) <= 24:
        return repr(value)
    return in_words(value)


def article(phrase: str) -> str:
    """`phrase` after "a" or "an", by its first letter."""
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def is_file_like(value: Any) -> bool:
    """An open file or a BytesIO: anything with a `read` method (a buffer the kernel holds)."""
    return callable(getattr(value, "read", None)) and not isinstance(value, (str, bytes, bytearray))


def scrub(text: str) -> str:
    """Another library's error text without object reprs (`<_io.BytesIO object at 0x7f...>`)."""
    return _OBJECT_REPR.sub("the value", text)


def short(value: Any, limit: int = 60) -> str:
    """The value's repr, cut to `limit` characters for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def declared_kind(value: Media | FileId | Mapping) -> str | None:
    """The kind a value states itself: a marked value's or file id's, or a wire part's type
    (read by `protocol.media_kind`, the one reading of a part's kind)."""
    if isinstance(value, Mapping):
        return media_kind(value)
    return value.kind


def is_image_like(value: Any) -> bool:
    """Whether `value` is a picture to offer in a picker (cheap: decodes and imports nothing).

    Conservative where `to_part` is generous: plain strings are not image-like (a URL or base64
    text is more often just text), nor is a list of images (several images, or frames when marked
    with `video(...)`), nor an array that looks like data (see `array_is_image_like`).
    """
    if isinstance(value, (Media, FileId, Mapping)):
        return declared_kind(value) == "image"
    if is_pil(value) or is_figure(value) or is_ipython_image(value):
        return True
    if isinstance(value, (bytes, bytearray, memoryview)):
        return sniff_format(value) is not None
    if isinstance(value, os.PathLike):
        return os.fspath(value).lower().endswith(IMAGE_SUFFIXES)
    if isinstance(value, str):
        return value.startswith("data:image/")
    if is_array_like(value):
        return array_is_image_like(value)
    return False


def array_is_image_like(value: Any) -> bool:
    """Pickers look at every value in the namespace: a data matrix (int64 columns, a 1000x3
    table, a DataFrame) is not offered as a picture, though `to_part` would encode it."""
    dtype = str(getattr(value, "dtype", ""))
    if not dtype.endswith(("uint8", "uint16", "bool", "float16", "float32", "float64")):
        return False
    shape = shape_of(value)
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
        return declared_kind(value) == "video"
    if isinstance(value, os.PathLike):
        return os.fspath(value).lower().endswith(VIDEO_SUFFIXES)
    return is_frame_stack(value)


def describe(value: Any) -> str:
    """A short human label: "PIL RGB 640x480", "ndarray uint8 480x640x3", "figure 640x480"."""
    if isinstance(value, Media):
        path = (
            isinstance(value.value, str) and not is_url(value.value) and not value.value.startswith("data:")
        )
        inner = f"file {value.value}" if path else describe(value.value)
        return f"video {inner}" if value.kind == "video" and not inner.startswith("frames") else inner
    if isinstance(value, FileId):
        return f"{value.kind} file id {value.id}"
    if isinstance(value, Mapping):
        kind = value.get("type", "?")
        return f"{kind} part"
    if is_pil(value):
        return f"PIL {value.mode} {value.width}x{value.height}"
    if is_figure(value):
        w, h = (value.get_size_inches() * value.dpi).round().astype(int)
        return f"figure {w}x{h}"
    if is_ipython_image(value):
        return f"IPython Image {value.format or ''}".rstrip()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{type(value).__name__} of {len(value):,} bytes"
    if isinstance(value, os.PathLike):
        return f"file {os.fspath(value)}"
    if isinstance(value, str):
        return _describe_str(value)
    if is_array_like(value):
        shape = shape_of(value) or ()
        dtype = str(getattr(value, "dtype", "")).replace("torch.", "")
        dims = "x".join(str(n) for n in shape)
        if len(shape) == 4 and shape[0] > 1:
            return f"frames {dims}"
        return f"{type(value).__name__} {dtype} {dims}".replace("  ", " ")
    if is_frame_list(value):
        return f"list of {len(value)} {describe(value[0]).split(' ')[0]} values"
    return type(value).__name__


def _describe_str(value: str) -> str:
    if is_url(value):
        return f"URL {value if len(value) <= 60 else value[:57] + '...'}"
    if value.startswith("data:"):
        return f"data URL {value[5 : value.find(';')] if ';' in value[:40] else ''} ({len(value):,} chars)"
    if value.lower().endswith(IMAGE_SUFFIXES + VIDEO_SUFFIXES):  # a path: shown, as paths are
        return f"str {short(value, 40)}"
    return in_words(value)  # other text may be anything: its size, not its words
