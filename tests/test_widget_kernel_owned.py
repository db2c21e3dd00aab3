"""Issue 14, "what the browser must not decide": the kernel owns the panel's state and checks
every request the page sends.

The page's messages are fed in as the browser sends them, through ipywidgets' own handler
(`_handle_msg` with method "update" for a state write, "custom" for a request), to a panel
talking to the emulator over real sockets; its comm records what would reach the page.
"""

from __future__ import annotations

import pytest
from PIL import Image
from test_widget import SLOW, recording_comm, request, wait_idle  # noqa: F401 - the recording comm fixture

from sensenova_widget.errors import InvalidRequestError
from sensenova_widget.panel.widget import KERNEL_OWNED, ChatPanel


def page_writes(panel, **state) -> None:
    """What the page sends when a script (or a view) does `model.set(...); model.save_changes()`."""
    panel._handle_msg(
        {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []}
    )


def updates(panel) -> list[dict]:
    return [d["state"] for d, _ in panel.comm.published if d.get("method") == "update"]


@pytest.fixture
def slow_panel(emulator):
    from sensenova_widget import Client

    client = Client(
        emulator.api_key, base_url=emulator.base_url, file_base_url=emulator.file_base_url, headers=SLOW
    )
    return ChatPanel(client=client)


def test_a_forged_busy_false_does_not_let_a_second_turn_start(slow_panel, emulator):
    panel = slow_panel
    assert request(panel, "send", {"text": "first turn"})["ok"]
    assert panel.busy
    page_writes(panel, busy=False)
    assert panel.busy  # the write was dropped ...
    assert updates(panel)[-1] == {"busy": True}  # ... and the kernel's value sent back to the page
    second = request(panel, "send", {"text": "second turn"}, req_id="r2")
    assert not second["ok"] and "still streaming" in second["error"]
    with pytest.raises(Exception, match="still streaming"):
        panel.ask("from code too")
    wait_idle(panel)
    assert [t["text"][:10] for t in panel.conversation if t["role"] == "user"] == ["first turn"]
    assert len(emulator.requests) == 1
    assert request(panel, "send", {"text": "after it"}, req_id="r3")["ok"]  # the kernel's own word freed it
    wait_idle(panel)
    assert len(emulator.requests) == 2


def test_page_writes_to_kernel_owned_traits_are_refused_and_settings_still_pass(panel_with_turn):
    panel = panel_with_turn
    before = {name: getattr(panel, name) for name in KERNEL_OWNED}
    forged = {
        "conversation": [{"id": "x", "role": "user", "text": "forged"}],
        "models": ["evil"],
        "models_error": "forged",
        "limits": {"max_images": 99},
        "parameters": {},
        "busy": True,
        "staged": [{"id": "forged", "kind": "image", "label": "x"}],
        "thinks": True,
        "conversation_name": "someone-elses-conversation",
        "superseded": True,
    }
    assert set(forged) == KERNEL_OWNED
    page_writes(panel, **forged, settings={**panel.settings, "temperature": 0.3})
    assert {name: getattr(panel, name) for name in KERNEL_OWNED} == before
    assert set(updates(panel)[-1]) == KERNEL_OWNED  # every refused one sent back
    assert panel.settings["temperature"] == 0.3  # the page's own trait


@pytest.fixture
def panel_with_turn(panel):
    panel.ask("hello")
    return panel


@pytest.fixture
def panel(client):
    return ChatPanel(client=client)


def test_an_unknown_staged_id_is_named_the_list_repaired_and_the_next_send_works(panel, emulator):
    good = panel.attach(Image.new("RGB", (20, 20), (200, 0, 0)))
    # staged is kernel-owned, so only kernel code can put an unknown item there (the page's write is refused)
    panel.staged = [
        *panel.staged,
        {"id": "forged-id", "kind": "image", "label": "x"},
        {"id": good, "kind": "spreadsheet", "label": "odd kind"},
    ]
    refused = request(panel, "send", {"text": "with the forged one"})
    assert not refused["ok"] and "'forged-id'" in refused["error"] and "were removed" in refused["error"]
    assert [item["id"] for item in panel.staged] == [good]
    assert emulator.requests == []
    assert request(panel, "send", {"text": "again"}, req_id="r2")["ok"]
    wait_idle(panel)
    [body] = emulator.requests
    assert [p["type"] for p in body["messages"][-1]["content"]] == ["image_base64", "text"]


@pytest.mark.parametrize("text", [None, 5, ["a"], {"t": 1}])
def test_a_send_whose_text_is_not_a_string_is_refused(panel, emulator, text):
    answer = request(panel, "send", {"text": text})
    assert not answer["ok"] and "text must be a string" in answer["error"]
    assert panel.conversation == [] and emulator.requests == []  # "None" was never sent
    with pytest.raises(InvalidRequestError, match="text must be a string"):
        panel.ask(text)  # from code too
    assert request(panel, "send", {"text": "a real one"}, req_id="r2")["ok"]
    wait_idle(panel)
    assert emulator.requests[-1]["messages"][-1]["content"][-1]["text"] == "a real one"


@pytest.mark.parametrize("method", ["explode", None, 5, ["send"], {"x": 1}, "_request_turn", "__init__"])
def test_an_unknown_method_gets_an_error_reply(panel, method):
    answer = request(panel, method)
    assert not answer["ok"] and "unknown request" in answer["error"]


@pytest.mark.parametrize(
    ("method", "params", "error"),
    [
        ("send", ["not", "an", "object"], "params must be an object"),
        ("attach_variable", {"name": ["x"]}, "variable name"),
        ("attach_file", {"name": "a.png", "kind": "spreadsheet"}, "kind 'spreadsheet' is not allowed"),
        ("attach_video_url", {"url": 5}, "is not allowed"),
    ],
)
def test_malformed_params_get_an_error_reply_and_change_nothing(panel, method, params, error):
    answer = request(panel, method, params, [b"\x89PNG"])
    assert not answer["ok"] and error in answer["error"]
    assert panel.staged == [] and panel.conversation == []


# ---------------------------------------------------------------- issue 24, classes 8 and 9
def jpeg(width: int, height: int, seed: int = 0) -> bytes:
    import io

    import numpy as np

    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(seed).integers(0, 16, (height, width), dtype=np.uint16)
    pixels = np.stack([(x * 255 // width), (y * 255 // height), (x + y + noise) % 256], axis=-1).astype(
        np.uint8
    )
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims `width` x `height` pixels: a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def attach_file(panel, data: bytes, name: str, req_id: str, kind: str = "image") -> dict:
    return request(panel, "attach_file", {"name": name, "kind": kind}, [data], req_id=req_id)


def test_page_files_are_bounded_in_count_refused_before_decoding_and_kept_downscaled(panel):
    max_side = panel.client.media.max_side
    big = jpeg(3 * max_side, 2 * max_side)
    answers = [attach_file(panel, big, f"photo{i}.jpg", f"a{i}") for i in range(6)]
    assert all(a["ok"] for a in answers)
    assert panel.staged[0]["label"] == f"photo0.jpg ({3 * max_side}x{2 * max_side})"  # its own size, said
    kept = [panel._staging.values[item["id"]] for item in panel.staged]
    assert all(max(image.size) <= max_side for image in kept)  # full-resolution pixels not kept
    for number, payload in enumerate([big, b"not even an image", png_claiming(100_000, 100_000)]):
        seventh = attach_file(panel, payload, "seventh", f"b{number}")
        assert not seventh["ok"] and "at most 6 images" in seventh["error"]  # refused before decoding
    assert len(panel.staged) == 6
    first = panel.staged[0]["id"]
    assert request(panel, "unstage", {"id": first}, req_id="u1")["ok"]
    bomb = attach_file(panel, png_claiming(100_000, 100_000), "bomb.png", "c1")
    assert not bomb["ok"] and "too large to decode safely" in bomb["error"]
    assert attach_file(panel, big, "again.jpg", "c2")["ok"]


def test_page_files_are_bounded_in_bytes_and_videos_in_count(panel, monkeypatch):
    from sensenova_widget.panel import staging

    one = jpeg(900, 700, seed=1)
    monkeypatch.setattr(staging, "MAX_ARRIVED_BYTES", int(2.5 * len(one)))
    assert attach_file(panel, one, "one.jpg", "a1")["ok"] and attach_file(panel, one, "two.jpg", "a2")["ok"]
    third = attach_file(panel, one, "three.jpg", "a3")
    assert not third["ok"] and f"{len(one):,} bytes" in third["error"] and len(panel.staged) == 2
    request(panel, "unstage", {"id": panel.staged[0]["id"]}, req_id="u1")
    assert attach_file(panel, one, "three.jpg", "a4")["ok"]  # room again once one is removed
    for number, item in enumerate(list(panel.staged)):
        request(panel, "unstage", {"id": item["id"]}, req_id=f"u2-{number}")
    assert request(panel, "attach_video_url", {"url": "https://example.com/a.mp4"}, req_id="v1")["ok"]
    again = request(panel, "attach_video_url", {"url": "https://example.com/b.mp4"}, req_id="v2")
    assert not again["ok"] and "at most 1 video" in again["error"]
    assert [item["kind"] for item in panel.staged] == ["video"]


def test_the_page_cannot_choose_which_conversation_is_saved_or_overwritten(client, tmp_path):
    from sensenova_widget import Conversation, conversations
    from sensenova_widget.conversation.store import open_store

    store = tmp_path / "store"
    Conversation(client, name="victim", store=store).ask("the victim's own words")
    with open_store(store) as opened:
        before = opened.load("victim")
    panel = ChatPanel(client=client, name="mine", store=store)
    for forged in ("victim", "../../etc/passwd", "", "x" * 10_000):
        page_writes(panel, conversation_name=forged)
        assert panel.conversation_name == "mine" and updates(panel)[-1] == {"conversation_name": "mine"}
    assert request(panel, "send", {"text": "my words"})["ok"]
    wait_idle(panel)
    with open_store(store) as opened:
        victim = opened.load("victim")
        mine = [turn.text for turn in opened.load("mine")]
    assert victim == before and victim[0].text == "the victim's own words"
    assert mine[0] == "my words"
    assert sorted(info.name for info in conversations(store)) == ["mine", "victim"]


def test_the_pickers_many_variables_are_all_or_none_within_the_limit(client):
    photos = {f"photo{i}": Image.new("RGB", (30, 20), (i * 30, 0, 0)) for i in range(7)}
    panel = ChatPanel(client=client, namespace=photos)
    too_many = request(panel, "attach_variable", {"names": list(photos)})
    assert not too_many["ok"] and "at most 6 images" in too_many["error"] and panel.staged == []
    six = request(panel, "attach_variable", {"names": list(photos)[:6]}, req_id="r2")
    assert six["ok"] and len(panel.staged) == 6
