"""Streaming speed: this client's `stream()` against the floor of reading the same SSE bytes.

A local raw socket server answers every request with the same 20,000 SSE events (each event its
own HTTP chunk, as uvicorn sends them), all at once, so the time measured is the client's own
work. The floor is the least a Python client can do with `requests`: `iter_content` + split on
blank lines + `json.loads`. Ours does everything a real stream needs on top (line-end rules,
comments, split characters, error events, usage, `Delta` objects). Runs interleave, best of each.

    python benchmarks/bench_stream.py [--quick]
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

import requests

EVENTS = 20_000
TARGET = 1.3  # ours may take at most 1.3x the floor's time


def _event(i: int) -> bytes:
    body = {
        "data": {
            "id": "bench",
            "choices": [{"delta": f" word{i} 字", "finish_reason": "", "index": 0, "role": "assistant"}],
            "usage": {
                "prompt_tokens": 12,
                "knowledge_tokens": 0,
                "completion_tokens": i + 1,
                "total_tokens": i + 13,
            },
        },
        "status": {"code": 0, "message": "ok"},
    }
    return b"data:" + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _openai_event(i: int, finish: str | None = None) -> bytes:
    """The same piece in the OpenAI-compatible shape (`choices[0].delta.content`)."""
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "sensenova-v6-pro",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "" if finish else f" word{i} 字"},
                "finish_reason": finish,
            }
        ],
    }
    if finish:
        body["usage"] = {"prompt_tokens": 12, "completion_tokens": i, "total_tokens": i + 12}
    return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _response(events: int, dialect: str = "native") -> bytes:
    """The whole HTTP reply: headers, one chunk per event, the finishing event, [DONE]."""
    if dialect == "openai":
        payloads = [_openai_event(i) for i in range(events)] + [_openai_event(events, "stop")]
    else:
        payloads = [_event(i) for i in range(events)]
        payloads.append(
            _event(events)
            .replace(b'"finish_reason":""', b'"finish_reason":"stop"')
            .replace(b" word", b"")
            .replace(f"{events} 字".encode(), b"")
        )
    payloads.append(b"data:[DONE]\n\n")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in payloads)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
        b"x-request-id: bench\r\n\r\n"
    )
    return head + chunks + b"0\r\n\r\n"


class _Server:
    """Answers each request on a kept-alive connection with the prebuilt reply."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(pending) < length:
                    pending += conn.recv(65536)
                pending = pending[length:]
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()


def floor(session: requests.Session, url: str) -> int:
    """The least work: raw iter_content, split on blank lines, json.loads."""
    response = session.post(url + "/llm/chat-completions", data=b'{"stream":true}', stream=True)
    count, buffer = 0, b""
    for chunk in response.iter_content(chunk_size=None):
        blocks = (buffer + chunk).split(b"\n\n")
        buffer = blocks.pop()
        for block in blocks:
            if block in (b"data:[DONE]", b"data: [DONE]"):
                continue
            json.loads(block[5:])
            count += 1
    return count


def ours(client, _url: str) -> int:
    count = 0
    with client.stream("benchmark") as stream:
        for _ in stream:
            count += 1
    assert stream.reply.finish_reason == "stop"
    return count


def run(quick: bool = False) -> list[dict]:
    return [_run(quick, "native"), _run(quick, "openai")]


def _run(quick: bool, dialect: str) -> dict:
    from sensenova_widget import Client

    events = 2_000 if quick else EVENTS
    rounds = 3 if quick else 7
    server = _Server(_response(events, dialect))
    session = requests.Session()
    client = Client(api_key="bench-key", base_url=server.url, max_retries=0, api=dialect)
    best = {"floor": float("inf"), "ours": float("inf")}
    try:
        for fn, target in ((floor, session), (ours, client)):
            fn(target, server.url)  # warm up: connection, imports
        for i in range(rounds):
            order = [("floor", floor, session), ("ours", ours, client)]
            for label, fn, target in order if i % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                count = fn(target, server.url)
                best[label] = min(best[label], time.perf_counter() - start)
                assert count >= events, (label, count)
    finally:
        client.close()
        session.close()
        server.close()
    floor_rate, ours_rate = events / best["floor"], events / best["ours"]
    ratio = best["ours"] / best["floor"]
    name = "stream" if dialect == "native" else "stream (openai)"
    return {
        "benchmark": name,
        "metric": f"events/s over {events:,} {dialect} SSE events; floor = "
        "iter_content+split+json.loads; ratio = our time / floor's time",
        "baseline": floor_rate,
        "ours": ours_rate,
        "ratio": floor_rate / ours_rate,
        "target": f"time <= {TARGET}x floor",
        "ok": ratio <= TARGET,
    }


if __name__ == "__main__":
    rows = run(quick="--quick" in sys.argv)
    columns = ("benchmark", "metric", "baseline", "ours", "ratio", "target", "ok")
    table = [[f"{r[c]:,.4g}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
