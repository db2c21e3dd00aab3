"""Issue 14, "values as users have them" and "a file id leaves its URL path": bad values are
refused before anything is sent, good ones of any number type are sent as plain JSON numbers.

Every request goes over real HTTP: to the shared emulator, or to a "stranger" server on 127.0.0.1
(tests/browser_helpers.py) that answers every path with an empty 200 and keeps what it was asked.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser_helpers import stranger
from test_client import png_bytes

import sensenova_widget as snw
from sensenova_widget import InvalidRequestError


# ---------------------------------------------------------------- point 5: file ids
@pytest.mark.parametrize("file_id", ["../../llm/models", "..", ".", "", "a/b", "a\\b", "a b", "x\n", 7, None])
def test_a_file_id_that_is_not_one_path_segment_is_refused_before_sending(file_id):
    with stranger() as (origin, seen):
        client = snw.Client("k", base_url=origin + "/v1", file_base_url=origin + "/v1")
        with pytest.raises(InvalidRequestError, match="file id .* is not allowed") as caught:
            client.file(file_id)
        assert caught.value.field == "file_id"
        with pytest.raises(InvalidRequestError):
            client.wait_for_file(file_id, timeout=1)
    assert seen == []


def test_a_file_id_is_quoted_as_one_segment_and_real_ids_still_work(client):
    with stranger() as (origin, seen):
        other = snw.Client("k", base_url=origin + "/v1", file_base_url=origin + "/v1", max_retries=0)
        with pytest.raises(snw.SenseNovaError):  # its empty 200 is no file record
            other.file("a?b#c%d")
    assert seen == ["GET /v1/files/a%3Fb%23c%25d"]  # the query and fragment stayed inside the id

    file_id = client.upload(png_bytes(), filename="x.png")
    assert client.file(file_id)["id"] == file_id  # the emulator's own ids are one segment as they are


# ---------------------------------------------------------------- point 8: number types
@pytest.mark.parametrize(
    ("name", "value", "sent"),
    [
        ("max_new_tokens", np.int64(5), 5),
        ("max_new_tokens", np.int32(7), 7),
        ("max_new_tokens", 5.0, 5),
        ("temperature", np.float32(0.5), 0.5),
        ("temperature", np.float32(0.1), 0.1),  # the decimal the user wrote, not float32's neighbour
        ("top_p", np.float16(0.5), 0.5),
        ("repetition_penalty", np.float64(1.05), 1.05),
        ("repetition_penalty", np.int8(1), 1.0),
    ],
)
def test_numpy_scalars_are_sent_as_plain_json_numbers(client, emulator, name, value, sent):
    reply = client.chat("numbers", **{name: value})
    assert reply.text == "numbers"
    [body] = emulator.requests
    assert body[name] == sent and type(body[name]) is type(sent)


@pytest.mark.parametrize("value", [5.5, True, np.bool_(True), "5", 0, np.int64(0), 16385, float("nan"), 1j])
def test_bad_max_new_tokens_are_refused_with_the_range_before_sending(client, emulator, value):
    allowed = r"max_new_tokens=.* is not allowed: expected an integer in \[1, 16384\]"
    with pytest.raises(InvalidRequestError, match=allowed):
        client.chat("numbers", max_new_tokens=value)
    assert emulator.requests == []


def test_a_panel_made_with_numpy_settings_syncs_plain_numbers(client):
    panel = snw.ChatPanel(client=client, max_new_tokens=np.int64(9), temperature=np.float32(0.25))
    assert panel.settings["max_new_tokens"] == 9 and type(panel.settings["max_new_tokens"]) is int
    assert panel.settings["temperature"] == 0.25 and type(panel.settings["temperature"]) is float
    json.dumps(panel.settings)  # what the comm sends


# ---------------------------------------------------------------- point 9: the client's own settings
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": (5, -1)}, "timeout"),
        ({"timeout": (1, 2, 3)}, "timeout"),
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": "ftp://example.com/v1"}, "base_url"),
        ({"base_url": "https://"}, "base_url"),
        ({"file_base_url": "not a url"}, "file_base_url"),
        ({"file_base_url": "https://exa mple.com"}, "file_base_url"),
    ],
)
def test_bad_client_settings_are_refused_when_the_client_is_made(kwargs, field):
    with pytest.raises(InvalidRequestError, match="is not allowed") as caught:
        snw.Client("k", **kwargs)
    assert caught.value.field == field
    assert "k" not in str(caught.value).split()  # never the key


def test_a_bad_base_url_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("SENSENOVA_API_BASE", "localhost:8000")
    with pytest.raises(InvalidRequestError, match="SENSENOVA_API_BASE="):
        snw.Client("k")


def test_good_client_settings_still_pass(emulator):
    client = snw.Client(
        emulator.api_key,
        base_url=emulator.base_url + "/",
        file_base_url=emulator.file_base_url,
        timeout=(2, np.float64(30)),
        max_retries=np.int64(1),
    )
    assert client.base_url == emulator.base_url and client.timeout == (2.0, 30.0)
    assert client.max_retries == 1
    assert client.chat("still fine").text == "still fine"


# ---------------------------------------------------------------- point 10: prompts and parts
@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_a_blank_prompt_is_refused_before_sending(client, emulator, prompt):
    with pytest.raises(InvalidRequestError, match="the prompt is empty"):
        client.chat(prompt)
    assert emulator.requests == []


def test_a_blank_prompt_with_an_image_is_a_question_about_the_image(client, emulator):
    image = {"type": "image_url", "image_url": "https://example.com/cat.png"}
    assert client.chat("", images=[image]).finish_reason == "stop"
    [body] = emulator.requests
    assert body["messages"][0]["content"][0] == image


def test_a_list_of_strings_is_a_clear_invalid_request(client, emulator):
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]='a' is not allowed: expected a message"):
        client.chat(["a", "b"])
    assert emulator.requests == []


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": "https://a b/x.png"},
        {"type": "image_url", "image_url": "javascript:alert(1)"},
        {"type": "video_url", "video_url": "file:///etc/passwd"},
        {"type": "image_url", "image_url": ""},
        {"type": "picture", "picture": "x"},
    ],
)
def test_wire_dicts_given_directly_are_checked_by_the_media_layer(client, emulator, part):
    kind = "video" if part["type"].startswith("video") else "images"
    with pytest.raises(InvalidRequestError):
        client.chat("look", **({"video": part} if kind == "video" else {"images": [part]}))
    with pytest.raises(InvalidRequestError):
        client.chat([{"role": "user", "content": [part, {"type": "text", "text": "look"}]}])
    assert emulator.requests == []
