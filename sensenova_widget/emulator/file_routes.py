"""The file service's endpoints: upload (multipart), retrieve, list and delete.

Shapes follow the official `sensenova` SDK 1.0.x: `File.create` reads the new file's `id` at the
top level, `File.retrieve` reads `result["file"]["status"]` ("VALIDATING" until it is usable,
then "VALID"). The SDK uploads with the part name `file`, the file name "file" and
`application/octet-stream`, so the kind is told from the bytes, not from the name or type.
"""

from __future__ import annotations

import io
import logging

from PIL import Image
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from .. import protocol
from .server import (
    GONE,
    MAX_VIDEO_UPLOAD_BYTES,
    BodyTimeout,
    BodyTooLarge,
    EmulatorState,
    body_timeout_response,
    dumps,
    error_response,
    guarded,
    read_body,
    unread,
)

MULTIPART_OVERHEAD = 64_000  # room for the form fields and part headers around the file
logging.getLogger("python_multipart").setLevel(logging.ERROR)  # a malformed body is answered, not logged


def _upload_limit(scheme: str) -> int:
    return protocol.MAX_UPLOAD_BYTES if scheme == "MULTIMODAL_1" else MAX_VIDEO_UPLOAD_BYTES


def _check_image(data: bytes) -> str | None:
    """Why the bytes are not an acceptable MULTIMODAL_1 image, or None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return "file is not a JPEG or PNG image"
    if kind not in ("JPEG", "PNG"):
        return f"file is a {kind} image: expected JPEG or PNG"
    side = protocol.MAX_UPLOAD_SIDE
    if width > side or height > side:
        return f"image is {width}x{height}: expected at most {side}x{side} pixels"
    return None


@guarded
async def upload_file(request: Request) -> Response:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return await unread(
            request,
            error_response(
                400,
                "expected a multipart/form-data body with 'file' and 'scheme'",
                details=[{"field": "Content-Type"}],
            ),
        )
    try:  # bounded even when the upload comes chunked, without a Content-Length
        raw = await read_body(request, MAX_VIDEO_UPLOAD_BYTES + MULTIPART_OVERHEAD)
    except BodyTooLarge as exc:
        return _too_large(exc.args[0], MAX_VIDEO_UPLOAD_BYTES)
    except BodyTimeout:
        return body_timeout_response()
    except ClientDisconnect:
        return GONE

    async def replay() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=1, max_fields=8, max_part_size=MULTIPART_OVERHEAD
        )
    except (MultiPartException, HTTPException) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
        return error_response(400, f"malformed multipart body: {detail}", details=[{"field": "body"}])
    try:
        return await _store_upload(request, form)
    finally:
        await form.close()


async def _store_upload(request: Request, form: FormData) -> Response:
    state: EmulatorState = request.app.state.emulator
    upload, scheme, description = form.get("file"), form.get("scheme"), form.get("description") or ""
    if not isinstance(upload, UploadFile):
        return error_response(400, "missing the 'file' part", details=[{"field": "file"}])
    if scheme not in protocol.FILE_SCHEMES:
        return error_response(
            400,
            f"scheme={scheme!r} is not allowed: expected one of {', '.join(protocol.FILE_SCHEMES)}",
            details=[{"field": "scheme"}],
        )
    if not isinstance(description, str) or len(description) > protocol.MAX_DESCRIPTION_CHARS:
        return error_response(
            400,
            f"description is not allowed: expected at most {protocol.MAX_DESCRIPTION_CHARS} characters",
            details=[{"field": "description"}],
        )
    limit = _upload_limit(scheme)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        return _too_large(len(data), limit)
    if not data:
        return error_response(400, "the file is empty", details=[{"field": "file"}])
    problem = _check_image(data) if scheme == "MULTIMODAL_1" else None
    if problem:
        return error_response(400, problem, details=[{"field": "file"}])
    stored = state.files.add(
        data,
        filename=upload.filename or "file",
        scheme=scheme,
        description=description,
        validation_seconds=request.state.knobs.file_validation_seconds,
    )
    return Response(dumps(stored.info()), media_type="application/json")


def _too_large(size: int, limit: int) -> Response:
    return error_response(
        400,
        f"file of {size / 1e6:.1f} MB is too large: expected at most {limit / 1e6:g} MB",
        details=[{"field": "file"}],
    )


@guarded
async def get_file(request: Request) -> Response:
    stored = request.app.state.emulator.files.get(request.path_params["file_id"])
    if stored is None:
        return error_response(
            404, f"file {request.path_params['file_id']!r} not found", details=[{"field": "id"}]
        )
    return Response(dumps({"file": stored.info()}), media_type="application/json")


@guarded
async def delete_file(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    if not request.app.state.emulator.files.delete(file_id):
        return error_response(404, f"file {file_id!r} not found", details=[{"field": "id"}])
    return Response(dumps({"id": file_id, "deleted": True}), media_type="application/json")


@guarded
async def list_files(request: Request) -> Response:
    files = request.app.state.emulator.files.list()
    return Response(
        dumps({"object": "list", "data": [f.info() for f in files]}), media_type="application/json"
    )


def file_routes(prefix: str) -> list[Route]:
    return [
        Route(prefix + protocol.FILES_PATH, upload_file, methods=["POST"]),
        Route(prefix + protocol.FILES_PATH, list_files, methods=["GET"]),
        Route(prefix + protocol.FILES_PATH + "/{file_id}", get_file, methods=["GET"]),
        Route(prefix + protocol.FILES_PATH + "/{file_id}", delete_file, methods=["DELETE"]),
    ]
