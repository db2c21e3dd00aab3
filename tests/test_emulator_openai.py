"""The emulator's OpenAI-compatible entry points, driven by the official `openai` package over real sockets.

Nobody here wrote that client: if it reads our replies, chunks and errors, the shapes are OpenAI's.
"""

from __future__ import annotations

import base64
import io
import json

import pytest
import requests
from PIL import Image

openai = pytest.importorskip("openai")
pytest.importorskip("uvicorn")


def _data_url(size=(64, 48), colour=(30, 60, 220)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def oa(emulator):
    return openai.OpenAI(
        base_url=emulator.openai_base_url, api_key=emulator.api_key, max_retries=0, timeout=10
    )


def _ask(oa, text, **kwargs):
    return oa.chat.completions.create(
        model=kwargs.pop("model", "sensenova-v6-pro"), messages=[{"role": "user", "content": text}], **kwargs
    )


def test_plain_chat_comes_back_in_openai_shape(oa, emulator):
    reply = _ask(oa, "hello there", max_tokens=50, temperature=0.5, top_p=0.9)
    assert reply.object == "chat.completion" and reply.model == "sensenova-v6-pro"
    assert reply.choices[0].message.content == "hello there"
    assert reply.choices[0].message.role == "assistant" and reply.choices[0].finish_reason == "stop"
    assert (reply.usage.completion_tokens, reply.usage.total_tokens) == (2, reply.usage.prompt_tokens + 2)
    sent = emulator.requests[-1]  # recorded as sent, in the OpenAI shape
    assert sent["max_tokens"] == 50 and sent["model"] == "sensenova-v6-pro"
    assert emulator.requests.summaries[-1]["path"] == "/compatible-mode/v1/chat/completions"


def test_a_streamed_chat_arrives_as_chunks_then_done(oa, emulator):
    text = "one two three four five six seven"
    chunks = list(_ask(oa, text, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert len(chunks) > 3 and chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.completion_tokens == 7
    raw = requests.post(
        emulator.openai_base_url + "/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        json={"model": "sensenova-v6-pro", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")
    events = [json.loads(line[6:]) for line in raw.text.splitlines() if line.startswith("data: {")]
    assert len({(e["id"], e["created"], e["model"]) for e in events}) == 1  # one reply's stamp


def test_the_native_body_of_an_openai_request_carries_only_wire_fields(emulator):
    """What a chunk repeats is made when the stream starts (`EntryPoint.stamp`), not smuggled into
    the request body under a private key."""
    from sensenova_widget.emulator.openai_routes import to_native

    body = {
        "model": "sensenova-v6-pro",
        "stream": True,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
    }
    native = to_native(body, ("SenseNova-V6-Pro",))
    assert sorted(native) == ["max_new_tokens", "messages", "model", "stream"]


def test_max_tokens_cuts_the_reply_with_length(oa):
    reply = _ask(oa, "one two three four five", max_tokens=2)
    assert reply.choices[0].message.content == "one two" and reply.choices[0].finish_reason == "length"


def test_an_image_as_a_data_url_arrives_decoded(oa, emulator):
    reply = oa.chat.completions.create(
        model="SenseNova-V6-Pro",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what colour?"},
                    {"type": "image_url", "image_url": {"url": _data_url()}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    assert reply.choices[0].message.content == (
        "what colour?\nimage 1: 64x48 RGB, mostly blue\nimage 2: url https://example.com/cat.jpg"
    )
    assert emulator.requests.summaries[-1]["images"] == 2


def test_the_model_list_has_lower_case_ids_and_one_model_is_found(oa, emulator):
    ids = [m.id for m in oa.models.list()]
    assert "sensenova-v6-5-pro" in ids and "sensenova-v6-reasoner" in ids and all(i == i.lower() for i in ids)
    assert oa.models.retrieve("sensenova-v6-5-turbo").context_length == 131072
    with pytest.raises(openai.NotFoundError):
        oa.models.retrieve("no-such-model")


def test_thinking_brings_reasoning_content_before_the_answer(oa):
    reply = _ask(
        oa, "why is the sky blue?", model="sensenova-v6-5-pro", extra_body={"thinking": {"enabled": True}}
    )
    message = reply.choices[0].message
    assert message.content == "why is the sky blue?"
    assert message.reasoning_content == (
        "Reasoning: 1 message, 0 images, 0 videos; thinking asked for; the question: why is the sky blue?"
    )
    assert reply.usage.completion_tokens_details.reasoning_tokens == len(message.reasoning_content.split())
    chunks = list(_ask(oa, "why?", model="sensenova-v6-reasoner", stream=True))
    kinds = [
        "r" if getattr(c.choices[0].delta, "reasoning_content", None) else "a"
        for c in chunks
        if c.choices[0].finish_reason is None
    ]
    assert kinds[0] == "r" and kinds[-1] == "a" and "".join(kinds).count("ra") == 1  # reasoning first
    assert "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks).endswith(
        "always on; the question: why?"
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "why?"
    plain = _ask(oa, "why?", model="sensenova-v6-5-pro", extra_body={"thinking": {"enabled": False}})
    assert getattr(plain.choices[0].message, "reasoning_content", None) is None


def test_codes_17_and_18_raise_bad_request_with_the_code(oa):
    with pytest.raises(openai.BadRequestError) as too_long:
        _ask(
            oa,
            "a few words",
            max_tokens=16384,
            model="sensenova-v6-pro",
            extra_headers={"x-emulator-fault": "context_length=16000"},
        )
    assert too_long.value.status_code == 400 and too_long.value.code == "17"
    assert "context length" in too_long.value.message
    with pytest.raises(openai.BadRequestError) as unsafe:
        _ask(oa, "tell me EMULATOR-UNSAFE things")
    assert unsafe.value.code == "18" and "content filter" in unsafe.value.message
    assert unsafe.value.body["type"] == "invalid_request_error"


def test_a_429_carries_retry_after_and_the_sdk_retries_it(emulator):
    strict = openai.OpenAI(base_url=emulator.openai_base_url, api_key=emulator.api_key, max_retries=0)
    with pytest.raises(openai.RateLimitError) as limited:
        _ask(strict, "hi", extra_headers={"x-emulator-fault": "status=429,retry_after=7"})
    assert limited.value.response.headers["retry-after"] == "7" and limited.value.code == "8"
    patient = openai.OpenAI(base_url=emulator.openai_base_url, api_key=emulator.api_key, max_retries=2)
    reply = _ask(patient, "hi", extra_headers={"x-emulator-fault": "status=429,times=1,retry_after=0.05"})
    assert reply.choices[0].message.content == "hi" and len(emulator.requests) == 3


def test_an_error_mid_stream_raises_in_the_sdk(oa):
    stream = _ask(
        oa, "one two three four five", stream=True, extra_headers={"x-emulator-fault": "error_after=2"}
    )
    got = []
    with pytest.raises(openai.APIError, match="emulated error event after 2"):
        for chunk in stream:
            got.append(chunk.choices[0].delta.content)
    assert got == ["one", " two three"]


def test_auth_and_limits_answer_in_openai_shape(emulator):
    with pytest.raises(openai.AuthenticationError) as denied:
        _ask(openai.OpenAI(base_url=emulator.openai_base_url, api_key="wrong", max_retries=0), "hi")
    assert denied.value.code == "16" and "wrong" not in denied.value.message
    from sensenova_widget.client.auth import Credentials

    token = Credentials(
        access_key_id=emulator.access_key_id, secret_access_key=emulator.secret_access_key
    ).token()
    jwt_client = openai.OpenAI(base_url=emulator.openai_base_url, api_key=token, max_retries=0)
    assert _ask(jwt_client, "signed").choices[0].message.content == "signed"
    oa = openai.OpenAI(base_url=emulator.openai_base_url, api_key=emulator.api_key, max_retries=0)
    seven = [{"type": "image_url", "image_url": {"url": _data_url((8, 8))}}] * 7
    with pytest.raises(openai.BadRequestError, match="at most 6 images"):
        oa.chat.completions.create(model="sensenova-v6-pro", messages=[{"role": "user", "content": seven}])
    with pytest.raises(
        openai.BadRequestError,
        match=r"max_tokens=0 is not allowed: expected an integer in "
        r"\[1, 16384\]",
    ) as low:
        _ask(oa, "hi", max_tokens=0)
    assert low.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError, match="top_p=1"):
        _ask(oa, "hi", top_p=1)
    with pytest.raises(openai.BadRequestError, match="data URL"):
        oa.chat.completions.create(
            model="sensenova-v6-pro",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png,not-base64"}}],
                }
            ],
        )
    with pytest.raises(openai.NotFoundError):
        _ask(oa, "hi", model="gpt-4o")


def test_the_token_plan_entry_point_answers_the_same(emulator):
    response = requests.post(
        emulator.url + "/v1/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        json={"model": "SenseNova-V6-Turbo", "messages": [{"role": "user", "content": "same"}]},
    )
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "same"
    missing = requests.get(emulator.openai_base_url + "/nope", timeout=10)
    assert missing.status_code == 404 and set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_a_video_url_part_arrives(emulator):
    response = requests.post(
        emulator.openai_base_url + "/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        json={
            "model": "sensenova-v6-pro",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}},
                        {"type": "text", "text": "what happens?"},
                    ],
                }
            ],
        },
    )
    assert json.loads(response.text)["choices"][0]["message"]["content"] == (
        "what happens?\nvideo 1: url https://example.com/a.mp4"
    )
