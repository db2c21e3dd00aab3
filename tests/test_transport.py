"""The HTTP layer's retry policy (moved from test_client.py with the code it tests)."""

from __future__ import annotations

import time

import sensenova_widget as snw
from sensenova_widget.transport import MAX_RETRY_AFTER, parse_retry_after


def test_retry_after_is_read_as_seconds_or_a_date_and_capped():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = time.time() + 30
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(future))
    assert 25 < parse_retry_after(date) <= 31
    policy = snw.Client(api_key="k", base_url="http://127.0.0.1:9").transport.retry
    assert policy.delay(0, 3600.0) == MAX_RETRY_AFTER
    assert all(0.375 <= policy.delay(0, None) <= 0.5 for _ in range(50))  # 0.5 s with jitter
    assert all(6.0 <= policy.delay(9, None) <= 8.0 for _ in range(50))  # capped at 8 s
