"""The client against the emulator over real HTTP on 127.0.0.1: replies, streams, errors, retries.

Faults are scripted per request with the emulator's `x-emulator-fault` header; what reached the
server is read back from `emulator.requests` (the chat bodies it received, in order).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from waiting import wait_until

import sensenova_widget as snw
from sensenova_widget import protocol
from sensenova_widget.client.auth import Credentials

FAULT = "x-emulator-fault"


def fault(**knobs) -> dict:
    return {FAULT: ",".join(f"{name}={value}" for name, value in knobs.items())}


def png_bytes(color=(255, 0, 0), size=(8, 6)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def image_part(n: int = 0) -> dict:
    return {"type": "image_base64", "image_base64": base64.b64encode(png_bytes((n, 0, 0))).decode()}


VIDEO = {"type": "video_url", "video_url": "https://example.com/clip.mp4"}


@pytest.fixture
def no_credentials_env(monkeypatch):
    for name in ("SENSENOVA_API_KEY", "SENSENOVA_ACCESS_KEY_ID", "SENSENOVA_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------- replies and streams
def test_chat_returns_the_whole_reply(client, emulator):
    reply = client.chat("What is in this picture?")
    assert reply.text == "What is in this picture?"
    assert reply.finish_reason == "stop" and reply.notice is None
    assert reply.usage["total_tokens"] == reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]
    assert reply.id and reply.request_id and reply.model == protocol.DEFAULT_MODEL
    assert str(reply) == reply.text
    [sent] = emulator.requests
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}]}
    ]
    assert sent["stream"] is False
    for name in ("max_new_tokens", "temperature", "top_p", "repetition_penalty", "user"):
        assert name not in sent, f"{name} should be left to the server's default"


def test_parameters_and_system_are_sent(client, emulator):
    client.chat(
        "hi",
        system="Answer briefly.",
        temperature=0.2,
        top_p=0.5,
        max_new_tokens=64,
        repetition_penalty=1.05,
        user="analyst-7",
    )
    [sent] = emulator.requests
    assert sent["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Answer briefly."}]}
    assert (
        sent["temperature"],
        sent["top_p"],
        sent["max_new_tokens"],
        sent["repetition_penalty"],
        sent["user"],
    ) == (0.2, 0.5, 64, 1.05, "analyst-7")


def test_a_prepared_request_is_checked_once_and_sent_by_the_public_seam(client, emulator):
    params = snw.Params(system="Answer briefly.", temperature=0.2, user="analyst-7")
    prepared = client.prepare(
        "hi", params, stream=False, images=[image_part(1)], extra_headers={"x-trace": "t1"}
    )
    assert emulator.requests == []  # preparing sends nothing
    assert prepared.model == protocol.DEFAULT_MODEL and prepared.omitted == []
    assert [p["type"] for p in prepared.body["messages"][1]["content"]] == ["image_base64", "text"]
    reply = client.send(prepared)
    [sent] = emulator.requests
    assert sent == prepared.body and reply.text.startswith("hi")  # the emulator echoes, describing images
    with client.open_stream(client.prepare("streamed hi", params, stream=True)) as live:
        assert live.until_done().text == "streamed hi"
    assert emulator.requests[-1]["stream"] is True and emulator.requests[-1]["temperature"] == 0.2


def test_keyword_settings_override_a_params_value_and_unknown_ones_are_refused(client, emulator):
    client.chat("hi", params=snw.Params(temperature=0.2, top_p=0.5), temperature=0.7)
    [sent] = emulator.requests
    assert (sent["temperature"], sent["top_p"]) == (0.7, 0.5)
    with pytest.raises(snw.InvalidRequestError, match="'temprature' is not a request parameter") as info:
        client.chat("hi", temprature=0.7)
    assert info.value.field == "temprature" and len(emulator.requests) == 1


def test_media_parts_turn_values_into_wire_parts_images_first(client):
    parts = client.media_parts(images=png_bytes(), video=VIDEO)
    assert [p["type"] for p in parts] == ["image_base64", "video_url"]
    assert client.media_parts() == [] and client.media_parts(images=[image_part(2)]) == [image_part(2)]


def test_stream_yields_deltas_and_the_final_reply(client, emulator):
    words = "one two three four five six seven"
    with client.stream(words, temperature=0.3) as stream:
        deltas = list(stream)
    assert "".join(d.text for d in deltas) == words
    assert deltas[-1].finish_reason == "stop"
    assert all(d.finish_reason is None for d in deltas[:-1])
    reply = stream.reply
    assert reply.text == stream.text == words
    assert reply.usage == deltas[-1].usage  # usage is cumulative: the last event's is the request's
    assert reply.request_id and reply.id
    assert emulator.requests[0]["stream"] is True


def test_message_lists_with_parts_and_media(client, emulator):
    red = png_bytes((250, 10, 10))
    messages = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": ["Describe", image_part(), red]},  # a wire dict and raw bytes
    ]
    reply = client.chat(messages)
    sent = emulator.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == [{"type": "text", "text": "earlier question"}]
    kinds = [p["type"] for p in sent[-1]["content"]]
    assert kinds == ["text", "image_base64", "image_base64"]
    assert "image 2:" in reply.text and "red" in reply.text


def test_images_helper_puts_media_in_the_user_turn(client, emulator):
    reply = client.chat("What colour?", images=[png_bytes((0, 0, 255))])
    content = emulator.requests[0]["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["image_base64", "text"]
    assert "blue" in reply.text


def test_model_comes_from_the_argument_the_client_the_environment_then_the_default(emulator, monkeypatch):
    monkeypatch.delenv("SENSENOVA_MODEL", raising=False)
    plain = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url)
    assert plain.chat("a").model == protocol.DEFAULT_MODEL
    monkeypatch.setenv("SENSENOVA_MODEL", "SenseNova-V6-Turbo")
    assert plain.chat("b").model == "SenseNova-V6-Turbo"
    chosen = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url, model="SenseChat-Vision")
    assert chosen.chat("c").model == "SenseChat-Vision"
    assert chosen.chat("d", model="SenseNova-V6-5-Pro").model == "SenseNova-V6-5-Pro"
    assert [r["model"] for r in emulator.requests] == [
        protocol.DEFAULT_MODEL,
        "SenseNova-V6-Turbo",
        "SenseChat-Vision",
        "SenseNova-V6-5-Pro",
    ]


def test_environment_gives_key_and_base_url(emulator, monkeypatch, no_credentials_env):
    monkeypatch.setenv("SENSENOVA_API_KEY", emulator.api_key)
    monkeypatch.setenv("SENSENOVA_API_BASE", emulator.base_url)
    assert snw.Client().chat("from the environment").text == "from the environment"


def test_finish_reasons_other_than_stop_carry_their_notice(client):
    reply = client.chat("many words here", max_new_tokens=2, extra_headers=fault(reply_tokens=20))
    assert reply.finish_reason == "length"
    assert reply.notice == protocol.FINISH_NOTICES["length"]
    shown = reply._repr_html_()
    assert reply.text in shown and "max_new_tokens" in shown and "reply tokens" in shown


def test_models_lists_the_emulator_models(client):
    models = client.models()
    assert protocol.DEFAULT_MODEL in models and all(isinstance(m, str) for m in models)


# ---------------------------------------------------------------- bad input: nothing is sent
BAD_INPUTS = {
    "7 images": (lambda: ("look", {"images": [image_part(i) for i in range(7)]}), "messages"),
    "image and video": (lambda: ([{"role": "user", "content": ["x", image_part(), VIDEO]}], {}), "messages"),
    "two videos": (lambda: ([{"role": "user", "content": ["x", VIDEO, dict(VIDEO)]}], {}), "messages"),
    "last message assistant": (
        lambda: ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], {}),
        "messages[-1].role",
    ),
    "unknown role": (lambda: ([{"role": "robot", "content": "hi"}], {}), "messages[0].role"),
    "empty messages": (lambda: ([], {}), "messages"),
    "top_p 0": (lambda: ("x", {"top_p": 0}), "top_p"),
    "top_p 1": (lambda: ("x", {"top_p": 1.0}), "top_p"),
    "temperature 0": (lambda: ("x", {"temperature": 0}), "temperature"),
    "temperature 2.0000001": (lambda: ("x", {"temperature": 2.0000001}), "temperature"),
    "max_new_tokens 0": (lambda: ("x", {"max_new_tokens": 0}), "max_new_tokens"),
    "max_new_tokens 16385": (lambda: ("x", {"max_new_tokens": 16385}), "max_new_tokens"),
    "unknown part type": (
        lambda: ([{"role": "user", "content": [{"type": "audio_url", "audio_url": "u"}]}], {}),
        "type",
    ),
    "body over 45 MB": (
        lambda: (
            [
                {
                    "role": "user",
                    "content": [
                        "big",
                        {"type": "image_base64", "image_base64": "A" * protocol.MAX_BODY_BYTES},
                    ],
                }
            ],
            {},
        ),
        "body",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("method", ["chat", "stream"])
def test_bad_input_is_refused_before_sending(client, emulator, case, method):
    make, field = BAD_INPUTS[case]
    prompt, kwargs = make()
    with pytest.raises(snw.InvalidRequestError) as info:
        getattr(client, method)(prompt, **kwargs)
    assert info.value.field == field
    # names what was wrong and what is allowed
    assert any(word in info.value.message for word in ("allowed", "at most", "expected", "never"))
    assert emulator.request_count == 0


def test_a_value_that_is_not_a_prompt_is_refused(client, emulator):
    with pytest.raises(snw.InvalidRequestError, match="expected a str"):
        client.chat(42)
    assert emulator.request_count == 0


def test_missing_credentials_name_both_ways_to_set_them(no_credentials_env):
    with pytest.raises(snw.AuthenticationError) as info:
        snw.Client()
    message = str(info.value)
    assert "SENSENOVA_API_KEY" in message
    assert "SENSENOVA_ACCESS_KEY_ID" in message and "SENSENOVA_SECRET_ACCESS_KEY" in message


def test_half_an_access_key_pair_names_the_missing_half(no_credentials_env):
    with pytest.raises(snw.AuthenticationError, match="SENSENOVA_SECRET_ACCESS_KEY"):
        snw.Client(access_key_id="ak-only")


# ---------------------------------------------------------------- errors and retries
def test_429_with_retry_after_is_retried_and_logged(client, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    reply = client.chat("patience", extra_headers=fault(status=429, times=2, retry_after=0.05))
    assert reply.text == "patience"
    assert emulator.request_count == 3
    retries = [r for r in caplog.records if r.name == "sensenova_widget" and "retry" in r.getMessage()]
    assert len(retries) == 2 and all("429" in r.getMessage() for r in retries)
    assert all("in 0.05 s" in r.getMessage() for r in retries), "Retry-After replaces the backoff"


def test_503_is_retried_then_gives_up_with_a_server_error(emulator):
    client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=1)
    with pytest.raises(snw.ServerError) as info:
        client.chat("x", extra_headers=fault(status=503, retry_after=0))
    assert emulator.request_count == 2
    error = info.value
    assert error.status == 503 and error.request_id and error.code is not None
    assert "emulated fault" in error.message


def test_an_html_proxy_page_is_quoted_short_and_never_evaluated(emulator):
    client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=0)
    with pytest.raises(snw.ServerError) as info:
        client.chat("x", extra_headers=fault(html=502))
    error = info.value
    assert error.status == 502 and error.code is None
    assert "'<html>" in error.message and "502 Bad Gateway" in error.message
    assert len(error.message) < 320


def test_a_model_list_or_file_record_that_is_not_json_is_quoted():
    """A 200 whose body is a page, not JSON (a captive portal, say): quoted short, with its request id."""
    import http.server

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>\n  <b>sign in</b>  " + b"x" * 400 + b"</html>"
            self.send_response(200)
            self.send_header("x-request-id", "page-1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        client = snw.Client(
            api_key="k", base_url=base + "/v1", file_base_url=base + "/file/v1", max_retries=0
        )
        for call, what in (
            (client.models, "the model list"),
            (lambda: client.file("f1"), "the file service's reply"),
        ):
            with pytest.raises(snw.ServerError) as info:
                call()
            message = info.value.message
            assert message.startswith(f"{what} is not JSON: '<html> <b>sign in</b> x")
            assert message.endswith("...'") and len(message) < 280 and info.value.request_id == "page-1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_client_error_is_not_retried(client, emulator):
    with pytest.raises(snw.NotFoundError) as info:
        client.chat("x", model="no-such-model")
    assert emulator.request_count == 1
    assert info.value.status == 404 and info.value.code == 5 and "no-such-model" in info.value.message


@pytest.mark.parametrize(
    "status,kind",
    [
        (400, snw.InvalidRequestError),
        (403, snw.PermissionDeniedError),
        (409, snw.ConflictError),
        (504, snw.ServerError),
    ],
)
def test_each_status_has_its_error_class(emulator, status, kind):
    client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=0)
    with pytest.raises(kind) as info:
        client.chat("x", extra_headers=fault(status=status))
    assert info.value.status == status and isinstance(info.value.code, int)


def test_a_stream_that_failed_before_any_text_is_retried(client, emulator):
    with pytest.raises(snw.APIConnectionError) as info:
        client.stream("x", extra_headers=fault(drop_after=0)).until_done()
    assert emulator.request_count == 1 + client.max_retries
    assert info.value.partial_text == ""


def test_a_stream_is_never_retried_after_text_was_delivered(client, emulator):
    stream = client.stream("one two three four five six", extra_headers=fault(drop_after=2))
    with pytest.raises(snw.APIConnectionError) as info:
        for _ in stream:
            pass
    assert emulator.request_count == 1
    assert info.value.partial_text and "one two three four five six".startswith(info.value.partial_text)
    assert stream.text == info.value.partial_text


def test_an_error_event_mid_stream_keeps_the_partial_text(client, emulator):
    with pytest.raises(snw.StreamError) as info:
        with client.stream("alpha beta gamma delta epsilon", extra_headers=fault(error_after=2)) as stream:
            for _ in stream:
                pass
    assert info.value.partial_text and "alpha beta gamma delta epsilon".startswith(info.value.partial_text)
    assert info.value.code == 2 and info.value.request_id
    assert emulator.request_count == 1


def test_a_stall_mid_stream_ends_in_a_timeout_with_the_partial_text(emulator):
    client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url, timeout=0.5)
    with pytest.raises(snw.APITimeoutError) as info:
        client.stream("a b c d e f", extra_headers=fault(stall_after=1, stall=3)).until_done()
    assert info.value.partial_text and "a b c d e f".startswith(info.value.partial_text)
    assert emulator.request_count == 1


def test_a_slow_reply_times_out_and_is_retried(emulator):
    client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url, timeout=0.3, max_retries=1)
    with pytest.raises(snw.APITimeoutError):
        client.chat("x", extra_headers=fault(ttft=2))
    assert emulator.request_count == 2


def test_a_reply_cut_off_midway_is_a_connection_error_and_is_retried(emulator):
    client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=1)
    with pytest.raises(snw.APIConnectionError) as info:
        client.chat("x y z", extra_headers=fault(drop_after=1))
    assert not isinstance(info.value, snw.APITimeoutError)
    assert emulator.request_count == 2


def test_an_unreachable_server_is_a_connection_error():
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = snw.Client(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(snw.APIConnectionError) as info:
        client.chat("x")
    assert not isinstance(info.value, snw.APITimeoutError)


def test_close_from_another_thread_stops_the_stream_and_keeps_the_text(client, emulator):
    stream = client.stream(" ".join(f"w{i}" for i in range(400)), extra_headers=fault(delta_delay=0.05))
    seen: list[str] = []
    done = threading.Event()

    def read():
        for delta in stream:
            seen.append(delta.text)
        done.set()

    reader = threading.Thread(target=read)
    reader.start()
    wait_until(lambda: len(seen) >= 2, "two deltas read")
    stream.close()
    assert done.wait(5)
    reader.join()
    reply = stream.reply
    assert reply.finish_reason == "stopped" and reply.notice == protocol.FINISH_NOTICES["stopped"]
    assert reply.text == "".join(seen) and reply.text.startswith("w0 w1")
    assert len(reply.text) < 400 * 4


# ---------------------------------------------------------------- credentials
def test_access_key_pair_signs_a_jwt_the_emulator_accepts(emulator, caplog):
    caplog.set_level(logging.DEBUG)
    client = snw.Client(
        access_key_id=emulator.access_key_id,
        secret_access_key=emulator.secret_access_key,
        base_url=emulator.base_url,
    )
    assert client.chat("signed").text == "signed"
    with client.stream("signed stream") as stream:
        assert "".join(d.text for d in stream) == "signed stream"
    token = client.transport.credentials.token()
    claims = jwt.decode(token, emulator.secret_access_key, algorithms=["HS256"])
    assert claims["iss"] == emulator.access_key_id
    assert claims["exp"] - claims["nbf"] == 1805
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    secrets = (emulator.secret_access_key, token)
    assert not any(s in caplog.text or s in repr(client) for s in secrets)


def test_an_api_key_is_trimmed_and_a_key_no_header_can_carry_is_refused_unshown(emulator):
    trimmed = snw.Client(api_key=f"  {emulator.api_key}\n", base_url=emulator.base_url)
    assert trimmed.chat("pasted with a line break").text == "pasted with a line break"
    secret = "sk-has a space-123456"
    with pytest.raises(snw.AuthenticationError) as info:
        snw.Client(api_key=secret, base_url=emulator.base_url)
    assert secret not in str(info.value) and "sk-has" not in repr(info.value)
    assert emulator.request_count == 1


def test_the_jwt_is_reused_then_renewed_a_minute_before_it_expires():
    credentials = Credentials(access_key_id="ak", secret_access_key="sk")
    first = credentials.token()
    assert credentials.token() is first
    credentials._token_expires = time.time() + 61  # a little more than a minute left: still reused
    assert credentials.token() is first
    credentials._token_expires = time.time() + 59  # less than a minute left: signed again
    renewed = credentials.token()
    assert credentials._token_expires > time.time() + 1700
    assert jwt.decode(renewed, "sk", algorithms=["HS256"])["iss"] == "ak"


def test_the_jwt_is_signed_once_for_concurrent_callers():
    credentials = Credentials(access_key_id="ak", secret_access_key="sk")
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: credentials.token(), range(64)))
    assert len(tokens) == 1


def test_wrong_credentials_are_a_401_without_the_key_anywhere(emulator, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "sk-wrong-and-secret-1234567890"
    client = snw.Client(api_key=secret, base_url=emulator.base_url)
    with pytest.raises(snw.AuthenticationError) as info:
        client.chat("x")
    error = info.value
    assert error.status == 401 and error.request_id
    for text in (str(error), repr(error), error.one_line(), repr(client), caplog.text):
        assert secret not in text
    assert "SENSENOVA_API_KEY" in str(error)


def test_no_secret_in_retry_logs_or_stream_errors(emulator, caplog):
    caplog.set_level(logging.DEBUG)
    client = snw.Client(
        access_key_id=emulator.access_key_id,
        secret_access_key=emulator.secret_access_key,
        base_url=emulator.base_url,
        max_retries=1,
    )
    with pytest.raises(snw.ServerError) as info:
        client.chat("x", extra_headers=fault(status=500, retry_after=0))
    with pytest.raises(snw.StreamError) as streamed:
        client.stream("a b c", extra_headers=fault(error_after=1)).until_done()
    token = client.transport.credentials.token()
    texts = [
        caplog.text,
        repr(client),
        repr(client.transport.credentials),
        str(info.value),
        repr(streamed.value),
    ]
    for text in texts:
        assert emulator.secret_access_key not in text and token not in text


# ---------------------------------------------------------------- concurrency
def test_concurrent_calls_from_threads_share_one_client(client, emulator):
    prompts = [f"question number {i}" for i in range(24)]

    def ask(prompt):
        if prompt.endswith(("1", "3", "5")):
            with client.stream(prompt, extra_headers=fault(delta_delay=0.01)) as stream:
                return stream.until_done().text
        return client.chat(prompt, extra_headers=fault(ttft=0.05)).text

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(ask, prompts))
    assert answers == prompts
    assert sorted(m["messages"][-1]["content"][-1]["text"] for m in emulator.requests) == sorted(prompts)


# ---------------------------------------------------------------- files
def test_upload_then_wait_until_the_file_is_valid(client, emulator):
    emulator.configure(file_validation_seconds=0.3)
    file_id = client.upload(png_bytes(), description="a red square")
    assert client.file(file_id)["status"] == "VALIDATING"
    info = client.wait_for_file(file_id, timeout=10)
    assert info["status"] == "VALID" and info["id"] == file_id
    reply = client.chat("what is this", images=[{"type": "image_file_id", "image_file_id": file_id}])
    assert f"file {file_id}" in reply.text


def test_upload_from_a_path(client, tmp_path):
    path = tmp_path / "square.png"
    path.write_bytes(png_bytes())
    file_id = client.upload(path)
    assert client.wait_for_file(file_id)["filename"] == "square.png"


def test_upload_checks_scheme_and_description_before_sending(client):
    with pytest.raises(snw.InvalidRequestError, match="MULTIMODAL_1"):
        client.upload(png_bytes(), scheme="IMAGES")
    with pytest.raises(snw.InvalidRequestError, match="256") as info:
        client.upload(png_bytes(), description="x" * 257)
    assert info.value.field == "description"


def test_waiting_for_a_file_gives_up_after_its_timeout(client, emulator):
    emulator.configure(file_validation_seconds=30)
    file_id = client.upload(png_bytes())
    with pytest.raises(snw.APITimeoutError, match="validating"):
        client.wait_for_file(file_id, timeout=0.3)


def test_an_unknown_file_is_not_found(client):
    with pytest.raises(snw.NotFoundError):
        client.file("no-such-file")


def test_reply_renders_markdown_with_model_html_escaped(client):
    reply = client.chat('**bold** claim <img src=x onerror="alert(1)"> [x](javascript:alert(1))')
    shown = reply._repr_html_()
    assert "<strong>bold</strong> claim" in shown
    assert "<img" not in shown and 'href="javascript:' not in shown
    assert not hasattr(reply, "_repr_markdown_")
    assert json.loads(json.dumps(reply.usage)) == reply.usage


def test_extra_body_is_sent_beside_the_checked_fields_and_cannot_replace_one(client, emulator):
    from sensenova_widget.errors import InvalidRequestError

    client.chat("hi", extra_body={"response_format": {"type": "text"}})
    assert emulator.requests[-1]["response_format"] == {"type": "text"}
    with pytest.raises(InvalidRequestError, match="extra_body names model"):
        client.chat("hi", extra_body={"model": "other"})
