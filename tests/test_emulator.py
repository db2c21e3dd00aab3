"""The emulator on a real socket: the chat endpoint, streamed and not, with the reply contract."""

from __future__ import annotations

import base64
import io
import json

import pytest
import requests
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def _png(size=(640, 480), colour=(200, 20, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _post(emulator, body, *, headers=None, stream=False):
    headers = {"Authorization": f"Bearer {emulator.api_key}", **(headers or {})}
    return requests.post(
        emulator.base_url + "/llm/chat-completions", json=body, headers=headers, stream=stream, timeout=10
    )


def _body(*parts, **extra):
    return {"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": list(parts)}], **extra}


def _events(response) -> list[dict | str]:
    text = response.content.decode()
    assert text.endswith("data:[DONE]\n\n")
    events = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data:"), block
        payload = block[len("data:") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_non_streaming_reply_proves_text_and_image(emulator):
    png = base64.b64encode(_png()).decode()
    body = _body(
        {"type": "text", "text": "What is  this?"},
        {"type": "image_base64", "image_base64": png, "image_url": "", "image_file_id": "", "text": ""},
    )
    response = _post(emulator, body)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"]
    data = response.json()["data"]
    choice = data["choices"][0]
    assert choice["message"] == "What is  this?\nimage 1: 640x480 RGB, mostly red"
    assert choice["finish_reason"] == "stop" and choice["role"] == "assistant" and choice["index"] == 0
    words = len(choice["message"].split())
    assert data["usage"]["completion_tokens"] == words
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + words
    assert emulator.requests[-1] == body


def test_streaming_events_have_the_spec_shape_and_cumulative_usage(emulator):
    body = _body({"type": "text", "text": "one two three four five six seven"}, stream=True)
    response = _post(emulator, body, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"]
    events = _events(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len(chunks) >= 4
    assert all(e["status"] == {"code": 0, "message": "ok"} for e in chunks)
    text = "".join(e["data"]["choices"][0]["delta"] for e in chunks)
    assert text == "one two three four five six seven"
    completions = [e["data"]["usage"]["completion_tokens"] for e in chunks]
    assert completions == sorted(completions) and completions[-1] == 7
    assert [e["data"]["choices"][0]["finish_reason"] for e in chunks] == [""] * (len(chunks) - 1) + ["stop"]
    assert len({e["data"]["id"] for e in chunks}) == 1


def test_client_fixture_talks_to_the_emulator(client, emulator):
    reply = client.chat("hello emulator")
    assert reply.text == "hello emulator"
    assert reply.finish_reason == "stop"
    assert emulator.requests[-1]["messages"][-1]["role"] == "user"


def test_url_only_image_and_video_parts_are_named_not_fetched(emulator):
    body = _body(
        {"type": "image_url", "image_url": "https://example.com/cat.jpg"},
        {"type": "image_url", "image_url": "http://127.0.0.1:9/unreachable.png"},
    )
    text = _post(emulator, body).json()["data"]["choices"][0]["message"]
    assert text == "image 1: url https://example.com/cat.jpg\nimage 2: url http://127.0.0.1:9/unreachable.png"
    video = _post(
        emulator,
        _body({"type": "text", "text": "clip"}, {"type": "video_url", "video_url": "https://v/x.mp4"}),
    )
    assert video.json()["data"]["choices"][0]["message"] == "clip\nvideo 1: url https://v/x.mp4"


def test_media_from_earlier_turns_is_described_and_numbered_in_order(emulator):
    png = base64.b64encode(_png((32, 16), (30, 160, 50))).decode()
    body = {
        "model": "SenseNova-V6-Pro",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "image_base64", "image_base64": png}, {"type": "text", "text": "a?"}],
            },
            {"role": "assistant", "content": "green"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and" + " this" * 150},
                    {"type": "image_url", "image_url": "https://x/y.png"},
                ],
            },
        ],
    }
    text = _post(emulator, body).json()["data"]["choices"][0]["message"]
    echo, first, second = text.split("\n")
    assert echo == ("and" + " this" * 150)[:200]
    assert first == "image 1: 32x16 RGB, mostly green" and second == "image 2: url https://x/y.png"


def test_undecodable_or_prefixed_base64_is_a_400_naming_the_part(emulator):
    for value, words in [
        (base64.b64encode(b"not an image").decode(), "not a decodable image"),
        ("data:image/png;base64,AAAA", "data: URL prefix"),
    ]:
        response = _post(emulator, _body({"type": "image_base64", "image_base64": value}))
        assert response.status_code == 400
        error = response.json()["error"]
        assert words in error["message"] and error["details"] == [
            {"field": "messages[0].content[0].image_base64"}
        ]


def test_emulator_object_reports_resets_and_refuses_a_restart():
    from sensenova_widget.emulator import Emulator

    emu = Emulator(api_key="my-key", context_length=100)
    with emu:
        assert emu.api_key == "my-key" and emu.base_url == f"http://127.0.0.1:{emu.port}/v1"
        assert emu.file_base_url == f"http://127.0.0.1:{emu.port}/file/v1"
        assert emu.env()["SENSENOVA_API_BASE"] == emu.base_url
        assert _post(emu, _body({"type": "text", "text": "hi"})).status_code == 200
        assert emu.request_count == 1
        assert emu.openai_base_url == f"http://127.0.0.1:{emu.port}/compatible-mode/v1"
        key = {"Authorization": "Bearer my-key"}
        listed = requests.get(emu.base_url + "/llm/models", headers=key, timeout=10)
        assert {m["context_length"] for m in listed.json()["data"]} == {100}  # the knob sets every model's
        emu.configure(context_length=None)  # None restores the default: each model's own context
        assert emu.knobs.context_length is None
        listed = requests.get(emu.base_url + "/llm/models", headers=key, timeout=10)
        contexts = {m["id"]: m["context_length"] for m in listed.json()["data"]}
        assert contexts["SenseNova-V6-5-Pro"] == 131072 and contexts["SenseNova-V6-Pro"] == 32768
        emu.reset()
        assert emu.request_count == 0 and emu.requests == []
    with pytest.raises(RuntimeError, match="stopped"):
        emu.start()
