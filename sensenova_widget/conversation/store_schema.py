"""The conversation store's tables, one turn's rows, and the migrations between schema versions.

`PRAGMA user_version` holds the schema version. A store made by an older release is brought to
`SCHEMA_VERSION` when it is opened, by `MIGRATIONS[v]` (version v to v + 1) in the store's one
opening transaction, so a conversation saved today opens after the next change to the tables.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from .turns import Answer, Turn

__all__ = [
    "MIGRATIONS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "collect_blobs",
    "read_turns",
    "run_script",
    "write_turn",
]

Execute = Callable[..., sqlite3.Cursor]

SCHEMA_VERSION = 2

# Version 2: a row of `turns` is one exchange (the person's message), in the order of its `id`,
# known by its `key` (`Turn.key`: each kernel changes only the turns it knows, so two kernels
# writing one conversation lose nothing); its replies are rows of `answers` (alternatives
# kept); `turn_blobs` hold the message's media and thumbnails.
BASE_TABLES = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
"""
TURN_TABLES = """
CREATE TABLE turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    text TEXT NOT NULL,
    labels TEXT,
    chosen INTEGER NOT NULL DEFAULT -1,
    created REAL NOT NULL,
    UNIQUE (conversation, key)
);
CREATE TABLE answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    reasoning TEXT NOT NULL DEFAULT '',
    finish_reason TEXT,
    error TEXT,
    refused INTEGER NOT NULL DEFAULT 0,
    usage TEXT,
    model TEXT,
    request_id TEXT,
    thought_seconds REAL,
    omitted TEXT,
    created REAL NOT NULL
);
CREATE INDEX answers_by_turn ON answers(turn, position);
CREATE TABLE turn_blobs (
    turn INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
    slot TEXT NOT NULL CHECK (slot IN ('media', 'thumbnail')),
    position INTEGER NOT NULL,
    hash TEXT NOT NULL REFERENCES blobs(hash),
    PRIMARY KEY (turn, slot, position)
);
CREATE INDEX turn_blobs_by_hash ON turn_blobs(hash);
"""
SCHEMA = BASE_TABLES + TURN_TABLES


def run_script(execute: Execute, script: str) -> None:
    """Run each statement of `script` inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            execute(statement)


def collect_blobs(execute: Execute) -> None:
    """Forget the media and thumbnails no turn uses any more."""
    execute("DELETE FROM blobs WHERE hash NOT IN (SELECT hash FROM turn_blobs)")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def part_bytes(part: Mapping[str, Any]) -> bytes:
    """A part's canonical bytes: equal parts, equal bytes, one blob."""
    return json.dumps(part, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_turn(execute: Execute, conversation: int, turn: Turn) -> None:
    """Write one turn, its answers and its blobs (media and thumbnails kept once by hash): a turn
    already saved (same key) is rewritten where it is, a new one goes last."""
    labels = json.dumps(list(turn.labels)) if turn.labels else None
    found = execute(
        "SELECT id FROM turns WHERE conversation = ? AND key = ?", (conversation, turn.key)
    ).fetchone()
    if found is None:
        turn_id = execute(
            "INSERT INTO turns (conversation, key, text, labels, chosen, created) VALUES (?, ?, ?, ?, ?, ?)",
            (conversation, turn.key, turn.text, labels, turn.chosen, turn.created),
        ).lastrowid
    else:
        turn_id = found[0]
        execute(
            "UPDATE turns SET text = ?, labels = ?, chosen = ? WHERE id = ?",
            (turn.text, labels, turn.chosen, turn_id),
        )
        execute("DELETE FROM answers WHERE turn = ?", (turn_id,))
        execute("DELETE FROM turn_blobs WHERE turn = ?", (turn_id,))
    for index, answer in enumerate(turn.answers):
        execute(
            "INSERT INTO answers (turn, position, text, reasoning, finish_reason, error, refused, usage, "
            "model, request_id, thought_seconds, omitted, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                turn_id,
                index,
                answer.text,
                answer.reasoning or "",
                answer.finish_reason,
                answer.error,
                int(answer.refused),
                json.dumps(dict(answer.usage), sort_keys=True) if answer.usage else None,
                answer.model,
                answer.request_id,
                answer.thought_seconds,
                json.dumps(list(answer.omitted)) if answer.omitted else None,
                answer.created,
            ),
        )
    blobs = [("media", i, part_bytes(part)) for i, part in enumerate(turn.media)]
    blobs += [("thumbnail", i, bytes(data)) for i, data in enumerate(turn.thumbnails)]
    for slot, index, data in blobs:
        digest = content_hash(data)
        execute("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, ?)", (digest, data))
        execute(
            "INSERT INTO turn_blobs (turn, slot, position, hash) VALUES (?, ?, ?, ?)",
            (turn_id, slot, index, digest),
        )


def read_turns(execute: Execute, conversation: int) -> list[Turn]:
    """The turns of one conversation, in order, with their answers, media and thumbnails."""
    rows = execute(
        "SELECT id, key, text, labels, chosen, created FROM turns WHERE conversation = ? ORDER BY id",
        (conversation,),
    ).fetchall()
    answers = execute(
        "SELECT a.turn, a.text, a.reasoning, a.finish_reason, a.error, a.refused, a.usage, a.model, "
        "a.request_id, a.thought_seconds, a.omitted, a.created FROM answers a "
        "JOIN turns t ON t.id = a.turn WHERE t.conversation = ? ORDER BY a.turn, a.position",
        (conversation,),
    ).fetchall()
    blobs = execute(
        "SELECT tb.turn, tb.slot, b.data FROM turn_blobs tb JOIN turns t ON t.id = tb.turn "
        "JOIN blobs b ON b.hash = tb.hash WHERE t.conversation = ? ORDER BY tb.turn, tb.slot, tb.position",
        (conversation,),
    ).fetchall()
    attached: dict[tuple[int, str], list[bytes]] = {}
    for turn_id, slot, data in blobs:
        attached.setdefault((turn_id, slot), []).append(bytes(data))
    replies: dict[int, list[Answer]] = {}
    for (
        turn_id,
        text,
        reasoning,
        finish,
        error,
        refused,
        usage,
        model,
        request,
        thought,
        omitted,
        made,
    ) in answers:
        replies.setdefault(turn_id, []).append(
            Answer(
                text=text,
                reasoning=reasoning,
                finish_reason=finish,
                error=error,
                refused=bool(refused),
                usage=json.loads(usage) if usage else None,
                model=model,
                request_id=request,
                thought_seconds=thought,
                omitted=tuple(json.loads(omitted)) if omitted else (),
                created=made,
            )
        )
    return [
        Turn(
            key=key,
            text=text,
            labels=tuple(json.loads(labels)) if labels else (),
            media=tuple(json.loads(data) for data in attached.get((turn_id, "media"), ())),
            thumbnails=tuple(attached.get((turn_id, "thumbnail"), ())),
            answers=tuple(replies.get(turn_id, ())),
            chosen=chosen,
            created=created,
        )
        for turn_id, key, text, labels, chosen, created in rows
    ]


def _migrate_1_to_2(execute: Execute) -> None:
    """Version 1 kept one row per message (role user or assistant); version 2 one row per
    exchange with its answers. A user row becomes a turn (keeping its id, so its media links
    stay); each assistant row becomes an answer of the turn before it."""
    rows = execute(
        "SELECT id, conversation, role, text, reasoning, finish_reason, error, usage, model, created "
        "FROM turns ORDER BY conversation, id"
    ).fetchall()
    links = execute("SELECT turn, slot, position, hash FROM turn_blobs").fetchall()
    execute("DROP TABLE turn_blobs")
    execute("DROP TABLE turns")
    run_script(execute, TURN_TABLES)
    opened: dict[int, int] = {}  # conversation -> its last turn's id
    answered: dict[int, int] = {}  # turn id -> answers so far
    kept: set[int] = set()
    for row_id, conversation, role, text, reasoning, finish, error, usage, model, created in rows:
        last = opened.get(conversation)
        if role != "assistant" or last is None:
            execute(
                "INSERT INTO turns (id, conversation, key, text, chosen, created) VALUES (?, ?, ?, ?, -1, ?)",
                (row_id, conversation, f"v1-{row_id}", text if role != "assistant" else "", created),
            )
            opened[conversation] = last = row_id
            if role != "assistant":
                kept.add(row_id)
                continue
        count = answered.get(last, 0)
        answered[last] = count + 1
        execute(
            "INSERT INTO answers (turn, position, text, reasoning, finish_reason, error, usage, model, "
            "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (last, count, text, reasoning or "", finish, error, usage, model, created),
        )
    for turn, slot, position, digest in links:
        if turn in kept:
            execute(
                "INSERT INTO turn_blobs (turn, slot, position, hash) VALUES (?, ?, ?, ?)",
                (turn, slot, position, digest),
            )
    collect_blobs(execute)


# MIGRATIONS[v] brings a store of schema version v to v + 1.
MIGRATIONS: dict[int, Callable[[Execute], None]] = {1: _migrate_1_to_2}
