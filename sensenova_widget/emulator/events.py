"""The emulator's event streams: SSE events in the native endpoint's exact shape, the schedule
deltas keep, and the faults that strike mid-body (an error event, a stall, a dropped connection).

`dialect` is the entry point's shape-maker (`server.EntryPoint` or the OpenAI one): this module
only decides when each piece goes out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from json.encoder import encode_basestring as encode_json_string  # C speedup, keeps UTF-8
from typing import Any

from .faults import Knobs
from .replies import Plan

__all__ = [
    "TOKENS_PER_DELTA",
    "DropConnection",
    "choice_event",
    "delta_chunks",
    "error_event",
    "faulty_body",
    "first_token_wait",
    "reasoning_event",
    "stream_events",
]

TOKENS_PER_DELTA = (1, 2)  # deltas alternate one and two tokens, so usage counts jump unevenly


class DropConnection(Exception):
    """Raised inside a response body to make uvicorn close the TCP connection mid-body."""


_EVENT = (
    'data:{"data":{"id":"%s","choices":[{"delta":%s,"finish_reason":"%s","index":0,"role":"assistant"}],'
    '"usage":{"prompt_tokens":%d,"knowledge_tokens":0,"completion_tokens":%d,"total_tokens":%d}},'
    '"status":{"code":0,"message":"ok"}}\n\n'
)
_REASONING_EVENT = (
    'data:{"data":{"id":"%s","choices":[{"delta":"","reasoning_content":%s,'
    '"finish_reason":"","index":0,"role":"assistant"}],"usage":{"prompt_tokens":%d,'
    '"knowledge_tokens":0,"completion_tokens":%d,"total_tokens":%d}},'
    '"status":{"code":0,"message":"ok"}}\n\n'
)


def choice_event(reply_id: str, delta: str, finish: str, usage: dict) -> bytes:
    """One SSE event in the spec's exact shape, filled into a template (the hot path of a stream)."""
    return (
        _EVENT
        % (
            reply_id,
            encode_json_string(delta),
            finish,
            usage["prompt_tokens"],
            usage["completion_tokens"],
            usage["total_tokens"],
        )
    ).encode()


def reasoning_event(reply_id: str, text: str, usage: dict) -> bytes:
    """A streamed piece of reasoning: `reasoning_content` beside an empty `delta`."""
    return (
        _REASONING_EVENT
        % (
            reply_id,
            encode_json_string(text),
            usage["prompt_tokens"],
            usage["completion_tokens"],
            usage["total_tokens"],
        )
    ).encode()


def error_event(message: str) -> bytes:
    return (
        b"data:"
        + json.dumps(
            {
                "error": {"code": 2, "message": message, "details": []},
                "status": {"code": 2, "message": message},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        + b"\n\n"
    )


def delta_chunks(tokens: list[str], reasoning: bool = False) -> list[tuple[str, int, bool]]:
    """(text, token count, whether it is reasoning) of each delta."""
    chunks, i, k = [], 0, 0
    while i < len(tokens):
        part = tokens[i : i + TOKENS_PER_DELTA[k % len(TOKENS_PER_DELTA)]]
        chunks.append(("".join(part), len(part), reasoning))
        i, k = i + len(part), k + 1
    return chunks


async def first_token_wait(knobs: Knobs, arrived: float) -> None:
    """Wait until `ttft` seconds after the request arrived (`arrived` on the loop's clock). A
    service's time to first token includes its own work on the request, so the emulator's reading,
    parsing and planning (and its queue under a burst of concurrent requests) come out of the wait
    instead of adding to it."""
    if knobs.ttft:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, arrived + knobs.ttft - loop.time()))


async def stream_events(
    plan: Plan, knobs: Knobs, reply_id: str, dialect: Any, body: dict, arrived: float
) -> AsyncIterator[bytes]:
    """The SSE body: reasoning deltas, answer deltas, the finishing event and the end marker;
    faults strike before delta K (reasoning deltas count)."""
    await first_token_wait(knobs, arrived)
    stamp = dialect.stamp(reply_id, body)  # what each event of this reply repeats, made once
    chunks = delta_chunks(plan.reasoning, True) + delta_chunks(plan.tokens)
    done = 0
    # Deltas keep a schedule (delta k at start + k * delta_delay) rather than sleeping after each
    # one, so the rate asked for is the rate served even when a sleep overshoots by a millisecond.
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(len(chunks) + 1):
        if knobs.error_after == index:
            yield dialect.error_event(f"internal error (emulated error event after {index} deltas)")
            return
        if knobs.stall_after == index:
            await asyncio.sleep(knobs.stall)
            start += knobs.stall
        if knobs.drop_after == index:
            raise DropConnection
        if index == len(chunks):
            break
        if index and knobs.delta_delay:
            await asyncio.sleep(max(0.0, start + index * knobs.delta_delay - loop.time()))
        text, count, reasoning = chunks[index]
        done += count
        yield dialect.event(stamp, text, plan.usage(done), reasoning)
    yield dialect.finish(plan, stamp)


async def faulty_body(body: bytes, knobs: Knobs, arrived: float) -> AsyncIterator[bytes]:
    """A non-streaming reply cut by `stall_after` (silent after the headers) or `drop_after` (half sent)."""
    await first_token_wait(knobs, arrived)
    if knobs.stall_after is not None:
        await asyncio.sleep(knobs.stall)
    if knobs.drop_after is not None:
        yield body[: len(body) // 2]
        raise DropConnection
    yield body
