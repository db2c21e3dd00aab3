"""Hardening II, the network (issue 24, classes 4-7): a hostile or misconfigured server.

Every test talks over real sockets on 127.0.0.1 to a server written here: one that redirects
(two ports are two origins), one that echoes the request (the key included) back, and a raw
socket server that sends hostile bodies (an endless `data:` line, compressed bombs) and counts
the bytes it got to send before the client gave up. Bounds are counted (bytes, tracemalloc's
peak), never timed.
"""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable

import pytest

import sensenova_widget as snw
from sensenova_widget.client.auth import REDACTED
from sensenova_widget.client.sse import MAX_EVENT_BYTES, SSEDecoder
from sensenova_widget.client.transport import INSECURE_HTTP_VARIABLE, MAX_BODY_BYTES

CHAT = "/llm/chat-completions"
KEY = "sk-hardening-" + "7" * 24


def reply_json(text: str, reasoning: str = "") -> bytes:
    choice = {"message": text, "reasoning_content": reasoning, "finish_reason": "stop"}
    return json.dumps({"data": {"id": "r1", "choices": [choice], "usage": {}}}).encode()


class Server:
    """A threaded HTTP server on 127.0.0.1; `answer(handler, body)` -> (status, headers, body)."""

    def __init__(self, answer: Callable[[http.server.BaseHTTPRequestHandler, bytes], tuple]) -> None:
        self.requests: list[tuple[str, str, dict, bytes]] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append((self.command, self.path, dict(self.headers.items()), body))
                status, headers, data = answer(self, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_one

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    made: list[Server] = []

    def make(answer):
        made.append(Server(answer))
        return made[-1]

    yield make
    for server in made:
        server.close()


# ---------------------------------------------------------------------- 4. redirects
def test_a_redirect_to_another_origin_is_refused_naming_it_and_nothing_reaches_it(servers):
    stranger = servers(lambda h, body: (200, {"Content-Type": "application/json"}, reply_json("stolen")))
    targets = [
        f"{stranger.url}{CHAT}",  # another port
        f"http://localhost:{stranger.port}{CHAT}",  # another host name, same machine
        f"//127.0.0.1:{stranger.port}{CHAT}",  # scheme-relative
        f"https://127.0.0.1:{stranger.port}{CHAT}",  # another scheme
    ]
    for status in (307, 308, 302, 301):
        for target in targets:
            front = servers(lambda h, body, target=target, status=status: (status, {"Location": target}, b""))
            client = snw.Client(api_key=KEY, base_url=front.url, max_retries=0)
            with pytest.raises(snw.SenseNovaError) as caught:
                client.chat("my private prompt", model="m")
            shown = str(caught.value)
            assert f"127.0.0.1:{stranger.port}" in shown or f"localhost:{stranger.port}" in shown
            assert "not followed" in shown and caught.value.status == status
            assert len(front.requests) == 1
            with pytest.raises(snw.SenseNovaError):  # a stream is refused the same way
                client.stream("my private prompt", model="m")
    assert stranger.requests == []  # nothing, not even the prompt, went to the other origin


def test_a_redirect_within_the_origin_is_followed_with_the_body_for_307_and_308(servers):
    def answer(handler, body):
        if handler.path.startswith("/old/"):
            code = 307 if "307" in handler.path else 308
            return code, {"Location": handler.path.replace("/old/", "/new/", 1)}, b""
        return (
            200,
            {"Content-Type": "application/json"},
            reply_json(json.loads(body)["messages"][-1]["content"][0]["text"]),
        )

    server = servers(answer)
    for hop in ("old/307", "old/308"):
        client = snw.Client(api_key=KEY, base_url=f"{server.url}/{hop}", max_retries=0)
        assert client.chat("echo me", model="m").text == "echo me"
    assert [path.split("/")[1] for _, path, _, _ in server.requests] == ["old", "new", "old", "new"]
    assert all(headers["Authorization"] == f"Bearer {KEY}" for _, _, headers, _ in server.requests)
    assert all(b"echo me" in body for *_, body in server.requests)  # 307/308 re-send the body


# ---------------------------------------------------------------------- 5. keys echoed back
def echoing(handler, body):
    """Everything the request carried, back in an error body and in headers."""
    auth = handler.headers.get("Authorization", "")
    token = auth.split(" ", 1)[-1]
    echoed = json.dumps(
        {"error": {"code": 3, "message": f"bad request; you sent {auth}", "details": [token]}}
    )
    return (
        400,
        {"Content-Type": "application/json", "X-Request-Id": f"req-{token}", "X-Echo": auth},
        echoed.encode(),
    )


@pytest.mark.parametrize("kind", ["api key", "access key pair"])
def test_an_echoed_credential_is_redacted_from_errors_their_repr_and_details(servers, kind):
    server = servers(echoing)
    if kind == "api key":
        client = snw.Client(api_key=KEY, base_url=server.url, max_retries=0)
    else:
        client = snw.Client(
            access_key_id="ak-hardening-0123456789",
            secret_access_key="sk-secret-abcdef0123456789",
            base_url=server.url,
            max_retries=0,
        )
    token = client.transport.credentials.token()
    for call in (lambda: client.chat("hi", model="m"), lambda: client.stream("hi", model="m")):
        with pytest.raises(snw.SenseNovaError) as caught:
            call()
        error = caught.value
        every = " ".join(map(str, (error, repr(error), error.request_id, error.details, error.message)))
        assert REDACTED in every and token not in every and "0123456789" not in every
        assert "you sent Bearer [redacted]" in str(error)


def test_an_echoed_key_in_reply_text_reasoning_and_headers_is_redacted_before_it_is_kept(servers, tmp_path):
    def answer(handler, body):
        return (
            200,
            {"Content-Type": "application/json", "X-Request-Id": KEY},
            reply_json(f"your key is {KEY}!", reasoning=f"they sent {KEY}"),
        )

    server = servers(answer)
    client = snw.Client(api_key=KEY, base_url=server.url, max_retries=0)
    reply = client.chat("hi", model="m")
    assert reply.text == f"your key is {REDACTED}!" and reply.reasoning == f"they sent {REDACTED}"
    assert reply.request_id == REDACTED
    conversation = snw.Conversation(client, model="m", name="echo", store=tmp_path / "store.sqlite")
    conversation.ask("hi")
    for fmt in ("md", "html", "ipynb"):
        assert KEY not in conversation.export(fmt)
    assert KEY.encode() not in (tmp_path / "store.sqlite").read_bytes()


def sse(*events: dict) -> bytes:
    return (
        b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"
    )


def test_a_key_echoed_in_a_stream_whole_or_split_across_events_is_not_kept(servers):
    half = len(KEY) // 2
    events = sse(
        {"data": {"choices": [{"delta": f"whole {KEY}; ", "reasoning_content": f"think {KEY}"}]}},
        {"data": {"choices": [{"delta": f"split {KEY[:half]}"}]}},
        {"data": {"choices": [{"delta": f"{KEY[half:]} end", "finish_reason": "stop"}]}},
    )
    server = servers(lambda h, body: (200, {"Content-Type": "text/event-stream"}, events))
    client = snw.Client(api_key=KEY, base_url=server.url, max_retries=0)
    stream = client.stream("hi", model="m")
    pieces = [delta.text for delta in stream]
    assert KEY not in "".join(pieces[:1])  # an event holding the whole key never shows it
    reply = stream.reply
    assert reply.text == f"whole {REDACTED}; split {REDACTED} end" and reply.reasoning == f"think {REDACTED}"


# ---------------------------------------------------------------------- 6. plain http with a key
@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.7:8080/v1", "http://api.sensenova.cn"])
def test_plain_http_with_a_key_to_another_machine_is_refused_saying_how_to_opt_in(url, monkeypatch):
    monkeypatch.delenv(INSECURE_HTTP_VARIABLE, raising=False)
    for made in (
        lambda: snw.Client(api_key=KEY, base_url=url),
        lambda: snw.Client(api_key=KEY, file_base_url=url),
    ):
        with pytest.raises(snw.InvalidRequestError) as caught:
            made()
        assert "allow_insecure_http=True" in str(caught.value) and INSECURE_HTTP_VARIABLE in str(caught.value)
        assert KEY not in str(caught.value)
    client = snw.Client(api_key=KEY)  # a base URL changed later is refused before sending, too
    client.base_url = url
    with pytest.raises(snw.InvalidRequestError, match="nothing was sent"):
        client.chat("hi", model="m")
    assert snw.Client(api_key=KEY, base_url=url, allow_insecure_http=True).base_url == url.rstrip("/")
    monkeypatch.setenv(INSECURE_HTTP_VARIABLE, "1")
    assert snw.Client(api_key=KEY, base_url=url).base_url == url.rstrip("/")


def test_loopback_and_https_need_no_opt_in(emulator, monkeypatch):
    monkeypatch.delenv(INSECURE_HTTP_VARIABLE, raising=False)
    for url in (
        "http://127.0.0.1:9",
        "http://localhost:9",
        "http://[::1]:9",
        "http://127.8.9.10",
        "https://example.com",
    ):
        snw.Client(api_key=KEY, base_url=url)
    client = snw.Client(
        api_key=emulator.api_key, base_url=emulator.base_url, file_base_url=emulator.file_base_url
    )
    assert client.chat("hello", model="SenseNova-V6-5-Pro").text


# ---------------------------------------------------------------------- 7. hostile bodies
class RawServer:
    """Writes `head` then `body_chunks()` to each connection, counting the body bytes it got out
    before the client closed the connection."""

    def __init__(self, head: bytes, body_chunks: Callable) -> None:
        self.sent = 0
        self.done = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.head, self.body_chunks = head, body_chunks
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(
                next(
                    (
                        ln.split(b":")[1]
                        for ln in head.split(b"\r\n")
                        if ln.lower().startswith(b"content-length")
                    ),
                    b"0",
                )
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            try:
                conn.sendall(self.head)
                for chunk in self.body_chunks():
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass
        self.done.set()
        self.listener.close()


def chunked(pieces):
    for piece in pieces:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def endless_line(total: int):
    yield b"data: "
    piece = b"a" * 65536
    for _ in range(total // len(piece)):
        yield piece


def test_the_stream_decoder_is_linear_even_one_byte_at_a_time_and_caps_an_event():
    decoder = SSEDecoder()
    line = b"data: " + b"x" * (512 * 1024)
    for byte in range(len(line)):  # quadratic joining would copy ~130 GB here: the test would not end
        assert decoder.feed(line[byte : byte + 1]) == []
    assert decoder.feed(b"\n\n") == [b"x" * (512 * 1024)]
    small = SSEDecoder(max_event=1000)
    with pytest.raises(ValueError, match="grew past 1000 bytes"):
        for _ in range(2000):
            small.feed(b"a")


def test_an_endless_data_line_is_cut_at_the_cap_with_bounded_memory_and_bytes_read():
    offered = 4 * MAX_EVENT_BYTES
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = RawServer(head, lambda: chunked(endless_line(offered)))
    client = snw.Client(api_key=KEY, base_url=server.url, max_retries=0)
    tracemalloc.start()
    try:
        stream = client.stream("hi", model="m")
        with pytest.raises(snw.StreamError, match="grew past"):
            for _ in stream:
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert server.done.wait(30)
    assert server.sent < MAX_EVENT_BYTES + 16 * 1024 * 1024 < offered  # the rest was never read
    assert peak < 2 * MAX_EVENT_BYTES


def compressed(kind: str, size: int) -> bytes:
    zeros = b"0" * (1024 * 1024)
    if kind == "gzip":
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    else:
        packer = zlib.compressobj(9, zlib.DEFLATED, 15)
    return b"".join(packer.compress(zeros) for _ in range(size // len(zeros))) + packer.flush()


@pytest.mark.parametrize("kind", ["gzip", "deflate"])
@pytest.mark.parametrize("status", [200, 500])
def test_a_compressed_bomb_is_refused_past_the_cap_without_expanding_in_memory(kind, status):
    bomb = compressed(kind, 8 * MAX_BODY_BYTES)  # 256 MB of JSON-ish zeros in well under 1 MB
    assert len(bomb) < MAX_BODY_BYTES // 32
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Encoding: {kind}\r\n"
        f"Content-Length: {len(bomb)}\r\n\r\n"
    ).encode()
    server = RawServer(head, lambda: iter([bomb]))
    client = snw.Client(api_key=KEY, base_url=server.url, max_retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(snw.SenseNovaError, match=f"larger than {MAX_BODY_BYTES} bytes once decoded"):
            client.chat("hi", model="m")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_BODY_BYTES + MAX_BODY_BYTES // 4  # never the 256 MB


def test_a_compressed_stream_expands_a_read_at_a_time_and_its_endless_line_is_cut():
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = (
        packer.compress(b"data: ")
        + b"".join(packer.compress(b"a" * (1 << 20)) for _ in range(64))
        + packer.flush()
    )
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    server = RawServer(head, lambda: iter([body]))
    client = snw.Client(api_key=KEY, base_url=server.url, max_retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(snw.StreamError, match="grew past"):
            client.stream("hi", model="m").until_done()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_EVENT_BYTES  # 64 MB decoded, never held


def test_gzip_replies_still_read_normally(servers):
    server = servers(
        lambda h, body: (
            200,
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            gzip.compress(reply_json("fine")),
        )
    )
    assert snw.Client(api_key=KEY, base_url=server.url).chat("hi", model="m").text == "fine"
