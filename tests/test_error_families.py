"""Errors say which family they belong to: the service's status errors (typed by status or by
the service's code, with that status set) apart from usage errors made before anything is sent;
and every error a surface raises is importable from the package (issue 21, 2.5)."""

from __future__ import annotations

import json

import pytest
from test_sse import RawServer

import sensenova_widget as snw
from sensenova_widget.errors import error_for_code


@pytest.fixture
def json_server():
    server = RawServer()
    server.content_type = b"application/json"
    yield server
    server.close()


def test_a_native_code_16_in_a_200_reply_is_an_authentication_error_with_its_status(json_server):
    body = {"status": {"code": 16, "message": "unauthenticated: the token expired"}}
    json_server.script = [json.dumps(body).encode()]
    with snw.Client(api_key="sk-raw", base_url=json_server.base_url, max_retries=0, timeout=5) as client:
        with pytest.raises(snw.AuthenticationError) as caught:
            client.chat("hi", model="SenseNova-V6-Pro")
    assert caught.value.status == 401 and caught.value.code == 16
    assert not isinstance(caught.value, snw.ServerError)
    assert "token expired" in str(caught.value)


def test_a_native_code_16_in_a_stream_event_keeps_its_status():
    error = error_for_code(16, "unauthenticated", cls=snw.StreamError)
    assert error.status == 401 and error.code == 16
    assert type(error_for_code(16, "unauthenticated")) is snw.AuthenticationError


def test_a_busy_panel_is_a_usage_error_not_a_service_400(emulator):
    from sensenova_widget.panel.turn_runner import TurnRunner

    runner = TurnRunner.__new__(TurnRunner)  # only its state is needed to ask it
    runner._running = True
    with pytest.raises(snw.UsageError) as caught:
        runner.check_idle()
    assert isinstance(caught.value, snw.PanelBusyError)
    assert not isinstance(caught.value, snw.InvalidRequestError)
    assert caught.value.status is None and "still streaming" in str(caught.value)


def test_every_error_a_surface_raises_is_importable_from_the_package():
    from sensenova_widget.captions import CaptionError
    from sensenova_widget.conversation.store import StoreError, UnknownConversationError

    assert snw.CaptionError is CaptionError
    assert snw.StoreError is StoreError and snw.UnknownConversationError is UnknownConversationError
    assert issubclass(snw.QuotaExceededError, snw.RateLimitError)
    for name in ("CaptionError", "StoreError", "QuotaExceededError", "UsageError", "PanelBusyError"):
        assert name in dir(snw)
