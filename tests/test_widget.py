"""ChatPanel's kernel side: its messages protocol, what its synced state may hold, coalescing.

The panel talks to the emulator over real sockets. Its comm is a recording one (the `comm`
package's `create_comm` hook, which ipykernel itself fills in a kernel), so every message the
panel would send to a browser is captured, and browser requests are fed in through the widget's
own message handler.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time

import comm
import pytest
from comm.base_comm import BaseComm
from PIL import Image
from waiting import wait_until

from sensenova_widget import protocol
from sensenova_widget.errors import AuthenticationError, ContentFilterError, InvalidRequestError
from sensenova_widget.panel import panel_state
from sensenova_widget.panel.widget import KERNEL_OWNED, ChatPanel

SLOW = {"x-emulator-fault": "delta_delay=0.005,reply_tokens=300"}


class RecordingComm(BaseComm):
    """A comm that keeps what it would publish to the front end."""

    def __init__(self, **kwargs):
        self.published: list[tuple[dict, list]] = []
        self.lock = threading.Lock()
        super().__init__(**kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        with self.lock:
            self.published.append((data or {}, buffers or []))

    def custom(self) -> list[dict]:
        with self.lock:
            return [d["content"] for d, _ in self.published if d.get("method") == "custom"]


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))


@pytest.fixture
def panel(client):
    return ChatPanel(client=client)


def request(panel, method, params=None, buffers=None, req_id="r1"):
    """Feed one browser request through the widget's message handler; return its response."""
    panel._handle_msg(
        {
            "content": {
                "data": {
                    "method": "custom",
                    "content": {"type": "request", "id": req_id, "method": method, "params": params or {}},
                }
            },
            "buffers": buffers or [],
        }
    )
    answers = [m for m in panel.comm.custom() if m.get("type") == "response" and m.get("id") == req_id]
    assert len(answers) == 1, answers
    return answers[0]


def wait_idle(panel, timeout=30.0):
    wait_until(lambda: not panel.busy, "the reply to finish", timeout)
    panel._turns.wait(timeout)  # the turn's thread resolved its future too


def png(width, height, color=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def decoded_sides(data_url: str) -> tuple[int, int]:
    head, b64 = data_url.split(",", 1)
    assert head.startswith("data:image/")
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


# ---------------------------------------------------------------- state: what reaches the browser
def test_synced_state_holds_no_credentials_nor_full_images(emulator):
    from ipywidgets.embed import embed_data

    from sensenova_widget import Client

    keyed = Client(api_key=emulator.api_key, base_url=emulator.base_url, file_base_url=emulator.file_base_url)
    paired = Client(
        access_key_id=emulator.access_key_id,
        secret_access_key=emulator.secret_access_key,
        base_url=emulator.base_url,
        file_base_url=emulator.file_base_url,
    )
    secrets = [emulator.api_key, emulator.access_key_id, emulator.secret_access_key]
    for client in (keyed, paired):
        panel = ChatPanel(client=client, system="be brief", temperature=0.5)
        big = Image.new("RGB", (2000, 1500), (250, 10, 10))
        panel.attach(big)
        reply = panel.ask("What colour is it?")
        assert "2000x1500" in reply.text  # the full image went to the service
        state = json.dumps(panel.get_state(), default=str)
        saved = json.dumps(embed_data(views=[panel])["manager_state"], default=str)  # what a notebook saves
        for secret in secrets:
            assert secret not in state and secret not in saved
        assert "Bearer" not in state and "Authorization" not in state
        thumbs = [a["thumb"] for t in panel.conversation for a in t.get("attachments", [])]
        assert len(thumbs) == 1 and max(decoded_sides(thumbs[0])) <= 256
        shown = json.dumps([panel.conversation, panel.staged])
        assert len(shown) < 100_000  # thumbnails only: the 2000x1500 image alone is far bigger
        assert panel.settings["system"] == "be brief" and panel.settings["temperature"] == 0.5


def test_thumbnails_are_at_most_256_px_whatever_the_value(panel):
    import numpy as np

    panel.attach(Image.new("RGB", (300, 1200)))
    panel.attach(np.zeros((900, 1600, 3), dtype=np.uint8))
    panel.attach(png(100, 80))
    sides = [decoded_sides(item["thumb"]) for item in panel.staged]
    assert all(max(side) <= 256 for side in sides)
    assert sides[2] == (100, 80)  # small images are not enlarged
    assert sides[0][1] == 4 * sides[0][0] and sides[1][0] > sides[1][1]  # aspect kept


def test_without_credentials_the_error_says_what_to_set(monkeypatch):
    for name in ("SENSENOVA_API_KEY", "SENSENOVA_ACCESS_KEY_ID", "SENSENOVA_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuthenticationError, match="SENSENOVA_API_KEY"):
        ChatPanel()


def test_bad_settings_are_refused_before_anything_is_sent(client):
    with pytest.raises(InvalidRequestError, match=r"top_p=1\.0 .*open interval"):
        ChatPanel(client=client, top_p=1.0)
    with pytest.raises(InvalidRequestError, match="'temprature' is not a request parameter"):
        ChatPanel(client=client, temprature=0.5)
    with pytest.raises(InvalidRequestError, match="top_k=5 .* only the OpenAI-compatible endpoints"):
        ChatPanel(client=client, top_k=5)  # the native endpoint does not take it


def test_parameter_ranges_reach_the_browser_from_the_protocol(panel):
    specs = panel.parameters
    shown = [name for name, spec in protocol.PARAMETERS.items() if spec.panel and spec.knows("native")]
    assert list(specs) == shown  # the table's order; top_k & co. only for the OpenAI shape
    assert specs["top_p"] == {
        "label": "Top p",
        "kind": "number",
        "min": 0,
        "max": 1,
        "min_inclusive": False,
        "max_inclusive": False,
        "integer": False,
        "step": "0.01",
        "allowed": "a number in the open interval (0, 1)",
        "default": 0.7,
    }
    assert specs["max_new_tokens"]["integer"] is True
    assert specs["thinking"]["kind"] == "toggle" and specs["thinking"]["shown_if"] == "thinks"
    assert specs["system"]["kind"] == "textarea" and specs["model"]["kind"] == "picker"
    assert panel.limits == {"max_images": 6, "max_videos": 1}


# ---------------------------------------------------------------- streaming
def test_deltas_are_coalesced_and_add_up_to_the_reply(client, emulator):
    from sensenova_widget import Client

    slow = Client(api_key=emulator.api_key, base_url=emulator.base_url, headers=SLOW)
    panel = ChatPanel(client=slow)
    started = time.monotonic()
    reply = panel.ask("Count with me")
    elapsed = time.monotonic() - started
    turn_id = panel.conversation[-1]["id"]
    deltas = [m for m in panel.comm.custom() if m.get("type") == "delta" and m["turn"] == turn_id]
    server_deltas = 200  # 300 tokens, deltas of 1 and 2 tokens
    assert 2 <= len(deltas) < server_deltas / 4
    assert len(deltas) <= elapsed / panel_state.DELTA_INTERVAL + 2  # never more than one per interval
    assert "".join(d["text"] for d in deltas) == reply.text
    offsets = [d["offset"] for d in deltas]
    assert offsets == sorted(offsets) and offsets[0] == 0
    final = panel.conversation[-1]
    assert (
        final["text"] == reply.text
        and final["status"] == "done"
        and final["usage"]["completion_tokens"] == 300
    )


def test_coalescer_offsets_count_utf16_units_like_the_browser():
    pieces = []
    coalescer = panel_state.Coalescer(lambda text, offset: pieces.append((text, offset)), interval=0.01)
    for count, part in enumerate(["héllo ", "😀 ", "wörld"], 1):
        coalescer.add(part)
        wait_until(lambda count=count: len(pieces) == count, f"flush {count} of the coalescer")
    coalescer.close()
    assert "".join(p for p, _ in pieces) == "héllo 😀 wörld"
    assert [o for _, o in pieces] == [0, 6, 9]  # the emoji is two UTF-16 units


def test_stop_keeps_the_partial_text_marked_stopped(emulator):
    from sensenova_widget import Client

    slow = Client(
        api_key=emulator.api_key,
        base_url=emulator.base_url,
        headers={"x-emulator-fault": "delta_delay=0.05,reply_tokens=400"},
    )
    panel = ChatPanel(client=slow)
    assert request(panel, "send", {"text": "A long one please"})["ok"]
    streamed = lambda: sum(len(m["text"]) for m in panel.comm.custom() if m.get("type") == "delta")  # noqa: E731
    wait_until(lambda: streamed() >= 40, "40 characters streamed", timeout=20)
    assert request(panel, "stop", req_id="r2")["ok"]
    wait_idle(panel)
    turn = panel.conversation[-1]
    assert turn["status"] == "stopped" and turn["finish_reason"] == "stopped"
    assert turn["notice"] == protocol.FINISH_NOTICES["stopped"]
    assert turn["text"].startswith("A long one please") and len(turn["text"].split()) < 400
    assert panel.messages[-1] == {"role": "assistant", "content": [{"type": "text", "text": turn["text"]}]}


def test_a_stop_while_the_request_is_being_sent_ends_the_turn_stopped(emulator):
    from sensenova_widget import Client

    held = Client(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=1)
    panel = ChatPanel(client=held)
    assert panel.models_loaded.wait(10) and not panel.models_error  # the model list asked unfaulted
    # The chat request's first answer is a 503 whose Retry-After holds it back: Stop lands before the
    # stream opens. (`times` counts per header value: had the model list carried this header, it
    # would have taken the 503 and the reply could stream before Stop.)
    held.headers["x-emulator-fault"] = "status=503,times=1,retry_after=1"
    assert request(panel, "send", {"text": "never mind"})["ok"]
    assert request(panel, "stop", req_id="r2")["ok"]
    wait_idle(panel)
    turn = panel.conversation[-1]
    assert turn["status"] == "stopped" and turn["text"] == "" and turn["error"] is None
    assert panel.turns[-1].answer.status == "stopped"  # as the conversation recorded it
    assert [m["role"] for m in panel.messages] == ["user"]


def test_chat_panel_keeps_ipywidgets_send_for_custom_messages(panel):
    import ipywidgets

    assert "send" not in vars(ChatPanel) and ChatPanel.send is ipywidgets.Widget.send
    panel.send({"type": "note", "text": "hi"})  # a custom message to the views, as on any widget
    assert {"type": "note", "text": "hi"} in panel.comm.custom()


def test_a_failed_reply_shows_inline_and_retry_works(emulator):
    from sensenova_widget import Client

    failing = Client(
        api_key=emulator.api_key,
        base_url=emulator.base_url,
        max_retries=0,
        headers={"x-emulator-fault": "status=503,times=2"},
    )
    panel = ChatPanel(client=failing)
    assert panel.models_loaded.wait(10)  # the model list took the first 503 (the configured model stays)
    assert panel.models == [panel.settings["model"]]
    assert "503" in panel.models_error and emulator.api_key not in panel.models_error  # shown, not silent
    assert request(panel, "send", {"text": "hello?"})["ok"]  # accepted: the failure comes later, inline
    wait_idle(panel)
    turn = panel.conversation[-1]
    assert turn["status"] == "error" and "503" in turn["error"] and turn["text"] == ""
    assert request(panel, "regenerate", req_id="r2")["ok"]  # the Retry button
    wait_idle(panel)
    assert panel.conversation[-1]["status"] == "done"
    assert panel.conversation[-1]["text"].startswith("hello?")
    assert [t["role"] for t in panel.conversation] == ["user", "assistant"]


# ---------------------------------------------------------------- browser requests
def test_file_bytes_arrive_as_a_buffer_and_are_sent_full_size(panel):
    answer = request(
        panel,
        "attach_file",
        {"name": "shot.png", "mime": "image/png", "kind": "image"},
        [memoryview(png(640, 480))],
    )
    assert answer["ok"], answer
    assert panel.staged[0]["label"] == "shot.png (640x480)"
    assert request(panel, "send", {"text": "Describe"}, req_id="r2")["ok"]
    wait_idle(panel)
    assert "image 1: 640x480 RGB" in panel.conversation[-1]["text"]
    assert panel.staged == []
    assert panel.conversation[0]["attachments"][0]["label"] == "shot.png (640x480)"


def test_bad_requests_get_an_error_answer_naming_the_problem(panel):
    garbage = request(panel, "attach_file", {"name": "notes.txt", "kind": "image"}, [b"just text"])
    assert not garbage["ok"] and "notes.txt is not an image" in garbage["error"]
    unknown = request(panel, "explode", req_id="r2")
    assert not unknown["ok"] and "unknown request 'explode'" in unknown["error"]
    for _ in range(6):
        panel.attach(Image.new("RGB", (20, 20)))
    with pytest.raises(InvalidRequestError, match="at most 6 images"):  # the 7th is refused when staged
        panel.attach(Image.new("RGB", (20, 20)))
    too_many = request(panel, "attach_file", {"name": "7.png", "kind": "image"}, [b"\x89PNG..."], req_id="r3")
    assert not too_many["ok"] and "at most 6 images" in too_many["error"]  # refused before decoding
    assert len(panel.staged) == 6 and panel.conversation == []  # nothing was sent


def test_images_and_a_video_never_go_together(panel):
    panel.attach(Image.new("RGB", (20, 20)))
    assert request(panel, "attach_video_url", {"url": "https://example.com/clip.mp4"})["ok"]
    assert [s["kind"] for s in panel.staged] == ["image", "video"]
    answer = request(panel, "send", {"text": "both"}, req_id="r2")
    assert not answer["ok"] and "never both" in answer["error"]
    bad_url = request(panel, "attach_video_url", {"url": "javascript:alert(1)"}, req_id="r3")
    assert not bad_url["ok"] and "http(s) URL" in bad_url["error"]
    item = panel.staged[0]["id"]
    assert request(panel, "unstage", {"id": item}, req_id="r4")["ok"]
    assert [s["kind"] for s in panel.staged] == ["video"]


def test_video_file_is_uploaded_through_the_file_service(panel):
    import numpy as np

    mp4 = pytest.importorskip("sensenova_widget.media.mp4")
    data = mp4.encode_frames(np.zeros((6, 48, 64, 3), dtype=np.uint8), fps=6)
    answer = request(panel, "attach_file", {"name": "clip.mp4", "mime": "video/mp4", "kind": "video"}, [data])
    assert answer["ok"], answer
    assert panel.staged[0]["kind"] == "video" and panel.staged[0]["thumb"] is None
    reply = panel.ask("What happens?")
    assert "video 1: mp4" in reply.text


def test_notebook_picker_lists_image_like_variables(panel):
    import numpy as np
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.user_ns.update(
            photo=Image.new("RGB", (64, 48)),
            frames=np.zeros((4, 32, 32, 3), dtype=np.uint8),
            _hidden=Image.new("RGB", (8, 8)),
            number=3,
            words="hello",
        )
        answer = request(panel, "list_variables")
        items = {item["name"]: item for item in answer["result"]["items"]}
        assert {"photo", "frames"} <= set(items) and not {"_hidden", "number", "words"} & set(items)
        assert items["photo"]["description"] == "PIL RGB 64x48" and items["photo"]["kind"] == "image"
        assert items["frames"]["kind"] == "video" and max(decoded_sides(items["photo"]["thumb"])) <= 256
        assert request(panel, "attach_variable", {"name": "photo"}, req_id="r2")["ok"]
        assert panel.staged[0]["label"] == "photo"
        gone = request(panel, "attach_variable", {"name": "nope"}, req_id="r3")
        assert not gone["ok"] and "no variable 'nope'" in gone["error"]
        reply = panel.ask("What size?")
        assert "image 1: 64x48" in reply.text
    finally:
        InteractiveShell.clear_instance()


def test_edit_regenerate_clear_and_on_reply(panel):
    seen = []
    panel.on_reply(seen.append)
    panel.ask("first question")
    assert request(panel, "edit", {"text": "better question"})["ok"]
    wait_idle(panel)
    assert [t["text"].split("\n")[0] for t in panel.conversation] == ["better question", "better question"]
    assert request(panel, "regenerate", req_id="r2")["ok"]
    wait_idle(panel)
    assert len(panel.conversation) == 2 and len(panel.messages) == 2
    assert len(seen) == 3 and all(r.finish_reason == "stop" for r in seen)
    assert request(panel, "clear", req_id="r3")["ok"]
    assert panel.conversation == [] and panel.messages == []


def test_programmatic_send_with_images_and_system(client):
    panel = ChatPanel(client=client, system="Answer in one line.")
    reply = panel.ask("Compare these", images=[Image.new("RGB", (30, 20)), png(50, 40)])
    assert "image 1: 30x20" in reply.text and "image 2: 50x40" in reply.text
    assert panel.messages[0] == {
        "role": "system",
        "content": [{"type": "text", "text": "Answer in one line."}],
    }
    assert [a["label"] for a in panel.conversation[0]["attachments"]] == [
        "PIL RGB 30x20",
        "bytes of " + f"{len(png(50, 40)):,} bytes",
    ]
    future = panel.ask("And again?", wait=False)
    assert future.result(timeout=30).text.startswith("And again?")


def test_endings_and_omitted_media_become_notices(client):
    panel = ChatPanel(client=client, max_new_tokens=3)
    panel.ask("one two three four five six")
    turn = panel.conversation[-1]
    assert turn["finish_reason"] == "length" and turn["notice"] == protocol.FINISH_NOTICES["length"]
    panel.settings = {**panel.settings, "max_new_tokens": None}  # as the browser's settings form does
    panel.ask("six pictures", images=[Image.new("RGB", (16, 16))] * 6)
    reply = panel.ask("and one more", images=[Image.new("RGB", (24, 24))])
    assert reply.omitted, "the history policy should have left older images out"
    assert panel.conversation[-1]["omitted"] == reply.omitted


def test_settings_from_the_browser_reach_the_request(panel, emulator):
    panel.settings = {
        **panel.settings,
        "temperature": 0.3,
        "top_p": 0.5,
        "system": "Be terse.",
        "model": "SenseNova-V6-Turbo",
    }
    panel.ask("hi")
    body = emulator.requests[-1]
    assert (body["temperature"], body["top_p"], body["model"]) == (0.3, 0.5, "SenseNova-V6-Turbo")
    assert body["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Be terse."}]}
    assert panel.conversation[-1]["model"] == "SenseNova-V6-Turbo"


def test_a_turn_refused_before_sending_is_marked_and_skipped_by_regenerate(panel):
    panel.ask("the first question")
    broken = b"\x89PNG\r\n\x1a\n" + b"not really a png"  # looks like an image, cannot be decoded
    panel.attach(broken, label="broken.png")
    with pytest.raises(InvalidRequestError):
        panel.ask("look at this")
    user, failed = panel.conversation[-2:]
    assert user["sent"] is False and failed["status"] == "error" and failed["retry"] is False
    assert len(panel.messages) == 2  # nothing of the refused turn reached the conversation
    reply = panel.regenerate()
    assert reply.text.startswith("the first question")
    assert [t["text"].split("\n")[0] for t in panel.conversation] == ["the first question"] * 2


def shown(panel) -> list[tuple[str, str]]:
    return [(t["role"], t["text"]) for t in panel.conversation]


def recorded(panel) -> list[tuple[str, str]]:
    """The Conversation's messages as (role, text), to compare with what the panel shows."""
    return [(m["role"], m["content"][-1]["text"]) for m in panel.messages]


def bad_temperature(panel) -> None:
    panel.settings = {
        **panel.settings,
        "temperature": 5,
    }  # the browser's form would refuse it: code can set it


def test_a_refused_regenerate_leaves_the_panel_as_the_conversation(panel, emulator):
    panel.ask("q1")
    panel.ask("q2")
    before, sent = shown(panel), len(emulator.requests)
    bad_temperature(panel)
    with pytest.raises(InvalidRequestError, match="temperature=5"):
        panel.regenerate()
    assert len(emulator.requests) == sent  # refused before sending
    assert shown(panel) == before == recorded(panel)
    assert all(t.get("sent", True) for t in panel.conversation)  # q2 had been sent: not marked unsent
    last = panel.conversation[-1]
    assert last["status"] == "done" and "temperature=5" in last["error"] and last.get("retry", True)
    panel.settings = {**panel.settings, "temperature": None}
    assert request(panel, "regenerate")["ok"]  # the Retry button on the refusal
    wait_idle(panel)
    assert shown(panel) == recorded(panel) and len(panel.conversation) == 4
    assert [t["text"].split("\n")[0] for t in panel.conversation[2:]] == ["q2", "q2"]
    assert panel.conversation[-1]["error"] is None


def test_a_refused_edit_leaves_the_panel_as_the_conversation(panel):
    panel.ask("q1")
    panel.ask("q2")
    before = shown(panel)
    bad_temperature(panel)
    assert request(panel, "edit", {"text": "q2 edited"})["ok"]  # accepted: the refusal comes inline
    wait_idle(panel)
    assert shown(panel) == before == recorded(panel)
    assert all(t.get("sent", True) for t in panel.conversation)
    assert "temperature=5" in panel.conversation[-1]["error"]
    panel.settings = {**panel.settings, "temperature": None}
    panel.ask("q3")  # the refusal note was about that attempt only: it goes
    assert shown(panel) == recorded(panel) and len(panel.conversation) == 6
    assert all(t["error"] is None for t in panel.conversation if t["role"] == "assistant")
    panel.edit("q3 edited")
    assert shown(panel) == recorded(panel) and panel.conversation[-2]["text"] == "q3 edited"


def test_a_refused_new_message_is_marked_unsent(panel, emulator):
    panel.ask("q1")
    bad_temperature(panel)
    with pytest.raises(InvalidRequestError, match="temperature=5"):
        panel.ask("q2")
    assert len(emulator.requests) == 1 and len(panel.messages) == 2
    user, failed = panel.conversation[-2:]
    assert user["text"] == "q2" and user["sent"] is False
    assert failed["status"] == "error" and failed["retry"] is False and "temperature=5" in failed["error"]
    panel.settings = {**panel.settings, "temperature": None}
    panel.regenerate()  # asks q1 again: q2 never reached the service
    assert shown(panel) == recorded(panel) and panel.conversation[0]["text"] == "q1"


def test_the_lightbox_gets_a_larger_preview_of_a_staged_image_never_kept_in_a_trait(panel):
    assert panel.models_loaded.wait(10) and panel.models_error == ""  # the list loaded: nothing to show
    item_id = panel.attach(Image.new("RGB", (3000, 1500), (40, 90, 200)), label="big")
    answer = request(panel, "preview", {"id": item_id})
    width, height = decoded_sides(answer["result"]["src"])
    assert 256 < width <= panel_state.PREVIEW_SIDE and width == 2 * height  # larger, same shape
    assert max(decoded_sides(panel.staged[0]["thumb"])) <= 256  # the trait keeps the small one
    assert request(panel, "preview", {"id": "gone"}, req_id="r2")["result"] == {"src": None}


# ---------------------------------------------------------------- names of attached values
def test_attach_labels_a_value_with_its_variable_name(panel):
    photo = Image.new("RGB", (40, 30))
    panel.attach(photo)
    panel.attach(Image.new("RGB", (20, 10)))  # no name: described
    panel.attach(photo, label="mine")
    assert [item["label"] for item in panel.staged] == ["photo", "PIL RGB 20x10", "mine"]
    panel.ask("Which?", images=[photo])
    assert panel.conversation[-2]["attachments"][-1]["label"] == "photo"


def test_the_picker_attaches_several_variables_at_once_all_or_none(client):
    names = {"a": Image.new("RGB", (16, 16)), "b": Image.new("RGB", (24, 24)), "n": 3}
    panel = ChatPanel(client=client, namespace=names)
    listed = request(panel, "list_variables")["result"]["items"]
    assert sorted(item["name"] for item in listed) == ["a", "b"]
    missing = request(panel, "attach_variable", {"names": ["a", "gone"]}, req_id="r2")
    assert not missing["ok"] and "'gone'" in missing["error"] and panel.staged == []
    not_image = request(panel, "attach_variable", {"names": ["a", "n"]}, req_id="r3")
    assert not not_image["ok"] and panel.staged == []
    for bad in ([], "a", [1]):
        assert not request(panel, "attach_variable", {"names": bad}, req_id=f"r{bad!r}")["ok"]
    answer = request(panel, "attach_variable", {"names": ["b", "a"]}, req_id="r4")
    assert answer["ok"] and len(answer["result"]["ids"]) == 2
    assert [item["label"] for item in panel.staged] == ["b", "a"]
    assert [item["id"] for item in panel.staged] == answer["result"]["ids"]
    one = request(panel, "attach_variable", {"name": "a"}, req_id="r5")  # the single form stays
    assert one["ok"] and one["result"]["id"] == panel.staged[-1]["id"]
    reply = panel.ask("Sizes?")
    assert "image 1: 24x24" in reply.text and "image 3: 16x16" in reply.text


picked_up_from_this_module = Image.new("RGB", (12, 8))


def test_without_ipython_the_picker_reads_the_globals_of_the_code_that_made_the_panel(client):
    from IPython.core.interactiveshell import InteractiveShell

    saved = InteractiveShell._instance if InteractiveShell.initialized() else None
    InteractiveShell.clear_instance()  # a plain script (marimo is tested in a browser)
    try:
        panel = ChatPanel(client=client)
        listed = [item["name"] for item in request(panel, "list_variables")["result"]["items"]]
    finally:
        InteractiveShell._instance = saved
    assert "picked_up_from_this_module" in listed


def test_the_conversation_list_opens_renames_deletes_and_starts_conversations(client, emulator):
    first = ChatPanel(client=client, name="trip")
    first.ask("Where shall we go in May?")
    panel = ChatPanel(client=client)
    panel.ask("What is a haiku?")
    listed = request(panel, "conversations")["result"]
    assert listed["current"] == panel.name
    assert [(i["name"], i["turns"]) for i in listed["items"]] == [(panel.name, 1), ("trip", 1)]
    assert listed["items"][1]["last_message"].startswith("Where shall we go in May?")  # the echo's answer
    found = request(panel, "conversations", {"search": "may?"}, req_id="r2")["result"]["items"]
    assert [i["name"] for i in found] == ["trip"]

    assert request(panel, "open_conversation", {"name": "trip"}, req_id="r3")["result"] == {"name": "trip"}
    assert panel.conversation_name == "trip" and panel.name == "trip"
    assert [t["text"] for t in panel.conversation if t["role"] == "user"] == ["Where shall we go in May?"]
    emulator.reset(files=False)
    panel.ask("And in June?")  # continues the opened conversation: its history is sent
    sent = [m["content"][0]["text"] for m in emulator.requests[-1]["messages"] if m["role"] == "user"]
    assert sent == ["Where shall we go in May?", "And in June?"]

    assert request(panel, "rename_conversation", {"old": "trip", "new": "holiday"}, req_id="r4")["ok"]
    assert panel.name == "holiday" and len(panel.turns) == 2  # the panel goes on under the new name
    assert request(panel, "delete_conversation", {"name": "holiday"}, req_id="r5")["ok"]
    assert panel.conversation == [] and panel.name not in ("holiday", "trip")  # a new, empty one
    assert "holiday" not in [i.name for i in panel.conversations()]
    assert request(panel, "open_conversation", {"name": None}, req_id="r6")["ok"]  # New

    for method, params, field in [
        ("open_conversation", {"name": "nope"}, "No conversation named 'nope'"),
        ("open_conversation", {"name": ""}, "name must be a conversation name"),
        ("rename_conversation", {"old": panel.name, "new": 7}, "new must be a conversation name"),
        ("delete_conversation", {"name": "x" * 201}, "at most 200 characters"),
        ("conversations", {"search": ["x"]}, "search must be a string"),
    ]:
        answer = request(panel, method, params, req_id=f"bad-{method}-{field}")
        assert not answer["ok"] and field in answer["error"], answer


# ---------------------------------------------------------------- refused turns, forks, alternatives
def test_a_refused_message_is_marked_in_the_panel_and_never_sent_again(panel, emulator):
    panel.ask("a fine start")
    with pytest.raises(ContentFilterError):
        panel.ask("please say EMULATOR-UNSAFE")
    user, refused = panel.conversation[-2:]
    assert user["refused"] is True and refused["status"] == "refused" and "content filter" in refused["error"]
    assert panel.turns[-1].refused and len(panel.turns) == 2  # kept for the reader (and saved)
    panel.ask("the next question")
    sent = json.dumps(emulator.requests[-1]["messages"])
    assert "EMULATOR-UNSAFE" not in sent and "the next question" in sent
    assert request(panel, "edit", {"text": "please say hello", "turn": 1}, req_id="e")[
        "ok"
    ]  # edit and resend
    wait_idle(panel)
    assert [t.text for t in panel.turns] == ["a fine start", "please say hello"]  # forked at turn 1
    assert shown(panel) == recorded(panel)


def test_the_browser_flips_through_a_regenerated_turns_answers(panel, emulator):
    panel.ask("one")
    panel.regenerate()
    reply = panel.conversation[-1]
    assert (reply["answers"], reply["chosen"]) == (2, 1)
    assert request(panel, "choose", {"turn": 0, "answer": 0}, req_id="c")["ok"]
    assert panel.conversation[-1]["chosen"] == 0 and panel.turns[0].chosen_index == 0
    bad = request(panel, "choose", {"turn": 0, "answer": 5}, req_id="c2")
    assert not bad["ok"] and "answer 5" in bad["error"]


def test_a_newer_panel_on_the_same_conversation_supersedes_the_older(client):
    older = ChatPanel(client=client, name="shared")
    other = ChatPanel(client=client, name="other")
    newer = ChatPanel(client=client, name="shared")
    assert older.superseded and not newer.superseded and not other.superseded
    refused = request(older, "send", {"text": "from the old view"})
    assert not refused["ok"] and "A newer panel shows this conversation" in refused["error"]
    assert request(older, "export", {"format": "md"}, req_id="r2")["ok"]  # reading it stays possible
    other.ask("a first message saves it")
    assert request(newer, "open_conversation", {"name": "other"}, req_id="r3")["ok"]
    assert other.superseded  # the Chats list opening it in another panel supersedes that one too
    assert "superseded" in KERNEL_OWNED
