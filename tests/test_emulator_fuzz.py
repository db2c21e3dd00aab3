"""Random bodies, headers, paths and methods: the emulator keeps answering well-formed replies.

Every reply must carry an `x-request-id`; every error must be the service's JSON shape (or a
fault's HTML page when one was asked for); nothing may crash the server or hang.
"""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("uvicorn")

VALID = {
    "model": "SenseNova-V6-Pro",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
}
PATHS = [
    "/v1/llm/chat-completions",
    "/v1/llm/models",
    "/v1/llm/models/SenseNova-V6-Pro",
    "/file/v1/files",
    "/file/v1/files/nope",
    "/v1",
    "/",
    "/v1/llm/chat-completions/extra",
    "/file/v1/files/a/b",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "model",
        "messages",
        "max_new_tokens",
        "temperature",
        "top_p",
        "repetition_penalty",
        "stream",
        "user",
        "role",
        "content",
        "type",
        "text",
        "image_base64",
        "image_url",
        "image_file_id",
        "video_url",
        "video_file_id",
    ]
)


@st.composite
def mutated_bodies(draw) -> dict:
    """A valid body with a few fields replaced by random values, at any depth."""
    body = json.loads(json.dumps(VALID))
    targets = [body, body["messages"][0], body["messages"][0]["content"][0]]  # taken before any is replaced
    for _ in range(draw(st.integers(1, 3))):
        draw(st.sampled_from(targets))[draw(field_names)] = draw(json_values)
    return body


bodies = st.one_of(
    mutated_bodies().map(lambda b: json.dumps(b).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.just(json.dumps(VALID).encode()),
)
fault_headers = st.one_of(
    st.none(),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(
        str.strip
    ),  # requests refuses edge spaces
    st.sampled_from(
        [
            "status=503",
            "status=429,retry_after=1",
            "html=502",
            "error_after=0",
            "error_after=1",
            "reply_tokens=3",
            "ttft=0",
            "ttft=-1",
            "status=abc",
            "times=1,status=500",
        ]
    ),
)
FRAMING = {
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "expect",
    "te",
    "upgrade",
    "authorization",
    "content-type",
    "x-emulator-fault",
}
extra_headers = st.dictionaries(
    st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,15}\Z").filter(lambda name: name.lower() not in FRAMING),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
    max_size=3,
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "",
    ]
)


def _authorization(choice: str, emulator) -> str | None:
    return {
        "key": f"Bearer {emulator.api_key}",
        "none": None,
        "bad": "Bearer nope",
        "jwt": "Bearer a.b.c",
        "odd": "Token " + emulator.api_key,
    }[choice]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.sampled_from(PATHS)
    | st.text(st.characters(min_codepoint=48, max_codepoint=122), max_size=15).map(lambda s: "/v1/" + s),
    body=bodies,
    content_type=content_types,
    fault=fault_headers,
    auth=st.sampled_from(["key", "key", "key", "none", "bad", "jwt", "odd"]),
    extra=extra_headers,
)
def test_random_requests_get_well_formed_replies(
    emulator, method, path, body, content_type, fault, auth, extra
):
    headers = dict(extra)
    if content_type:
        headers["Content-Type"] = content_type
    if fault is not None:
        headers["x-emulator-fault"] = fault
    authorization = _authorization(auth, emulator)
    if authorization:
        headers["Authorization"] = authorization
    response = requests.request(method, emulator.url + path, data=body, headers=headers, timeout=15)
    raw = response.content
    assert response.headers.get("x-request-id"), (response.status_code, raw[:200])
    assert 200 <= response.status_code <= 599
    if response.headers.get("content-type", "").startswith("text/html"):
        assert fault and "html" in fault and response.status_code >= 400
        return
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        blocks = [b for b in raw.split(b"\n\n") if b]
        assert all(b.startswith(b"data:") for b in blocks)
        assert blocks[-1] == b"data:[DONE]" or b'"error"' in blocks[-1]
        return
    document = json.loads(raw)
    if response.status_code >= 400:
        error = document["error"]
        assert isinstance(error["code"], int) and isinstance(error["message"], str) and error["message"]
        assert isinstance(error["details"], list)
        assert response.status_code != 500 or (fault and ("500" in fault or "error_after" in fault)), raw[
            :300
        ]
    else:
        assert isinstance(document, dict)


def _png_bytes(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (width % 256, height % 256, 90)).save(buffer, "PNG")
    return buffer.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=300) | st.builds(_png_bytes, st.integers(1, 40), st.integers(1, 40)),
    scheme=st.sampled_from(["MULTIMODAL_1", "MULTIMODAL_2"]) | st.text(max_size=12),
    description=st.none() | st.text(max_size=300),
    name=st.text(min_size=1, max_size=20),
)
def test_random_uploads_get_a_file_or_a_well_formed_error(emulator, data, scheme, description, name):
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    fields = {"scheme": scheme} if description is None else {"scheme": scheme, "description": description}
    response = requests.post(
        emulator.file_base_url + "/files",
        files={"file": (name, data)},
        data=fields,
        headers=headers,
        timeout=15,
    )
    assert response.headers.get("x-request-id")
    document = response.json()
    if response.status_code != 200:
        assert response.status_code == 400 and document["error"]["code"] == 3 and document["error"]["message"]
        return
    assert document["bytes"] == len(data) and document["status"] == "VALID"
    kind = "image" if scheme == "MULTIMODAL_1" else "video"
    chat = requests.post(
        emulator.base_url + "/llm/chat-completions",
        headers=headers,
        timeout=15,
        json={
            "model": "SenseNova-V6-Pro",
            "messages": [
                {"role": "user", "content": [{"type": f"{kind}_file_id", f"{kind}_file_id": document["id"]}]}
            ],
        },
    )
    assert chat.status_code == 200, chat.text
    assert f"(file {document['id']}: " in chat.json()["data"]["choices"][0]["message"]
