"""The conversation store: turns saved as they complete, back after a restart, safe to share.

Real SQLite files in tmp_path, real processes for concurrency, the real emulator over HTTP for
what a saved conversation sends when it continues.
"""

from __future__ import annotations

import io
import multiprocessing
import re
import sqlite3
import stat

import pytest
from PIL import Image

from sensenova_widget.store import (
    SCHEMA_VERSION,
    ConversationStore,
    StoredTurn,
    StoreError,
    UnknownConversationError,
    conversations,
    default_store_path,
    open_store,
    to_messages,
    turn_from_message,
    turn_from_reply,
)

PART = {"type": "image_base64", "image_base64": "iVBORw0KGgo" + "A" * 40}


def _png(colour: str, size: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "PNG")
    return out.getvalue()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_turn_comes_back_as_it_was_saved(tmp_path):
    user = StoredTurn(
        "user",
        "What is this?",
        media=(PART, {"type": "image_url", "image_url": "https://x.test/a.png"}),
        thumbnails=(_png("red"), _png("blue")),
        created=1_800_000_000.5,
    )
    reply = StoredTurn(
        "assistant",
        "A red square.",
        reasoning="It is uniformly red.",
        finish_reason="length",
        usage={"prompt_tokens": 260, "completion_tokens": 3, "total_tokens": 263},
        model="SenseNova-V6-Pro",
        created=1_800_000_001.0,
    )
    failed = StoredTurn("assistant", "", error="ServerError: boom (status 500)")
    with open_store(tmp_path / "s") as store:
        for turn in (user, reply, failed):
            store.append("photo", turn)
    with open_store(tmp_path / "s") as store:  # a new kernel
        assert store.load("photo") == [user, reply, failed]
        messages = store.messages("photo")
    assert messages == [
        {
            "role": "user",
            "content": [
                PART,
                {"type": "image_url", "image_url": "https://x.test/a.png"},
                {"type": "text", "text": "What is this?"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "A red square."}]},
    ]  # a reply that failed before any text is no message to resend


def test_messages_and_replies_become_turns():
    turn = turn_from_message(
        {"role": "user", "content": [PART, {"type": "text", "text": "hi"}]}, thumbnails=[b"t"]
    )
    assert (turn.role, turn.text, turn.media, turn.thumbnails) == ("user", "hi", (PART,), (b"t",))
    assert to_messages([turn]) == [{"role": "user", "content": [PART, {"type": "text", "text": "hi"}]}]
    stopped = StoredTurn("assistant", "half a", finish_reason="stopped")
    assert to_messages([stopped]) == [{"role": "assistant", "content": [{"type": "text", "text": "half a"}]}]


def test_media_is_stored_once_by_content_hash(tmp_path):
    same_reordered = {"image_base64": PART["image_base64"], "type": "image_base64"}
    thumb = _png("green")
    with open_store(tmp_path) as store:
        store.append("a", StoredTurn("user", "one", media=(PART,), thumbnails=(thumb,)))
        store.append("a", StoredTurn("user", "two", media=(same_reordered,), thumbnails=(thumb,)))
        store.append("b", StoredTurn("user", "three", media=(PART,)))
        assert store.blob_count() == 2  # one part, one thumbnail, for three turns in two conversations
        store.append(
            "b", StoredTurn("user", "four", media=({"type": "image_file_id", "image_file_id": "f-1"},))
        )
        assert store.blob_count() == 3
        store.delete("a")  # the part is still used by "b"; the thumbnail only by "a"
        assert store.blob_count() == 2
        assert [turn.media for turn in store.load("b")] == [
            (PART,),
            ({"type": "image_file_id", "image_file_id": "f-1"},),
        ]


def test_list_rename_delete_truncate(tmp_path):
    with open_store(tmp_path) as store:
        assert store.list() == []
        store.append("first", StoredTurn("user", "1"))
        store.append("second", StoredTurn("user", "2"))
        store.append("second", StoredTurn("assistant", "3"))
        store.append("first", StoredTurn("user", "4"))  # used last
        infos = store.list()
        assert [(i.name, i.turns) for i in infos] == [("first", 2), ("second", 2)]
        assert infos[0].last_used >= infos[1].last_used >= infos[1].created
        assert "first" in store and "third" not in store

        store.rename("second", "third")
        assert [t.text for t in store.load("third")] == ["2", "3"] and "second" not in store
        with pytest.raises(StoreError, match="already exists"):
            store.rename("third", "first")
        with pytest.raises(UnknownConversationError, match="No conversation named 'nope'.*third"):
            store.rename("nope", "x")
        with pytest.raises(KeyError):
            store.load("nope")
        assert store.load("nope", missing_ok=True) == []

        store.truncate("third", 1)
        assert [t.text for t in store.load("third")] == ["2"]
        store.delete("third")
        assert [i.name for i in store.list()] == ["first"]
        with pytest.raises(UnknownConversationError):
            store.delete("third")
        with pytest.raises(StoreError):
            store.append("", StoredTurn("user", "x"))


def test_new_names_are_readable_and_unique(tmp_path):
    with open_store(tmp_path) as store:
        first = store.new_name()
        assert re.fullmatch(r"chat-\d{4}-\d{2}-\d{2}-\d{4}", first)
        second = store.new_name()  # a second panel in the same minute, before either saved a turn
        assert second != first and second.startswith(first)
        store.append(second, StoredTurn("user", "x"))
        with open_store(tmp_path) as other:  # another kernel sees the saved one as taken
            third = other.new_name()
            assert third != second and third not in store


def test_private_permissions(tmp_path):
    folder = tmp_path / "home" / ".sensenova"
    with open_store(folder) as store:
        store.append("a", StoredTurn("user", "private"))
        assert _mode(folder) == 0o700
        files = {p.name: _mode(p) for p in folder.iterdir()}
        assert set(files) >= {"conversations.sqlite", "conversations.sqlite-wal", "conversations.sqlite-shm"}
        assert set(files.values()) == {0o600}


def test_threads_of_one_kernel_share_a_store(tmp_path):
    import threading

    with open_store(tmp_path) as store:

        def write(tag: str) -> None:
            for i in range(50):
                store.append("busy", StoredTurn("assistant", f"{tag}-{i}"))
                store.list()

        threads = [threading.Thread(target=write, args=(tag,)) for tag in "abcd"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(t.text for t in store.load("busy")) == sorted(
            f"{t}-{i}" for t in "abcd" for i in range(50)
        )


def test_an_unwritable_place_says_what_to_do(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="Cannot keep conversations in .*SENSENOVA_HOME or pass store="):
        open_store(tmp_path / "file" / ".sensenova")


def test_where_the_store_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("SENSENOVA_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_store_path() == tmp_path / ".sensenova"
    assert conversations() == [] and not (tmp_path / ".sensenova").exists()  # listing creates nothing
    with open_store() as store:
        assert store.path == tmp_path / ".sensenova" / "conversations.sqlite"
        assert open_store(store) is store
    monkeypatch.setenv("SENSENOVA_HOME", str(tmp_path / "elsewhere"))
    with open_store() as store:
        assert store.folder == tmp_path / "elsewhere"
        store.append("moved", StoredTurn("user", "x"))
    assert [info.name for info in conversations()] == ["moved"]
    with open_store(tmp_path / "mine.sqlite") as store:
        assert store.path == tmp_path / "mine.sqlite" and store.path.exists()


def test_schema_version_is_recorded_and_a_newer_one_refused(tmp_path):
    with open_store(tmp_path) as store:
        store.append("a", StoredTurn("user", "x"))
        path = store.path
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}.*upgrade sensenova-widget"):
        ConversationStore(tmp_path)


def _append_many(folder, tag, barrier) -> None:
    barrier.wait()  # both processes create and write the fresh store at the same moment
    with open_store(folder) as store:
        for i in range(200):
            store.append("shared", StoredTurn("user", f"{tag}-{i}", media=(PART,), usage={"total_tokens": i}))


def test_two_processes_appending_at_once_lose_no_turn(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_append_many, args=(tmp_path / "s", tag, barrier)) for tag in ("a", "b")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    with open_store(tmp_path / "s") as store:
        texts = [turn.text for turn in store.load("shared")]
        assert store.blob_count() == 1
    assert len(texts) == 400
    for tag in ("a", "b"):
        assert [t for t in texts if t.startswith(tag)] == [f"{tag}-{i}" for i in range(200)]


def test_a_saved_conversation_continues_with_its_images_and_holds_no_credential(tmp_path, emulator, client):
    from sensenova_widget import Client, Conversation

    signed = Client(
        access_key_id=emulator.access_key_id,
        secret_access_key=emulator.secret_access_key,
        base_url=emulator.base_url,
        file_base_url=emulator.file_base_url,
    )
    with open_store(tmp_path) as store:
        for who in (client, signed):
            conv = Conversation(who)
            reply = conv.ask("What colour?", images=[Image.new("RGB", (64, 48), "red")])
            store.append("trip", turn_from_message(conv.messages[-2], thumbnails=[_png("red")]))
            store.append("trip", turn_from_reply(reply))
        sent_image = emulator.requests[0]["messages"][0]["content"][0]
        files = b"".join(p.read_bytes() for p in store.folder.iterdir())
        for secret in (emulator.api_key, emulator.access_key_id, emulator.secret_access_key):
            assert secret.encode() not in files
        assert b"Bearer" not in files and not re.search(rb"eyJ[\w-]+\.eyJ[\w-]+\.", files)  # nor a JWT

    with open_store(tmp_path) as store:  # a new kernel asks the next question
        history = store.messages("trip")
    reply = client.chat(history + [{"role": "user", "content": [{"type": "text", "text": "And now?"}]}])
    assert emulator.requests[-1]["messages"][0]["content"][0] == sent_image
    assert "image 1: 64x48 RGB, mostly red" in reply.text
