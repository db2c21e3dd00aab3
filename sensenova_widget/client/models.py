"""What an endpoint says of its models, read once: ids, context and output limits, and what
each takes (`input_modalities`). The token plan serves text-only models beside its vision model
and may list them first (service-today.md, "The token plan"), so a client picks a model by what
it takes, never by list position, and refuses images to a model that reads text only.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from .. import protocol
from ..errors import InvalidRequestError
from ..protocol import ModelInfo

__all__ = ["ModelInfo", "listed_models", "check_images_taken", "first_seeing", "merged"]


def _int_or_none(value: Any) -> int | None:
    return (
        int(value)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0
        else None
    )


def listed_models(payload: Any) -> list[ModelInfo]:
    """The models of a GET models reply, in either dialect's shape (ids alone are enough)."""
    items: Any = payload.get("data", payload) if isinstance(payload, Mapping) else payload
    if isinstance(items, Mapping):
        items = items.get("models", items.get("data", []))
    listed = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            listed.append(ModelInfo(item))
        elif isinstance(item, Mapping) and isinstance(item.get("id") or item.get("model"), str):
            takes = item.get("input_modalities")
            listed.append(
                ModelInfo(
                    item.get("id") or item.get("model"),
                    _int_or_none(item.get("context_length")),
                    _int_or_none(item.get("max_output_length")),
                    tuple(str(m) for m in takes) if isinstance(takes, list) else None,
                )
            )
    return listed


def check_images_taken(info: ModelInfo, messages: list[dict]) -> None:
    """A model the endpoint lists as reading text only is refused images before sending."""
    if info.takes_images is False and any(protocol.count_media(messages)):
        raise InvalidRequestError(
            f"model {info.id!r} reads text only (its endpoint lists it as taking "
            f"{', '.join(info.input_modalities or ())}), and this request holds images or a video: "
            "choose a model that takes images (leave model= out to get one) or send text only.",
            field="model",
        )


def first_seeing(listed: list[ModelInfo]) -> str | None:
    """The first model the list says takes images (None when none does, or it does not say)."""
    return next((m.id for m in listed if m.takes_images), None)


def merged(model: str, listed: list[ModelInfo]) -> ModelInfo:
    """What is known of `model`: its entry in `listed`, what that leaves out taken from the
    documented table, else the documented entry, else only its id."""
    found = next((m for m in listed if m.id == model), None)
    documented = protocol.documented_model(model)
    if found is None:
        return documented or ModelInfo(model)
    if documented is None:
        return found
    return ModelInfo(
        found.id,
        found.context_length or documented.context_length,
        found.max_output or documented.max_output,
        found.input_modalities if found.input_modalities is not None else documented.input_modalities,
    )
