"""The history_media policy: a growing conversation stays within 6 images or 1 video per request."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensenova_widget.client.history import apply_media_policy
from sensenova_widget.errors import InvalidRequestError
from sensenova_widget.protocol import count_media, validate_body


def img(name: str) -> dict:
    return {"type": "image_url", "image_url": f"https://example.com/{name}.png"}


def vid(name: str) -> dict:
    return {"type": "video_file_id", "video_file_id": name}


def user(*parts: dict, text: str = "look") -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}, *parts]}


def assistant(text: str = "I see.") -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def kept(messages: list[dict]) -> list[str]:
    return [
        (p.get("image_url") or p.get("video_file_id")).rsplit("/", 1)[-1].removesuffix(".png")
        for m in messages
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] != "text"
    ]


def markers(messages: list[dict]) -> list[str]:
    return [
        p["text"]
        for m in messages
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "text" and p["text"].startswith("[earlier")
    ]


def test_within_the_limits_nothing_changes():
    messages = [
        {"role": "system", "content": "be brief"},
        user(img("a"), img("b")),
        assistant(),
        user(img("c")),
    ]
    out, notices = apply_media_policy(messages)
    assert out == messages and notices == []
    assert apply_media_policy(messages, "error") == (messages, [])


def test_recent_keeps_the_newest_six_images_and_marks_the_rest():
    messages = [
        user(img("a1"), img("a2"), img("a3")),
        assistant(),
        user(img("b1"), img("b2")),
        assistant(),
        user(img("c1"), img("c2"), img("c3")),
    ]
    out, notices = apply_media_policy(messages, "recent")
    assert kept(out) == ["a3", "b1", "b2", "c1", "c2", "c3"]
    assert out[0]["content"][1] == {"type": "text", "text": "[earlier image omitted]"}
    assert markers(out) == ["[earlier image omitted]"] * 2
    assert notices == ["2 earlier images omitted to stay within 6 images per request"]
    validate_body({"model": "m", "messages": out})  # the turn goes through


def test_a_new_video_drops_earlier_images_and_says_why():
    messages = [user(img("a"), img("b")), assistant(), user(vid("v"), text="and this clip?")]
    out, notices = apply_media_policy(messages)
    assert kept(out) == ["v"]
    assert markers(out) == ["[earlier image omitted]"] * 2
    assert notices == [
        "2 earlier images omitted: images and a video cannot travel in one request, "
        "and the newest medium is a video"
    ]
    assert count_media(out) == (0, 1)


def test_images_after_a_video_drop_the_video():
    messages = [user(vid("v1")), assistant(), user(vid("v2")), assistant(), user(img("a"))]
    out, notices = apply_media_policy(messages)
    assert kept(out) == ["a"]
    assert markers(out) == ["[earlier video omitted]"] * 2
    assert notices[0].startswith("2 earlier videos omitted: images and a video cannot travel")


def test_only_the_newest_video_is_kept():
    messages = [user(vid("v1")), assistant(), user(text="more?"), assistant(), user(vid("v2"))]
    out, notices = apply_media_policy(messages)
    assert kept(out) == ["v2"]
    assert notices == ["1 earlier video omitted to stay within 1 video per request"]


def test_the_newest_medium_may_sit_in_an_earlier_turn():
    messages = [
        user(img("a")),
        assistant(),
        user(vid("v")),
        assistant(),
        user(text="what happens at the end?"),
    ]
    out, notices = apply_media_policy(messages)
    assert kept(out) == ["v"] and len(notices) == 1


@pytest.mark.parametrize(
    "parts,words",
    [
        ([img(str(i)) for i in range(7)], "7 images: at most 6"),
        ([vid("a"), vid("b")], "2 videos: at most 1"),
        ([img("a"), vid("b")], "1 image and 1 video"),
    ],
)
def test_a_newest_turn_over_the_limit_is_the_callers_error(parts, words):
    messages = [user(img("old")), assistant(), user(*parts)]
    for policy in ("recent", "error"):
        with pytest.raises(InvalidRequestError, match=f"newest message carries {words}"):
            apply_media_policy(messages, policy)


def test_error_policy_names_the_counts():
    messages = [user(*[img(str(i)) for i in range(4)]), assistant(), user(img("x"), img("y"), img("z"))]
    with pytest.raises(
        InvalidRequestError, match=r"carries 7 images: at most 6 images.*history_media='recent'"
    ) as info:
        apply_media_policy(messages, "error")
    assert info.value.field == "messages"
    with pytest.raises(InvalidRequestError, match="2 images and 1 video"):
        apply_media_policy([user(img("a"), img("b")), assistant(), user(vid("v"))], "error")


def test_an_unknown_policy_names_the_allowed_ones():
    with pytest.raises(InvalidRequestError, match=r"history_media='all' is not allowed.*'recent', 'error'"):
        apply_media_policy([user()], "all")


def test_the_input_is_never_mutated():
    messages = [user(*[img(str(i)) for i in range(5)]), assistant(), user(img("x"), img("y"))]
    before = copy.deepcopy(messages)
    out, _ = apply_media_policy(messages)
    assert messages == before
    assert (
        out is not messages and out[0] is not messages[0] and out[0]["content"] is not messages[0]["content"]
    )


def test_string_contents_and_unknown_parts_are_left_alone():
    messages = [
        {"role": "system", "content": "sys"},
        user(*[img(str(i)) for i in range(6)]),
        {"role": "assistant", "content": "plain text"},
        user(img("new")),
    ]
    out, notices = apply_media_policy(messages)
    assert out[0] == messages[0] and out[2] == messages[2]
    assert kept(out) == ["1", "2", "3", "4", "5", "new"]
    assert notices == ["1 earlier image omitted to stay within 6 images per request"]


def _conversation(draw_turns: list[list[str]]) -> list[dict]:
    """Alternating user/assistant turns; each user turn carries the media named in its list."""
    messages: list[dict] = []
    counter = 0
    for turn in draw_turns:
        parts = []
        for kind in turn:
            counter += 1
            parts.append(img(f"i{counter}") if kind == "image" else vid(f"v{counter}"))
        messages += [user(*parts), assistant()]
    return messages[:-1]


def _media_names(messages):
    """The image URL or video file id of every media part, in order."""
    parts = [p for m in messages for p in m["content"] if p["type"] != "text"]
    return [p.get("image_url", p.get("video_file_id")) for p in parts]


older_turn = st.lists(st.sampled_from(["image", "video"]), max_size=4)
newest_turn = st.one_of(st.lists(st.just("image"), max_size=6), st.lists(st.just("video"), max_size=1))


@settings(max_examples=200, deadline=None)
@given(st.lists(older_turn, max_size=6), newest_turn)
def test_recent_always_yields_a_valid_request_of_the_newest_media(older, newest):
    messages = _conversation(older + [newest])
    before = copy.deepcopy(messages)
    out, notices = apply_media_policy(messages, "recent")
    assert messages == before
    validate_body({"model": "m", "messages": out})
    every, left = _media_names(messages), _media_names(out)
    if every:
        is_image = [n.startswith("https://") for n in every]  # video ids are bare names
        same_kind = [n for n, image in zip(every, is_image) if image == is_image[-1]]
        assert left == same_kind[-(6 if is_image[-1] else 1) :]  # the newest of the newest kind, in order
    omitted = len(every) - len(left)
    assert sum(int(n.split()[0]) for n in notices) == omitted
    assert len(markers(out)) == omitted
