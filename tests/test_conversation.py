"""Conversation against the emulator: turns recorded as wire messages, partial replies kept."""

from __future__ import annotations

import io
import threading

import pytest
from waiting import wait_until

import sensenova_widget as snw
from sensenova_widget import protocol

FAULT = "x-emulator-fault"


def png(color) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def text_of(message: dict) -> str:
    return "".join(p["text"] for p in message["content"] if p["type"] == "text")


def test_turns_are_recorded_as_wire_messages_with_the_system_first(client, emulator):
    conv = snw.Conversation(client, system="Be brief.", temperature=0.5)
    seen = []
    first = conv.ask("first question", on_delta=lambda d: seen.append(d.text))
    second = conv.ask("second question", stream=False)
    assert (first.text, second.text) == ("first question", "second question")
    assert "".join(seen) == "first question"
    assert [m["role"] for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[0] == {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    last_sent = emulator.requests[-1]
    assert last_sent["messages"] == conv.messages[:-1]
    assert last_sent["temperature"] == 0.5 and last_sent["stream"] is False
    assert len(conv.messages) == 5 and conv.turns[-1].answer.text == second.text
    assert [t.text for t in conv.turns] == ["first question", "second question"]


def test_a_stream_is_recorded_when_it_ends(client):
    conv = snw.Conversation(client)
    with conv.stream("streamed words here") as stream:
        assert len(conv.messages) == 1  # the user's turn, the reply still coming
        text = "".join(d.text for d in stream)
    assert text == "streamed words here"
    assert [text_of(m) for m in conv.messages] == ["streamed words here", "streamed words here"]


def test_a_stream_left_early_keeps_its_partial_text(client):
    conv = snw.Conversation(client)
    words = " ".join(f"w{i}" for i in range(50))
    with conv.stream(words, extra_headers={FAULT: "delta_delay=0.02"}) as stream:
        first = next(iter(stream))
    assert stream.reply.finish_reason == "stopped"
    assert conv.turns[-1].answer.finish_reason == "stopped" and conv.turns[-1].answer.status == "stopped"
    recorded = text_of(conv.messages[-1])
    assert conv.messages[-1]["role"] == "assistant" and recorded.startswith(first.text) and recorded != words


def test_stop_from_another_thread_keeps_the_partial_reply(client):
    conv = snw.Conversation(client)
    seen: list[str] = []
    result: list[snw.Reply] = []
    worker = threading.Thread(
        target=lambda: result.append(
            conv.ask(
                " ".join(f"w{i}" for i in range(300)),
                on_delta=lambda d: seen.append(d.text),
                extra_headers={FAULT: "delta_delay=0.05"},
            )
        )
    )
    worker.start()
    wait_until(lambda: len(seen) >= 2, "two deltas seen")
    conv.stop()
    worker.join(5)
    assert not worker.is_alive()
    [reply] = result
    assert reply.finish_reason == "stopped" and reply.text == "".join(seen)
    assert text_of(conv.messages[-1]) == reply.text
    assert conv.turns[-1].answer.status == "stopped" and conv.turns[-1].answer.text == reply.text
    conv.stop()  # the turn is over: a late Stop reaches nothing, not the next turn
    assert conv.ask("next").finish_reason == "stop"


def test_a_stop_before_the_stream_opens_ends_the_turn_as_stopped(client, emulator):
    conv = snw.Conversation(client)
    conv.begin_turn()  # as the panel does before its worker thread sends the request
    conv.stop()  # the Stop button pressed while the request is still being sent
    reply = conv.ask("a story that never gets told")
    assert reply.finish_reason == "stopped" and reply.text == ""
    answer = conv.turns[-1].answer
    assert answer.status == "stopped" and answer.error is None
    assert answer.notice == protocol.FINISH_NOTICES["stopped"]
    assert [m["role"] for m in conv.messages] == ["user"]  # sent, so recorded; no reply text
    assert emulator.requests[-1]["messages"][-1]["content"][-1]["text"] == "a story that never gets told"
    conv.stop()  # no turn in progress: nothing waits to stop the next one
    assert conv.ask("next").finish_reason == "stop"
    assert [t.answer.finish_reason for t in conv.turns] == ["stopped", "stop"]


def test_a_reply_that_fails_midway_keeps_its_partial_text(client):
    conv = snw.Conversation(client)
    with pytest.raises(snw.StreamError) as info:
        conv.ask("alpha beta gamma delta epsilon zeta", extra_headers={FAULT: "error_after=2"})
    partial = info.value.partial_text
    assert partial and conv.messages[-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": partial}],
    }
    answer = conv.turns[-1].answer
    assert answer.error == info.value.one_line() and answer.finish_reason is None
    assert answer.status == "error" and answer.text == partial


def test_a_turn_that_failed_before_any_text_can_be_regenerated(client, emulator):
    conv = snw.Conversation(client)
    with pytest.raises(snw.PermissionDeniedError) as info:
        conv.ask("try me", extra_headers={FAULT: "status=403"})
    assert [m["role"] for m in conv.messages] == ["user"]
    assert conv.turns[-1].answer.error == info.value.one_line()
    reply = conv.regenerate()
    assert reply.text == "try me"
    assert [m["role"] for m in conv.messages] == ["user", "assistant"]
    assert [a.status for a in conv.turns[-1].answers] == ["error", "done"]  # the failure stays, not chosen
    assert [text_of(m) for m in emulator.requests[-1]["messages"]] == ["try me"]


def test_regenerate_keeps_alternatives_and_edit_replaces_the_last_turn(client, emulator):
    conv = snw.Conversation(client)
    conv.ask("keep this turn")
    first = conv.ask("what colour is it", images=[png((0, 200, 0))])
    again = conv.regenerate(stream=False)
    assert "green" in again.text and len(conv.messages) == 4
    assert [a.text for a in conv.turns[-1].answers] == [first.text, again.text]
    conv.choose(1, 0)  # back to the first answer: the history continues from it
    assert conv.turns[-1].chosen_index == 0 and text_of(conv.messages[-1]) == first.text
    edited = conv.edit("which colour, exactly")
    assert edited.text.startswith("which colour, exactly") and "green" in edited.text
    assert [text_of(m) for m in conv.messages][:2] == ["keep this turn", "keep this turn"]
    last_user = conv.messages[-2]["content"]
    assert [p["type"] for p in last_user] == ["image_base64", "text"]  # the media stayed


def test_media_are_encoded_once_and_resent_as_they_are(client, emulator):
    conv = snw.Conversation(client)
    conv.ask("a picture", images=[png((255, 0, 0))])
    stored = conv.messages[0]["content"][0]
    assert stored["type"] == "image_base64" and isinstance(stored["image_base64"], str)
    conv.ask("and now?")
    assert emulator.requests[-1]["messages"][0]["content"][0] == stored


def test_older_images_are_omitted_with_a_notice_when_the_history_outgrows_the_limit(client, emulator):
    conv = snw.Conversation(client)
    for turn in range(4):
        reply = conv.ask(f"turn {turn}", images=[png((turn * 60, 0, 0)), png((0, turn * 60, 0))])
    images, videos = protocol.count_media(emulator.requests[-1]["messages"])
    assert images <= protocol.MAX_IMAGES and videos == 0
    assert reply.omitted and "omitted" in " ".join(reply.omitted)
    assert protocol.count_media(conv.messages) == (8, 0)  # the conversation itself keeps them all


def test_a_refused_turn_records_nothing_and_sends_nothing(client, emulator):
    conv = snw.Conversation(client)
    with pytest.raises(snw.InvalidRequestError):
        conv.ask("too hot", temperature=3)
    assert conv.messages == [] and emulator.request_count == 0


def test_a_refused_regenerate_or_edit_leaves_the_conversation_as_it_was(client, emulator):
    conv = snw.Conversation(client)
    conv.ask("first turn")
    conv.ask("what colour is it", images=[png((0, 0, 200))])
    before = conv.messages
    sent = emulator.request_count
    with pytest.raises(snw.InvalidRequestError) as info:
        conv.regenerate(temperature=3)
    assert info.value.field == "temperature"
    with pytest.raises(snw.InvalidRequestError) as info:
        conv.regenerate(stream=False, max_new_tokens=0)
    assert info.value.field == "max_new_tokens"
    with pytest.raises(snw.InvalidRequestError) as info:
        conv.edit("which colour, exactly", top_p=1.0)
    assert info.value.field == "top_p"
    assert conv.messages == before and emulator.request_count == sent
    # and the conversation still works from there: the same last turn is asked again
    again = conv.regenerate(stream=False)
    assert "blue" in again.text and [m["role"] for m in conv.messages] == ["user", "assistant"] * 2
    assert emulator.requests[-1]["messages"] == before[:-1]


def test_a_refused_regenerate_after_a_failed_turn_keeps_the_users_message(client, emulator):
    conv = snw.Conversation(client, system="sys")
    with pytest.raises(snw.PermissionDeniedError):
        conv.ask("try me", extra_headers={FAULT: "status=403"})
    before = conv.messages
    with pytest.raises(snw.InvalidRequestError):
        conv.regenerate(temperature=2.0000001)
    with pytest.raises(snw.InvalidRequestError):
        conv.edit("try me instead", repetition_penalty=0)
    assert conv.messages == before and [m["role"] for m in before] == ["system", "user"]
    assert conv.edit("try me instead").text == "try me instead"
    assert [text_of(m) for m in conv.messages] == ["sys", "try me instead", "try me instead"]


def test_clear_forgets_the_turns_but_not_the_system_prompt(client):
    conv = snw.Conversation(client, system="sys")
    conv.ask("hello")
    conv.clear()
    assert conv.messages == [{"role": "system", "content": [{"type": "text", "text": "sys"}]}]
    assert conv.turns == []
    with pytest.raises(IndexError):
        conv.regenerate()


def test_a_refused_turn_leaves_no_outcome_and_no_pending_stop(client):
    conv = snw.Conversation(client)
    with pytest.raises(snw.InvalidRequestError):
        conv.ask("hot", temperature=5)
    assert conv.turns == []
    conv.stop()  # the refused turn is over: this stop must not reach the next turn
    assert conv.ask("warm").finish_reason == "stop"


def test_default_settings_are_one_typed_value_that_each_turn_overrides(client, emulator):
    conv = snw.Conversation(client, model="SenseNova-V6-Pro", temperature=0.3, max_new_tokens=20)
    assert conv.params == snw.Params(temperature=0.3, max_new_tokens=20)
    conv.ask("one", stream=False, temperature=0.9)
    sent = emulator.requests[-1]
    assert (sent["temperature"], sent["max_new_tokens"], sent["model"]) == (0.9, 20, "SenseNova-V6-Pro")
    with pytest.raises(snw.InvalidRequestError, match="'temprature' is not a request parameter"):
        snw.Conversation(client, temprature=0.3)


def test_edit_any_earlier_turn_forks_the_conversation_there(client, emulator):
    conv = snw.Conversation(client)
    for text in ("one", "two", "three"):
        conv.ask(text)
    reply = conv.edit("TWO instead", turn=1)
    assert reply.text == "TWO instead"
    assert [t.text for t in conv.turns] == ["one", "TWO instead"]
    assert [text_of(m) for m in emulator.requests[-1]["messages"]] == ["one", "one", "TWO instead"]
    with pytest.raises(IndexError):
        conv.edit("nothing there", turn=5)


# ---------------------------------------------------------------- refused by the service (issue 25)
def test_a_refused_message_is_kept_shown_and_left_out_of_the_next_request(client, emulator):
    conv = snw.Conversation(client)
    conv.ask("a fine start")
    with pytest.raises(snw.ContentFilterError) as info:
        conv.ask("please say EMULATOR-UNSAFE now")
    refused = conv.turns[-1]
    assert refused.refused and refused.answer.status == "refused"
    assert refused.answer.error == info.value.one_line() and refused.text == "please say EMULATOR-UNSAFE now"
    assert "EMULATOR-UNSAFE" not in str(conv.messages)  # kept for the reader, not sent again
    conv.ask("a new question")
    sent = emulator.requests[-1]["messages"]
    assert [text_of(m) for m in sent if m["role"] == "user"] == ["a fine start", "a new question"]
    assert "EMULATOR-UNSAFE" not in str(sent)
    # the person edits the refused message and sends it again: it joins the conversation there
    edited = conv.edit("please say something safe", turn=1)
    assert edited.text == "please say something safe"
    assert [t.text for t in conv.turns] == ["a fine start", "please say something safe"]
    assert not conv.turns[-1].refused


def test_a_message_too_long_for_the_context_is_refused_and_not_resent(client, emulator):
    conv = snw.Conversation(client)
    emulator.configure(context_length=40)
    with pytest.raises(snw.ContextLengthError):
        conv.ask("word " * 200)
    assert conv.turns[-1].refused and conv.messages == []
    reply = conv.ask("short", max_new_tokens=5)
    assert reply.text and "word word" not in str(emulator.requests[-1]["messages"])
