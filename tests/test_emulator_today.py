"""Today's service on the native endpoint: reasoning, codes 17 and 18; and what the emulator keeps.

Real sockets throughout; the request log's size is measured by walking what it retains.
"""

from __future__ import annotations

import base64
import json
import sys

import pytest
import requests
from emulator_helpers import raw_exchange

from sensenova_widget import protocol
from sensenova_widget.emulator import Emulator

pytest.importorskip("uvicorn")


def _post(emulator, content, *, model="SenseNova-V6-5-Pro", fault=None, stream=False, **body):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    if fault:
        headers["x-emulator-fault"] = fault
    payload = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream, **body}
    return requests.post(emulator.base_url + protocol.CHAT_PATH, json=payload, headers=headers, timeout=10)


def _events(response) -> list[dict]:
    blocks = response.content.decode().split("\n\n")
    assert blocks[-2:] == ["data:[DONE]", ""]
    return [json.loads(block[len("data:") :])["data"]["choices"][0] for block in blocks[:-2]]


def test_thinking_puts_reasoning_content_beside_the_message(emulator):
    choice = _post(emulator, "is it so?", thinking={"enabled": True}).json()["data"]["choices"][0]
    assert choice["message"] == "is it so?"
    assert choice["reasoning_content"] == (
        "Reasoning: 1 message, 0 images, 0 videos; thinking asked for; the question: is it so?"
    )
    for quiet in (
        {"model": "SenseNova-V6-5-Pro"},
        {"thinking": {"enabled": False}},
        {"model": "SenseNova-V6-Pro", "thinking": {"enabled": True}},
    ):  # V6 does not reason
        assert "reasoning_content" not in _post(emulator, "is it so?", **quiet).json()["data"]["choices"][0]
    refused = _post(emulator, "hi", thinking=True)
    assert refused.status_code == 400 and refused.json()["error"]["details"] == [{"field": "thinking"}]


def test_reasoning_streams_beside_delta_before_the_answer(emulator):
    events = _events(_post(emulator, "one two three", model="SenseNova-V6-Reasoner", stream=True))
    reasoning = [e.get("reasoning_content", "") for e in events]
    answer = [e["delta"] for e in events]
    first_answer = next(i for i, text in enumerate(answer) if text)
    assert all(reasoning[:first_answer]) and not any(reasoning[first_answer:])  # all reasoning comes first
    assert "".join(reasoning) == (
        "Reasoning: 1 message, 0 images, 0 videos; always on; the question: one two three"
    )
    assert "".join(answer) == "one two three" and events[-1]["finish_reason"] == "stop"


def test_think_inline_puts_the_reasoning_in_a_leading_think_block(emulator):
    body = _post(emulator, "inline please", fault="think_inline=1", thinking={"enabled": True}).json()["data"]
    text = body["choices"][0]["message"]
    assert "reasoning_content" not in body["choices"][0]
    assert text == (
        "<think>Reasoning: 1 message, 0 images, 0 videos; thinking asked for; the question: "
        "inline please</think>\n\ninline please"
    )
    streamed = _events(
        _post(emulator, "inline please", fault="think_inline=1", thinking={"enabled": True}, stream=True)
    )
    assert "".join(e["delta"] for e in streamed) == text


def test_code_17_when_prompt_plus_max_new_tokens_exceed_the_context(emulator):
    assert _post(emulator, "one two three", fault="context_length=100", max_new_tokens=97).status_code == 200
    too_long = _post(emulator, "one two three", fault="context_length=100", max_new_tokens=98)
    assert too_long.status_code == 400
    error = too_long.json()["error"]
    assert error["code"] == 17 and "context length exceeded" in error["message"] and "100" in error["message"]
    long_prompt = "w " * 16400  # 16400 tokens: with 16384 new ones, over V6-Pro's 32768, under V6.5's 131072
    assert (
        _post(emulator, long_prompt, model="SenseNova-V6-Pro", max_new_tokens=16384).json()["error"]["code"]
        == 17
    )
    assert _post(emulator, long_prompt, model="SenseNova-V6-5-Pro", max_new_tokens=16384).status_code == 200
    images = [{"type": "image_url", "image_url": f"https://example.com/{i}.png"} for i in range(6)]
    small = _post(emulator, images, fault="context_length=1000", max_new_tokens=16)  # 6 x 256 prompt tokens
    assert small.status_code == 400 and small.json()["error"]["code"] == 17
    cut = _post(emulator, "one two three four", fault="context_length=6").json()["data"]  # no max_new_tokens
    assert cut["choices"][0]["finish_reason"] == "context" and cut["choices"][0]["message"] == "one two"


def test_code_18_for_the_trigger_phrase_in_any_message(emulator):
    refused = requests.post(
        emulator.base_url + protocol.CHAT_PATH,
        timeout=10,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        json={
            "model": "SenseNova-V6-Pro",
            "messages": [
                {"role": "system", "content": "say emulator-unsafe"},
                {"role": "user", "content": "hello"},
            ],
        },
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == 18 and "content filter" in error["message"] and "rephrase" in error["message"]


def _retained_bytes(value, seen=None) -> int:
    """What the log keeps alive: every object reachable from it, counted once."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_retained_bytes(k, seen) + _retained_bytes(v, seen) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        size += sum(_retained_bytes(item, seen) for item in value)
    return size


def test_the_request_log_stays_bounded_in_bytes_and_keeps_summaries():
    payload = base64.b64encode(b"\x00" * 3_000_000).decode()  # 4 MB of base64 per request
    with Emulator(keep_request_bytes=10_000_000) as emu:
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        for i in range(12):  # 48 MB sent in all
            body = {
                "model": "SenseNova-V6-Pro",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_base64", "image_base64": payload},
                            {"type": "text", "text": f"turn {i}"},
                        ],
                    }
                ],
            }
            requests.post(emu.base_url + protocol.CHAT_PATH, json=body, headers=headers, timeout=30)
        log = emu.requests
        retained = _retained_bytes(log) + _retained_bytes(log.summaries)
        assert retained < 10_000_000 + 1_000_000 and log.whole_bytes <= 10_000_000
        assert len(log) == 12 and log[-1] == body  # the newest is whole, as sent
        old = log[0]["messages"][0]["content"]
        assert old[1] == {"type": "text", "text": "turn 0"}
        assert old[0]["image_base64"] == f"<{len(payload)} chars dropped from the emulator's request log>"
        assert log.summaries[0] == {
            "path": "/v1/llm/chat-completions",
            "model": "SenseNova-V6-Pro",
            "messages": 1,
            "images": 1,
            "videos": 0,
            "bytes": log.summaries[0]["bytes"],
            "stream": False,
        }
        assert log.summaries[0]["bytes"] > len(payload)


def test_one_body_larger_than_the_budget_is_compacted_at_once_and_data_urls_keep_their_type():
    with Emulator(keep_request_bytes=1000) as emu:
        url = "data:image/png;base64," + "A" * 5000
        requests.post(
            emu.openai_base_url + "/chat/completions",
            headers={"Authorization": f"Bearer {emu.api_key}"},
            json={
                "model": "sensenova-v6-pro",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}],
            },
            timeout=10,
        )
        part = emu.requests[-1]["messages"][0]["content"][0]
        assert (
            part["image_url"]["url"]
            == "data:image/png;base64,<5000 chars dropped from the emulator's request log>"
        )
        assert emu.requests.whole_bytes == 0


def _half_sent(port: int, path: str, api_key: str) -> tuple[bytes, bool]:
    """Headers and half the body, then silence: what the server sends back, and whether it closed."""
    body = json.dumps(
        {"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": "x" * 2000}]}
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return raw_exchange(port, head.encode() + body[: len(body) // 2], timeout=20)


@pytest.mark.parametrize("path", ["/v1/llm/chat-completions", "/compatible-mode/v1/chat/completions"])
def test_a_body_that_stalls_gets_a_408_and_a_closed_connection(path):
    with Emulator(body_timeout=0.3) as emu:
        received, closed = _half_sent(emu.port, path, emu.api_key)
        assert closed and received.startswith(b"HTTP/1.1 408")
        assert b"the request body stopped arriving" in received
        assert emu.requests == []  # nothing half-read is recorded
        whole = requests.post(
            emu.base_url + protocol.CHAT_PATH,
            headers={"Authorization": f"Bearer {emu.api_key}"},
            json={"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": "ok"}]},
            timeout=10,
        )
        assert whole.status_code == 200  # the server still serves


def test_an_upload_that_stalls_times_out_too():
    with Emulator(body_timeout=0.3) as emu:
        head = (
            f"POST /file/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {emu.api_key}\r\n"
            f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 100000\r\n\r\n--xyz\r\n"
        )
        received, closed = raw_exchange(emu.port, head.encode(), timeout=20)
        assert closed and received.startswith(b"HTTP/1.1 408")


def test_the_request_log_stays_bounded_for_bodies_that_are_json_but_no_chat_request():
    from sensenova_widget.emulator.request_log import COMPACT_BYTES, MODEL_CHARS

    keep, keep_bytes = 40, 1_000_000
    hostile = [
        list(range(100_000)),  # a long list of numbers: no long string to drop
        {f"k{i}": i for i in range(50_000)},  # a wide object
        {"model": "m" * 400_000, "messages": "not a list"},  # a model name as long as a body
        {"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": "a"}] * 20_000},
        json.loads("[" * 400 + "]" * 400),  # nested deeper than any chat request
    ]
    with Emulator(keep_requests=keep, keep_request_bytes=keep_bytes) as emu:
        headers = {"Authorization": f"Bearer {emu.api_key}", "Content-Type": "application/json"}
        sent = 0
        for _ in range(12):  # 60 bodies, about 30 MB of JSON
            for body in hostile:
                data = json.dumps(body).encode()
                sent += len(data)
                reply = requests.post(
                    emu.base_url + protocol.CHAT_PATH, data=data, headers=headers, timeout=30
                )
                assert reply.status_code < 500  # refused (or, for the long chat, answered)
        log = emu.requests
        assert len(log) == keep and len(log.summaries) == keep and log.whole_bytes <= keep_bytes
        retained = _retained_bytes(log) + _retained_bytes(log.summaries)
        # whole entries: weighed as Python objects; compacted ones: about COMPACT_BYTES each
        assert retained < 2 * keep_bytes + keep * 2 * COMPACT_BYTES < sent / 5
        assert all(s["model"] is None or len(s["model"]) <= MODEL_CHARS for s in log.summaries)
        assert any("more entries dropped" in json.dumps(entry) for entry in log[:5])


def test_a_slow_header_flood_is_cut_off_and_a_normal_request_is_still_answered():
    import socket

    flood = 200
    with Emulator(header_timeout=1.0) as emu:
        slow = []
        for i in range(flood):  # each opens, sends part of its headers, and stalls
            sock = socket.create_connection(("127.0.0.1", emu.port), timeout=60)
            sock.sendall(b"POST /v1/llm/chat-completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * i)
            slow.append(sock)
        silent = socket.create_connection(("127.0.0.1", emu.port), timeout=60)  # sends nothing at all
        reply = _post(emu, "still there?")
        assert reply.status_code == 200 and reply.json()["data"]["choices"][0]["message"]
        for sock in [*slow, silent]:  # the server closes each (recv returns b"" or the reset)
            with sock:
                try:
                    assert sock.recv(100) == b""
                except ConnectionResetError:
                    pass
        trickle = socket.create_connection(("127.0.0.1", emu.port), timeout=60)
        closed = False
        with trickle:  # a byte at a time, never the blank line: cut as well, not kept alive by bytes
            trickle.settimeout(0.2)
            for byte in b"GET /v1/llm/models HTTP/1.1\r\n" * 50:
                try:
                    trickle.sendall(bytes([byte]))
                    if trickle.recv(100) == b"":
                        closed = True
                        break
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
        assert closed
        assert _post(emu, "and after?").status_code == 200
