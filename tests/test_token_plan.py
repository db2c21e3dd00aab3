"""The token plan as SenseTime's 2026 guide documents it, against the emulator's token-plan entry
point, with only the key and the base URL (issue 22): the model chosen from what the endpoint
lists, reasoning under `reasoning`, the model's own output limit, errors that say what happened,
and its two kinds of 429 (a used-up quota is not retried, the rate gate is)."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest
import requests
from PIL import Image

import sensenova_widget as snw
from sensenova_widget import protocol

VISION = protocol.TOKEN_PLAN_VISION_MODEL


def picture(shade: int = 200) -> Image.Image:
    return Image.new("RGB", (64, 48), (shade, 20, 20))


@pytest.fixture
def plan(emulator):
    """A client with only the key and the token plan's base URL."""
    with snw.Client(api_key=emulator.api_key, base_url=emulator.token_plan_base_url) as client:
        yield client


def faulty(emulator, fault: str, **kw) -> snw.Client:
    unique = f"reply_tokens={1000 + uuid.uuid4().int % 1000}"  # `times` counts per header value
    headers = {"x-emulator-fault": f"{fault},{unique}"}
    return snw.Client(api_key=emulator.api_key, base_url=emulator.token_plan_base_url, headers=headers, **kw)


def test_the_model_list_has_the_guides_fields_with_a_text_only_model_first(emulator, plan):
    raw = requests.get(
        emulator.token_plan_base_url + "/models", headers={"Authorization": f"Bearer {emulator.api_key}"}
    ).json()["data"]
    assert [m["id"] for m in raw] == ["deepseek-v4-flash", VISION]
    assert raw[0]["input_modalities"] == ["text"] and raw[1]["input_modalities"] == ["text", "image"]
    assert raw[1]["context_length"] == 262144 and raw[1]["max_output_length"] == 65536
    assert plan.api == "openai" and plan.models() == ["deepseek-v4-flash", VISION]


def test_a_question_with_an_image_is_answered_by_the_listed_vision_model(emulator, plan):
    reply = plan.chat("What is in this picture?", images=[picture()])
    assert reply.model == VISION and emulator.requests[-1]["model"] == VISION
    assert "image 1: 64x48 RGB, mostly red" in reply.text
    assert reply.reasoning.startswith("Reasoning: 1 message, 1 image") and "Reasoning" not in reply.text
    path = emulator.requests.summaries[-1]["path"]
    assert path == protocol.EMULATOR_TOKEN_PLAN_PREFIX + "/chat/completions"


def test_the_reasoning_streams_apart_from_the_answer(plan):
    with plan.stream("Look closely.", images=[picture()]) as stream:
        deltas = list(stream)
    reply = stream.reply
    assert any(d.reasoning for d in deltas) and all(not (d.reasoning and d.text) for d in deltas)
    assert reply.reasoning.startswith("Reasoning:") and reply.text.startswith("Look closely.")
    assert reply.finish_reason == "stop" and reply.usage["total_tokens"] > 0  # from the usage-only chunk


def test_the_stream_has_the_guides_shape(emulator):
    response = requests.post(
        emulator.token_plan_base_url + "/chat/completions",
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        json={"model": VISION, "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    *middle, last, usage = chunks
    assert all(c["choices"][0]["finish_reason"] == "" for c in middle)
    assert any("reasoning" in c["choices"][0]["delta"] for c in middle)
    assert not any("reasoning_content" in c["choices"][0]["delta"] for c in middle)
    assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0


def test_the_reasoning_shows_apart_in_the_panel_and_is_never_sent_back(emulator, plan, monkeypatch):
    import comm
    from test_widget import RecordingComm

    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))
    panel = snw.ChatPanel(client=plan)
    assert panel.settings["model"] == VISION and panel.thinks
    reply = panel.ask("What is this?", images=[picture()])
    turn = panel.conversation[-1]
    assert turn["reasoning"] == reply.reasoning and reply.reasoning.startswith("Reasoning:")
    assert "Reasoning:" not in turn["text"]
    panel.ask("And its colour?")
    assert reply.reasoning not in json.dumps(emulator.requests[-1]["messages"])
    assert panel.models_loaded.wait(30)
    assert panel.models == [VISION]  # the text-only model is not offered in a panel for images


def test_max_new_tokens_goes_up_to_the_models_own_limit_as_max_tokens(emulator, plan):
    plan.chat("Long answer, please.", max_new_tokens=30000)
    assert emulator.requests[-1]["max_tokens"] == 30000 and "max_new_tokens" not in emulator.requests[-1]
    sent = len(emulator.requests)
    with pytest.raises(snw.InvalidRequestError, match=r"max_new_tokens=70000 .*\[1, 65536\]"):
        plan.chat("Longer still.", max_new_tokens=70000)
    with pytest.raises(snw.InvalidRequestError, match=r"\[1, 8192\]"):
        plan.chat("A text model's limit.", model="deepseek-v4-flash", max_new_tokens=9000)
    assert len(emulator.requests) == sent  # refused before sending


def test_a_text_only_model_is_refused_images_before_sending(emulator, plan):
    sent = len(emulator.requests)
    with pytest.raises(snw.InvalidRequestError, match="'deepseek-v4-flash' reads text only") as caught:
        plan.chat("What is this?", model="deepseek-v4-flash", images=[picture()])
    assert caught.value.field == "model" and len(emulator.requests) == sent
    assert plan.chat("Plain text is fine.", model="deepseek-v4-flash").text.startswith("Plain text")


def test_a_404_names_the_model_and_the_ones_served(emulator, plan):
    with pytest.raises(snw.NotFoundError) as caught:
        plan.chat("hi", model="SenseNova-V6-Pro")
    message = str(caught.value)
    assert "'SenseNova-V6-Pro' is not served" in message and f"deepseek-v4-flash, {VISION}" in message
    assert caught.value.status == 404 and caught.value.code == 5


def test_risk_control_and_a_failed_download_say_what_happened(emulator):
    with faulty(emulator, "status=403", max_retries=0) as client:
        with pytest.raises(snw.PermissionDeniedError) as caught:
            client.chat("hi")
    assert "risk control" in caught.value.one_line() and caught.value.status == 403
    with snw.Client(api_key=emulator.api_key, base_url=emulator.token_plan_base_url) as client:
        with pytest.raises(snw.InvalidRequestError) as caught:
            client.chat("What is this?", images=[picture(), "https://photos.invalid/cat.png"])
    said = str(caught.value)
    assert "messages[0].content[1]" in said and "https://photos.invalid/cat.png" in said


def test_an_exhausted_plan_is_raised_after_one_request(emulator):
    with faulty(emulator, "quota=1", max_retries=5) as client:
        sent = len(emulator.requests)
        with pytest.raises(snw.QuotaExceededError) as caught:
            client.chat("hi", images=[picture()])
    assert len(emulator.requests) == sent + 1
    assert isinstance(caught.value, snw.RateLimitError) and caught.value.status == 429
    assert "quota is used up; it renews" in caught.value.one_line()


def test_a_rate_gate_429_is_retried_honouring_retry_after(emulator):
    with faulty(emulator, "status=429,times=2,retry_after=0.05", max_retries=2) as client:
        sent = len(emulator.requests)
        reply = client.chat("hi", images=[picture()])
    assert reply.text.startswith("hi") and len(emulator.requests) == sent + 3


def test_caption_stops_at_an_exhausted_plan_and_a_later_run_finishes(emulator, tmp_path, capsys):
    df = pd.DataFrame({"image": [picture(n * 5) for n in range(40)], "n": range(40)})
    cache = tmp_path / "captions.sqlite"
    with snw.Client(api_key=emulator.api_key, base_url=emulator.token_plan_base_url) as client:
        done = snw.caption(
            df.head(3), "image", "Describe row {n}.", client=client, cache=cache, progress=False
        )
        assert done["caption"].notna().all()
        saved = emulator.knobs
        emulator.configure(quota=True)
        try:
            sent = len(emulator.requests)
            out = snw.caption(df, "image", "Describe row {n}.", client=client, cache=cache, concurrency=4)
            spent = len(emulator.requests) - sent
        finally:
            emulator.knobs = saved
        summary = out.attrs["sensenova_summary"]
        assert spent <= 5  # the requests in flight when the first refusal came back, at most
        assert summary["from_cache"] == 3 and summary["not_done"] == 37 and summary["failed"] == 0
        assert out["caption"].notna().sum() == 3
        assert out["caption_error"].iloc[3:].str.startswith("not done: QuotaExceededError").all()
        assert "37 not done: the token plan's quota is used up" in capsys.readouterr().out
        sent = len(emulator.requests)
        again = snw.caption(df, "image", "Describe row {n}.", client=client, cache=cache, progress=False)
    assert again["caption"].notna().all() and again.attrs["sensenova_summary"]["from_cache"] == 3
    assert len(emulator.requests) - sent == 37  # only the rows not done are sent


def test_connect_and_the_environment_reach_the_token_plan(emulator, monkeypatch):
    monkeypatch.setenv("SENSENOVA_API_KEY", emulator.api_key)
    monkeypatch.setenv("SENSENOVA_API_BASE", emulator.token_plan_base_url)
    monkeypatch.delenv("SENSENOVA_MODEL", raising=False)
    monkeypatch.delenv("SENSENOVA_API_DIALECT", raising=False)
    assert "token-plan" in snw.connect(verbose=False).base_url
    with snw.Client() as client:
        assert client.api == "openai" and client.resolve_model() == VISION
    assert snw.Client(base_url=protocol.TOKEN_PLAN_BASE_URL, api_key="k").api == "openai"


def test_a_random_third_of_refusals_is_no_signal_but_an_overrun_limit_is():
    import random

    from sensenova_widget.captions.pacing import RefusalShare

    draws = random.Random(3)
    weather, overrun = RefusalShare(window=16), RefusalShare(window=16)
    by_chance = sum(weather.note(draws.random() < 0.33) for _ in range(2000))
    by_load = sum(overrun.note(draws.random() < 0.8) for _ in range(2000))
    assert by_chance < 2000 * 0.02 < 2000 * 0.5 < by_load  # chance rarely looks like an overrun
    burst = RefusalShare(window=16)
    signals = [burst.note(True) for _ in range(16)]
    assert signals[:15] == [False] * 15 and signals[15]  # only a whole window of answers says so


def test_caption_finishes_every_row_through_the_gate_without_losing_one(emulator, tmp_path):
    df = pd.DataFrame({"image": [picture(n * 5) for n in range(40)], "n": range(40)})
    saved = emulator.knobs
    emulator.configure(gate=0.33, gate_seed=11)
    try:
        with snw.Client(api_key=emulator.api_key, base_url=emulator.token_plan_base_url) as client:
            sent = len(emulator.requests)
            out = snw.caption(df, "image", "Describe row {n}.", client=client, cache=False, progress=False)
            spent = len(emulator.requests) - sent
    finally:
        emulator.knobs = saved
    summary = out.attrs["sensenova_summary"]
    assert out["caption"].notna().all() and summary["failed"] == 0 and summary["not_done"] == 0
    assert 40 < spent < 40 * 2  # refused requests were sent again, none given up


def test_a_failed_download_names_the_part_but_no_login_or_signed_query(emulator, plan):
    signed = "https://user:hunter2@photos.invalid/cat.png?X-Amz-Signature=s3cr3t"
    with pytest.raises(snw.InvalidRequestError) as caught:
        plan.chat("What is this?", images=[signed])
    said = caught.value.one_line()
    assert "https://photos.invalid/cat.png?..." in said and "messages[0].content[0]" in said
    assert "hunter2" not in said and "s3cr3t" not in said


def test_every_surface_takes_the_models_own_output_limit(emulator, plan, monkeypatch):
    import comm
    from test_widget import RecordingComm

    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))
    df = pd.DataFrame({"image": [picture()], "n": [0]})
    out = snw.caption(df, "image", client=plan, cache=False, progress=False, max_new_tokens=30000)
    assert out["caption"].notna().all() and emulator.requests[-1]["max_tokens"] == 30000
    assert emulator.requests[-1]["model"] == VISION  # no model named: the listed vision model
    assert "image 1: 64x48 RGB" in out["caption"][0]
    panel = snw.ChatPanel(client=plan, max_new_tokens=30000)
    panel.ask("And in the panel?")
    assert emulator.requests[-1]["max_tokens"] == 30000
    out = snw.caption(df, "image", client=plan, cache=False, progress=False, max_new_tokens=70000)
    assert "[1, 65536]" in out["caption_error"][0]  # the row says the model's own limit


def test_the_panels_max_new_tokens_field_follows_the_chosen_models_own_limit(emulator, plan, monkeypatch):
    import comm
    from test_widget import RecordingComm

    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))
    panel = snw.ChatPanel(client=plan)
    assert panel.models_loaded.wait(30)
    field = panel.parameters["max_new_tokens"]
    assert (field["max"], field["allowed"]) == (65536, "an integer in [1, 65536]")
    panel.set_state({"settings": {**panel.settings, "model": "SenseNova-V6-Pro"}})  # the page's picker
    assert panel.parameters["max_new_tokens"]["max"] == 16384  # not listed here: the documented table
    panel.set_state({"settings": {**panel.settings, "model": VISION, "max_new_tokens": 30000}})
    assert panel.parameters["max_new_tokens"]["max"] == 65536
    panel.ask("Long answer, please.")
    assert emulator.requests[-1]["max_tokens"] == 30000
    sent = len(emulator.requests)
    panel.set_state({"settings": {**panel.settings, "max_new_tokens": 70000}})  # a page that skips its check
    with pytest.raises(snw.InvalidRequestError, match=r"\[1, 65536\]"):
        panel.ask("Longer still.")  # the kernel is the judge
    assert len(emulator.requests) == sent


def test_a_panel_with_images_never_sends_them_to_a_text_only_model(emulator, plan, monkeypatch):
    import comm
    from test_widget import RecordingComm

    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))
    panel = snw.ChatPanel(client=plan)
    assert panel.models_loaded.wait(30) and "deepseek-v4-flash" not in panel.models
    panel.set_state({"settings": {**panel.settings, "model": "deepseek-v4-flash"}})  # a forged pick
    assert panel.parameters["max_new_tokens"]["max"] == 8192
    sent = len(emulator.requests)
    panel.attach(picture())
    with pytest.raises(snw.InvalidRequestError, match="'deepseek-v4-flash' reads text only"):
        panel.ask("What is this?")
    assert len(emulator.requests) == sent
    assert (
        panel.conversation[-1]["status"] == "error" and "reads text only" in panel.conversation[-1]["error"]
    )


def test_a_model_list_that_does_not_load_is_asked_for_once_per_client(httpserver, caplog):
    """An OpenAI-shaped endpoint whose /models fails: the documented default answers, the list is
    not asked for again before every request, and the failure is logged once."""
    reply = {
        "id": "r1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    httpserver.expect_request("/v1/models").respond_with_data("<html>not a model list</html>")
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(reply)
    client = snw.Client(api_key="sk-local", base_url=httpserver.url_for("/v1"), api="openai", max_retries=0)
    with caplog.at_level("WARNING", logger="sensenova_widget"), client:
        assert [client.chat("one").text, client.chat("two").text] == ["hi", "hi"]
    asked = [request.path for request, _ in httpserver.log]
    assert asked == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]
    sent = [json.loads(request.data) for request, _ in httpserver.log[1:]]
    assert {body["model"] for body in sent} == {protocol.DEFAULT_MODEL}
    assert "model list did not load" in caplog.records[0].getMessage() and len(caplog.records) == 1
