"""`connect()`: the local emulator when no credentials are set (reused), the service otherwise."""

from __future__ import annotations

import os

import pytest

import sensenova_widget as snw
from sensenova_widget import protocol
from sensenova_widget.client import connection, target

VARIABLES = (
    "SENSENOVA_API_KEY",
    "SENSENOVA_ACCESS_KEY_ID",
    "SENSENOVA_SECRET_ACCESS_KEY",
    "SENSENOVA_API_BASE",
    "SENSENOVA_API_BASE_FILE",
    "SENSENOVA_MODEL",
)


@pytest.fixture
def clean_env(monkeypatch):
    """No SENSENOVA_* variable and no emulator of `connect()`'s; both as they were afterwards."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "x")  # recorded, so what connect() sets is undone too
        monkeypatch.delenv(name)
    monkeypatch.setattr(target, "_emulator", None)
    yield monkeypatch
    started = target._emulator
    if started is not None:
        started.stop()


def test_without_credentials_it_starts_the_emulator_and_points_the_process_not_its_environment_at_it(
    clean_env, capsys
):
    before = dict(os.environ)
    given = connection.connect()
    emu = target._emulator
    assert emu is not None
    printed = capsys.readouterr().out
    assert "local emulator" in printed and emu.base_url in printed and printed.count("\n") == 1
    assert emu.api_key not in printed and "emu-key-" not in printed
    assert dict(os.environ) == before  # nothing written into the environment
    pointed = target.connected()
    assert (pointed.base_url, pointed.file_base_url) == (emu.base_url, emu.file_base_url)
    assert emu.api_key not in repr(pointed)
    with given:  # connect() gives a client pointed there
        assert given.base_url == emu.base_url and given.chat("asked on the given client").text
    assert emu.api_key not in repr(given)
    with snw.Client() as client:  # every surface that makes its own client reaches the emulator
        assert client.base_url == emu.base_url and client.file_base_url == emu.file_base_url
        assert client.chat("hello from connect").text == "hello from connect"
    assert emu.api_key not in repr(client)
    conversation = snw.Conversation()
    assert conversation.ask("and a conversation", stream=False).text == "and a conversation"


def test_the_emulators_key_goes_only_to_the_emulator(clean_env):
    connection.connect(verbose=False)
    with pytest.raises(snw.AuthenticationError, match="No SenseNova credentials"):
        snw.Client(base_url="https://api.example/v1")  # another address: no key of the emulator's


def test_a_second_call_reuses_the_same_emulator(clean_env, capsys):
    first = connection.connect(verbose=False)
    emu = target._emulator
    assert capsys.readouterr().out == ""
    second = connection.connect()
    assert target._emulator is emu and second.base_url == first.base_url == emu.base_url
    assert target.connected().api_key == emu.api_key
    assert emu.api_key not in capsys.readouterr().out


@pytest.mark.parametrize(
    "credentials",
    [
        {"SENSENOVA_API_KEY": "sk-test-secret-123"},
        {"SENSENOVA_ACCESS_KEY_ID": "ak-test-id", "SENSENOVA_SECRET_ACCESS_KEY": "sk-test-secret-456"},
    ],
)
def test_with_credentials_it_uses_the_service_and_starts_nothing(clean_env, capsys, credentials):
    for name, value in credentials.items():
        clean_env.setenv(name, value)
    clean_env.setenv("SENSENOVA_API_BASE", "")  # empty counts as unset, as for Client()
    client = connection.connect()
    printed = capsys.readouterr().out
    assert "Using SenseNova" in printed and protocol.DEFAULT_BASE_URL in printed and printed.count("\n") == 1
    assert client.base_url == protocol.DEFAULT_BASE_URL
    assert target._emulator is None
    assert os.environ["SENSENOVA_API_BASE"] == ""
    for value in credentials.values():
        assert value not in printed
    assert {name: os.environ.get(name) for name in credentials} == credentials


def test_connect_reaches_the_emulators_token_plan_and_names_the_real_one(clean_env, capsys):
    clean_env.setattr(target, "_token_plan", False)
    for name in ("SENSENOVA_API_KEY", "SENSENOVA_ACCESS_KEY_ID", "SENSENOVA_API_DIALECT"):
        clean_env.delenv(name, raising=False)
    given = connection.connect(token_plan=True)
    emu = target._emulator
    assert emu.token_plan_base_url in capsys.readouterr().out and given.base_url == emu.token_plan_base_url
    with snw.Client() as client:
        assert client.base_url == emu.token_plan_base_url and client.api == "openai"
        assert client.resolve_model() == protocol.TOKEN_PLAN_VISION_MODEL
    clean_env.setattr(target, "_emulator", None)
    emu.stop()
    clean_env.setenv("SENSENOVA_API_KEY", "sk-plan")
    clean_env.setenv("SENSENOVA_API_BASE", protocol.TOKEN_PLAN_BASE_URL)
    assert connection.connect().base_url == protocol.TOKEN_PLAN_BASE_URL
    assert "(the token plan)" in capsys.readouterr().out
