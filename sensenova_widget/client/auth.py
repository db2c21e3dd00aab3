"""Credentials: an API key as it is, or an access key pair turned into a short-lived JWT.

The key, the secret and the token stay inside `Credentials`: its repr names only which kind of
credential is in use, and no error or log line built here contains any of them.
"""

from __future__ import annotations

import os
import threading
import time

from ..errors import AuthenticationError

__all__ = ["Credentials", "TOKEN_SECONDS", "REFRESH_MARGIN", "REDACTED"]

TOKEN_SECONDS = 1800  # exp = now + 1800, as the official SDK signs it
NOT_BEFORE_SKEW = 5  # nbf = now - 5: tolerate a server clock slightly behind ours
REFRESH_MARGIN = 60  # sign a new token a minute before the old one expires
TOKENS_REMEMBERED = 4  # signed tokens still redacted from replies after a newer one replaced them
MIN_SECRET_CHARS = 8  # shorter values are not redacted: they would blank out ordinary words
REDACTED = "[redacted]"

_HOW_TO_SET = (
    "Set SENSENOVA_API_KEY (or pass api_key=...), or set SENSENOVA_ACCESS_KEY_ID and "
    "SENSENOVA_SECRET_ACCESS_KEY (or pass access_key_id=... and secret_access_key=...)."
)


class Credentials:
    """Where the Authorization header comes from; thread-safe, token cached until near expiry."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        env = os.environ
        if not api_key and not (access_key_id or secret_access_key):
            api_key = env.get("SENSENOVA_API_KEY") or None
            if not api_key:
                access_key_id = env.get("SENSENOVA_ACCESS_KEY_ID") or None
                secret_access_key = env.get("SENSENOVA_SECRET_ACCESS_KEY") or None
        if not api_key:
            if not access_key_id and not secret_access_key:
                raise AuthenticationError("No SenseNova credentials found. " + _HOW_TO_SET)
            if not access_key_id or not secret_access_key:
                missing = (
                    "access_key_id (SENSENOVA_ACCESS_KEY_ID)"
                    if not access_key_id
                    else "secret_access_key (SENSENOVA_SECRET_ACCESS_KEY)"
                )
                raise AuthenticationError(
                    f"The access key pair is incomplete: {missing} is missing. " + _HOW_TO_SET
                )
        if api_key:
            api_key = api_key.strip()  # a key pasted with its line break still works
            if not all(33 <= ord(c) <= 126 for c in api_key):
                # Refused here because requests would quote the whole header (the key) in its error.
                raise AuthenticationError(
                    "The API key contains spaces, line breaks or non-ASCII characters, "
                    "which an HTTP header cannot carry (the key itself is not shown). " + _HOW_TO_SET
                )
        self._api_key = api_key or None
        self._access_key_id = None if api_key else access_key_id
        self._secret = None if api_key else secret_access_key
        self._token: str | None = None
        self._token_expires = 0.0
        self._signed: list[str] = []  # the last TOKENS_REMEMBERED tokens, redacted from replies
        self._secrets = self._collect_secrets()
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """'api key' or 'access key pair': safe to show."""
        return "api key" if self._api_key else "access key pair"

    def token(self) -> str:
        """The bearer token: the API key, or a JWT re-signed a minute before it expires."""
        if self._api_key:
            return self._api_key
        with self._lock:
            now = time.time()
            if self._token is None or now >= self._token_expires - REFRESH_MARGIN:
                import jwt  # PyJWT: only the key-pair path needs it

                exp = int(now) + TOKEN_SECONDS
                payload = {"iss": self._access_key_id, "exp": exp, "nbf": int(now) - NOT_BEFORE_SKEW}
                self._token = jwt.encode(
                    payload, self._secret, algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"}
                )
                self._token_expires = exp
                self._signed = [*self._signed[1 - TOKENS_REMEMBERED :], self._token]
                self._secrets = self._collect_secrets()
            return self._token

    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def _collect_secrets(self) -> tuple[str, ...]:
        values = {self._api_key, self._access_key_id, self._secret, *self._signed}
        return tuple(sorted((v for v in values if v and len(v) >= MIN_SECRET_CHARS), key=len, reverse=True))

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this client sent or signed with (longest first): what `redact` removes."""
        return self._secrets

    def redact(self, text: str) -> str:
        """`text` with every one of `secrets()` replaced by REDACTED: for anything a server sent
        back (a server or proxy that echoes the request would otherwise put the key in an error,
        a saved conversation or an export)."""
        for secret in self.secrets():
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        """`redact` for a body's bytes (the secrets are ASCII: an HTTP header carried them)."""
        for secret in self.secrets():
            raw = secret.encode()
            if raw in data:
                data = data.replace(raw, REDACTED.encode())
        return data

    def __repr__(self) -> str:
        return f"Credentials(<{self.kind}>)"

    def __reduce__(self):  # never pickle a secret into a saved state by accident
        raise TypeError("Credentials cannot be pickled: they stay in the kernel")
