"""`MediaOptions`: how notebook values are encoded, one frozen value a client carries.

The settings belong to whoever sends (a `Client`, and through it a `Conversation`, a
`ChatPanel`, the magic and `caption()`), never to the process: two clients in one kernel may
encode differently, and nothing is written into a module. A call that takes `max_side=`
(`to_part`, `thumbnail`) overrides that one field for that call. The defaults are the field
defaults below, their one home.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

from ..errors import MediaError
from ..protocol import MAX_BODY_BYTES, MAX_IMAGES
from .values import check_fps, named

# Six images of this size, base64-inflated by 4/3, stay under the 45 MB request limit.
PART_BYTES = MAX_BODY_BYTES * 3 // 4 // (MAX_IMAGES + 1)


@dataclass(frozen=True)
class MediaOptions:
    """How images and videos become request parts: `Client(media=MediaOptions(max_side=1024))`.

    - `max_side`: longest side of an image sent, in pixels (never upscaled);
    - `jpeg_quality`: of every JPEG made here (files that pass through keep their own);
    - `max_part_bytes`: an image part larger than this is sent smaller;
    - `video_side`, `fps`, `crf`: the longest side, frame rate and x264 quality of videos
      made from frames.
    """

    max_side: int = 2048
    jpeg_quality: int = 85
    max_part_bytes: int = PART_BYTES
    video_side: int = 1920
    fps: float = 8
    crf: int = 23

    def __post_init__(self) -> None:
        _check_int("max_side", self.max_side, 16, None, "pixels")
        _check_int("jpeg_quality", self.jpeg_quality, 1, 100, "(as Pillow takes it)")
        _check_int("max_part_bytes", self.max_part_bytes, 1024, PART_BYTES, "bytes")
        _check_int("video_side", self.video_side, 16, None, "pixels")
        _check_int("crf", self.crf, 0, 51, "(x264's range)")
        check_fps(self.fps)

    def replace(self, **changes: Any) -> MediaOptions:
        """A copy with `changes` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    def image_encoding(self) -> dict[str, int]:
        """The fields that decide an image part's bytes: what a cache of encoded results keys on."""
        return {
            "max_side": self.max_side,
            "jpeg_quality": self.jpeg_quality,
            "max_part_bytes": self.max_part_bytes,
        }


def _check_int(field: str, value: Any, low: int, high: int | None, unit: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
        or (high is not None and value > high)
    ):
        allowed = f"of at least {low}" if high is None else f"from {low} to {high}"
        raise MediaError(
            f"{field}={named(value)} is not allowed: expected an integer {allowed} {unit}.", field=field
        )


def options_for(
    options: MediaOptions | None, max_side: int | None = None, *, name: str = "options"
) -> MediaOptions:
    """`options` (the defaults for None) with a call's `max_side=` over it, checked; `name` is
    the argument as the caller spells it, for the error."""
    if options is None:
        options = DEFAULT_OPTIONS
    elif not isinstance(options, MediaOptions):
        raise MediaError(f"{name}={named(options)} is not allowed: expected a MediaOptions(...).", field=name)
    if max_side is None:
        return options
    return options.replace(max_side=max_side)


DEFAULT_OPTIONS = MediaOptions()
