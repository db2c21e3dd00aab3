"""From a notebook value to what leaves the kernel: the wire part, a thumbnail, a content key.

The entry points of the media layer. Each value is recognised (`values`), read as a `Source`
(`sources`), encoded (`encode`) or, for a video, made into an MP4 (`mp4`) and uploaded once
through the uploader it was given (`caches.UPLOADS`). Wire dicts pass through, checked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from ..errors import MediaError
from ..protocol import PART_TYPES
from .caches import UPLOADS, Uploader, digest
from .encode import part_base64, thumbnail_bytes
from .mp4 import encode_frames, first_frame, frames_key
from .options import MediaOptions, options_for
from .sources import decode_base64, image_source, read_file_like
from .strings import check_url, expand, has_scheme, not_media_text, path_of
from .values import (
    ACCEPTED,
    FileId,
    Media,
    describe,
    image,
    in_words,
    is_file_like,
    is_frame_array,
    is_frame_list,
    is_frame_stack,
    is_held_elsewhere,
    is_ipython_image,
    is_url,
    is_video_like,
)


def to_part(
    value: Any,
    *,
    client: Uploader | None = None,
    options: MediaOptions | None = None,
    max_side: int | None = None,
) -> dict:
    """The wire part for a notebook value; raises MediaError saying what was wrong.

    Encoded by `options` (the defaults, `MediaOptions()`, when None; a `Client` passes its own),
    with this call's `max_side=` over them.

    Accepted: see `ACCEPTED`. Wire dicts pass through. A bare str is read as an http(s) URL,
    a data: URL or base64; a path must be marked, `image("photo.jpg")`. A 4-D array with more
    than one frame, a Path with a video suffix, and anything marked `video(...)` become a video
    part; a video that must be uploaded (a path, bytes, frames) needs `client`, anything with
    `upload` and `wait_for_file` (the `Client` does this for you).

    Array values and shapes: see `pixels` (uint8 as is; bool as 0/255; uint16 divided by 257;
    floats in [0, 1] scaled by 255 or within [0, 255] as is; HxW, HxWx1/3/4 or CxHxW).
    """
    options = options_for(options, max_side)
    if isinstance(value, Mapping):
        return wire_part(value)
    if isinstance(value, FileId):
        return value.part()
    if isinstance(value, Media):
        if isinstance(value.value, Mapping):  # image(part) / video(part): the part as it is
            return wire_part(value.value)
        if value.kind == "video":
            return video_part(value.value, client, value.fps, options)
        return image_part(value.value, options, marked=True)
    if is_video_like(value):  # a 4-D frame stack, or a Path ending in .mp4, .mov, ...
        return video_part(value, client, None, options)
    return image_part(value, options, marked=False)


def wire_part(part: Mapping) -> dict:
    """A part dict as it is (a dict copy of another Mapping), once its type and value are checked."""
    kind = part.get("type")
    if kind not in PART_TYPES:
        named = repr(kind) if isinstance(kind, str) and len(kind) <= 30 else in_words(kind)
        raise MediaError(f"part type {named} is not allowed: expected one of {', '.join(PART_TYPES)}.")
    if kind != "text" and not (isinstance(part.get(kind), str) and part.get(kind)):
        raise MediaError(f"a {kind} part needs a non-empty string under {kind!r}.")
    if kind in ("image_url", "video_url"):
        check_url(part[kind], kind.split("_")[0])
    return part if isinstance(part, dict) else dict(part)


def image_part(value: Any, options: MediaOptions, *, marked: bool) -> dict:
    """The image part of an unmarked value, or of a marked one's inner value (`marked=True`,
    where a str may be a path)."""
    if isinstance(value, FileId):
        return {"type": "image_file_id", "image_file_id": value.id}
    if isinstance(value, str) and is_url(value.strip()):
        return {"type": "image_url", "image_url": check_url(value)}
    if is_ipython_image(value) and not value.data and getattr(value, "url", None):
        return {"type": "image_url", "image_url": check_url(value.url)}
    source = image_source(value, marked=marked)
    if source is None:
        raise MediaError(f"{in_words(value)} cannot be sent as an image: expected {ACCEPTED}.")
    return {"type": "image_base64", "image_base64": part_base64(source, options)}


def video_part(value: Any, client: Uploader | None, fps: float | None, options: MediaOptions) -> dict:
    """video_url for URLs; otherwise upload (file, mp4 bytes, or frames encoded to H.264)."""
    if isinstance(value, FileId):
        return {"type": "video_file_id", "video_file_id": value.id}
    if isinstance(value, str) and is_url(value.strip()):
        return {"type": "video_url", "video_url": check_url(value, "video")}
    if isinstance(value, str) and has_scheme(value.strip()):
        check_url(value, "video")  # raises: only http(s) URLs are sent
    what = describe(value)
    if is_file_like(value):
        what = in_words(value)
        value = read_file_like(value, what)
    if isinstance(value, (str, os.PathLike)):
        given = os.fspath(value).strip()
        path = expand(given) if isinstance(value, os.PathLike) else path_of(given)
        if path is None:
            raise not_media_text(given, marked=True, kind="video")
        shown = repr(given) + (f" (~ expanded to {path!r})" if path != given else "")
        if not os.path.exists(path):
            raise MediaError(f"no such file: {shown}.")
        if os.path.isdir(path):
            raise MediaError(f"{shown} is a directory, not a video file.")
        stat = os.stat(path)
        key = ("path", os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
        found = UPLOADS.file_id(client, key, lambda: path, os.path.basename(path), what)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if not data:
            raise MediaError("the video bytes are empty: expected an mp4 file's bytes.")
        found = UPLOADS.file_id(client, ("bytes", digest(data)), lambda: data, "video.mp4", what)
    elif is_frame_list(value) or is_frame_array(value):
        fps = options.fps if fps is None else fps
        key = ("frames", frames_key(value), fps, options.video_side, options.crf)
        found = UPLOADS.file_id(client, key, lambda: encode_frames(value, fps, options), "frames.mp4", what)
    else:
        raise MediaError(
            f"{in_words(value)} cannot be sent as a video: expected an http(s) URL, a file path, mp4 "
            "bytes (or a binary file holding them), a list of images or a TxHxWxC array of frames, or "
            "file_id('...', kind='video')."
        )
    return {"type": "video_file_id", "video_file_id": found}


def thumbnail(value: Any, max_side: int = 256) -> bytes:
    """PNG or JPEG bytes at most `max_side` on a side, for showing `value` in the browser.

    Videos given as frames show their first frame. URLs and file ids cannot be shown without
    downloading them: MediaError.
    """
    options = options_for(None, max_side)
    if isinstance(value, Media):
        if value.kind == "video":
            return thumbnail(_first_frame(value.value), max_side)
        value = value.value
    elif is_frame_stack(value):
        return thumbnail(_first_frame(value), max_side)
    if isinstance(value, Mapping) and value.get("type") == "image_base64":
        value = decode_base64(value.get("image_base64") or "", "the image_base64 part")
    if isinstance(value, Mapping) or is_held_elsewhere(value):
        raise MediaError(f"{describe(value)} cannot be shown as a thumbnail: it is not held in the kernel.")
    source = image_source(value, marked=True)
    if source is None:
        raise MediaError(f"{in_words(value)} cannot be shown as an image: expected {ACCEPTED}.")
    return thumbnail_bytes(source, options)


def _first_frame(value: Any) -> Any:
    if is_frame_list(value):
        return value[0]
    if is_frame_array(value):
        import numpy as np

        return np.asarray(value)[0]
    if is_file_like(value):
        return first_frame(read_file_like(value, in_words(value)))
    if not is_held_elsewhere(value) and isinstance(value, (str, os.PathLike, bytes, bytearray, memoryview)):
        return first_frame(value)
    raise MediaError(f"{describe(value)} cannot be shown as a thumbnail: it is not held in the kernel.")


def content_key(value: Any) -> str:
    """A stable identity of an image value's content, for caches beyond this process.

    It is the content hash the encode cache keys on (of the file bytes or the pixels), so equal
    content gives an equal key whatever the value's type; URLs and file ids are their own
    identity, since their content is not held here. Raises MediaError when `value` is no image.
    The key is of the content only: a cache of encoded results should add the
    `MediaOptions.image_encoding()` they were made with.
    """
    if isinstance(value, Media):
        value = value.value
    if isinstance(value, FileId):
        return f"file_id:{value.kind}:{value.id}"
    if isinstance(value, str) and is_url(value.strip()):
        return "url:" + check_url(value)
    source = None if isinstance(value, Mapping) else image_source(value, marked=True)
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
    if isinstance(inner, (Media, FileId, Mapping)) or is_held_elsewhere(inner):
        return content_key(value), value
    source = image_source(inner, marked=True)
    if source is None:
        return content_key(value), value
    held = Media("image", source)
    return content_key(held), held
