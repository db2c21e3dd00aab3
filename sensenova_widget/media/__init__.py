"""Notebook values become request parts: any image-like value, encoded well, within the limits.

What people hold in a notebook is not base64: PIL images, numpy arrays, tensors, matplotlib
figures, bytes, paths, URLs and stacks of video frames. `to_part` turns each into the wire dict
the service reads, small and fast. One concern per module, each importing only those before it:

- `values`: what a value is (marking with `image`/`video`/`file_id`, recognising, `describe`,
  `in_words` for error messages);
- `strings`: strings as URLs (checked before sending), paths (`~` expanded) or base64;
- `caches`: the content hash, the encode LRU and the per-client upload dedupe;
- `pixels`: arrays and tensors read as uint8 images, by one value and shape rule;
- `sources`: reading an image value held in the kernel (content key, how to open it);
- `encode`: upright, downscaled to `MAX_SIDE`, JPEG (`JPEG_QUALITY`) or PNG, within budget;
- `mp4`: frames to H.264 MP4 with PyAV;
- `parts`: the entry points `to_part`, `thumbnail`, `content_key`, `keyed`.

The media layer knows nothing of the client: a video to upload needs only an object with
`upload` and `wait_for_file` (`caches.Uploader`). Importing it stays cheap: numpy, PIL,
matplotlib and PyAV are imported inside the functions that need them.

The settings `MAX_SIDE`, `JPEG_QUALITY`, `MAX_PART_BYTES`, ... are read and set here as before
(`snw.media.MAX_SIDE = 1024`); each has one home, the module that reads it (`encode`, `mp4`),
and this package reads and writes it there, so the two can never disagree.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from . import encode, mp4
from .caches import CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, ENCODE_CACHE, Uploader, cache_info, clear_cache
from .parts import content_key, keyed, thumbnail, to_part
from .values import (
    ACCEPTED,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    FileId,
    Media,
    describe,
    file_id,
    image,
    in_words,
    is_image_like,
    is_video_like,
    video,
)

__all__ = [  # the settings among them are read and set through `__getattr__` / `_Package` below
    "ACCEPTED",
    "CACHE_MAX_BYTES",
    "CACHE_MAX_ENTRIES",
    "CRF",
    "DEFAULT_FPS",
    "ENCODE_CACHE",
    "IMAGE_SUFFIXES",
    "JPEG_QUALITY",
    "MAX_PART_BYTES",
    "MAX_SIDE",
    "MAX_VIDEO_SIDE",
    "PNG_PASS_BYTES",
    "PNG_WORTH",
    "REDUCE_FLOOR",
    "SAMPLE_SIDE",
    "VIDEO_SUFFIXES",
    "FileId",
    "Media",
    "Uploader",
    "cache_info",
    "clear_cache",
    "content_key",
    "describe",
    "file_id",
    "image",
    "in_words",
    "is_image_like",
    "is_video_like",
    "keyed",
    "thumbnail",
    "to_part",
    "video",
]

# setting name -> the module whose functions read it at call time
_SETTINGS: dict[str, types.ModuleType] = {
    **{
        name: encode
        for name in (
            "MAX_SIDE",
            "JPEG_QUALITY",
            "MAX_PART_BYTES",
            "SAMPLE_SIDE",
            "PNG_PASS_BYTES",
            "PNG_WORTH",
            "REDUCE_FLOOR",
        )
    },
    **{name: mp4 for name in ("DEFAULT_FPS", "MAX_VIDEO_SIDE", "CRF")},
}


def __getattr__(name: str) -> Any:
    """A setting is read from its one home, the module that uses it."""
    owner = _SETTINGS.get(name)
    if owner is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(owner, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SETTINGS))


class _Package(types.ModuleType):
    """This package's module type: a setting assigned here is assigned in its one home."""

    def __setattr__(self, name: str, value: Any) -> None:
        owner = _SETTINGS.get(name)
        if owner is None:
            super().__setattr__(name, value)
        else:
            setattr(owner, name, value)


sys.modules[__name__].__class__ = _Package

if TYPE_CHECKING:  # pragma: no cover - the settings as type checkers and IDEs should see them
    from .encode import (
        JPEG_QUALITY,
        MAX_PART_BYTES,
        MAX_SIDE,
        PNG_PASS_BYTES,
        PNG_WORTH,
        REDUCE_FLOOR,
        SAMPLE_SIDE,
    )
    from .mp4 import CRF, DEFAULT_FPS, MAX_VIDEO_SIDE
