"""Each fault knob on a real socket: delays, errors, HTML pages, stalls and dropped connections."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests
from emulator_helpers import raw_exchange

from sensenova_widget.emulator import Emulator

pytest.importorskip("uvicorn")

PROMPT = "alpha beta gamma delta epsilon zeta eta theta"


def _post(emulator, *, fault=None, stream=False, lazy=None, timeout=10, **body):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    if fault is not None:
        headers["x-emulator-fault"] = fault
    payload = {
        "model": "SenseNova-V6-Pro",
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": stream,
        **body,
    }
    return requests.post(
        emulator.base_url + "/llm/chat-completions",
        json=payload,
        headers=headers,
        stream=stream if lazy is None else lazy,
        timeout=timeout,
    )


def _events(raw: bytes) -> list:
    return [
        block[5:].decode() if block == b"data:[DONE]" else json.loads(block[5:])
        for block in raw.split(b"\n\n")
        if block
    ]


def _raw_chat(emulator, fault: str, *, stream: bool) -> tuple[bytes, bool]:
    """Send one request over a raw socket; return every byte received and whether the server closed."""
    body = json.dumps(
        {"model": "SenseNova-V6-Pro", "stream": stream, "messages": [{"role": "user", "content": PROMPT}]}
    ).encode()
    head = (
        "POST /v1/llm/chat-completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {emulator.api_key}\r\nContent-Type: application/json\r\n"
        f"x-emulator-fault: {fault}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return raw_exchange(emulator.port, head.encode() + body)


def test_ttft_delays_the_first_delta_not_the_headers(emulator):
    start = time.monotonic()
    response = _post(emulator, fault="ttft=0.8", stream=True)
    headers_after = time.monotonic() - start
    first = next(response.iter_content(chunk_size=None))
    first_after = time.monotonic() - start
    assert response.status_code == 200 and first.startswith(b"data:")
    assert first_after >= 0.8 and first_after - headers_after >= 0.4  # the headers came well before
    response.close()


def test_ttft_delays_a_non_streaming_reply(emulator):
    start = time.monotonic()
    assert _post(emulator, fault="ttft=0.3").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_delta_delay_spaces_the_deltas(emulator):
    start = time.monotonic()
    response = _post(emulator, fault="delta_delay=0.05", stream=True)
    events = _events(response.content)
    deltas = len(events) - 2  # the finishing event and [DONE]
    assert time.monotonic() - start >= 0.05 * (deltas - 1)


def test_reply_tokens_pads_the_reply_and_usage_follows(emulator):
    data = _post(emulator, fault="reply_tokens=50").json()["data"]
    assert data["usage"]["completion_tokens"] == 50 == len(data["choices"][0]["message"].split())
    assert data["choices"][0]["message"].startswith(PROMPT)


def test_status_times_retry_after_fail_then_succeed(emulator):
    fault = "status=429,times=2,retry_after=1.5"
    first, second, third = (_post(emulator, fault=fault) for _ in range(3))
    for response in (first, second):
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1.5"
        assert response.json()["error"]["code"] == 8
        assert response.headers["x-request-id"]
    assert third.status_code == 200
    assert len(emulator.requests) == 3  # failed requests are recorded too: retries are visible


@pytest.mark.parametrize("status, code", [(500, 2), (502, 14), (503, 14), (504, 4), (408, 1), (409, 6)])
def test_server_error_statuses_carry_the_service_code(emulator, status, code):
    response = _post(emulator, fault=f"status={status}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_html_serves_a_proxy_page(emulator):
    response = _post(emulator, fault="html=502")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text and "502 Bad Gateway" in response.text
    assert _post(emulator, fault="html=1,status=503").status_code == 503


def test_error_after_sends_an_error_event_after_k_deltas(emulator):
    events = _events(_post(emulator, fault="error_after=2", stream=True).content)
    assert len(events) == 3
    assert all(e["status"]["code"] == 0 for e in events[:2])
    assert events[2]["error"]["code"] == 2 and events[2]["status"]["code"] == 2
    assert _post(emulator, fault="error_after=0").status_code == 500


def test_stall_after_goes_silent_after_k_deltas(emulator):
    response = _post(emulator, fault="stall_after=1,stall=5", stream=True, timeout=(5, 1.0))
    received = b""
    with pytest.raises(requests.exceptions.ConnectionError):  # requests wraps the read timeout
        for chunk in response.iter_content(chunk_size=None):
            received += chunk
    assert len(_events(received)) == 1
    response.close()


def test_stall_after_the_headers_of_a_non_streaming_reply(emulator):
    response = _post(emulator, fault="stall_after=0,stall=5", lazy=True, timeout=(5, 1.0))
    assert response.status_code == 200  # the headers came at once; the body does not
    with pytest.raises(requests.exceptions.ConnectionError, match="timed out"):
        response.content


def test_drop_after_really_closes_the_tcp_connection_mid_body(emulator):
    received, closed = _raw_chat(emulator, "drop_after=2", stream=True)
    assert closed
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"transfer-encoding: chunked" in head.lower()
    assert body.count(b"data:{") == 2
    assert not body.endswith(b"0\r\n\r\n") and b"[DONE]" not in body  # the chunked body never ended
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _post(emulator, fault="drop_after=1", stream=True).content


def test_drop_after_cuts_a_non_streaming_body(emulator):
    received, closed = _raw_chat(emulator, "drop_after=0", stream=False)
    assert closed
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    assert 0 < len(body) < length


def test_context_length_cuts_the_reply_with_context(emulator):
    data = _post(emulator, fault="context_length=12").json()["data"]
    assert data["choices"][0]["finish_reason"] == "context"
    assert data["usage"]["total_tokens"] == 12
    too_long = _post(emulator, fault="context_length=8")
    assert too_long.status_code == 400
    assert "context length exceeded" in too_long.json()["error"]["message"]


def test_max_new_tokens_cuts_the_reply_with_length(emulator):
    data = _post(emulator, max_new_tokens=3).json()["data"]
    assert data["choices"][0] == {
        "message": "alpha beta gamma",
        "finish_reason": "length",
        "index": 0,
        "role": "assistant",
    }
    assert data["usage"]["completion_tokens"] == 3


def test_sensitive_word_stops_the_reply(emulator):
    data = _post(emulator, fault="sensitive_words=gamma|omega").json()["data"]
    assert data["choices"][0]["finish_reason"] == "sensitive"
    assert data["choices"][0]["message"] == "alpha beta"
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    body = {
        "model": "SenseNova-V6-Pro",
        "messages": [{"role": "user", "content": "say sensitive-trigger now"}],
    }
    reply = requests.post(emulator.base_url + "/llm/chat-completions", json=body, headers=headers, timeout=10)
    assert reply.json()["data"]["choices"][0]["finish_reason"] == "sensitive"


def test_a_bad_fault_header_is_a_400_naming_the_knob(emulator):
    for fault, word in [
        ("ttft=-1", "ttft"),
        ("nonsense=1", "nonsense"),
        ("status", "name=value"),
        ("status=200", "status"),
    ]:
        response = _post(emulator, fault=fault)
        assert response.status_code == 400
        assert word in response.json()["error"]["message"]


def test_constructor_knobs_and_configure_apply_to_every_request():
    with Emulator(reply_tokens=5, status=503, times=1) as emu:
        assert _post(emu).status_code == 503
        assert _post(emu).json()["data"]["usage"]["completion_tokens"] == 5
        emu.configure(reply_tokens=7)
        assert _post(emu).json()["data"]["usage"]["completion_tokens"] == 7
        assert _post(emu, fault="reply_tokens=2").json()["data"]["usage"]["completion_tokens"] == 2
    with pytest.raises(ValueError, match="ttft"):
        Emulator(ttft="soon")


def test_command_line_prints_urls_and_credentials_and_serves():
    process = subprocess.Popen(
        [sys.executable, "-m", "sensenova_widget.emulator", "--port", "0", "--reply-tokens", "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(6)]
        env = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[1:])
        assert set(env) == {
            "SENSENOVA_API_BASE",
            "SENSENOVA_API_BASE_FILE",
            "SENSENOVA_API_KEY",
            "SENSENOVA_ACCESS_KEY_ID",
            "SENSENOVA_SECRET_ACCESS_KEY",
        }
        response = requests.post(
            env["SENSENOVA_API_BASE"] + "/llm/chat-completions",
            timeout=10,
            headers={"Authorization": "Bearer " + env["SENSENOVA_API_KEY"]},
            json={"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.json()["data"]["usage"]["completion_tokens"] == 4
    finally:
        process.terminate()
        process.wait(10)


def test_command_line_refuses_a_bad_knob_with_a_clear_message():
    done = subprocess.run(
        [sys.executable, "-m", "sensenova_widget.emulator", "--port", "0", "--ttft", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "ttft='soon' is not allowed" in done.stderr


def test_the_request_log_is_bounded():
    with Emulator(keep_requests=3) as emu:
        for i in range(5):
            _post(emu, user=f"u{i}")
        assert [body["user"] for body in emu.requests] == ["u2", "u3", "u4"]
