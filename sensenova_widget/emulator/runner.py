"""`Emulator`: the server on a free loopback port, in a background thread, for tests and notebooks."""

from __future__ import annotations

import socket
import threading
from typing import Any

import uvicorn

from .. import protocol
from .app import build_app
from .credentials import Credentials
from .faults import Knobs
from .files import FileStore
from .request_log import KEEP_BYTES, KEEP_REQUESTS, RequestLog
from .server import API_PREFIX, FILE_PREFIX, EmulatorState
from .slow_clients import HEADER_TIMEOUT, guarded


class Emulator:
    """A local SenseNova service: `with Emulator(**knobs) as emu:` then point a client at `emu.base_url`.

    Knobs (see `faults.KNOBS`) apply to every request; a request's `x-emulator-fault` header
    overrides them for that request. Credentials are generated per instance unless given.
    `requests` keeps the last `keep_requests` chat bodies, the newest whole while they fit in
    `keep_request_bytes` (as received) and compacted after (see `request_log`). A connection
    whose request headers take over `header_timeout` seconds is closed (see `slow_clients`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        max_files: int = 256,
        keep_requests: int = KEEP_REQUESTS,
        keep_request_bytes: int = KEEP_BYTES,
        header_timeout: float = HEADER_TIMEOUT,
        **knobs: Any,
    ) -> None:
        generated = Credentials()
        credentials = Credentials(
            api_key=api_key or generated.api_key,
            access_key_id=access_key_id or generated.access_key_id,
            secret_access_key=secret_access_key or generated.secret_access_key,
        )
        self._state = EmulatorState(
            credentials=credentials,
            knobs=Knobs.from_kwargs(**knobs),
            files=FileStore(max_files=max_files),
            requests=RequestLog(keep_requests, keep_request_bytes),
        )
        self.host = host
        self.header_timeout = header_timeout
        # IPPROTO_TCP named explicitly: asyncio only sets TCP_NODELAY on accepted connections of a
        # socket whose proto says TCP; without it Nagle holds each reply's body ~40 ms behind its headers.
        self._socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- what a client needs ---------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def openai_base_url(self) -> str:
        """The OpenAI-compatible base (`/chat/completions`, `/models` under it), as the service's
        `https://api.sensenova.cn/compatible-mode/v1`; `{url}/v1/chat/completions` answers too."""
        return self.url + protocol.OPENAI_COMPATIBLE_PREFIX

    @property
    def token_plan_base_url(self) -> str:
        """The token plan's entry point, as `https://token.sensenova.cn/v1` (see `token_plan`): a
        client given only this and the key speaks its shape (`dialects.pick` knows the path)."""
        return self.url + protocol.EMULATOR_TOKEN_PLAN_PREFIX

    @property
    def file_base_url(self) -> str:
        return self.url + FILE_PREFIX

    @property
    def api_key(self) -> str:
        return self._state.credentials.api_key

    @property
    def access_key_id(self) -> str:
        return self._state.credentials.access_key_id

    @property
    def secret_access_key(self) -> str:
        return self._state.credentials.secret_access_key

    @property
    def requests(self) -> RequestLog:
        """The JSON bodies of the chat requests received (both dialects, as sent), oldest first: the
        live list, bounded in count and bytes; `requests.summaries[i]` says path, model, counts, size."""
        return self._state.requests

    @property
    def files(self) -> FileStore:
        return self._state.files

    @property
    def knobs(self) -> Knobs:
        """The knobs every request gets (assign a saved `Knobs` to restore them)."""
        return self._state.knobs

    @knobs.setter
    def knobs(self, knobs: Knobs) -> None:
        self._state.knobs = knobs

    def configure(self, **knobs: Any) -> None:
        """Change knobs for all later requests (e.g. `emu.configure(ttft=0.2)`)."""
        self._state.knobs = self._state.knobs.updated(knobs)

    @property
    def request_count(self) -> int:
        return len(self._state.requests)

    def reset(self, *, files: bool = True) -> None:
        """Forget received requests and `times` counts (and uploaded files); knobs stay."""
        self._state.requests.clear()
        self._state.times.reset()
        if files:
            self._state.files.clear()

    def env(self) -> dict[str, str]:
        """The environment variables the official SDK and this package read."""
        return {
            "SENSENOVA_API_BASE": self.base_url,
            "SENSENOVA_API_BASE_FILE": self.file_base_url,
            "SENSENOVA_API_KEY": self.api_key,
            "SENSENOVA_ACCESS_KEY_ID": self.access_key_id,
            "SENSENOVA_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._thread is not None:
            return self
        if self._socket.fileno() < 0:
            raise RuntimeError("this Emulator was stopped; create a new one")
        config = uvicorn.Config(
            build_app(self._state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            # httptools (else h11) with a deadline for the headers (slow_clients), and uvloop when
            # installed (the emulator extra brings both): a quarter less CPU a request than h11 on
            # asyncio, so a burst queues less
            http=guarded(self.header_timeout),
            loop="auto",
            timeout_keep_alive=30,
            backlog=2048,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"sensenova-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator's server thread stopped before it started")
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(5)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(5)
        self._server = self._thread = None
        self._socket.close()

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (for `python -m sensenova_widget.emulator`)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator(base_url={self.base_url!r}, file_base_url={self.file_base_url!r})"
