"""Every request parameter on every surface, read from its one declaration (`protocol.PARAMETERS`).

The list of parameters and what each looks like on the wire come from the table, so a parameter
added there is tested here without a line of this file: each surface (`Client.chat`/`stream`,
`Conversation`, `ChatPanel`, `caption()`, `%%sensenova`) accepts it, it reaches the emulator over
real HTTP under the dialect's name (or is refused before sending, naming the endpoints that take
it, where the dialect does not know it), and it changes the caption cache key.
"""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image
from test_magic import ipython, shell  # noqa: F401 - the magic's shell fixtures, shared

import sensenova_widget as snw
from sensenova_widget.client.messages import text_message
from sensenova_widget.magic.magic import SenseNovaCellError
from sensenova_widget.protocol import DIALECTS, PARAMETERS

pytest.importorskip("uvicorn")

REASONER = "SenseNova-V6-5-Pro"  # the clients' model: one that takes `thinking`, so every field is sent
OTHER_MODEL = "SenseNova-V6-Turbo"  # the `model` parameter's value: listed, not the default


def sample(name: str) -> object:
    """A value inside the parameter's rule, other than its default."""
    spec = PARAMETERS[name]
    if name == "model":
        return OTHER_MODEL
    if spec.type is bool:
        return not spec.default
    if spec.type is str:
        return f"sample {name}"
    low = spec.low if spec.low is not None else -1
    high = spec.high if spec.high is not None else low + 10
    value = low + (high - low) / 4  # inside, away from an open end
    return int(value) + 1 if spec.type is int else round(value, 2)


def option(name: str, value: object) -> str:
    """The magic's spelling of `name=value` (a flag for True)."""
    flag = PARAMETERS[name].option[-1]
    return flag if value is True else f'{flag} "{value}"'


CASES = [(name, api) for name in PARAMETERS for api in DIALECTS]


@pytest.fixture
def dialect_client(request, emulator):
    api = request.param
    base = emulator.base_url if api == "native" else emulator.openai_base_url
    with snw.Client(api_key=emulator.api_key, base_url=base, model=REASONER) as client:
        assert client.api == api
        yield client


def picture() -> Image.Image:
    return Image.new("RGB", (24, 16), (200, 30, 30))


def surfaces(client, ipython_shell):
    """(surface, ask(**one_parameter)): each sends one request with the given parameter."""
    rows = pd.Series([picture()])

    def stream(**kw):
        with client.stream("hi", **kw) as live:
            return "".join(delta.text for delta in live)

    def magic(**kw):
        ipython_shell.run_cell(f"%sensenova config base_url={client.base_url} model={REASONER}")
        ((name, value),) = kw.items()
        ran = ipython_shell.run_cell(f"%%sensenova {option(name, value)}\nhi")
        if ran.error_in_exec is not None:
            raise ran.error_in_exec

    return [
        ("Client.chat", lambda **kw: client.chat("hi", **kw)),
        ("Client.stream", stream),
        ("Conversation(...)", lambda **kw: snw.Conversation(client, **kw).ask("hi")),
        ("Conversation.ask", lambda **kw: snw.Conversation(client).ask("hi", **kw)),
        ("ChatPanel(...)", lambda **kw: snw.ChatPanel(client=client, **kw).ask("hi")),
        ("caption()", lambda **kw: snw.caption(rows, client=client, cache=False, progress=False, **kw)),
        ("%%sensenova", magic),
    ]


def sent_value(body: dict, name: str, api: str) -> object:
    """What the body carries for the parameter, found by the table's wire name for `api`."""
    spec = PARAMETERS[name]
    if spec.in_messages:
        return body["messages"][0]
    return body.get(spec.wire[api], "(not sent)")


def expected(name: str, api: str, value: object) -> object:
    spec = PARAMETERS[name]
    if spec.in_messages:  # the system prompt: the first message, in the dialect's shape
        return {"role": "system", "content": value} if api == "openai" else text_message("system", value)
    return spec.to_wire(value)


@pytest.mark.parametrize(
    "name, dialect_client", CASES, indirect=["dialect_client"], ids=[f"{n}-{a}" for n, a in CASES]
)
def test_every_surface_sends_the_parameter_or_refuses_it_before_sending(
    name, dialect_client, emulator, request
):
    api, value = dialect_client.api, sample(name)
    for surface, ask in surfaces(dialect_client, request.getfixturevalue("shell")):
        before = len(emulator.requests)
        if PARAMETERS[name].knows(api):
            ask(**{name: value})
            assert len(emulator.requests) > before, surface
            got = sent_value(emulator.requests[-1], name, api)
            assert got == expected(name, api, value), (surface, got)
        else:
            with pytest.raises(
                (snw.SenseNovaError, SenseNovaCellError),
                match=f"{name}=.*only the OpenAI-compatible endpoints",
            ):
                ask(**{name: value})
            assert len(emulator.requests) == before, f"{surface} sent a request it should have refused"


@pytest.mark.parametrize("name", [n for n in PARAMETERS if PARAMETERS[n].keys_cache])
@pytest.mark.parametrize("dialect_client", ["openai"], indirect=True)
def test_every_parameter_changes_the_caption_cache_key(name, dialect_client, emulator, tmp_path):
    rows = pd.Series([picture()])
    cache = str(tmp_path / "captions.sqlite")

    def caption(**kw):
        before = len(emulator.requests)
        snw.caption(rows, client=dialect_client, cache=cache, progress=False, **kw)
        return len(emulator.requests) - before

    assert caption() == 1  # asked, then cached
    assert caption() == 0
    assert caption(**{name: sample(name)}) == 1, f"{name} did not change the cache key"
    assert caption(**{name: sample(name)}) == 0


def outside(name: str) -> list[object]:
    """Values just outside the parameter's rule (each end it has), and one of the wrong type."""
    spec = PARAMETERS[name]
    if spec.type is bool:
        return ["yes", 1]
    if spec.type is str:
        return [42] + ([""] if spec.low else [])
    step = 1 if spec.type is int else 0.5
    values: list[object] = ["0.5", True]
    if spec.low is not None:
        values.append(spec.low if not spec.low_inclusive else spec.low - step)
    if spec.high is not None:
        values.append(spec.high if not spec.high_inclusive else spec.high + step)
    if spec.type is int:
        values.append(spec.low + 0.5 if spec.low is not None else 0.5)
    return values


def post(emulator, api: str, field: str, value: object):
    """A raw request to the emulator's endpoint for `api`, with `field` set as sent on that wire."""
    import requests

    from sensenova_widget import protocol

    base, path = (
        (emulator.base_url, protocol.CHAT_PATH)
        if api == "native"
        else (emulator.openai_base_url, protocol.OPENAI_CHAT_PATH)
    )
    content = "hi" if api == "openai" else [{"type": "text", "text": "hi"}]
    body = {"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": content}], field: value}
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    return requests.post(base + path, json=body, headers=headers, timeout=10)


BODY_FIELDS = [(n, a) for n in PARAMETERS for a in DIALECTS if not PARAMETERS[n].in_messages]


@pytest.mark.parametrize("name, dialect_client", BODY_FIELDS, indirect=["dialect_client"])
def test_a_value_out_of_the_rule_is_refused_by_the_client_and_the_emulator(name, dialect_client, emulator):
    spec, api = PARAMETERS[name], dialect_client.api
    sent_as = spec.wire[api] or name
    for value in outside(name):
        with pytest.raises(snw.InvalidRequestError) as refused:
            dialect_client.chat("hi", **{name: value})
        assert refused.value.field == name
        assert spec.allowed in str(refused.value) or spec.for_any_model.allowed in str(refused.value)
        assert emulator.requests == []  # checked before sending
        wire = {spec.wrap: value} if spec.wrap else value
        answer = post(emulator, api, sent_as, wire)
        assert answer.status_code == 400, (name, value, answer.text)
        assert f"{sent_as}=" in answer.text and "is not allowed" in answer.text
        emulator.requests.clear()


@pytest.mark.parametrize("name", [n for n in PARAMETERS if not PARAMETERS[n].knows("native")])
def test_the_native_endpoint_refuses_what_only_the_openai_shape_takes(name, emulator):
    answer = post(emulator, "native", name, sample(name))
    assert answer.status_code == 400
    assert "only the OpenAI-compatible endpoints" in answer.json()["error"]["message"]
    assert post(emulator, "openai", PARAMETERS[name].wire["openai"], sample(name)).status_code == 200


@pytest.mark.parametrize("dialect_client", DIALECTS, indirect=True)
def test_the_panel_form_has_a_field_for_each_parameter_its_dialect_takes(dialect_client):
    panel = snw.ChatPanel(client=dialect_client)
    api = dialect_client.api
    shown = [name for name, spec in PARAMETERS.items() if spec.panel and spec.knows(api)]
    assert list(panel.parameters) == shown
    for name in shown:
        field = panel.parameters[name]
        assert (field["label"], field["kind"]) == (PARAMETERS[name].panel.label, PARAMETERS[name].panel.kind)
    assert set(panel.settings) == set(PARAMETERS)  # every parameter has its place in the settings


def readme_table() -> str:
    """The README's table of request parameters, as the declaration says it."""
    rows = [
        "| parameter | allowed | native | OpenAI-compatible | panel settings | `%%sensenova` |",
        "|---|---|---|---|---|---|",
    ]
    for name, spec in PARAMETERS.items():
        wires = []
        for api in DIALECTS:
            if spec.in_messages:
                wires.append("the first message")
            elif spec.knows(api):
                wires.append(f"`{spec.wire[api]}`" + (f' (`{{"{spec.wrap}": ...}}`)' if spec.wrap else ""))
            else:
                wires.append("refused before sending")
        field = spec.panel
        shown = "-" if field is None else field.label + (" (toolbar)" if field.kind == "picker" else "")
        if field is not None and field.shown_if == "thinks":
            shown += " (models that reason)"
        flags = "/".join(f"`{flag}`" for flag in spec.option)
        if spec.type is bool:
            flags += f" / `--no-{spec.option[-1][2:]}`"
        rows.append(f"| `{name}` | {spec.allowed} | {wires[0]} | {wires[1]} | {shown} | {flags} |")
    return "\n".join(rows) + "\n"


def test_the_readme_table_of_parameters_is_the_declaration():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert readme_table() in readme, (
        "README's parameter table differs from protocol.PARAMETERS:\n" + readme_table()
    )
