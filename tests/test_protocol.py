"""The spec's rules, checked by the one validator that both the client and the emulator use."""

import pytest

from sensenova_widget.errors import InvalidRequestError
from sensenova_widget.protocol import check_body_size, validate_body


def body(**over):
    b = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    b.update(over)
    return b


def img():
    return {"type": "image_base64", "image_base64": "AAAA", "image_url": "", "image_file_id": ""}


def vid():
    return {"type": "video_url", "video_url": "http://x/v.mp4"}


@pytest.mark.parametrize(
    "name,value",
    [
        ("top_p", 0),
        ("top_p", 1),
        ("top_p", 1.0),
        ("temperature", 0),
        ("temperature", 2.0000001),
        ("temperature", 0.1234567),
        ("max_new_tokens", 0),
        ("max_new_tokens", 16385),
        ("max_new_tokens", 1.5),
        ("repetition_penalty", 0),
        ("repetition_penalty", 2.01),
        ("temperature", float("nan")),
        ("top_p", True),
        ("temperature", "0.5"),
    ],
)
def test_parameter_out_of_range_names_field_value_and_range(name, value):
    with pytest.raises(InvalidRequestError) as err:
        validate_body(body(**{name: value}))
    assert err.value.field == name
    assert name in str(err.value) and "expected" in str(err.value)


@pytest.mark.parametrize(
    "name,value",
    [
        ("top_p", 0.999),
        ("temperature", 2),
        ("temperature", 0.123456),
        ("max_new_tokens", 16384),
        ("max_new_tokens", 1),
        ("repetition_penalty", 2),
        ("repetition_penalty", 0.01),
    ],
)
def test_parameter_edges_inside_the_range_pass(name, value):
    validate_body(body(**{name: value}))


def test_media_counts_span_the_whole_request():
    msgs = [
        {"role": "user", "content": [img()] * 4},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": [img()] * 3},
    ]
    with pytest.raises(InvalidRequestError, match="at most 6 images"):
        validate_body(body(messages=msgs))


@pytest.mark.parametrize(
    "content,match",
    [
        ([img(), vid()], "never both"),
        ([vid(), vid()], "at most 1 video"),
        ([{"type": "audio", "audio": "x"}], "one of text"),
        ([img()] * 7, "at most 6 images"),
    ],
)
def test_bad_media(content, match):
    with pytest.raises(InvalidRequestError, match=match):
        validate_body(body(messages=[{"role": "user", "content": content}]))


@pytest.mark.parametrize(
    "messages,match",
    [
        ([], "non-empty list"),
        ([{"role": "assistant", "content": "hi"}], "last message"),
        ([{"role": "robot", "content": "hi"}], "one of user"),
    ],
)
def test_bad_messages(messages, match):
    with pytest.raises(InvalidRequestError, match=match):
        validate_body(body(messages=messages))


def test_body_size_limit():
    check_body_size(44_999_999)
    with pytest.raises(InvalidRequestError, match="under 45 MB"):
        check_body_size(45_000_000)


def test_a_parts_kind_is_read_in_one_place():
    from sensenova_widget.client.history import apply_media_policy
    from sensenova_widget.media import is_image_like, is_video_like
    from sensenova_widget.protocol import count_media, media_kind, part_kind

    text, audio = {"type": "text", "text": "hi"}, {"type": "audio", "audio": "x"}
    assert [media_kind(p) for p in (img(), vid(), text, audio, "image_url", None)] == [
        "image",
        "video",
        None,
        None,
        None,
        None,
    ]
    assert [part_kind(p) for p in (img(), vid(), text)] == ["image", "video", "text"]
    with pytest.raises(InvalidRequestError, match="one of text"):
        part_kind(audio)
    messages = [
        {"role": "user", "content": [img(), text, audio, "stray"]},
        {"role": "user", "content": [vid()]},
    ]
    assert count_media(messages) == (1, 1)
    assert (is_image_like(img()), is_video_like(vid()), is_image_like(audio), is_video_like(audio)) == (
        True,
        True,
        False,
        False,
    )
    kept, notices = apply_media_policy(messages)
    assert kept[0]["content"][0] == {"type": "text", "text": "[earlier image omitted]"}
    assert kept[1]["content"] == [vid()] and len(notices) == 1


def test_parameter_specs_are_read_by_field_name():
    from sensenova_widget.protocol import PARAMETERS

    top_p = PARAMETERS["top_p"]
    assert (top_p.low, top_p.low_inclusive, top_p.high, top_p.high_inclusive) == (0, False, 1, False)
    assert PARAMETERS["max_new_tokens"].type is int and PARAMETERS["max_new_tokens"].default == 1024
    assert "(0, 2]" in PARAMETERS["repetition_penalty"].allowed
