"""The emulator's Starlette app: the native chat and model routes, the file service and the
OpenAI-compatible entry points under one error policy.

Kept apart from `server` so that the route modules import `server`'s shared pieces and this
module imports them all: imports flow one way."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from .. import protocol
from .file_routes import file_routes
from .openai_routes import OPENAI, openai_routes
from .server import (
    API_PREFIX,
    FILE_PREFIX,
    NATIVE,
    EmulatorState,
    RequestIdMiddleware,
    chat_completions,
    error_response,
    get_model,
    list_models,
)
from .token_plan import TOKEN_PLAN, token_plan_routes

# ---- errors and the app ---------------------------------------------------------------------


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    dialect = NATIVE
    if request.url.path.startswith(protocol.OPENAI_COMPATIBLE_PREFIX + "/"):
        dialect = OPENAI
    elif request.url.path.startswith(protocol.EMULATOR_TOKEN_PLAN_PREFIX + "/"):
        dialect = TOKEN_PLAN
    if exc.status_code == 404:
        return dialect.error(404, f"no such endpoint: {request.method} {request.url.path}")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return dialect.error(
            405,
            f"method {request.method} is not allowed on {request.url.path}: expected {allowed}",
            headers=exc.headers,
        )
    return dialect.error(exc.status_code, str(exc.detail))


async def internal_error(request: Request, exc: Exception) -> Response:
    return error_response(500, f"internal error in the emulator: {type(exc).__name__}")


def build_app(state: EmulatorState) -> ASGIApp:
    routes = [
        Route(API_PREFIX + protocol.CHAT_PATH, chat_completions, methods=["POST"]),
        Route(API_PREFIX + protocol.MODELS_PATH, list_models, methods=["GET"]),
        Route(API_PREFIX + protocol.MODELS_PATH + "/{model:path}", get_model, methods=["GET"]),
        *file_routes(FILE_PREFIX),
        *openai_routes(),
        *token_plan_routes(),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: internal_error})
    app.state.emulator = state
    return RequestIdMiddleware(app)
