"""What media a growing conversation still carries: the `history_media` policy.

A request carries at most 6 images or 1 video, never both, counted over every message. A
conversation keeps growing, so before each request:

- ``"recent"`` (default) keeps the newest media that fit. The kind of the newest medium wins
  (switching from images to a video drops the earlier images, and back); older media are
  replaced by a text part such as ``[earlier image omitted]`` so the turn still goes through,
  and a notice says what was left out. When the newest user turn alone breaks the limit, no
  policy can help: that is an InvalidRequestError for the caller.
- ``"error"`` refuses any request over the limits, naming the counts.

The input is never mutated: new message dicts and content lists are returned.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InvalidRequestError
from ..protocol import MAX_IMAGES, MAX_VIDEOS, media_count_problem, media_kind, plural

POLICIES = ("recent", "error")
MARKERS = {"image": "[earlier image omitted]", "video": "[earlier video omitted]"}
LIMITS = {"image": MAX_IMAGES, "video": MAX_VIDEOS}


def _counts(parts: list[tuple[int, int, str]]) -> tuple[int, int]:
    images = sum(1 for *_, kind in parts if kind == "image")
    return images, len(parts) - images


def apply_media_policy(messages: list[dict], policy: str = "recent") -> tuple[list[dict], list[str]]:
    """(messages that fit the media limits, notices of what was omitted); see the module doc."""
    if policy not in POLICIES:
        raise InvalidRequestError(
            f"history_media={policy!r} is not allowed: expected one of "
            f"{', '.join(repr(p) for p in POLICIES)}.",
            field="history_media",
        )
    out = [dict(m) if isinstance(m, Mapping) else m for m in messages]
    for message in out:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            message["content"] = list(message["content"])
    # every medium as (message index, part index, kind), oldest first
    media = [
        (i, j, kind)
        for i, m in enumerate(out)
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        for j, part in enumerate(m["content"])
        if (kind := media_kind(part))
    ]
    last_user = max(
        (i for i, m in enumerate(out) if isinstance(m, dict) and m.get("role") == "user"), default=None
    )
    newest_turn = [item for item in media if item[0] == last_user]
    problem = media_count_problem(*_counts(newest_turn))
    if problem:
        raise InvalidRequestError(
            f"the newest message carries {': '.join(problem)}; send fewer media in this turn.",
            field="messages",
            code=3,
            status=400,
        )
    problem = media_count_problem(*_counts(media))
    if problem is None:
        return out, []
    if policy == "error":
        raise InvalidRequestError(
            f"the conversation carries {': '.join(problem)}. Use history_media='recent' to "
            "replace older media with a short note.",
            field="messages",
            code=3,
            status=400,
        )
    keep_kind = media[-1][2]
    kept = 0
    omitted = {"image": 0, "video": 0}
    for i, j, kind in reversed(media):
        if kind == keep_kind and kept < LIMITS[kind]:
            kept += 1
            continue
        out[i]["content"][j] = {"type": "text", "text": MARKERS[kind]}
        omitted[kind] += 1
    notices = []
    for kind, n in omitted.items():
        if not n:
            continue
        if kind == keep_kind:
            why = f" to stay within {plural(LIMITS[kind], kind)} per request"
        else:
            article = "an" if keep_kind == "image" else "a"
            why = (
                ": images and a video cannot travel in one request, "
                f"and the newest medium is {article} {keep_kind}"
            )
        notices.append(f"{plural(n, 'earlier ' + kind)} omitted{why}")
    return out, notices
