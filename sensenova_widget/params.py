"""`Params`: a request's settings as ONE typed value, derived from `protocol.PARAMETERS`.

Why: `chat`, `stream`, the conversation, the panel, the magic and captions all pass the same
settings. Each is declared once, as a row of `protocol.PARAMETERS` (type, range, wire name per
dialect, how the panel and the magic show it); `Params` and `ParamsDict` are made from that table,
so a new parameter is one new row. The value travels frozen from the surface to `wire_body`, the
one place that turns it into the body's fields. The keyword spelling (`client.chat(...,
temperature=0.2)`) is read at the edge by `Params.of(**kwargs)`, which checks every value.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass, replace
from typing import Any, TypedDict

from .errors import InvalidRequestError
from .protocol import PARAMETERS

__all__ = ["Params", "ParamsDict", "wire_body"]

NAMES = tuple(PARAMETERS)


class ParamsBehaviour:
    """What every `Params` does (its fields come from the table)."""

    __slots__ = ()

    @classmethod
    def of(cls, **kwargs: Any) -> Any:
        """Params from keyword arguments: an unknown name is refused, naming the known ones, and
        each value is checked against its rule (None leaves a setting unset)."""
        for name, value in kwargs.items():
            if name not in PARAMETERS:
                raise InvalidRequestError(
                    f"{name!r} is not a request parameter: expected one of {', '.join(NAMES)}.", field=name
                )
            if value is not None:
                PARAMETERS[name].for_any_model.check(value)
        return cls(**kwargs)

    def check_dialect(self, api: str) -> None:
        """Refuse a set parameter the dialect `api` does not take, naming the endpoints that do."""
        for name, value in self.given().items():
            if not PARAMETERS[name].knows(api):
                raise PARAMETERS[name].refusal(api, value)

    def over(self, base: Any) -> Any:
        """These settings, with `base` filling in the ones left as None."""
        return replace(base, **self.given())

    def items(self) -> list[tuple[str, Any]]:
        """(name, value) of every setting, None included, in the table's order."""
        return [(name, getattr(self, name)) for name in NAMES]

    def given(self) -> dict[str, Any]:
        """The settings that are set."""
        return {name: value for name, value in self.items() if value is not None}


Params = make_dataclass(
    "Params",
    [(name, spec.type | None, field(default=None)) for name, spec in PARAMETERS.items()],
    bases=(ParamsBehaviour,),
    frozen=True,
    slots=True,
    kw_only=True,
)
Params.__module__ = __name__  # where pickle finds it
Params.__doc__ = (
    "What a request asks for besides its messages, one field per row of `protocol.PARAMETERS`; None "
    "leaves a setting to the next layer (the conversation's default, then the client's model, then "
    "the service's default)."
)

# `Params` as keyword arguments: the type of `**params` on `Client.chat`, `Conversation`, ...
ParamsDict = TypedDict(  # type: ignore[misc]
    "ParamsDict", {name: spec.type | None for name, spec in PARAMETERS.items()}, total=False
)


def wire_body(
    messages: list,
    params: Any,
    *,
    model: str,
    stream: bool,
    api: str = "native",
    max_output: int | None = None,
) -> dict[str, Any]:
    """The checked body for `messages` (system already in them) asked with `params`, its fields
    named as in `PARAMETERS` (the dialect renames them). A parameter the dialect `api` does not
    take is refused, naming the endpoints that do; `max_output` is the model's own limit."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    for name, value in params.items():
        spec = PARAMETERS[name]
        if name == "model" or spec.in_messages or value is None:
            continue
        if not spec.knows(api):  # as check_dialect, read in the same walk
            raise spec.refusal(api, value)
        body[name] = spec.up_to(max_output).to_wire(value)
    body["stream"] = stream
    return body
