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
    return requests.post(emulator.base_url + "/llm/chat-completions", json=body, headers=headers, stream=stream,
                         timeout=10)


def _body(*parts, **extra):
    return {"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": list(parts)}], **extra}


def _events(response) -> list[dict | str]:
    text = response.content.decode()
    assert text.endswith("data:[DONE]\n\n")
    events = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data:"), block
        payload = block[len("data:"):]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_non_streaming_reply_proves_text_and_image(emulator):
    png = base64.b64encode(_png()).decode()
    body = _body({"type": "text", "text": "What is  this?"},
                 {"type": "image_base64", "image_base64": png, "image_url": "", "image_file_id": "", "text": ""})
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
