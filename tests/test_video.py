"""Video: frames become H.264 MP4 (checked by decoding them back with PyAV), uploaded once."""

from __future__ import annotations

import io
import pathlib

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

import sensenova_widget as snw
from sensenova_widget import media
from sensenova_widget.errors import MediaError
from sensenova_widget.media.mp4 import encode_frames

DATA = pathlib.Path(skimage.data.__file__).parent


class RecordingClient:
    """Keeps to the Client's upload/wait_for_file contract and records what it was given."""

    def __init__(self) -> None:
        self.uploads: list[tuple[object, str, str | None]] = []
        self.waited: list[str] = []

    def upload(self, path_or_bytes, *, scheme="MULTIMODAL_1", filename=None, description=None) -> str:
        content = (
            path_or_bytes if isinstance(path_or_bytes, bytes) else pathlib.Path(path_or_bytes).read_bytes()
        )
        self.uploads.append((content, scheme, filename))
        return f"file-{len(self.uploads)}"

    def wait_for_file(self, file_id, timeout=30.0) -> dict:
        self.waited.append(file_id)
        return {"id": file_id, "status": "VALID"}


def probe(data: bytes) -> tuple[str, int, tuple[int, int], str, float]:
    """(codec, frames decoded, (width, height), pixel format, frames per second)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return (
            stream.codec_context.name,
            len(frames),
            (frames[0].width, frames[0].height),
            stream.codec_context.pix_fmt,
            float(stream.average_rate or 0),
        )


def moving_frames(n: int = 12, size: tuple[int, int] = (160, 120)) -> list[Image.Image]:
    """A window sliding across the astronaut: real picture content that changes per frame."""
    base = Image.fromarray(skimage.data.astronaut())
    return [base.crop((i * 8, i * 4, i * 8 + 320, i * 4 + 240)).resize(size) for i in range(n)]


def test_a_list_of_pil_frames_becomes_h264_at_the_given_fps():
    codec, count, size, pix_fmt, fps = probe(encode_frames(moving_frames(12), fps=6))
    assert (codec, count, size, pix_fmt) == ("h264", 12, (160, 120), "yuv420p")
    assert fps == pytest.approx(6)


def test_an_array_stack_with_odd_sides_is_cropped_even():
    stack = np.stack([np.asarray(f) for f in moving_frames(5, (161, 121))])
    assert stack.shape == (5, 121, 161, 3)
    _, count, size, pix_fmt, fps = probe(encode_frames(stack))
    assert (count, size, pix_fmt) == (5, (160, 120), "yuv420p") and fps == pytest.approx(8)


def test_channels_first_float_stacks_and_gray_frames():
    stack = np.stack([np.asarray(f) for f in moving_frames(4)]).transpose(0, 3, 1, 2) / 255.0  # T x C x H x W
    assert probe(encode_frames(stack))[1:3] == (4, (160, 120))
    gray = [np.asarray(f.convert("L")) for f in moving_frames(3)]
    assert probe(encode_frames(gray))[1:3] == (3, (160, 120))


def test_decoded_frames_look_like_the_originals():
    frames = moving_frames(6)
    with av.open(io.BytesIO(encode_frames(frames, fps=4))) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for original, back in zip(frames, decoded):
        assert np.abs(np.asarray(original, np.float64) - back).mean() < 12


def test_frames_of_different_sizes_are_refused_naming_the_frame():
    frames = moving_frames(3)
    frames[2] = frames[2].resize((80, 60))
    with pytest.raises(MediaError, match="frame 2 is 80x60 but frame 0 is 160x120"):
        encode_frames(frames)


def test_bad_frames_name_what_is_wrong():
    with pytest.raises(MediaError, match="list of frames is empty"):
        encode_frames([])
    with pytest.raises(MediaError, match=r"frame 1 \(str .nope.png.\): no such file"):
        encode_frames([moving_frames(1)[0], "nope.png"])
    with pytest.raises(MediaError, match=r"frame 1 .*a string of 4 characters.* cannot be sent as an image"):
        encode_frames([moving_frames(1)[0], "nope"])
    with pytest.raises(MediaError, match="too small for a video"):
        encode_frames(np.zeros((3, 1, 1, 3), np.uint8))


def test_frames_are_encoded_and_uploaded_once_as_multimodal_2():
    client = RecordingClient()
    frames = np.stack([np.asarray(f) for f in moving_frames(8)])
    part = snw.to_part(snw.video(frames, fps=4), client=client)
    assert part == {"type": "video_file_id", "video_file_id": "file-1"}
    content, scheme, filename = client.uploads[0]
    assert scheme == "MULTIMODAL_2" and filename.endswith(".mp4") and client.waited == ["file-1"]
    assert probe(content)[:3] == ("h264", 8, (160, 120))
    assert snw.to_part(frames.copy(), client=client) != part  # an unmarked 4-D stack is video too, at 8 fps
    assert snw.to_part(snw.video(frames, fps=4), client=client) == part  # the same frames: no new upload
    assert len(client.uploads) == 2


def test_a_video_file_is_uploaded_and_waited_for(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(encode_frames(moving_frames(4)))
    client = RecordingClient()
    assert snw.to_part(snw.video(str(path)), client=client) == {
        "type": "video_file_id",
        "video_file_id": "file-1",
    }
    assert snw.to_part(snw.video(path), client=client)["video_file_id"] == "file-1"
    assert snw.to_part(path, client=client)["video_file_id"] == "file-1"  # a .mp4 Path is a video
    assert len(client.uploads) == 1 and client.uploads[0][1] == "MULTIMODAL_2"
    assert client.uploads[0][0] == path.read_bytes()
    thumb = Image.open(io.BytesIO(media.thumbnail(snw.video(path), max_side=64)))
    assert max(thumb.size) == 64


def test_video_urls_need_no_client():
    assert snw.to_part(snw.video("https://example.com/clip.mp4")) == {
        "type": "video_url",
        "video_url": "https://example.com/clip.mp4",
    }


def test_an_upload_without_a_client_is_a_clear_error(tmp_path):
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    with pytest.raises(MediaError, match="must be uploaded to the file service.*client="):
        snw.to_part(frames)
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00")
    with pytest.raises(MediaError, match="must be uploaded"):
        snw.to_part(snw.video(path))


def test_a_missing_video_path_names_it(tmp_path):
    with pytest.raises(MediaError, match="no such file.*gone.mp4"):
        snw.to_part(snw.video(tmp_path / "gone.mp4"), client=RecordingClient())


def test_bad_fps_and_unsupported_video_values():
    with pytest.raises(MediaError, match=r"fps=0 is not allowed.*\(0, 240\]"):
        snw.video([], fps=0)
    with pytest.raises(MediaError, match="the float 2.5 cannot be sent as a video"):
        snw.to_part(snw.video(2.5), client=RecordingClient())


def test_frames_given_as_files_and_bytes_and_distinct_lists_upload_separately(tmp_path):
    client = RecordingClient()
    paths = []
    for i, frame in enumerate(moving_frames(4)):
        paths.append(tmp_path / f"f{i}.png")
        frame.save(paths[-1])
    first = snw.to_part(snw.video([str(p) for p in paths]), client=client)
    assert probe(client.uploads[-1][0])[1:3] == (4, (160, 120))
    assert snw.to_part(snw.video([p.read_bytes() for p in paths]), client=client) == first  # same pictures
    other = moving_frames(4)
    other[3] = other[3].transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert snw.to_part(snw.video(other), client=client) != first
    assert len(client.uploads) == 2
