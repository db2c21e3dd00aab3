"""Kept so that `sensenova_widget.mp4` imports keep working: frames to MP4 now live in
`sensenova_widget.media.mp4`, with the rest of the media layer."""

from .media.mp4 import CRF, DEFAULT_FPS, MAX_VIDEO_SIDE, encode_frames, first_frame, frames_key, to_rgb_frames

__all__ = ["CRF", "DEFAULT_FPS", "MAX_VIDEO_SIDE", "encode_frames", "first_frame", "frames_key", "to_rgb_frames"]
