"""What the panel's staged chips stand for, kept by the kernel, and the limits of one message.

The `staged` trait (kernel-owned) is the browser's view: per chip an id, a kind, a label and a
thumbnail, or for notebook context the text exactly as it will be sent. What is sent is kept
here by id, never synced: an image's or video's full-resolution value, a context's (label, text).
One message takes at most `LIMITS` of each kind, and the page's files at most MAX_ARRIVED_BYTES.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import protocol
from ..errors import InvalidRequestError
from . import notebook_context

__all__ = ["LIMITS", "MAX_ARRIVED_BYTES", "Staging"]

# What may be staged, and how many of each one message takes: media, and notebook context (text
# the kernel adds after the message's own at Send, `conversation.turns.with_context`).
LIMITS = {"image": protocol.MAX_IMAGES, "video": protocol.MAX_VIDEOS, "context": notebook_context.MAX_ITEMS}
# Files the page sends in all, while staged: one request's body limit (refused before decoding).
MAX_ARRIVED_BYTES = protocol.MAX_BODY_BYTES


class Staging:
    """The kernel's side of the staged list: each chip's value by id, and the bytes the page sent."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}  # staged id -> what is sent for it
        self.arrived: dict[str, int] = {}  # staged id -> bytes of the file the page sent for it

    def check_room(self, staged: Sequence[Any], *kinds: str, arriving: int = 0) -> None:
        """Refuse (before anything is decoded) what the next request could not carry: more of a
        kind than `LIMITS` once `kinds` are staged too, or page files past MAX_ARRIVED_BYTES.
        Images and a video together are refused when sent (one may be removed)."""
        present = [item.get("kind") for item in staged if isinstance(item, dict)]
        for kind, limit in LIMITS.items():
            if kind in kinds and present.count(kind) + kinds.count(kind) > limit:
                raise InvalidRequestError(
                    f"Cannot attach another {kind}: at most {limit} {kind}{'s' if limit > 1 else ''} "
                    "in one request can be staged. Remove one first.",
                    field="staged",
                )
        held = sum(self.arrived.get(item_id, 0) for item_id in self.values)
        if arriving and held + arriving > MAX_ARRIVED_BYTES:
            raise InvalidRequestError(
                f"Cannot attach a file of {arriving:,} bytes: the files staged would pass "
                f"{MAX_ARRIVED_BYTES:,} bytes, more than one request carries. Remove one first.",
                field="staged",
            )

    def keep(self, item: dict, value: Any, arrived: int = 0) -> None:
        self.values[item["id"]] = value
        if arrived:
            self.arrived[item["id"]] = arrived

    def unknown(self, staged: Sequence[Any]) -> list[Any]:
        """The entries of `staged` this kernel did not stage (an unknown id or kind)."""
        return [
            item
            for item in staged
            if not (
                isinstance(item, dict)
                and isinstance(item.get("id"), str)
                and item["id"] in self.values
                and item.get("kind") in LIMITS
            )
        ]

    def take(self, staged: Sequence[dict]) -> dict[str, list]:
        """The values of `staged` by kind (in `LIMITS`' order), forgotten here."""
        taken: dict[str, list] = {kind: [] for kind in LIMITS}
        for item in staged:
            taken[item["kind"]].append(self.values.pop(item["id"]))
            self.arrived.pop(item["id"], None)
        return taken

    def forget(self, item_id: Any) -> None:
        self.values.pop(item_id, None)
        self.arrived.pop(item_id, None)
