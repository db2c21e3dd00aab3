"""Notebook values become request parts: any image-like value, encoded well, within the limits.

What people hold in a notebook is not base64: PIL images, numpy arrays, tensors, matplotlib
figures, bytes, paths, URLs and stacks of video frames. `to_part` turns each into the wire dict
the service reads, small and fast. One concern per module, each importing only those before it:

- `formats`: image files by their first bytes, and the base64 and `data:` URLs made of them;
- `values`: what a value is (marking with `image`/`video`/`file_id`, recognising, `describe`,
  `in_words` for error messages);
- `strings`: strings as URLs (checked before sending), paths (`~` expanded) or base64;
- `caches`: the content hash, the encode LRU and the per-client upload dedupe;
- `options`: `MediaOptions`, how values are encoded (longest side, JPEG quality, ...);
- `pixels`: arrays and tensors read as uint8 images, by one value and shape rule;
- `sources`: reading an image value held in the kernel (content key, how to open it);
- `encode`: upright, downscaled to `max_side`, JPEG or PNG, within budget;
- `mp4`: frames to H.264 MP4 with PyAV;
- `parts`: the entry points `to_part`, `thumbnail`, `content_key`, `keyed`.

The media layer knows nothing of the client: a video to upload needs only an object with
`upload` and `wait_for_file` (`caches.Uploader`), and the settings come in as a `MediaOptions`
value (a `Client` holds one and passes it). Nothing here is a process-wide setting. Importing
it stays cheap: numpy, PIL, matplotlib and PyAV are imported inside the functions that need them.
"""

from __future__ import annotations

from .caches import CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, ENCODE_CACHE, Uploader, cache_info, clear_cache
from .formats import data_url, image_mime, sniff_format
from .options import MediaOptions
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

__all__ = [
    "ACCEPTED",
    "CACHE_MAX_BYTES",
    "CACHE_MAX_ENTRIES",
    "ENCODE_CACHE",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "FileId",
    "Media",
    "MediaOptions",
    "Uploader",
    "cache_info",
    "clear_cache",
    "content_key",
    "data_url",
    "describe",
    "file_id",
    "image",
    "image_mime",
    "in_words",
    "is_image_like",
    "is_video_like",
    "keyed",
    "sniff_format",
    "thumbnail",
    "to_part",
    "video",
]
