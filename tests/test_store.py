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

from sensenova_widget.conversation.store import (
    SCHEMA_VERSION,
    ConversationStore,
    StoreError,
    UnknownConversationError,
    conversations,
    default_store_path,
    open_store,
)
from sensenova_widget.conversation.turns import Answer, Turn, answer_of, turns_from_messages, wire_messages

PART = {"type": "image_base64", "image_base64": "iVBORw0KGgo" + "A" * 40}


def _png(colour: str, size: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "PNG")
    return out.getvalue()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_turn_comes_back_as_it_was_saved(tmp_path):
    reply = Answer(
        "A red square.",
        reasoning="It is uniformly red.",
        finish_reason="length",
        usage={"prompt_tokens": 260, "completion_tokens": 3, "total_tokens": 263},
        model="SenseNova-V6-Pro",
        request_id="req-1",
        thought_seconds=1.5,
        omitted=("1 older image omitted",),
        created=1_800_000_001.0,
    )
    failed = Answer("", error="ServerError: boom (status 500)")
    photo = Turn(
        "What is this?",
        media=(PART, {"type": "image_url", "image_url": "https://x.test/a.png"}),
        thumbnails=(_png("red"), _png("blue")),
        answers=(reply,),
        created=1_800_000_000.5,
    )
    broken = Turn("And this?", answers=(failed,))
    refused = Turn("EMULATOR-UNSAFE", answers=(Answer(error="ContentFilterError: unsafe", refused=True),))
    with open_store(tmp_path / "s") as store:
        for turn in (photo, broken, refused):
            store.save("photo", turn)
    with open_store(tmp_path / "s") as store:  # a new kernel
        assert store.load("photo") == [photo, broken, refused]
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
        {"role": "user", "content": [{"type": "text", "text": "And this?"}]},
    ]  # a reply that failed before any text is no message to resend, a refused turn is not resent


def test_alternatives_are_saved_and_a_turn_is_rewritten_in_its_place(tmp_path):
    first = Turn("q1", answers=(Answer("a1"),))
    second = Turn("q2", answers=(Answer("b1"),))
    with open_store(tmp_path) as store:
        store.save("alt", first)
        store.save("alt", second)
        store.save("alt", first.answered(Answer("a2")).choose(0))  # regenerated, then flipped back
        loaded = store.load("alt")
        assert [t.text for t in loaded] == ["q1", "q2"]  # rewritten where it was
        assert [a.text for a in loaded[0].answers] == ["a1", "a2"] and loaded[0].answer.text == "a1"
        store.drop("alt", [second.key, "no-such-key"])
        assert [t.text for t in store.load("alt")] == ["q1"]


def test_messages_and_replies_become_turns():
    turns = turns_from_messages(
        [
            {"role": "system", "content": [{"type": "text", "text": "sys"}]},
            {"role": "user", "content": [PART, {"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
        ],
        thumbnails=lambda parts: [b"t" for _ in parts],
    )
    [turn] = turns
    assert (turn.text, turn.media, turn.thumbnails, turn.answer.text) == ("hi", (PART,), (b"t",), "hello")
    assert wire_messages(turns)[0] == {"role": "user", "content": [PART, {"type": "text", "text": "hi"}]}
    stopped = Turn("go", answers=(Answer("half a", finish_reason="stopped"),))
    assert wire_messages([stopped])[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "half a"}],
    }


def test_media_is_stored_once_by_content_hash(tmp_path):
    same_reordered = {"image_base64": PART["image_base64"], "type": "image_base64"}
    thumb = _png("green")
    with open_store(tmp_path) as store:
        store.save("a", Turn("one", media=(PART,), thumbnails=(thumb,)))
        store.save("a", Turn("two", media=(same_reordered,), thumbnails=(thumb,)))
        store.save("b", Turn("three", media=(PART,)))
        assert store.blob_count() == 2  # one part, one thumbnail, for three turns in two conversations
        store.save("b", Turn("four", media=({"type": "image_file_id", "image_file_id": "f-1"},)))
        assert store.blob_count() == 3
        store.delete("a")  # the part is still used by "b"; the thumbnail only by "a"
        assert store.blob_count() == 2
        assert [turn.media for turn in store.load("b")] == [
            (PART,),
            ({"type": "image_file_id", "image_file_id": "f-1"},),
        ]


def test_list_rename_delete_drop(tmp_path):
    with open_store(tmp_path) as store:
        assert store.list() == []
        store.save("first", Turn("1"))
        two = Turn("2", answers=(Answer("two"),))
        store.save("second", two)
        store.save("second", Turn("3"))
        store.save("first", Turn("4"))  # used last
        infos = store.list()
        assert [(i.name, i.turns) for i in infos] == [("first", 2), ("second", 2)]  # turns, not messages
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

        store.drop("third", [store.load("third")[1].key])
        assert store.load("third") == [two]
        store.delete("third")
        assert [i.name for i in store.list()] == ["first"]
        with pytest.raises(UnknownConversationError):
            store.delete("third")
        with pytest.raises(StoreError):
            store.save("", Turn("x"))


def test_new_names_are_readable_and_unique(tmp_path):
    with open_store(tmp_path) as store:
        first = store.new_name()
        assert re.fullmatch(r"chat-\d{4}-\d{2}-\d{2}-\d{4}", first)
        second = store.new_name()  # a second panel in the same minute, before either saved a turn
        assert second != first and second.startswith(first)
        store.save(second, Turn("x"))
        with open_store(tmp_path) as other:  # another kernel sees the saved one as taken
            third = other.new_name()
            assert third != second and third not in store


def test_private_permissions(tmp_path):
    folder = tmp_path / "home" / ".sensenova"
    with open_store(folder) as store:
        store.save("a", Turn("private"))
        assert _mode(folder) == 0o700
        files = {p.name: _mode(p) for p in folder.iterdir()}
        assert set(files) >= {"conversations.sqlite", "conversations.sqlite-wal", "conversations.sqlite-shm"}
        assert set(files.values()) == {0o600}


def test_threads_of_one_kernel_share_a_store(tmp_path):
    import threading

    with open_store(tmp_path) as store:

        def write(tag: str) -> None:
            for i in range(50):
                store.save("busy", Turn(f"{tag}-{i}"))
                store.list()

        threads = [threading.Thread(target=write, args=(tag,)) for tag in "abcd"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(t.text for t in store.load("busy")) == sorted(
            f"{t}-{i}" for t in "abcd" for i in range(50)
        )


def test_the_list_shows_the_last_message_searches_text_and_is_one_compact_table(tmp_path):
    with open_store(tmp_path) as store:
        store.save("colours", Turn("Which colour is the sky?", answers=(Answer("Blue, mostly."),)))
        store.save("colours", Turn("And at night?", answers=(Answer("Black."), Answer("Dark blue."))))
        store.save("maths", Turn("What is 6 * 7?", answers=(Answer("", error="refused: too long"),)))
        store.save("100%_sure", Turn("a name with LIKE's wildcards"))
        listed = store.list()
        assert [(i.name, i.turns, i.last_message) for i in listed] == [
            ("100%_sure", 1, "a name with LIKE's wildcards"),
            ("maths", 1, "What is 6 * 7?"),  # a refused answer has no text: the message shows
            ("colours", 2, "Dark blue."),  # the last turn's shown answer (the last asked)
        ]
        assert [i.name for i in store.list(search="SKY")] == ["colours"]  # messages, any case
        assert [i.name for i in store.list(search="dark blue")] == ["colours"]  # answers
        assert [i.name for i in store.list(search="mat")] == ["maths"]  # names
        assert [i.name for i in store.list(search="%")] == ["100%_sure"]  # wildcards are literal
        assert store.list(search="0_s") == [] and store.list(search="%_s")[0].name == "100%_sure"
        assert store.list(search="nowhere") == []
        row = listed[2].row()
        assert row["name"] == "colours" and row["turns"] == 2 and row["last_message"] == "Dark blue."
        table = repr(listed)
        assert table.splitlines()[0].split() == ["name", "turns", "last", "used", "last", "message"]
        assert len(table.splitlines()) == 4 and "ConversationInfo" not in table  # a table, not reprs
        page = listed._repr_html_()
        assert page.count("<tr>") == 4 and "100%_sure" in page and "<th" in page
    with open_store(tmp_path) as store:
        store.save("x<script>", Turn("<b>bold</b>"))
        assert "<script>" not in conversations(store)._repr_html_()
    assert repr(conversations(tmp_path / "empty")) == "No saved conversations."


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
        store.save("moved", Turn("x"))
    assert [info.name for info in conversations()] == ["moved"]
    with open_store(tmp_path / "mine.sqlite") as store:
        assert store.path == tmp_path / "mine.sqlite" and store.path.exists()


def test_schema_version_is_recorded_and_a_newer_one_refused(tmp_path):
    with open_store(tmp_path) as store:
        store.save("a", Turn("x"))
        path = store.path
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}.*upgrade sensenova-widget"):
        ConversationStore(tmp_path)


# The tables of schema version 1 as that release created them (one row per message).
_V1_SCHEMA = """
CREATE TABLE conversations (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL,
    last_used REAL NOT NULL);
CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, role TEXT NOT NULL,
    text TEXT NOT NULL, reasoning TEXT NOT NULL DEFAULT '', finish_reason TEXT, error TEXT, usage TEXT,
    model TEXT, created REAL NOT NULL);
CREATE INDEX turns_by_conversation ON turns(conversation, id);
CREATE TABLE blobs (hash TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE turn_blobs (turn INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
    slot TEXT NOT NULL CHECK (slot IN ('media', 'thumbnail')), position INTEGER NOT NULL,
    hash TEXT NOT NULL REFERENCES blobs(hash), PRIMARY KEY (turn, slot, position));
CREATE INDEX turn_blobs_by_hash ON turn_blobs(hash);
PRAGMA user_version = 1;
"""


def test_a_store_of_the_previous_schema_opens_and_reads(tmp_path, emulator, client):
    import base64
    import hashlib
    import json

    from sensenova_widget import Conversation

    real = {"type": "image_base64", "image_base64": base64.b64encode(_png("red", 32)).decode()}
    path = tmp_path / "conversations.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_V1_SCHEMA)
    part = json.dumps(real, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    thumb = _png("red")
    db.execute("INSERT INTO conversations VALUES (1, 'old', 1.0, 2.0)")
    rows = [
        (1, "user", "What is this?", "", None, None, None, None),
        (2, "assistant", "A red square.", "thought", "stop", None, '{"total_tokens": 9}', "SenseNova-V6-Pro"),
        (3, "user", "and then?", "", None, None, None, None),
        (4, "assistant", "", "", None, "ServerError: boom (status 500)", None, None),
    ]
    for row in rows:
        db.execute(
            "INSERT INTO turns (id, conversation, role, text, reasoning, finish_reason, error, usage, model, "
            "created) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, 5.0)",
            row,
        )
    for slot, data in (("media", part), ("thumbnail", thumb)):
        digest = hashlib.sha256(data).hexdigest()
        db.execute("INSERT INTO blobs VALUES (?, ?)", (digest, data))
        db.execute("INSERT INTO turn_blobs VALUES (1, ?, 0, ?)", (slot, digest))
    db.commit()
    db.close()

    with open_store(tmp_path) as store:
        [info] = store.list()
        assert (info.name, info.turns) == ("old", 2)
        first, second = store.load("old")
    assert (first.text, first.media, first.thumbnails) == ("What is this?", (real,), (thumb,))
    assert (first.answer.text, first.answer.reasoning, first.answer.usage) == (
        "A red square.",
        "thought",
        {"total_tokens": 9},
    )
    assert second.text == "and then?" and second.answer.error == "ServerError: boom (status 500)"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # and the conversation continues from it, its image resent as it was saved
    conv = Conversation(client, name="old", store=tmp_path)
    reply = conv.ask("one more")
    sent = emulator.requests[-1]["messages"]
    assert sent[0]["content"][0] == real and "mostly red" in reply.text
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "user"]


def _append_many(folder, tag, barrier) -> None:
    barrier.wait()  # both processes create and write the fresh store at the same moment
    with open_store(folder) as store:
        for i in range(200):
            store.save(
                "shared", Turn(f"{tag}-{i}", media=(PART,), answers=(Answer(usage={"total_tokens": i}),))
            )


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
            [asked] = turns_from_messages(conv.messages[-2:-1], thumbnails=lambda parts: [_png("red")])
            store.save("trip", asked.answered(answer_of(reply)))
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


def test_a_store_that_cannot_be_migrated_is_left_as_it_was_with_what_to_do(tmp_path):
    path = tmp_path / "conversations.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_V1_SCHEMA.replace("reasoning TEXT NOT NULL DEFAULT '', ", ""))  # not the v1 it says
    db.execute("INSERT INTO conversations VALUES (1, 'odd', 1.0, 2.0)")
    db.commit()
    db.close()
    with pytest.raises(
        StoreError, match=r"schema version 1\) could not be brought up to version 2.*left as it was"
    ):
        open_store(tmp_path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("SELECT name FROM conversations").fetchall() == [("odd",)]
    assert "role" in [
        row[1] for row in db.execute("PRAGMA table_info(turns)")
    ]  # the old table is still there
