"""The media layer end to end: real Client, real HTTP to the emulator, which decodes what it got."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image

import sensenova_widget as snw
from sensenova_widget import media


def red_square(size: int = 64) -> np.ndarray:
    a = np.zeros((size, size, 3), np.uint8)
    a[..., 0] = 220
    return a


def test_images_of_every_kind_reach_the_service_decodable(client, emulator):
    coffee = skimage.data.coffee()  # 600x400
    reply = client.chat(
        "what are these?",
        images=[coffee, Image.fromarray(red_square()).convert("P"), (coffee / 255).astype(np.float32)],
    )
    assert "image 1: 600x400 RGB" in reply.text
    assert "image 2: 64x64 P, mostly red" in reply.text
    assert "image 3: 600x400 RGB" in reply.text
    parts = emulator.requests[-1]["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["image_base64"] * 3 + ["text"]


def test_two_clients_in_one_process_send_images_by_their_own_options(emulator):
    """Media settings belong to a client: two clients side by side send one picture differently
    (what the emulator received says so), through chat, messages, a Conversation and a panel."""
    import base64
    import io

    def sent_sides() -> list[tuple[int, int]]:
        parts = emulator.requests[-1]["messages"][-1]["content"]
        return [
            Image.open(io.BytesIO(base64.b64decode(p["image_base64"]))).size
            for p in parts
            if p["type"] == "image_base64"
        ]

    def made(**options):
        return snw.Client(
            api_key=emulator.api_key,
            base_url=emulator.base_url,
            file_base_url=emulator.file_base_url,
            media=snw.MediaOptions(**options),
        )

    coffee = skimage.data.coffee()  # 600x400
    small, large = made(max_side=128), made()
    small.chat("what is it?", images=coffee)
    small_sides = sent_sides()
    assert len(small_sides) == 1 and 0.85 * 128 <= max(small_sides[0]) <= 128
    large.chat("what is it?", images=coffee)
    assert sent_sides() == [(600, 400)]
    small.chat([{"role": "user", "content": [coffee, "and in a message?"]}])
    assert sent_sides() == small_sides
    snw.Conversation(small).ask("and in a conversation?", images=coffee)
    assert sent_sides() == small_sides
    snw.ChatPanel(client=small).ask("and in a panel?", images=coffee)
    assert sent_sides() == small_sides
    sizes = [len(emulator.requests[i]["messages"][-1]["content"][0]["image_base64"]) for i in (-5, -4)]
    assert sizes[0] < sizes[1] / 4


def test_frames_become_a_video_uploaded_through_the_file_service(client, emulator):
    base = Image.fromarray(skimage.data.astronaut())
    frames = np.stack([np.asarray(base.crop((i * 10, 0, i * 10 + 320, 240))) for i in range(12)])
    reply = client.chat("what happens?", video=snw.video(frames, fps=6))
    assert "video 1: mp4, 12 frames, 320x240" in reply.text
    part = emulator.requests[-1]["messages"][-1]["content"][0]
    assert part["type"] == "video_file_id" and part["video_file_id"]
    again = client.chat("and again?", video=snw.video(frames, fps=6))
    assert emulator.requests[-1]["messages"][-1]["content"][0] == part  # uploaded once
    assert "video 1: mp4, 12 frames" in again.text


def test_a_long_conversation_keeps_the_newest_six_images(client, emulator):
    messages = []
    for turn in range(4):
        messages.append(
            {"role": "user", "content": [red_square(16 + turn), red_square(32 + turn), f"turn {turn}"]}
        )
        messages.append({"role": "assistant", "content": "ok"})
    messages.append({"role": "user", "content": ["and now?"]})
    prepared = client.prepare(messages, stream=False)
    body, notices = prepared.body, prepared.omitted
    assert notices == ["2 earlier images omitted to stay within 6 images per request"]
    assert body["messages"][0]["content"][:2] == [{"type": "text", "text": "[earlier image omitted]"}] * 2
    reply = client.chat(messages)
    assert "image 6:" in reply.text and "image 7:" not in reply.text


def test_a_bad_value_fails_before_anything_is_sent(client, emulator):
    with pytest.raises(snw.MediaError, match=r"shape \(10, 10, 2\)"):
        client.chat("hm", images=[np.zeros((10, 10, 2), np.uint8)])
    assert emulator.requests == []
    assert media.is_image_like(red_square())


def test_a_video_file_still_validating_is_waited_for(client, emulator, tmp_path):
    from sensenova_widget.media.mp4 import encode_frames

    path = tmp_path / "clip.mp4"
    path.write_bytes(encode_frames([red_square(64)] * 5, fps=5))
    emulator.configure(file_validation_seconds=0.4)
    reply = client.chat("what colour?", video=snw.video(str(path)))
    assert "video 1: mp4, 5 frames, 64x64" in reply.text
