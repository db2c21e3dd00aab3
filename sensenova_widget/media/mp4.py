"""Frames → H.264 MP4 with PyAV: how a video made in the notebook reaches the service.

(Not named `video.py`: a submodule of that name would replace `sensenova_widget.media.video`,
the public marker function, as soon as it was imported.)

The service has no base64 form for video, so frames are encoded here and uploaded through the
file service (see `parts.video_part`). yuv420p needs even sides: an odd last row or column is
cropped. PyAV (the `media` extra) is imported only when a video is made.
"""

from __future__ import annotations

import io
import os
from fractions import Fraction
from typing import Any

from ..errors import MediaError
from .options import MediaOptions, options_for
from .pixels import as_array, image_array_shape, to_uint8
from .sources import image_source
from .values import describe


def frames_key(frames: Any) -> tuple:
    """The frames' content identity, by the media layer's own rule for each image, so the same
    frames are encoded and uploaded once."""
    if not isinstance(frames, (list, tuple)):
        return as_array(frames, describe(frames))[1]  # a TxHxWxC array: hashed whole
    keys = []
    for i, frame in enumerate(frames):
        source = image_source(frame, marked=True)
        if source is None:
            raise MediaError(f"frame {i} ({describe(frame)}): it is a {type(frame).__name__}, not an image.")
        keys.append(source.key)
    return tuple(keys)


def to_rgb_frames(frames: Any, *, max_side: int) -> list[Any]:
    """uint8 HxWx3 arrays of one even size; errors name the frame and what is allowed."""
    import numpy as np
    from PIL import Image

    if isinstance(frames, (list, tuple)):
        if not frames:
            raise MediaError("the list of frames is empty: expected at least one image.")
        images = []
        for i, frame in enumerate(frames):
            try:
                source = image_source(frame, marked=True)
                if source is None:
                    raise MediaError(f"it is a {type(frame).__name__}, not an image.")
                images.append(source.open(max_side).convert("RGB"))
            except MediaError as exc:
                raise MediaError(f"frame {i} ({describe(frame)}): {exc.message}") from None
    else:
        stack = np.asarray(frames)
        if stack.ndim != 4 or stack.shape[0] == 0:
            raise MediaError(
                f"frames of shape {stack.shape} are not a video: expected TxHxWxC or TxCxHxW "
                "with C in (1, 3, 4), or a list of images."
            )
        what = describe(frames)
        stack = to_uint8(stack, what)  # one value rule for the whole stack, not per frame
        images = [
            Image.fromarray(image_array_shape(stack[i], f"frame {i} of {what}")).convert("RGB")
            for i in range(stack.shape[0])
        ]
    size = images[0].size
    for i, im in enumerate(images):
        if im.size != size:
            raise MediaError(
                f"frame {i} is {im.width}x{im.height} but frame 0 is {size[0]}x{size[1]}: "
                "all frames of a video must have the same size."
            )
    scale = min(1.0, max_side / max(size))
    width, height = int(size[0] * scale) // 2 * 2, int(size[1] * scale) // 2 * 2
    if width < 2 or height < 2:
        raise MediaError(f"frames of {size[0]}x{size[1]} are too small for a video: expected at least 2x2.")
    out = []
    for im in images:
        if scale < 1:
            im = im.resize(
                (round(size[0] * scale), round(size[1] * scale)), Image.Resampling.BILINEAR, reducing_gap=1.0
            )
        out.append(np.asarray(im)[:height, :width])
    return out


def encode_frames(frames: Any, fps: float | None = None, options: MediaOptions | None = None) -> bytes:
    """MP4 bytes (H.264, yuv420p) of `frames` played at `fps` frames per second (`options.fps`
    for None), at most `options.video_side` on a side (the service samples frames anyway), x264
    at `options.crf`."""
    options = options_for(options)
    fps = options.fps if fps is None else fps
    try:
        import av
    except ImportError:  # pragma: no cover - the media extra is installed in tests
        raise MediaError(
            "making a video from frames needs PyAV: pip install 'sensenova-widget[media]'."
        ) from None
    arrays = to_rgb_frames(frames, max_side=options.video_side)
    rate = Fraction(fps).limit_denominator(1001)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width = arrays[0].shape[1]
        stream.height = arrays[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(options.crf), "preset": "veryfast"}
        for a in arrays:
            frame = av.VideoFrame.from_ndarray(a, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def first_frame(source: Any) -> Any:
    """The first frame of a video file (path or bytes) as a PIL image, for thumbnails."""
    import av

    target = (
        io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
    )
    try:
        with av.open(target) as container:
            for frame in container.decode(video=0):
                return frame.to_image()
    except (av.FFmpegError, OSError) as exc:  # its str names the file or quotes a repr: words of our own
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise MediaError(f"the video could not be read: {reason}.") from None
    raise MediaError("the video has no frames.")
