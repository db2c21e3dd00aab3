"""Who may call the emulator: its API key, or an HS256 JWT signed with its access key pair.

Both are generated per emulator (or set by the caller), so a test proves the client really
sends them. The JWT is checked as the service checks it: signature, `iss`, `exp` and `nbf`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

import jwt


class Unauthorized(Exception):
    """Missing or invalid credentials; the message says which and never echoes the token."""


def _new(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class Credentials:
    api_key: str = field(default_factory=lambda: _new("emu-key-"))
    access_key_id: str = field(default_factory=lambda: _new("emu-ak-"))
    secret_access_key: str = field(default_factory=lambda: _new("emu-sk-"))

    def check(self, authorization: str | None) -> None:
        """Accept `Bearer <api key>` or `Bearer <JWT>`; raise Unauthorized otherwise."""
        if not authorization:
            raise Unauthorized("missing Authorization header: expected 'Bearer <API key or JWT>'")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("malformed Authorization header: expected 'Bearer <API key or JWT>'")
        if hmac.compare_digest(token.encode(), self.api_key.encode()):
            return
        if token.count(".") != 2:
            raise Unauthorized("invalid API key")
        try:
            jwt.decode(
                token,
                self.secret_access_key,
                algorithms=["HS256"],
                issuer=self.access_key_id,
                options={"require": ["iss", "exp", "nbf"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired (exp is in the past)") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("token not yet valid (nbf is in the future)") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("token issuer (iss) is not a known access key id") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("token signature does not match the access key secret") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {type(exc).__name__}") from None
