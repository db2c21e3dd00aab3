"""Notebook values become image parts: every accepted kind, mode and dtype, on real pictures."""

from __future__ import annotations

import base64
import io
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw

import sensenova_widget as snw
from sensenova_widget import media
from sensenova_widget.errors import MediaError

DATA = pathlib.Path(skimage.data.__file__).parent


def decode(part: dict) -> Image.Image:
    assert part["type"] == "image_base64"
    assert not part["image_base64"].startswith("data:")
    im = Image.open(io.BytesIO(base64.b64decode(part["image_base64"], validate=True)))
    im.load()
    return im


def raw(part: dict) -> bytes:
    return base64.b64decode(part["image_base64"])


def close(a, b, tol: float = 6.0) -> bool:
    """Mean absolute difference within `tol` levels: JPEG is lossy, but only slightly."""
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean()) <= tol


class TensorLike:
    """Stands in for a CPU torch tensor: numpy sees it only through `__array__`."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array
        self.shape = array.shape
        self.dtype = f"torch.{array.dtype}"

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


class GpuTensorLike(TensorLike):
    def __array__(self, dtype=None, copy=None):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() first.")


@pytest.fixture(autouse=True)
def fresh_cache():
    media.clear_cache()
    yield
    media.clear_cache()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


def chart(size=(480, 320)) -> Image.Image:
    """A flat graphic: white background, axes, a few coloured lines and text."""
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    draw.line([(40, 20), (40, 290), (460, 290)], fill="black", width=2)
    draw.line([(40 + i * 20, 290 - (i * 37) % 250) for i in range(21)], fill=(31, 119, 180), width=3)
    draw.rectangle([300, 30, 440, 80], outline="black", fill=(255, 127, 14))
    draw.text((60, 20), "sales per month", fill="black")
    return im


# --- wire parts, URLs, file ids ------------------------------------------------------------


def test_wire_parts_pass_through_untouched():
    part = {
        "type": "image_base64",
        "image_base64": "aGVsbG8=",
        "image_url": "",
        "image_file_id": "",
        "text": "",
    }
    assert snw.to_part(part) is part
    assert (
        snw.to_part({"type": "video_url", "video_url": "https://x/v.mp4"})["video_url"] == "https://x/v.mp4"
    )
    assert snw.to_part(snw.image(part)) is part


def test_a_wire_dict_of_an_unknown_type_is_refused():
    with pytest.raises(MediaError, match="'audio'.*image_url"):
        snw.to_part({"type": "audio", "audio": "x"})
    with pytest.raises(MediaError, match="non-empty string"):
        snw.to_part({"type": "image_url", "image_url": ""})


def test_http_urls_are_sent_as_urls_not_downloaded():
    assert snw.to_part("https://example.com/cat.jpg") == {
        "type": "image_url",
        "image_url": "https://example.com/cat.jpg",
    }
    assert snw.to_part(snw.image("http://example.com/a.png")) == {
        "type": "image_url",
        "image_url": "http://example.com/a.png",
    }


def test_file_ids_for_images_and_videos():
    assert snw.to_part(snw.file_id("abc")) == {"type": "image_file_id", "image_file_id": "abc"}
    assert snw.to_part(snw.file_id("v1", kind="video")) == {"type": "video_file_id", "video_file_id": "v1"}
    assert snw.to_part(snw.video(snw.file_id("v2"))) == {"type": "video_file_id", "video_file_id": "v2"}
    with pytest.raises(MediaError, match="kind='audio'.*'image' or 'video'"):
        snw.file_id("abc", kind="audio")
    with pytest.raises(MediaError, match="non-empty id"):
        snw.file_id("  ")


# --- PIL images in every mode --------------------------------------------------------------


@pytest.mark.parametrize(
    "mode", ["RGB", "RGBA", "LA", "P", "L", "I;16", "I", "F", "CMYK", "1", "PA", "YCbCr"]
)
def test_every_pil_mode_becomes_an_image_of_the_same_size(astronaut, mode):
    rgb = Image.fromarray(astronaut)
    gray = np.asarray(rgb.convert("L"))
    if mode == "I;16":
        im = Image.fromarray(gray.astype(np.uint16) * 257)
        assert im.mode.startswith("I;16")
    elif mode == "I":
        im = Image.fromarray(gray.astype(np.int32) * 257)
    elif mode == "F":
        im = Image.fromarray(gray.astype(np.float32) / 255)
    elif mode == "RGBA":
        im = rgb.convert("RGBA")
        im.putalpha(Image.linear_gradient("L").resize(im.size))
    elif mode == "LA":
        im = rgb.convert("LA")
        im.putalpha(Image.linear_gradient("L").resize(im.size))
    else:
        im = rgb.convert(mode)
    out = decode(snw.to_part(im))
    assert out.size == (512, 512)
    if mode in ("I;16", "I", "F"):  # 16-bit samples divided by 257, floats in [0, 1] scaled by 255
        assert out.mode == "L" and close(out, gray)
    if mode in ("RGB", "CMYK", "YCbCr"):
        assert out.format == "JPEG" and close(out.convert("RGB"), rgb.convert(mode).convert("RGB"), 8)
    if mode in ("RGBA", "LA"):  # real transparency is kept: PNG
        assert out.format == "PNG" and "A" in out.mode
        assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(im.getchannel("A")))
    if mode in ("P", "1"):
        assert out.format == "PNG" and np.array_equal(np.asarray(out), np.asarray(im))


def test_an_opaque_alpha_channel_is_dropped_and_the_photo_becomes_jpeg(astronaut):
    out = decode(snw.to_part(Image.fromarray(astronaut).convert("RGBA")))
    assert out.format == "JPEG" and out.mode == "RGB"


def test_a_palette_image_with_transparency_stays_png():
    im = Image.open(DATA / "no_time_for_that_tiny.gif")
    out = decode(snw.to_part(im))
    assert out.format == "PNG" and out.size == im.size


def test_an_empty_pil_image_is_refused():
    with pytest.raises(MediaError, match="0x5 is empty"):
        snw.to_part(Image.new("RGB", (0, 5)))


# --- numpy arrays: shapes and dtypes -------------------------------------------------------


@pytest.mark.parametrize("shape", ["HxW", "HxWx1", "HxWx3", "HxWx4", "CxHxW", "1xHxWxC"])
def test_array_shapes(astronaut, shape):
    rgb = astronaut
    gray = np.asarray(Image.fromarray(astronaut).convert("L"))
    value, expected = {
        "HxW": (gray, gray),
        "HxWx1": (gray[..., None], gray),
        "HxWx3": (rgb, rgb),
        "HxWx4": (np.dstack([rgb, np.full(gray.shape, 255, np.uint8)]), rgb),
        "CxHxW": (rgb.transpose(2, 0, 1), rgb),
        "1xHxWxC": (rgb[None], rgb),
    }[shape]
    out = decode(snw.to_part(value))
    assert out.size == (512, 512)
    assert close(np.asarray(out), expected)


@pytest.mark.parametrize(
    "dtype",
    ["uint8", "uint16", "bool", "float16", "float32", "float64 [0,1]", "float64 [0,255]", "int64 [0,255]"],
)
def test_array_dtypes_follow_the_stated_rule(astronaut, dtype):
    a = astronaut
    value, expected = {
        "uint8": (a, a),
        "uint16": (a.astype(np.uint16) * 257, a),
        "bool": (a > 127, (a > 127).astype(np.uint8) * 255),
        "float16": ((a / 255).astype(np.float16), a),
        "float32": ((a / 255).astype(np.float32), a),
        "float64 [0,1]": (a / 255, a),
        "float64 [0,255]": (a.astype(np.float64), a),
        "int64 [0,255]": (a.astype(np.int64), a),
    }[dtype]
    out = decode(snw.to_part(value))
    assert close(np.asarray(out.convert("RGB")), expected, 8)


def test_floats_outside_both_ranges_name_the_rule():
    with pytest.raises(
        MediaError, match=r"float64 values span \[-1, 1\].*\[0, 1\] \(scaled by 255\).*\[0, 255\]"
    ):
        snw.to_part(np.linspace(-1, 1, 64 * 64).reshape(64, 64))
    with pytest.raises(MediaError, match=r"\[0, 300\]"):
        snw.to_part(np.linspace(0, 300, 64 * 64).reshape(64, 64).astype(np.float32))
    with pytest.raises(MediaError, match="NaN"):
        snw.to_part(np.full((8, 8), np.nan))


def test_integers_outside_0_255_are_refused_naming_dtype_and_range():
    with pytest.raises(MediaError, match=r"int32 values span \[0, 1000\]"):
        snw.to_part(np.arange(1001, dtype=np.int32).reshape(7, 143) % 1001)


@pytest.mark.parametrize("shape", [(10,), (10, 10, 2), (10, 10, 5), (2, 3, 10, 10, 3)])
def test_wrong_shapes_name_the_shape_and_what_is_allowed(shape):
    with pytest.raises(MediaError, match=r"shape \(.*\).*HxW, HxWx1, HxWx3"):
        snw.to_part(np.zeros(shape, np.uint8))


def test_wrong_dtypes_name_the_dtype_and_what_is_allowed():
    with pytest.raises(MediaError, match="complex128.*uint8, uint16, bool or float"):
        snw.to_part(np.zeros((4, 4), np.complex128))
    with pytest.raises(MediaError, match="<U1.*uint8"):
        snw.to_part(np.array([["a", "b"], ["c", "d"]]))


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 0), (0, 0)])
def test_zero_size_arrays_are_refused(shape):
    with pytest.raises(MediaError, match="empty image"):
        snw.to_part(np.zeros(shape, np.uint8))


def test_a_non_contiguous_view_is_encoded_as_it_looks(astronaut):
    view = astronaut[::2, ::-1]
    assert close(np.asarray(decode(snw.to_part(view))), view)


# --- tensors and other __array__ objects ---------------------------------------------------


def test_a_tensor_like_chw_float_is_read_channels_first(astronaut):
    tensor = TensorLike((astronaut.transpose(2, 0, 1) / 255).astype(np.float32))
    out = decode(snw.to_part(tensor))
    assert out.size == (512, 512) and close(np.asarray(out), astronaut)
    assert snw.media.describe(tensor) == "TensorLike float32 3x512x512"


def test_a_tensor_like_hwc_and_batch_of_one(astronaut):
    assert close(np.asarray(decode(snw.to_part(TensorLike(astronaut)))), astronaut)
    batch = TensorLike(astronaut.transpose(2, 0, 1)[None])
    assert close(np.asarray(decode(snw.to_part(batch))), astronaut)


def test_a_tensor_that_cannot_become_an_array_says_how_to_fix_it(astronaut):
    with pytest.raises(MediaError, match=r"cuda.*\.detach\(\)\.cpu\(\)"):
        snw.to_part(GpuTensorLike(astronaut))


# --- encoded bytes, paths, data URLs, base64 -----------------------------------------------


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_suitable_jpeg_bytes_pass_through_untouched(kind):
    data = (DATA / "rocket.jpg").read_bytes()
    assert raw(snw.to_part(kind(data))) == data


def test_suitable_png_files_pass_through_untouched():
    for name in ("astronaut.png", "chessboard_GRAY.png", "logo.png"):
        data = (DATA / name).read_bytes()
        assert raw(snw.to_part(DATA / name)) == data
        assert raw(snw.to_part(snw.image(str(DATA / name)))) == data


def test_a_photograph_saved_as_a_big_png_is_sent_as_jpeg(tmp_path):
    path = tmp_path / "coffee.png"
    Image.fromarray(skimage.data.coffee()).resize((1800, 1200)).save(path)
    assert path.stat().st_size > 1800 * 1200
    out = decode(snw.to_part(path))
    assert out.format == "JPEG" and out.size == (1800, 1200)
    assert len(raw(snw.to_part(path))) < path.stat().st_size / 5


def test_other_formats_are_re_encoded():
    gif = (DATA / "no_time_for_that_tiny.gif").read_bytes()
    out = decode(snw.to_part(gif))
    assert out.format == "PNG" and out.size == (14, 25)
    buf = io.BytesIO()
    Image.open(DATA / "chelsea.png").save(buf, "WEBP", quality=90)
    out = decode(snw.to_part(buf.getvalue()))
    assert out.format == "JPEG" and out.size == (451, 300)


def test_a_large_jpeg_is_downscaled_to_max_side_and_small_ones_never_upscaled():
    data = (DATA / "retina.jpg").read_bytes()  # 1411 x 1411
    assert decode(snw.to_part(data, max_side=512)).size == (512, 512)
    assert decode(snw.to_part(data, max_side=1000)).size == (1000, 1000)
    assert raw(snw.to_part(data, max_side=4096)) == data


def test_options_set_the_longest_side_and_a_call_overrides_it(astronaut):
    options = media.MediaOptions(max_side=200)
    out = decode(snw.to_part(astronaut, options=options))
    assert max(out.size) <= 200 and max(out.size) >= 170
    assert 85 <= max(decode(snw.to_part(astronaut, options=options, max_side=100)).size) <= 100
    assert decode(snw.to_part(astronaut)).size == (512, 512)  # the defaults are untouched


def test_options_reach_the_encoder_and_key_the_cache(astronaut):
    default = snw.to_part(astronaut)
    lower = snw.to_part(astronaut, options=media.MediaOptions(jpeg_quality=30))  # not the cached 85
    assert decode(lower).format == "JPEG" and len(raw(lower)) < 0.7 * len(raw(default))
    assert snw.to_part(astronaut) == default
    assert decode(snw.to_part(astronaut, options=media.MediaOptions(max_side=256))).size == (256, 256)


def test_options_are_a_frozen_checked_value_and_no_module_holds_a_setting():
    options = media.MediaOptions()
    with pytest.raises(AttributeError):
        options.max_side = 1024  # frozen: a client's settings change only by giving it new ones
    assert options.replace(max_side=1024).max_side == 1024 and options.max_side == 2048
    for bad in ({"max_side": 8}, {"jpeg_quality": 0}, {"max_side": 2.5}, {"fps": 0}, {"crf": 60}):
        with pytest.raises(MediaError, match=next(iter(bad))):
            media.MediaOptions(**bad)
    with pytest.raises(MediaError, match="MediaOptions"):
        snw.to_part(np.zeros((8, 8), np.uint8), options={"max_side": 1024})
    with pytest.raises(MediaError, match=r"^media=.*MediaOptions"):
        snw.Client(api_key="k", media={"max_side": 1024})  # refused when made, not at the first image
    assert type(media) is type(pytest)  # a plain module: nothing rewrites an assignment to it
    for name in ("MAX_SIDE", "JPEG_QUALITY", "MAX_PART_BYTES", "MAX_VIDEO_SIDE", "DEFAULT_FPS", "CRF"):
        assert not hasattr(media, name) and not hasattr(media.encode, name) and not hasattr(media.mp4, name)


@pytest.mark.parametrize(
    "size,max_side", [((4000, 3000), 2048), ((3000, 4000), 1024), ((999, 333), 500), ((2049, 10), 2048)]
)
def test_downscaling_keeps_the_aspect_and_fits_max_side(size, max_side):
    im = Image.fromarray(skimage.data.coffee()).resize(size)
    out = decode(snw.to_part(im, max_side=max_side))
    assert max(out.size) <= max_side and max(out.size) >= 0.85 * max_side
    assert abs(out.size[0] / out.size[1] - size[0] / size[1]) < 0.05 * size[0] / size[1] + 0.1


def test_a_part_over_the_size_budget_is_sent_smaller():
    noise = np.random.default_rng(1).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)  # incompressible
    options = media.MediaOptions(max_part_bytes=300_000)
    part = snw.to_part(noise, options=options)
    assert len(raw(part)) <= 300_000
    assert 300 < max(decode(part).size) < 1500
    transparent = np.dstack([noise, np.full((1500, 1500), 128, np.uint8)])  # PNG too big: JPEG, flattened
    assert len(raw(snw.to_part(transparent, options=options))) <= 300_000


def exif_rotated_jpeg(orientation: int) -> bytes:
    """chelsea (451x300) stored as is, with an Orientation tag asking viewers to rotate it."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.open(DATA / "chelsea.png").convert("RGB").save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


@pytest.mark.parametrize("orientation,size", [(6, (300, 451)), (8, (300, 451)), (3, (451, 300))])
def test_exif_orientation_is_applied(orientation, size):
    data = exif_rotated_jpeg(orientation)
    out = decode(snw.to_part(data))
    assert out.size == size
    assert out.getexif().get(0x0112, 1) == 1
    upright = {6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90, 3: Image.Transpose.ROTATE_180}[
        orientation
    ]
    expected = Image.open(DATA / "chelsea.png").convert("RGB").transpose(upright)
    assert close(out, expected, 8)


def test_an_exif_rotated_pil_image_is_sent_upright():
    im = Image.open(io.BytesIO(exif_rotated_jpeg(6)))
    assert decode(snw.to_part(im)).size == (300, 451)


def test_data_urls_and_base64_strings():
    data = (DATA / "rocket.jpg").read_bytes()
    b64 = base64.b64encode(data).decode()
    assert snw.to_part("data:image/jpeg;base64," + b64)["image_base64"] == b64
    assert snw.to_part(b64)["image_base64"] == b64
    with pytest.raises(MediaError, match="data URL.*;base64"):
        snw.to_part("data:image/png,notbase64")
    with pytest.raises(MediaError, match="not valid base64"):
        snw.to_part("data:image/png;base64,abc$%^")


def test_corrupt_bytes_name_the_item_and_why():
    with pytest.raises(MediaError, match=r"bytes of 2,000 bytes is not an image PIL can read \(JPEG, PNG"):
        snw.to_part(b"\x00" + os.urandom(1999))
    truncated = (DATA / "rocket.jpg").read_bytes()[:3000]
    with pytest.raises(
        MediaError, match=r"bytes of 3,000 bytes is not a readable image: .* JPEG .*truncated"
    ) as info:
        snw.to_part(truncated)
    assert "\\x" not in str(info.value)  # what the bytes are is said in words, never quoted
    with pytest.raises(MediaError, match="the base64 string is not an image PIL can read"):
        snw.to_part(base64.b64encode(b"definitely not a picture, just text").decode())


def test_a_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(MediaError, match="broken.png.*not a readable image"):
        snw.to_part(path)


def test_empty_bytes_are_refused():
    with pytest.raises(MediaError, match="empty"):
        snw.to_part(b"")


def test_a_missing_path_names_the_path(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(MediaError, match="no such file.*nope.jpg"):
        snw.to_part(missing)
    with pytest.raises(MediaError, match="no such file.*nope.jpg"):
        snw.to_part(snw.image(str(missing)))
    with pytest.raises(MediaError, match="is a directory"):
        snw.to_part(tmp_path)


def test_a_bare_path_string_asks_to_be_marked():
    with pytest.raises(MediaError, match=r"a str is read as an http\(s\) URL.*snw.image\('photo.jpg'\)"):
        snw.to_part("photo.jpg")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (object(), "a bare object()"),
        (3.5, "the float 3.5"),
        ([1, 2, 3], "a list of 3 items"),
        ({"no": "type"}, "part type None"),
        (None, "None"),
    ],
)
def test_unsupported_types_name_the_type_and_the_accepted_kinds(value, words):
    with pytest.raises(MediaError) as info:
        snw.to_part(value)
    message = str(info.value)
    assert message.startswith(words) and " at 0x" not in message
    if isinstance(value, dict):
        assert "image_url" in message
    else:
        assert "PIL image" in message and "numpy array" in message


# --- matplotlib, IPython -------------------------------------------------------------------


def test_a_matplotlib_figure_is_sent_as_png():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot(np.sin(np.linspace(0, 10, 200)))
    try:
        out = decode(snw.to_part(fig))
        assert out.format == "PNG" and 300 <= out.width <= 400 and 200 <= out.height <= 300
        assert media.describe(fig) == "figure 400x300"
        assert media.is_image_like(fig)
    finally:
        plt.close(fig)


def test_ipython_display_images():
    from IPython.display import Image as IPyImage

    data = (DATA / "rocket.jpg").read_bytes()
    assert raw(snw.to_part(IPyImage(data=data))) == data
    assert raw(snw.to_part(IPyImage(filename=str(DATA / "rocket.jpg")))) == data
    assert snw.to_part(IPyImage(url="https://example.com/x.png")) == {
        "type": "image_url",
        "image_url": "https://example.com/x.png",
    }


# --- choosing the format -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera", "rocket", "hubble_deep_field"])
def test_photographs_become_jpeg_much_smaller_than_png(name):
    a = getattr(skimage.data, name)()
    out = snw.to_part(a)
    assert decode(out).format == "JPEG"
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    assert len(raw(out)) < len(buf.getvalue()) / 3


def test_flat_graphics_become_png():
    for value in (chart(), np.asarray(chart()), skimage.data.checkerboard(), skimage.data.binary_blobs(256)):
        out = decode(snw.to_part(value))
        assert out.format == "PNG", media.describe(value)
    assert np.array_equal(np.asarray(decode(snw.to_part(chart()))), np.asarray(chart()))


def counted_choice(im: Image.Image) -> str:
    """The format decision made by counting every colour of the sample (how it was first written)."""
    scale = min(1.0, media.encode.SAMPLE_SIDE / max(im.size))
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    sample = im.resize(size, Image.Resampling.NEAREST)
    pixels = sample.width * sample.height
    colours = sample.getcolors(pixels)
    top = max(count for count, _ in colours) / pixels
    if len(colours) <= (256 if im.mode == "RGB" else 32) and len(colours) < pixels // 2:
        return "PNG"
    return "both" if top >= 0.3 else "JPEG"


def test_the_format_decision_counts_colours_only_when_it_must():
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    one_band_flat = noise.copy()
    one_band_flat[..., 0] = 7  # every pixel shares its red value, yet no colour covers 30%
    white_plot = noise.copy()
    white_plot[:, :200] = 255  # half the picture one colour: ambiguous, both are tried
    just_under = noise[:10, :10].copy()
    just_under.reshape(-1, 3)[:29] = 0  # 29% one colour
    just_at = noise[:10, :10].copy()
    just_at.reshape(-1, 3)[:30] = 0  # 30%: the boundary itself
    pictures = [noise, one_band_flat, white_plot, just_under, just_at, noise[:2, :3]]
    images = [Image.fromarray(a) for a in pictures] + [Image.fromarray(noise[..., 1]), chart().convert("RGB")]
    images += [Image.fromarray(skimage.data.camera()), Image.fromarray(skimage.data.astronaut())]
    images += [Image.fromarray(np.uint8(rng.integers(0, 40, (50, 50)))), Image.new("L", (5, 5), 3)]
    decisions = [media.encode._choose_format(im) for im in images]
    assert decisions == [counted_choice(im) for im in images]
    assert {"PNG", "JPEG", "both"} <= set(decisions)


# --- the encode cache ----------------------------------------------------------------------


def test_the_same_picture_is_encoded_once(astronaut):
    first = snw.to_part(astronaut)
    before = media.cache_info()
    second = snw.to_part(astronaut.copy())  # equal content, another object
    after = media.cache_info()
    assert second == first and second is not first
    assert after["encodes"] == before["encodes"] and after["hits"] == before["hits"] + 1


def test_changed_content_mode_or_max_side_is_encoded_again(astronaut):
    a = astronaut.copy()
    first = snw.to_part(a)
    a[0, 0] = [a[0, 0, 0] ^ 255, 0, 0]
    assert snw.to_part(a) != first
    snw.to_part(a, max_side=256)
    snw.to_part(a[..., 0])
    snw.to_part(Image.fromarray(a).convert("L"))
    assert media.cache_info()["encodes"] == 5


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(media.ENCODE_CACHE, "max_entries", 3)
    for i in range(6):
        snw.to_part(np.full((8, 8), i * 10, np.uint8))
    assert media.cache_info()["entries"] == 3
    snw.to_part(np.full((8, 8), 0, np.uint8))  # evicted: encoded again
    assert media.cache_info()["encodes"] == 7


def test_parallel_calls_agree(astronaut):
    from concurrent.futures import ThreadPoolExecutor

    values = [astronaut, skimage.data.coffee(), chart(), astronaut] * 4
    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(snw.to_part, values))
    for value, part in zip(values, parts):
        assert part == snw.to_part(value)
    assert media.cache_info()["entries"] == 3


# --- pickers: is_image_like, is_video_like, describe, thumbnail ----------------------------


def test_is_image_like_and_is_video_like(astronaut):
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    cases = {
        "PIL": (Image.fromarray(astronaut), True, False),
        "array": (astronaut, True, False),
        "gray": (astronaut[..., 0], True, False),
        "chw tensor": (TensorLike(astronaut.transpose(2, 0, 1)), True, False),
        "png bytes": ((DATA / "astronaut.png").read_bytes(), True, False),
        "jpeg path": (DATA / "rocket.jpg", True, False),
        "marked": (snw.image("x.png"), True, False),
        "file id": (snw.file_id("a"), True, False),
        "frames": (frames, False, True),
        "marked video": (snw.video("https://x/v.mp4"), False, True),
        "video path": (pathlib.Path("clip.mp4"), False, True),
        "video file id": (snw.file_id("v", kind="video"), False, True),
        "text": ("hello", False, False),
        "number": (3, False, False),
        "1-D": (np.zeros(10), False, False),
        "list": ([astronaut, astronaut], False, False),
        "data matrix": (np.arange(3000).reshape(1000, 3), False, False),
        "float table": (np.random.default_rng(0).random((1000, 3)), False, False),
        "int64 picture": (astronaut.astype(np.int64), False, False),
        "float picture": (astronaut / 255, True, False),
        "hxwx2": (np.zeros((32, 32, 2), np.uint8), False, False),
        "text bytes": (b"hello world", False, False),
    }
    for name, (value, image_like, video_like) in cases.items():
        assert media.is_image_like(value) is image_like, name
        assert media.is_video_like(value) is video_like, name


def test_describe_is_short_and_human(astronaut):
    assert media.describe(Image.fromarray(astronaut)) == "PIL RGB 512x512"
    assert media.describe(astronaut) == "ndarray uint8 512x512x3"
    assert media.describe(np.zeros((24, 240, 320, 3), np.uint8)) == "frames 24x240x320x3"
    assert media.describe(snw.file_id("abc")) == "image file id abc"
    assert media.describe(DATA / "rocket.jpg").endswith("rocket.jpg")
    assert media.describe("https://example.com/a.png") == "URL https://example.com/a.png"
    assert media.describe(b"\x00" * 2048) == "bytes of 2,048 bytes"
    assert media.describe(snw.video("https://example.com/v.mp4")) == "video URL https://example.com/v.mp4"
    assert media.describe(snw.video([Image.fromarray(astronaut)] * 3)) == "video list of 3 PIL values"
    assert repr(snw.image(astronaut)) == "image(ndarray uint8 512x512x3)"
    assert media.describe(snw.image("photo.jpg")) == "file photo.jpg"
    assert media.describe(snw.video("clip.mp4")) == "video file clip.mp4"


def test_thumbnails_are_small_images_for_the_browser(astronaut):
    for value in (
        astronaut,
        Image.fromarray(astronaut),
        DATA / "retina.jpg",
        chart(),
        np.zeros((5, 300, 200, 3), np.uint8),
    ):
        data = media.thumbnail(value, max_side=128)
        im = Image.open(io.BytesIO(data))
        assert im.format in ("PNG", "JPEG") and max(im.size) <= 128
    assert Image.open(io.BytesIO(media.thumbnail(astronaut))).size == (256, 256)
    with pytest.raises(MediaError, match="not held in the kernel"):
        media.thumbnail("https://example.com/a.png")
    with pytest.raises(MediaError, match="not held in the kernel"):
        media.thumbnail(snw.file_id("abc"))
    with pytest.raises(
        MediaError, match=r"a bare object\(\) cannot be shown as an image: expected a PIL image"
    ):
        media.thumbnail(object())


def test_a_sent_part_can_be_shown_again(astronaut):
    part = snw.to_part(astronaut)
    im = Image.open(io.BytesIO(media.thumbnail(part, max_side=64)))
    assert im.size == (64, 64) and close(im.convert("RGB"), Image.fromarray(astronaut).resize((64, 64)), 12)


def test_importing_the_media_layer_stays_cheap():
    code = (
        "import sys, sensenova_widget.media, sensenova_widget.client.history\n"
        "heavy = ('numpy', 'PIL', 'pandas', 'anywidget', 'matplotlib', 'av')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_keyed_gives_the_content_key_and_a_value_that_sends_the_same_part(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (220, 30, 30)).save(path)
    values = [
        Image.new("RGB", (40, 30), (30, 60, 220)),
        np.zeros((8, 8, 3), np.uint8),
        media.image(str(path)),
        path.read_bytes(),
        "https://example.com/cat.jpg",
        media.file_id("file-1"),
        {"type": "image_url", "image_url": "https://example.com/dog.png"},
    ]
    for value in values:
        key, held = media.keyed(value)
        assert key == media.content_key(value) == media.content_key(held)
        assert media.to_part(media.image(held)) == media.to_part(media.image(value))
    with pytest.raises(MediaError, match="no such file"):
        media.keyed(media.image(str(tmp_path / "missing.png")))


def test_image_bytes_are_sniffed_and_data_urls_built_in_one_place():
    """One home (`media/formats.py`): no other module knows a magic number, builds base64 or a
    `data:` URL, or decides which `data:` URLs a page may show."""
    package = pathlib.Path(media.__file__).parent.parent
    sources = {path: path.read_text() for path in package.rglob("*.py")}
    home = package / "media" / "formats.py"
    for needle in (
        'b"\\x89PNG',  # PNG, JPEG, GIF and WebP magic numbers
        'b"\\xff\\xd8',
        'b"GIF8',
        'b"WEBP"',
        "b64encode(",  # base64 text of bytes
        ";base64,{",  # a data: URL made from parts
        "data:(?:",  # the pattern of an inline picture a page may show
        "def image_mime(",
        "def sniff_format(",
        "def data_url(",
        "def b64(",
    ):
        holders = [path for path, text in sources.items() if needle in text]
        assert holders == [home], (needle, holders)
        assert sources[home].count(needle) == (2 if needle == 'b"GIF8' else 1), needle  # GIF87a, GIF89a
    for name in ("image_mime", "sniff_format", "data_url"):
        assert getattr(media, name) is getattr(media.formats, name)
