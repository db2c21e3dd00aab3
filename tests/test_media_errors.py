"""Media errors say what a value is not, never what it holds: no file content, no object reprs,
no more of a typed string than a short prefix; bad image URLs are refused before sending; `~` is
expanded in paths, as the README says. Through to_part, Client.chat and caption() on the emulator."""

from __future__ import annotations

import base64
import io
import pathlib
import re

import pandas as pd
import pytest
from PIL import Image

import sensenova_widget as snw
from sensenova_widget import media
from sensenova_widget.errors import InvalidRequestError, MediaError

SECRET = "sk-live-7f3a9c2e1b8d4f60a5e9"
TEXT = f"API_KEY={SECRET}\npassword=hunter2\n"
NOT_AN_IMAGE = "is not an image PIL can read (JPEG, PNG, GIF, WebP, BMP, TIFF, ...)"
README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def message_of(value, **kw) -> str:
    with pytest.raises(MediaError) as info:
        media.to_part(value, **kw)
    return str(info.value)


def leaks(message: str) -> list[str]:
    """What of the file's content, or of an object's repr, the message repeats."""
    found = [word for word in (SECRET, "API_KEY", "hunter2", "sk-live", "b'") if word in message]
    return found + re.findall(r"<[^>]* at 0x[0-9a-f]+>", message)


@pytest.fixture
def text_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "photo.txt"
    path.write_text(TEXT)
    return path


def png_bytes(colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(buf, "PNG")
    return buf.getvalue()


# --- what a file is not, never what it holds ---------------------------------------------


def test_a_text_file_is_named_and_never_quoted_whatever_form_it_comes_in(text_file):
    data = text_file.read_bytes()
    b64 = base64.b64encode(data).decode()
    with open(text_file, "rb") as handle:
        forms = {
            "path": (text_file, "photo.txt"),
            "marked str": (snw.image(str(text_file)), "photo.txt"),
            "bytes": (data, f"bytes of {len(data)} bytes"),
            "base64": (b64, "the base64 string"),
            "data URL": ("data:image/png;base64," + b64, "the data URL"),
            "BytesIO": (io.BytesIO(data), f"a BytesIO object of {len(data)} bytes"),
            "open file": (handle, "photo.txt"),
        }
        for name, (value, named) in forms.items():
            message = message_of(value)
            assert named in message and NOT_AN_IMAGE in message, (name, message)
            assert leaks(message) == [], (name, message)


def test_a_broken_image_is_said_to_be_broken_without_its_bytes(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(png_bytes()[:40])
    message = message_of(path)
    assert "starts as a PNG file but is truncated or corrupt" in message
    assert "\\x" not in message and "b'" not in message


def test_a_data_url_of_another_type_is_named_by_its_type_only():
    message = message_of(f"data:text/plain,{SECRET}")
    assert "a data URL of text/plain is not allowed: expected data:image/...;base64" in message
    assert leaks(message) == []


def test_chat_with_a_text_file_as_image_fails_before_sending_and_does_not_quote_it(
    client, emulator, text_file
):
    with pytest.raises(MediaError) as info:
        client.chat("what is this?", images=[str(text_file)])
    assert "photo.txt" in str(info.value) and NOT_AN_IMAGE in str(info.value)
    assert leaks(str(info.value)) == [] and leaks(repr(info.value)) == []
    assert emulator.requests == []


def test_caption_error_column_holds_no_file_content_no_repr_and_no_typed_secret(
    client, emulator, tmp_path, text_file
):
    good = tmp_path / "red.png"
    good.write_bytes(png_bytes())
    df = pd.DataFrame(
        {
            "image": [
                str(text_file),
                str(good),
                TEXT.encode(),
                f"the key is {SECRET}",
                io.BytesIO(TEXT.encode()),
            ]
        }
    )
    out = snw.caption(df, "image", "Say the colour.", client=client, cache=False, progress=False)
    errors = list(out["caption_error"])
    assert pd.isna(errors[1]) and out["caption"][1]  # the real picture is captioned
    for i in (0, 2, 4):
        assert NOT_AN_IMAGE in errors[i], errors[i]
    assert (
        "cannot be sent as an image" in errors[3]
        and "a string of 39 characters starting 'the key '..." in errors[3]
    )
    for error in errors:
        assert pd.isna(error) or leaks(error) == [], error
    assert len(emulator.requests) == 1  # only the picture was sent


# --- strings: paths only when they look like paths -----------------------------------------


@pytest.mark.parametrize("text", ["a red car", "photo", f"token {SECRET}", "xyz, " * 60, "hello, world!"])
def test_a_string_that_is_no_path_url_or_base64_says_what_is_allowed_quoting_a_short_prefix(
    text,
):
    message = message_of(snw.image(text))
    assert "a string must be an http(s) URL, a data:image/...;base64,... URL, base64 text" in message
    assert "no such file" not in message and SECRET not in message
    assert repr(text[:8]) in message and (len(text) <= 8 or text[:9] not in message)


@pytest.mark.parametrize("text", ["missing.jpg", "photos/cat", "./cat", "../cat.webp", "~/not-there.png"])
def test_a_string_that_looks_like_a_path_is_read_as_one(text):
    assert message_of(snw.image(text)).startswith(f"no such file: {text!r}")


def test_an_unmarked_path_string_asks_to_be_marked_and_random_text_is_not_quoted_whole():
    assert "snw.image('photo.jpg')" in message_of("photo.jpg")
    message = message_of(f"my key: {SECRET}")
    assert SECRET not in message and "marked with snw.image(...)" in message


# --- ~ is expanded, as the README says -----------------------------------------------------


def test_tilde_is_expanded_in_paths_given_as_str_or_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pic.png").write_bytes(png_bytes())
    expected = media.to_part(png_bytes())
    assert media.to_part(snw.image("~/pic.png")) == expected
    assert media.to_part(pathlib.Path("~/pic.png")) == expected
    assert media.keyed(snw.image("~/pic.png"))[0] == media.content_key(png_bytes())
    message = message_of(snw.video("~/gone.mp4"), client=object())
    assert message == f"no such file: '~/gone.mp4' (~ expanded to {str(tmp_path / 'gone.mp4')!r})."


def test_tilde_expansion_is_documented_where_the_readme_lists_accepted_values():
    section = README.read_text().split("## Images and video", 1)[1].split("\n## ", 1)[0]
    assert "`~` is expanded" in section


def test_a_caption_column_path_with_tilde_is_captioned(client, emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pic.png").write_bytes(png_bytes())
    out = snw.caption(
        pd.DataFrame({"image": ["~/pic.png"]}),
        "image",
        client=client,
        cache=False,
        progress=False,
    )
    assert pd.isna(out["caption_error"][0]) and out["caption"][0]


# --- image URLs checked before sending -----------------------------------------------------

BAD_URLS = {
    "https://example.com/a b.png": "a space at character 22",
    "https://example.com/a\tb.png": "a tab",
    "https://example.com/<b>.png": "the character '<'",
    "https://example.com/caf\u00e9.png": "the non-ASCII character",
    "https://example.com/100%.png": "a % is not followed by two hex digits",
    "https:///a.png": "it has no host",
    "http://": "it has no host",
    "https://example.com:99999/a.png": "its port is not valid",
    "ftp://example.com/a.png": "with the scheme ftp: is not allowed",
    "file:///etc/passwd": "with the scheme file: is not allowed",
    "javascript://x": "with the scheme javascript: is not allowed",
}


@pytest.mark.parametrize("url", list(BAD_URLS))
def test_a_bad_image_url_is_refused_saying_what_is_allowed(url):
    for value in (url, snw.image(url), {"type": "image_url", "image_url": url}):
        message = message_of(value)
        assert BAD_URLS[url] in message and "expected an http:// or https:// URL" in message, message


def test_a_bad_video_url_is_refused_too():
    for value in (
        snw.video("https://example.com/a b.mp4"),
        {"type": "video_url", "video_url": "ftp://x/a.mp4"},
    ):
        assert "video URL" in message_of(value, client=object())


def test_a_refused_url_is_quoted_by_its_host_only():
    message = message_of(f"https://user:pw@bucket.example.com/a b.png?X-Signature={SECRET}")
    assert "'https://bucket.example.com/...'" in message
    assert SECRET not in message and "pw@" not in message


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a%20b.png?x=1&y=2",
        "http://127.0.0.1:8080/p.png",
        "https://[::1]/a.png",
        "  https://example.com/padded.png  ",
    ],
)
def test_good_urls_are_sent_as_they_are(url):
    assert media.to_part(url) == {"type": "image_url", "image_url": url.strip()}


def test_chat_with_a_bad_image_url_sends_nothing(client, emulator):
    with pytest.raises(InvalidRequestError, match="a space at character"):
        client.chat("what is here?", images=["https://example.com/my photo.png"])
    assert emulator.requests == []


# --- values named in words, never by repr ---------------------------------------------------


def test_values_are_named_in_words_never_by_repr(tmp_path):
    closed = open(tmp_path / "x.bin", "wb")  # noqa: SIM115 - closed on purpose
    closed.close()
    cases = {
        "file id": (lambda: snw.file_id(io.BytesIO())),
        "fps": (lambda: snw.video([], fps=object())),
        "kind": (lambda: snw.file_id("a", kind=io.BytesIO())),
        "part type": (lambda: media.to_part({"type": object()})),
        "image": (lambda: media.to_part(io.StringIO("text"))),
        "video": (lambda: media.to_part(snw.video(object()))),
        "closed": (lambda: media.to_part(closed)),
        "thumbnail": (lambda: media.thumbnail({1, 2})),
    }
    for name, call in cases.items():
        with pytest.raises(MediaError) as info:
            call()
        assert " at 0x" not in str(info.value) and "<" not in str(info.value), (
            name,
            str(info.value),
        )
    assert media.in_words(io.BytesIO()) == "a BytesIO object"
    assert media.in_words([1, 2, 3]) == "a list of 3 items"
    assert media.in_words("secret") == "a string of 6 characters"


def test_binary_files_and_bytesio_holding_an_image_are_sent_and_left_where_they_were(
    tmp_path,
):
    data = png_bytes()
    path = tmp_path / "pic.png"
    path.write_bytes(data)
    expected = media.to_part(data)
    assert media.to_part(io.BytesIO(data)) == expected
    with open(path, "rb") as handle:
        handle.seek(5)
        assert media.to_part(handle) == expected and handle.tell() == 5
    with (
        open(path) as text_mode,
        pytest.raises(MediaError, match="open in text mode.*'rb'"),
    ):
        media.to_part(text_mode)


def test_a_video_in_a_bytesio_is_uploaded_and_shown_and_a_broken_one_named_in_words(client, emulator):
    import numpy as np

    from sensenova_widget.media.mp4 import encode_frames

    clip = encode_frames([np.full((32, 32, 3), 200, np.uint8)] * 4, fps=4)
    reply = client.chat("what is it?", video=snw.video(io.BytesIO(clip)))
    assert "video 1: mp4, 4 frames, 32x32" in reply.text
    assert Image.open(io.BytesIO(media.thumbnail(snw.video(io.BytesIO(clip))))).size == (32, 32)
    with pytest.raises(MediaError) as info:
        media.thumbnail(snw.video(io.BytesIO(TEXT.encode())))
    assert str(info.value).startswith("the video could not be read") and leaks(str(info.value)) == []
