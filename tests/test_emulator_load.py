"""Many clients at once: each of 64 concurrent streams gets its own complete reply."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytest.importorskip("uvicorn")

CLIENTS = 64


def _stream_once(emulator, index: int, barrier: threading.Barrier) -> tuple:
    prompt = f"client {index} asks for its own words number {index * 7}"
    body = {"model": "SenseNova-V6-Pro", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    headers = {"Authorization": f"Bearer {emulator.api_key}", "x-emulator-fault": "delta_delay=0.01"}
    with requests.Session() as session:
        barrier.wait(timeout=30)
        with session.post(
            emulator.base_url + "/llm/chat-completions", json=body, headers=headers, stream=True, timeout=60
        ) as response:
            raw = b"".join(response.iter_content(chunk_size=None))
    blocks = [b for b in raw.split(b"\n\n") if b]
    assert blocks[-1] == b"data:[DONE]"
    events = [json.loads(b[len(b"data:") :]) for b in blocks[:-1]]
    text = "".join(e["data"]["choices"][0]["delta"] for e in events)
    last = events[-1]["data"]
    return (
        prompt,
        text,
        last["choices"][0]["finish_reason"],
        last["usage"]["completion_tokens"],
        {e["data"]["id"] for e in events},
    )


def test_64_concurrent_streams_each_get_their_own_complete_reply(emulator):
    barrier = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda i: _stream_once(emulator, i, barrier), range(CLIENTS)))
    ids = set()
    for prompt, text, finish, completion, reply_ids in results:
        assert text == prompt
        assert finish == "stop" and completion == len(prompt.split())
        assert len(reply_ids) == 1
        ids |= reply_ids
    assert len(ids) == CLIENTS
    assert len(emulator.requests) == CLIENTS


def test_keep_alive_serves_many_requests_on_one_connection(emulator):
    body = {"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": "again"}]}
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    with requests.Session() as session:
        ports = set()
        for _ in range(5):
            response = session.post(
                emulator.base_url + "/llm/chat-completions",
                json=body,
                headers=headers,
                timeout=10,
                stream=True,
            )
            ports.add(response.raw._connection.sock.getsockname()[1])
            assert response.json()["data"]["choices"][0]["message"] == "again"
        assert len(ports) == 1
