"""The HTTP layer's retry policy (moved from test_client.py with the code it tests)."""

from __future__ import annotations

import time

import sensenova_widget as snw
from sensenova_widget import protocol
from sensenova_widget.client.transport import MAX_RETRY_AFTER, parse_retry_after


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


class RecordingProxy:
    """A forwarding HTTP proxy on 127.0.0.1 that records each request it relays (method, URL), and
    its headers in `headers`; with `set_cookie`, every reply sets that cookie (as a load balancer does)."""

    def __init__(self, set_cookie: str | None = None) -> None:
        import http.client
        import http.server
        import threading
        import urllib.parse

        seen = self.seen = []
        seen_headers = self.headers = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def relay(self) -> None:
                seen.append((self.command, self.path))
                seen_headers.append(dict(self.headers.items()))
                target = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection",)}
                upstream.request(self.command, target.path or "/", body=body or None, headers=headers)
                reply = upstream.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                if set_cookie:
                    self.send_header("Set-Cookie", f"{set_cookie}; Path=/")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = relay

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_proxies_from_the_environment_are_honoured_and_a_change_applies_to_the_next_request(
    emulator, monkeypatch
):
    from sensenova_widget.client.transport import ENVIRONMENT_NAMES

    for name in ENVIRONMENT_NAMES:
        monkeypatch.delenv(name, raising=False)
    proxy = RecordingProxy()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url)
        chat_url = emulator.base_url + protocol.CHAT_PATH
        assert client.chat("through the proxy").text
        assert proxy.seen == [("POST", chat_url)]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # set after the first request: still honoured
        assert client.chat("straight to the server").text
        assert len(proxy.seen) == 1
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.setenv("http_proxy", proxy.url)  # lower case, as curl spells it, wins
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        assert client.chat("through the proxy again").text
        client.models()
        assert proxy.seen[1:] == [("POST", chat_url), ("GET", emulator.base_url + protocol.MODELS_PATH)]
        client.session.trust_env = False  # requests' own switch for ignoring the environment
        assert client.chat("the environment ignored").text
        assert len(proxy.seen) == 3
        received = str(emulator.requests)  # every chat reached the server, by the proxy or not
        assert all(f"'{text}'" in received for text in ("straight to the server", "the environment ignored"))
    finally:
        proxy.close()


def test_requests_carry_the_sessions_headers_and_cookies_and_a_netrc_login_never_replaces_the_key(
    emulator, monkeypatch, tmp_path
):
    """The client prepares its requests itself (cheaper than `Session.prepare_request`): what the
    session holds still goes out, and a ~/.netrc entry for the host does not turn the API key
    into a Basic login, as requests' own preparation would."""
    from sensenova_widget.client.transport import ENVIRONMENT_NAMES

    for name in ENVIRONMENT_NAMES:
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    proxy = RecordingProxy(set_cookie="lb=node-7")
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = snw.Client(api_key=emulator.api_key, base_url=emulator.base_url)
        client.session.headers["X-Team"] = "vision"
        assert client.chat("first").text  # the emulator refuses any other Authorization with a 401
        assert client.chat("second").text
        first, second = proxy.headers
        assert first["Authorization"].startswith("Bearer ") and "Cookie" not in first
        assert second["Cookie"] == "lb=node-7"  # the cookie the first reply set comes back
        assert first["X-Team"] == second["X-Team"] == "vision"
        assert first["User-Agent"] == client.session.headers["User-Agent"]
        assert first["Content-Type"] == "application/json"
    finally:
        proxy.close()
