"""The SSE decoder, byte by byte: in process over every split, then over a raw socket server.

The socket server writes exact bytes with pauses between writes (each write one HTTP chunk, or
a plain connection-close body), so a CRLF or a UTF-8 character really arrives in two reads.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from waiting import wait_until

import sensenova_widget as snw
from sensenova_widget.client.sse import SSEDecoder


def decode_in_pieces(raw: bytes, cuts: list[int]) -> list[bytes]:
    decoder = SSEDecoder()
    out: list[bytes] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(raw)]:
        out += decoder.feed(raw[start:cut])
        start = cut
    return out + decoder.flush()


TRICKY = (
    b"\xef\xbb\xbf: a comment first\r\n"
    b'data:{"a":1}\r\n\r\n'
    b"data: with one space stripped\r\rdata:  two spaces keep one\n\n"
    b"data:\xe4\xbd\xa0\xe5\xa5\xbd\n\n"
    b"event: note\nid: 7\nretry: 10\ndata: line1\ndata: line2\n: mid comment\n\n"
    b"event: only-a-name\n\n"
    b"data:[DONE]\n\n"
)
TRICKY_DATA = [
    b'{"a":1}',
    b"with one space stripped",
    b" two spaces keep one",
    "你好".encode(),
    b"line1\nline2",
    b"[DONE]",
]


def test_every_two_way_split_gives_the_same_events():
    for cut in range(len(TRICKY) + 1):
        assert decode_in_pieces(TRICKY, [cut]) == TRICKY_DATA, cut


def test_byte_by_byte():
    assert decode_in_pieces(TRICKY, list(range(len(TRICKY)))) == TRICKY_DATA


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(TRICKY)), max_size=12))
def test_any_splits(cuts):
    assert decode_in_pieces(TRICKY, cuts) == TRICKY_DATA


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.text(min_size=0, max_size=20), min_size=1, max_size=8),
    ending=st.sampled_from([b"\n", b"\r", b"\r\n"]),
    space=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_json_events_with_any_line_end(texts, ending, space, cuts):
    prefix = b"data: " if space else b"data:"
    raw = b"".join(prefix + json.dumps({"t": t}, ensure_ascii=False).encode() + ending * 2 for t in texts)
    got = [json.loads(d)["t"] for d in decode_in_pieces(raw, [c for c in cuts if c <= len(raw)])]
    assert got == texts


def test_cr_at_the_end_of_a_read_and_lf_at_the_start_of_the_next_is_one_line_end():
    decoder = SSEDecoder()
    assert decoder.feed(b"data:x\r") == []
    # Were the LF counted again, the event would end here with an invented blank line.
    assert decoder.feed(b"\ndata:y\r") == []
    assert decoder.feed(b"\n\r\n") == [b"x\ny"]


def test_a_byte_order_mark_is_removed_even_when_split_across_reads():
    raw = b"\xef\xbb\xbfdata:first\n\ndata:second\n\n"
    for cuts in ([1], [2], [1, 2], [3], [1, 2, 3, 4]):
        assert decode_in_pieces(raw, cuts) == [b"first", b"second"], cuts


def test_a_last_event_without_its_blank_line_is_kept_at_the_end():
    decoder = SSEDecoder()
    assert decoder.feed(b'data:{"a":1}\n\ndata:[DONE]') == [b'{"a":1}']
    assert decoder.flush() == [b"[DONE]"]


# ---------------------------------------------------------------- over a raw socket server
def event(text: str, finish: str = "", tokens: int = 1) -> bytes:
    body = {
        "data": {
            "id": "raw1",
            "choices": [{"delta": text, "finish_reason": finish, "index": 0, "role": "assistant"}],
            "usage": {
                "prompt_tokens": 3,
                "knowledge_tokens": 0,
                "completion_tokens": tokens,
                "total_tokens": 3 + tokens,
            },
        },
        "status": {"code": 0, "message": "ok"},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class RawServer:
    """Answers each request with a scripted body: a list of byte strings, or floats (pauses)."""

    def __init__(self) -> None:
        self.script: list[bytes | float] = []
        self.chunked = True
        self.status_line = b"HTTP/1.1 200 OK"
        self.content_type = b"text/event-stream"
        self.connections = 0
        self.closed_by_client = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        """Answer requests on this connection (kept alive when chunked) until the client hangs up."""
        with conn:
            pending = b""
            while True:
                conn.settimeout(30)
                try:
                    while b"\r\n\r\n" not in pending:
                        data = conn.recv(65536)
                        if not data:
                            raise ConnectionResetError
                        pending += data
                    header, _, pending = pending.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in header.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        0,
                    )
                    while len(pending) < length:
                        pending += conn.recv(65536)
                    pending = pending[length:]
                    conn.settimeout(None)
                    if not self._send_script(conn):
                        break
                except OSError:
                    break
            self.closed_by_client.set()

    def _send_script(self, conn: socket.socket) -> bool:
        """One reply; False when the connection ends with it (closed by either side)."""
        framing = b"Transfer-Encoding: chunked" if self.chunked else b"Connection: close"
        conn.sendall(
            self.status_line
            + b"\r\nContent-Type: "
            + self.content_type
            + b"\r\nx-request-id: raw-req\r\n"
            + framing
            + b"\r\n\r\n"
        )
        for item in self.script:
            if isinstance(item, float):
                if self._client_hung_up_during(conn, item):
                    return False
            elif self.chunked:
                conn.sendall(b"%x\r\n%s\r\n" % (len(item), item))
            else:
                conn.sendall(item)
        if not self.chunked:
            conn.shutdown(socket.SHUT_WR)  # a connection-close body ends when we close
            while conn.recv(65536):  # wait for the client to close its end
                pass
            return False
        conn.sendall(b"0\r\n\r\n")
        return True

    @staticmethod
    def _client_hung_up_during(conn: socket.socket, pause: float) -> bool:
        """Pause, but notice at once when the client closes its end (recv returns b"")."""
        conn.settimeout(pause)
        try:
            return conn.recv(1) == b""
        except TimeoutError:
            return False
        except OSError:
            return True
        finally:
            conn.settimeout(None)

    def close(self) -> None:
        self._stop = True
        self._sock.close()


@pytest.fixture
def raw_server():
    server = RawServer()
    yield server
    server.close()


@pytest.fixture
def raw_client(raw_server):
    client = snw.Client(api_key="sk-raw-secret", base_url=raw_server.base_url, max_retries=0, timeout=5)
    yield client
    client.close()


PAUSE = 0.02


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "connection-close"])
def test_byte_edges_over_a_socket(raw_server, raw_client, chunked):
    raw_server.chunked = chunked
    one, two, three = event("Hello"), event(" wörld 你"), event("", "stop", 3)
    raw_server.script = [
        b": keep-alive comment\r\n",
        PAUSE,
        b"data:" + one + b"\r",
        PAUSE,
        b"\n\r",
        PAUSE,
        b"\n",  # CRLF split across two writes
        b"data: " + two[:-20],
        PAUSE,
        two[-20:] + b"\r\r",  # event split, a space after data:, CR-only
        two[:0] + b"data:" + three[:30],
        PAUSE,
        three[30:] + b"\n\n",
        PAUSE,
        b"data:[DONE]\n\n",
    ]
    # Also split a UTF-8 character: cut "ö" (2 bytes) in the middle.
    index = raw_server.script.index(b"data: " + two[:-20])
    text_bytes = b"data: " + two
    cut = text_bytes.index("ö".encode()) + 1
    raw_server.script[index : index + 3] = [text_bytes[:cut], PAUSE, text_bytes[cut:] + b"\r\r"]
    with raw_client.stream("hi") as stream:
        deltas = list(stream)
    assert [d.text for d in deltas] == ["Hello", " wörld 你", ""]
    assert deltas[-1].finish_reason == "stop"
    reply = stream.reply
    assert (reply.text, reply.finish_reason, reply.usage["total_tokens"]) == ("Hello wörld 你", "stop", 6)
    assert reply.request_id == "raw-req" and reply.id == "raw1"


def test_close_from_another_thread_while_blocked_reading(raw_server, raw_client):
    raw_server.script = [b"data:" + event("partial ") + b"\n\n", 60.0, b"data:" + event("never") + b"\n\n"]
    stream = raw_client.stream("hi")
    seen = []
    finished = threading.Event()

    def read() -> None:
        for delta in stream:
            seen.append(delta.text)
        finished.set()

    reader = threading.Thread(target=read)
    reader.start()
    wait_until(lambda: seen, "the first delta", timeout=5)
    assert seen == ["partial "]
    stream.close()  # the reader is blocked in recv: closing must wake it now, not after 60 s
    assert finished.wait(5), "the reading thread was not released by close()"
    reader.join(5)
    assert raw_server.closed_by_client.wait(5), "the server never saw the connection close"
    assert stream.reply.finish_reason == "stopped"
    assert stream.text == "partial "


def test_leaving_the_with_block_closes_the_connection(raw_server, raw_client):
    raw_server.script = [b"data:" + event("one ") + b"\n\n", b"data:" + event("two") + b"\n\n", 60.0]
    with raw_client.stream("hi") as stream:
        first = next(iter(stream))
    assert first.text == "one "
    assert raw_server.closed_by_client.wait(5)
    assert stream.reply.finish_reason == "stopped"
    assert stream.text.startswith("one ")


def test_closing_before_reading_closes_the_connection_and_calls_back_once(raw_server, raw_client):
    raw_server.script = [b"data:" + event("unread") + b"\n\n", 60.0]
    stream = raw_client.stream("hi")
    ended = []
    stream.add_done_callback(ended.append)
    stream.close()
    stream.close()
    assert raw_server.closed_by_client.wait(5)
    assert list(stream) == [] and ended == [stream]
    assert stream.reply.finish_reason == "stopped" and stream.text == ""
    late = []
    stream.add_done_callback(late.append)  # a callback added after the end runs at once
    assert late == [stream]


def test_a_finished_stream_leaves_its_connection_for_the_next_request(raw_server, raw_client):
    raw_server.script = [b"data:" + event("whole", "stop") + b"\n\n", PAUSE, b"data:[DONE]\n\n", PAUSE]
    for _ in range(3):
        with raw_client.stream("hi") as stream:
            assert [d.text for d in stream] == ["whole"]
        assert stream.reply.finish_reason == "stop"
    assert raw_server.connections == 1


def test_a_stall_mid_stream_is_a_timeout_with_the_partial_text(raw_server):
    raw_server.script = [b"data:" + event("so far") + b"\n\n", 3.0, b"data:[DONE]\n\n"]
    client = snw.Client(api_key="k", base_url=raw_server.base_url, timeout=0.5, max_retries=2)
    stream = client.stream("hi")
    with pytest.raises(snw.APITimeoutError) as info:
        for _ in stream:
            pass
    assert info.value.partial_text == "so far"
    assert raw_server.connections == 1, "a stream that delivered text must never be retried"
    client.close()


def test_an_error_event_mid_stream_keeps_the_partial_text(raw_server, raw_client):
    error = json.dumps({"status": {"code": 2, "message": "internal error"}, "data": None}).encode()
    raw_server.script = [b"data:" + event("half a ") + b"\n\n", b"data:" + error + b"\n\n"]
    with raw_client.stream("hi") as stream, pytest.raises(snw.StreamError) as info:
        list(stream)
    assert info.value.partial_text == "half a "
    assert info.value.code == 2 and "internal error" in str(info.value)
    assert info.value.request_id == "raw-req"


def test_a_top_level_error_object_is_an_error_event(raw_server, raw_client):
    error = json.dumps({"error": {"code": "rate_limited", "message": "slow down"}}).encode()
    raw_server.script = [b"data:" + event("a") + b"\n\n", b"data:" + error + b"\n\n"]
    with pytest.raises(snw.StreamError) as info:
        raw_client.stream("hi").until_done()
    assert (info.value.code, info.value.partial_text) == ("rate_limited", "a")


def test_events_without_choices_or_data_carry_nothing_but_their_usage(raw_server, raw_client):
    usage_only = json.dumps(
        {
            "data": {"id": "raw1", "choices": [], "usage": {"total_tokens": 42}},
            "status": {"code": 0, "message": "ok"},
        }
    ).encode()
    raw_server.script = [
        b"data:{}\n\n",
        b"data:" + event("text", "stop") + b"\n\n",
        b"data:" + usage_only + b"\n\n",
        b"data:[DONE]\n\n",
    ]
    with raw_client.stream("hi") as stream:
        assert [(d.text, d.finish_reason) for d in stream] == [("text", "stop")]
    assert stream.reply.usage == {"total_tokens": 42} and stream.reply.finish_reason == "stop"


def test_an_event_that_is_not_json_is_a_stream_error_with_the_partial_text(raw_server, raw_client):
    raw_server.script = [b"data:" + event("kept") + b"\n\n", b"data:{not json\n\n"]
    with pytest.raises(snw.StreamError, match="cannot read") as info:
        raw_client.stream("hi").until_done()
    assert info.value.partial_text == "kept"


def test_a_stream_request_answered_with_a_whole_json_reply(raw_server, raw_client):
    raw_server.content_type = b"application/json"
    raw_server.script = [
        json.dumps(
            {
                "data": {
                    "id": "j1",
                    "choices": [{"message": "all at once", "finish_reason": "length"}],
                    "usage": {"total_tokens": 9},
                }
            }
        ).encode()
    ]
    with raw_client.stream("hi") as stream:
        deltas = list(stream)
    assert [(d.text, d.finish_reason) for d in deltas] == [("all at once", "length")]
    assert (stream.reply.text, stream.reply.usage, stream.reply.id) == (
        "all at once",
        {"total_tokens": 9},
        "j1",
    )


def test_a_stream_request_answered_with_a_json_error_raises_it_typed(raw_server, raw_client):
    raw_server.content_type = b"application/json"
    raw_server.script = [json.dumps({"error": {"code": 8, "message": "quota exceeded"}}).encode()]
    with pytest.raises(snw.RateLimitError, match="quota exceeded") as info:
        raw_client.stream("hi").until_done()
    assert info.value.request_id == "raw-req" and raw_server.connections == 1


def test_a_connection_dropped_after_text_is_an_error_with_the_partial_text(raw_server):
    raw_server.chunked = False
    raw_server.script = [b"data:" + event("cut ") + b"\n\n"]  # then the server closes: no [DONE]
    client = snw.Client(api_key="k", base_url=raw_server.base_url, max_retries=2, timeout=5)
    with pytest.raises(snw.APIConnectionError) as info:
        client.stream("hi").until_done()
    assert info.value.partial_text == "cut "
    assert raw_server.connections == 1
    client.close()
