"""The emulator's gatekeeping: credentials (API key, JWT claims), request limits and the file service."""

from __future__ import annotations

import io
import time

import jwt
import pytest
import requests
from PIL import Image
from waiting import wait_until

from sensenova_widget import protocol

pytest.importorskip("uvicorn")

BODY = {"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": "hello"}]}


def _chat(emulator, authorization: str | None, **kw):
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.post(
        emulator.base_url + "/llm/chat-completions", json=BODY, headers=headers, timeout=10, **kw
    )


def _token(emulator, *, iss=None, secret=None, exp=1800, nbf=-5, **extra):
    now = int(time.time())
    claims = {"iss": iss or emulator.access_key_id, "exp": now + exp, "nbf": now + nbf, **extra}
    return jwt.encode(
        claims,
        secret or emulator.secret_access_key,
        algorithm="HS256",
        headers={"alg": "HS256", "typ": "JWT"},
    )


def test_api_key_and_a_valid_jwt_are_accepted(emulator):
    assert _chat(emulator, f"Bearer {emulator.api_key}").status_code == 200
    assert _chat(emulator, f"Bearer {_token(emulator)}").status_code == 200


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda emu: None, "missing Authorization"),
        (lambda emu: "Basic abc", "malformed"),
        (lambda emu: "Bearer wrong-key", "invalid API key"),
        (lambda emu: "Bearer " + _token(emu, exp=-10, nbf=-100), "expired"),
        (lambda emu: "Bearer " + _token(emu, nbf=600), "not yet valid"),
        (lambda emu: "Bearer " + _token(emu, secret="not-the-secret-at-all-0123456789"), "signature"),
        (lambda emu: "Bearer " + _token(emu, iss="someone-else"), "iss"),
        (lambda emu: "Bearer " + jwt.encode({"iss": emu.access_key_id}, emu.secret_access_key), "exp"),
    ],
)
def test_bad_credentials_get_401_in_the_service_shape(emulator, make, words):
    authorization = make(emulator)
    response = _chat(emulator, authorization)
    assert response.status_code == 401
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert isinstance(error["code"], int) and words in error["message"]
    if authorization and " " in authorization:
        assert authorization.split(" ", 1)[1] not in response.text  # the token is never echoed


def test_every_endpoint_requires_credentials(emulator):
    for method, url in [
        ("GET", emulator.base_url + "/llm/models"),
        ("GET", emulator.file_base_url + "/files"),
        ("GET", emulator.file_base_url + "/files/x"),
        ("DELETE", emulator.file_base_url + "/files/x"),
    ]:
        assert requests.request(method, url, timeout=10).status_code == 401


def test_models_lists_ids_the_chat_endpoint_accepts(emulator):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    listed = requests.get(emulator.base_url + "/llm/models", headers=headers, timeout=10).json()["data"]
    ids = [m["id"] for m in listed]
    assert protocol.DEFAULT_MODEL in ids and all(m["object"] == "model" for m in listed)
    unknown = requests.post(
        emulator.base_url + "/llm/chat-completions",
        headers=headers,
        timeout=10,
        json={**BODY, "model": "no-such-model"},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == 5


def test_body_over_45_mb_is_refused_from_content_length(emulator):
    headers = {"Authorization": f"Bearer {emulator.api_key}", "Content-Type": "application/json"}
    response = requests.post(
        emulator.base_url + "/llm/chat-completions",
        data=b" " * protocol.MAX_BODY_BYTES,
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [{"field": "body"}]
    assert "45 MB" in response.json()["error"]["message"]


def test_chunked_body_over_the_limit_is_refused_without_buffering_it_all(emulator):
    headers = {"Authorization": f"Bearer {emulator.api_key}", "Content-Type": "application/json"}
    piece = b" " * 1_000_000
    response = requests.post(
        emulator.base_url + "/llm/chat-completions",
        data=(piece for _ in range(46)),
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 400 and "45 MB" in response.json()["error"]["message"]


def test_wrong_content_type_and_malformed_json_are_400(emulator):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    url = emulator.base_url + "/llm/chat-completions"
    wrong_type = requests.post(
        url, data="model=x", headers={**headers, "Content-Type": "text/plain"}, timeout=10
    )
    assert wrong_type.status_code == 400 and "application/json" in wrong_type.json()["error"]["message"]
    malformed = requests.post(
        url, data="{", headers={**headers, "Content-Type": "application/json"}, timeout=10
    )
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]["message"]
    deep = requests.post(
        url, data="[" * 100_000, headers={**headers, "Content-Type": "application/json"}, timeout=10
    )
    assert deep.status_code == 400 and deep.json()["error"]["details"] == [{"field": "body"}]


def test_validation_names_the_field(emulator):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    body = {**BODY, "top_p": 1.0}
    response = requests.post(
        emulator.base_url + "/llm/chat-completions", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 3 and "top_p" in error["message"] and error["details"] == [{"field": "top_p"}]


def test_a_client_leaving_mid_body_does_not_hurt_the_server(emulator):
    import socket

    for path, kind in [
        ("/v1/llm/chat-completions", "application/json"),
        ("/file/v1/files", "multipart/form-data; boundary=x"),
    ]:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {emulator.api_key}\r\n"
                f"Content-Type: {kind}\r\nContent-Length: 100000\r\n\r\n{{".encode()
            )
    assert _chat(emulator, f"Bearer {emulator.api_key}").status_code == 200


def test_unknown_paths_and_wrong_methods_get_service_errors(emulator):
    missing = requests.get(emulator.url + "/v1/nothing", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 5
    wrong = requests.put(emulator.base_url + "/llm/chat-completions", timeout=10)
    assert wrong.status_code == 405 and "POST" in wrong.json()["error"]["message"]
    assert missing.headers["x-request-id"] != wrong.headers["x-request-id"]


# ---- the file service --------------------------------------------------------------------


def _image(fmt="PNG", size=(64, 48), colour=(30, 60, 220)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def _upload(emulator, data: bytes, *, scheme="MULTIMODAL_1", name="blue.png", fault=None, **fields):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    if fault:
        headers["x-emulator-fault"] = fault
    return requests.post(
        emulator.file_base_url + "/files",
        files={"file": (name, data)},
        data={"scheme": scheme, **fields},
        headers=headers,
        timeout=30,
    )


def _chat_with_file(emulator, file_id: str, kind="image"):
    content = [{"type": "text", "text": "see"}, {"type": f"{kind}_file_id", f"{kind}_file_id": file_id}]
    return requests.post(
        emulator.base_url + "/llm/chat-completions",
        timeout=30,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        json={"model": "SenseNova-V6-Pro", "messages": [{"role": "user", "content": content}]},
    )


def test_upload_get_use_and_delete_a_file(emulator):
    data = _image()
    created = _upload(emulator, data, description="a blue square")
    assert created.status_code == 200, created.text
    info = created.json()
    assert info["bytes"] == len(data) and info["filename"] == "blue.png" and info["status"] == "VALID"
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    got = requests.get(f"{emulator.file_base_url}/files/{info['id']}", headers=headers, timeout=10).json()
    assert got["file"]["id"] == info["id"] and got["file"]["description"] == "a blue square"
    reply = _chat_with_file(emulator, info["id"]).json()["data"]["choices"][0]["message"]
    assert reply == f"see\nimage 1: 64x48 RGB, mostly blue (file {info['id']}: blue.png, {len(data)} bytes)"
    deleted = requests.delete(f"{emulator.file_base_url}/files/{info['id']}", headers=headers, timeout=10)
    assert deleted.status_code == 200
    assert (
        requests.get(f"{emulator.file_base_url}/files/{info['id']}", headers=headers, timeout=10).status_code
        == 404
    )
    gone = _chat_with_file(emulator, info["id"])
    assert gone.status_code == 404 and gone.json()["error"]["code"] == 5


def test_a_validating_file_is_refused_until_it_is_valid(emulator):
    info = _upload(emulator, _image("JPEG"), name="x.jpg", fault="file_validation_seconds=0.6").json()
    assert info["status"] == "VALIDATING"
    early = _chat_with_file(emulator, info["id"])
    assert early.status_code == 400 and early.json()["error"]["code"] == 9
    assert "validat" in early.json()["error"]["message"]
    headers = {"Authorization": f"Bearer {emulator.api_key}"}

    def status() -> str:
        found = requests.get(f"{emulator.file_base_url}/files/{info['id']}", headers=headers, timeout=10)
        return found.json()["file"]["status"]

    wait_until(lambda: status() == "VALID", "the file to become VALID", interval=0.05)
    assert _chat_with_file(emulator, info["id"]).status_code == 200


@pytest.mark.parametrize(
    "data, fields, words",
    [
        (b"GIF89a not really", {}, "JPEG or PNG"),
        (None, {"scheme": "PDF_1"}, "scheme"),
        (None, {"description": "x" * 257}, "256"),
        (b"", {}, "empty"),
    ],
)
def test_bad_uploads_are_400_naming_the_problem(emulator, data, fields, words):
    response = _upload(emulator, _image() if data is None else data, **fields)
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]


def test_upload_over_10_mb_is_refused(emulator):
    too_big = _image() + b"\0" * protocol.MAX_UPLOAD_BYTES
    response = _upload(emulator, too_big)
    assert response.status_code == 400 and "too large" in response.json()["error"]["message"]


def test_image_over_13000_pixels_is_refused(emulator):
    wide = _image("PNG", size=(13001, 1))
    response = _upload(emulator, wide)
    assert response.status_code == 400 and "13000" in response.json()["error"]["message"]


def test_a_video_file_is_described_by_container_frames_and_size(emulator):
    av = pytest.importorskip("av")
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    info = _upload(emulator, buffer.getvalue(), scheme="MULTIMODAL_2", name="clip.mp4").json()
    reply = _chat_with_file(emulator, info["id"], kind="video").json()["data"]["choices"][0]["message"]
    assert reply == f"see\nvideo 1: mp4, 6 frames, 64x48 (file {info['id']}: clip.mp4, {info['bytes']} bytes)"


def test_the_file_store_is_bounded_and_evicts_the_oldest():
    from sensenova_widget.emulator import Emulator

    with Emulator(max_files=2) as emu:
        ids = [_upload(emu, _image()).json()["id"] for _ in range(3)]
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        listed = requests.get(emu.file_base_url + "/files", headers=headers, timeout=10).json()["data"]
        assert [f["id"] for f in listed] == ids[1:]


def test_injected_faults_reach_the_file_and_model_endpoints(emulator):
    fault = "status=503,times=1"
    first = _upload(emulator, _image(), fault=fault)
    assert first.status_code == 503 and first.json()["error"]["code"] == 14
    assert _upload(emulator, _image(), fault=fault).status_code == 200
    headers = {"Authorization": f"Bearer {emulator.api_key}", "x-emulator-fault": "status=429,retry_after=2"}
    models = requests.get(emulator.base_url + "/llm/models", headers=headers, timeout=10)
    assert models.status_code == 429 and models.headers["retry-after"] == "2"


def test_a_large_upload_refused_up_front_still_gets_its_reply(emulator):
    big = _image() + b"\0" * 8_000_000  # more than the socket buffers hold: the server must read it
    response = requests.post(
        emulator.file_base_url + "/files",
        files={"file": ("x.png", big)},
        data={"scheme": "MULTIMODAL_1"},
        headers={"Authorization": "Bearer wrong"},
        timeout=30,
    )
    assert response.status_code == 401
