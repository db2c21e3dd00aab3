"""The client against today's service, in BOTH dialects (native and OpenAI-compatible): reasoning
streamed and not (reasoning_content, and `<think>` inline), codes 17 and 18, a 429 with
Retry-After, a mid-stream error and the model list. Real sockets against the emulator."""

from __future__ import annotations

import logging

import pytest

from sensenova_widget import (
    Client,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    RateLimitError,
    StreamError,
)
from sensenova_widget.client.dialects import API_ENV, pick
from sensenova_widget.client.reasoning import ThinkSplitter, reasons, split_think

pytest.importorskip("uvicorn")

REASONER = "SenseNova-V6-5-Pro"
DIALECTS = ("native", "openai")


@pytest.fixture(params=DIALECTS)
def dialect_client(request, emulator):
    base = emulator.base_url if request.param == "native" else emulator.openai_base_url
    with Client(api_key=emulator.api_key, base_url=base, file_base_url=emulator.file_base_url) as client:
        assert client.api == request.param  # read from the base URL
        yield client


def _sent(emulator) -> dict:
    """The body the emulator received last, as sent."""
    return emulator.requests[-1]


def test_the_dialect_is_read_from_the_base_url_the_argument_or_the_environment(monkeypatch):
    monkeypatch.delenv(API_ENV, raising=False)
    assert pick(None, "https://api.sensenova.cn/v1") == "native"
    assert pick(None, "https://api.sensenova.cn/compatible-mode/v1") == "openai"
    assert pick(None, "https://token.sensenova.cn/v1") == "openai"
    assert pick("native", "https://token.sensenova.cn/v1") == "native"
    monkeypatch.setenv(API_ENV, "openai")
    assert pick(None, "https://api.sensenova.cn/v1") == "openai"
    assert Client(api_key="k", base_url="http://127.0.0.1:9/v1").api == "openai"
    with pytest.raises(InvalidRequestError, match="api='chatgpt'") as info:
        pick("chatgpt", "https://api.sensenova.cn/v1")
    assert info.value.field == "api"


def test_plain_chat_sends_each_dialects_body(dialect_client, emulator):
    reply = dialect_client.chat("hello there", max_new_tokens=64, temperature=0.5)
    assert reply.text == "hello there" and reply.reasoning == "" and reply.finish_reason == "stop"
    sent = _sent(emulator)
    if dialect_client.api == "openai":
        assert emulator.requests.summaries[-1]["path"] == "/compatible-mode/v1/chat/completions"
        assert sent["messages"] == [{"role": "user", "content": "hello there"}]
        assert sent["max_tokens"] == 64 and "max_new_tokens" not in sent
    else:
        assert sent["max_new_tokens"] == 64 and "max_tokens" not in sent
    assert "thinking" not in sent  # only sent when asked for


def test_an_image_goes_as_a_data_url_in_the_openai_dialect(emulator):
    from PIL import Image

    with Client(api_key=emulator.api_key, base_url=emulator.openai_base_url) as client:
        reply = client.chat("what colour?", images=Image.new("RGB", (32, 32), (220, 30, 30)))
    part = _sent(emulator)["messages"][0]["content"][0]
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/")
    assert "red" in reply.text.lower()


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_is_apart_from_the_answer(dialect_client, emulator, stream):
    if stream:
        with dialect_client.stream("is it so?", model=REASONER, thinking=True) as live:
            deltas = list(live)
        reply = live.reply
        assert "".join(d.reasoning for d in deltas) == reply.reasoning
        assert "".join(d.text for d in deltas) == reply.text
        first_answer = next(i for i, d in enumerate(deltas) if d.text)
        assert all(not d.reasoning for d in deltas[first_answer:])  # reasoning comes first
    else:
        reply = dialect_client.chat("is it so?", model=REASONER, thinking=True)
    assert _sent(emulator)["thinking"] == {"enabled": True}
    assert reply.reasoning.startswith("Reasoning: 1 message") and "thinking asked for" in reply.reasoning
    assert reply.text == "is it so?"


@pytest.mark.parametrize("stream", [False, True])
def test_inline_think_blocks_are_read_as_reasoning(dialect_client, emulator, stream):
    emulator.configure(think_inline=True, delta_delay=0.0)
    if stream:
        reply = dialect_client.stream("why?", model="SenseNova-V6-Reasoner").until_done()
    else:
        reply = dialect_client.chat("why?", model="SenseNova-V6-Reasoner")
    assert "always on" in reply.reasoning and "<think>" not in reply.reasoning
    assert reply.text == "why?"


def test_thinking_false_is_sent_and_gives_no_reasoning(dialect_client, emulator):
    reply = dialect_client.chat("plain", model=REASONER, thinking=False)
    assert _sent(emulator)["thinking"] == {"enabled": False}
    assert reply.reasoning == "" and reply.text == "plain"


def test_the_think_splitter_holds_back_only_a_possible_tag():
    splitter = ThinkSplitter()
    pieces = ["  <th", "ink>ste", "p one</th", "in", "k>\n\nAns", "wer <think> stays"]
    out = [splitter.feed(p) for p in pieces]
    assert out[0] == ("", "") and out[1] == ("ste", "")
    assert out[2] == ("p one", "")  # "</th" is held: it may be the closing tag
    assert "".join(r for r, _ in out) == "step one"
    assert "".join(a for _, a in out) == "Answer <think> stays"
    assert split_think("no think here") == ("", "no think here")
    assert split_think("<think>unfinished") == ("unfinished", "")
    assert split_think("a < b") == ("", "a < b")


def test_which_models_reason():
    assert reasons("SenseNova-V6-5-Pro") and reasons("SenseNova-V6-Reasoner")
    assert reasons("sensenova-v6-5-turbo") and reasons("some-reasoner-2")
    assert not reasons("SenseNova-V6-Pro") and not reasons(None)


def test_code_17_is_a_context_length_error_never_retried(dialect_client, emulator):
    emulator.configure(context_length=50)
    with pytest.raises(ContextLengthError) as info:
        dialect_client.chat("too long", max_new_tokens=100)
    error = info.value
    assert isinstance(error, InvalidRequestError) and error.code == 17 and error.status == 400
    assert "shorten" in error.one_line() and "max_new_tokens" in error.one_line()
    assert len(emulator.requests) == 1  # not retried


def test_code_18_is_a_content_filter_error_never_retried(dialect_client, emulator):
    for call in (dialect_client.chat, dialect_client.stream):
        emulator.reset()
        with pytest.raises(ContentFilterError) as info:
            call("please EMULATOR-UNSAFE now")
        assert info.value.code == 18 and "rephrase" in info.value.one_line()
        assert len(emulator.requests) == 1


def test_a_429_with_retry_after_is_retried(dialect_client, emulator, caplog):
    headers = {"x-emulator-fault": "status=429,times=1,retry_after=0.2"}
    with caplog.at_level(logging.WARNING, logger="sensenova_widget"):
        reply = dialect_client.chat("again", extra_headers=headers)
    assert reply.text == "again"
    assert "in 0.20 s" in caplog.text and "RateLimitError" in caplog.text
    dialect_client.max_retries = 0
    with pytest.raises(RateLimitError) as info:
        dialect_client.chat("again", extra_headers={"x-emulator-fault": "status=429,retry_after=0"})
    assert info.value.status == 429 and info.value.code == 8


def test_a_mid_stream_error_keeps_the_partial_text(dialect_client):
    live = dialect_client.stream(
        "one two three four five", extra_headers={"x-emulator-fault": "error_after=2"}
    )
    with pytest.raises(StreamError) as info:
        live.until_done()
    assert info.value.partial_text and info.value.partial_text == live.text
    assert "one two three four five".startswith(live.text.rstrip())


def test_models_reads_each_dialects_list(dialect_client):
    ids = dialect_client.models()
    expected = "SenseNova-V6-5-Pro" if dialect_client.api == "native" else "sensenova-v6-5-pro"
    assert expected in ids


def test_the_openai_dialect_refuses_file_uploads_in_plain_words(emulator):
    with Client(api_key=emulator.api_key, base_url=emulator.openai_base_url) as client:
        with pytest.raises(InvalidRequestError, match="https URL") as info:
            client.chat("what happens?", video=b"\x00\x00\x00\x18ftypmp42")
    assert "native" in str(info.value) and len(emulator.requests) == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_conversation_never_sends_reasoning_back(dialect_client, emulator, stream):
    from sensenova_widget import Conversation

    talk = Conversation(dialect_client, model=REASONER, thinking=True)
    talk.ask("first question", stream=stream)
    assert talk.turns[-1].answer.reasoning.startswith("Reasoning:")
    assert talk.messages[-1]["content"] == [{"type": "text", "text": "first question"}]
    talk.ask("second question", stream=stream)
    sent = _sent(emulator)
    assert sent["thinking"] == {"enabled": True}
    assert "Reasoning" not in repr(sent["messages"])  # only the answers went back
