"""`Params`: a request's model, system prompt and sampling parameters as ONE typed value.

Why: `chat`, `stream`, the conversation, the panel, the magic and captions all pass the same
handful of settings. They travel as this frozen value from the surface to `wire_body`, the one
place that turns them into the body's fields (so a new setting, or another dialect, is added
once). The keyword-argument spelling (`client.chat(..., temperature=0.2)`) is read at the edge
by `Params.of(**kwargs)`, with `ParamsDict` as its declared type.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

from .errors import InvalidRequestError
from .protocol import wire_parameter

__all__ = ["Params", "ParamsDict", "SAMPLING", "wire_body"]

# The sampling parameters (protocol.PARAMETERS holds their ranges), in the body's order.
SAMPLING = ("max_new_tokens", "temperature", "top_p", "repetition_penalty")


class ParamsDict(TypedDict, total=False):
    """`Params` as keyword arguments: the type of `**params` on `Client.chat` and `Client.stream`."""

    model: str | None
    system: str | None
    max_new_tokens: int | None
    temperature: float | None
    top_p: float | None
    repetition_penalty: float | None
    user: str | None
    thinking: bool | None


@dataclass(frozen=True, slots=True)
class Params:
    """What a request asks for besides its messages; None leaves a setting to the next layer
    (the conversation's default, then the client's model, then the service's default)."""

    model: str | None = None
    system: str | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    user: str | None = None
    thinking: bool | None = None  # reasoning on/off for models that offer it; None: the model's default

    @classmethod
    def of(cls, **kwargs: Any) -> Params:
        """Params from keyword arguments; an unknown name is refused, naming the known ones."""
        names = _NAMES
        for name in kwargs:
            if name not in names:
                raise InvalidRequestError(
                    f"{name!r} is not a request parameter: expected one of {', '.join(names)}.", field=name
                )
        return cls(**kwargs)

    def over(self, base: Params) -> Params:
        """These settings, with `base` filling in the ones left as None."""
        own = {name: value for name, value in self.items() if value is not None}
        return replace(base, **own)

    def items(self) -> list[tuple[str, Any]]:
        """(name, value) of every setting, None included."""
        return [(name, getattr(self, name)) for name in _NAMES]

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that are set (unset ones are left to the service)."""
        return {name: getattr(self, name) for name in SAMPLING if getattr(self, name) is not None}

    def wire_sampling(self, max_output: int | None = None) -> dict[str, int | float]:
        """`sampling()` checked and as plain JSON numbers (a NumPy scalar becomes an int or a float);
        `max_output`: the model's own limit on max_new_tokens (`protocol.output_limit`)."""
        return {
            name: wire_parameter(name, value, high=max_output if name == "max_new_tokens" else None)
            for name, value in self.sampling().items()
        }


_NAMES = tuple(f.name for f in fields(Params))


def wire_body(
    messages: list, params: Params, *, model: str, stream: bool, max_output: int | None = None
) -> dict[str, Any]:
    """The chat-completions body for `messages` (system already in them) asked with `params`."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    body.update(params.wire_sampling(max_output))
    if params.user is not None:
        body["user"] = params.user
    if params.thinking is not None:  # sent only when asked for (service-today.md, "Reasoning")
        if not isinstance(params.thinking, bool):
            raise InvalidRequestError(
                f"thinking={params.thinking!r} is not allowed: expected True, False or None.",
                field="thinking",
            )
        body["thinking"] = {"enabled": params.thinking}
    body["stream"] = stream
    return body
