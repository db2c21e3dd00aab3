"""The official `sensenova` SDK (PyPI, 1.0.x) completes requests against the emulator.

The SDK reads `SENSENOVA_API_BASE` and its access key pair from the environment at import
time and signs its own HS256 JWT, so it runs in a subprocess with the emulator's values: a
real, independent client proving the emulator speaks the service's protocol.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

pytest.importorskip("sensenova")

SDK_SCRIPT = textwrap.dedent("""
    import base64, io, json, sys
    import sensenova

    image = sys.argv[1]
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "Describe the picture"},
        {"type": "image_base64", "image_base64": image, "image_url": "", "image_file_id": "", "text": ""},
    ]}]
    out = {}
    reply = sensenova.ChatCompletion.create(model="SenseNova-V6-Pro", messages=messages, stream=False,
                                            max_new_tokens=256, temperature=0.8, top_p=0.7)
    out["non_stream"] = {"message": reply["data"]["choices"][0]["message"],
                         "finish_reason": reply["data"]["choices"][0]["finish_reason"],
                         "usage": dict(reply["data"]["usage"])}
    deltas, last = [], None
    for event in sensenova.ChatCompletion.create(model="SenseNova-V6-Pro", messages=messages, stream=True):
        deltas.append(event["data"]["choices"][0]["delta"])
        last = event
    out["stream"] = {"text": "".join(deltas), "events": len(deltas),
                     "finish_reason": last["data"]["choices"][0]["finish_reason"],
                     "usage": dict(last["data"]["usage"])}
    out["models"] = [m["id"] for m in sensenova.Model.list()["data"]]
    created = sensenova.File.create(file=io.BytesIO(base64.b64decode(image)), scheme="MULTIMODAL_1",
                                    description="a red picture")
    out["file_status"] = sensenova.File.retrieve(created["id"])["file"]["status"]
    by_id = sensenova.ChatCompletion.create(model="SenseNova-V6-Pro", messages=[{"role": "user", "content": [
        {"type": "image_file_id", "image_file_id": created["id"]}, {"type": "text", "text": "and this?"}]}])
    out["by_file_id"] = by_id["data"]["choices"][0]["message"]
    out["file_id"] = created["id"]
    sensenova.File.delete(created["id"])
    try:
        sensenova.ChatCompletion.create(model="SenseNova-V6-Pro", messages=[{"role": "user", "content": "x"}],
                                        temperature=5)
    except sensenova.InvalidRequestError as exc:
        out["invalid"] = str(exc)
    print(json.dumps(out))
""")


def _red_png_base64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (210, 30, 30)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_official_sdk_completes_image_requests_with_its_own_jwt(emulator):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENSENOVA_")}
    env.update(
        {
            "SENSENOVA_API_BASE": emulator.base_url,
            "SENSENOVA_API_BASE_FILE": emulator.file_base_url,
            "SENSENOVA_ACCESS_KEY_ID": emulator.access_key_id,
            "SENSENOVA_SECRET_ACCESS_KEY": emulator.secret_access_key,
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT, _red_png_base64()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    expected = "Describe the picture\nimage 1: 320x200 RGB, mostly red"
    assert out["non_stream"]["message"] == expected
    assert out["non_stream"]["finish_reason"] == "stop"
    assert out["stream"]["text"] == expected
    assert out["stream"]["events"] > 3
    assert out["stream"]["finish_reason"] == "stop"
    assert out["stream"]["usage"] == out["non_stream"]["usage"]
    assert "SenseNova-V6-Pro" in out["models"]
    assert "temperature" in out["invalid"]
    assert out["file_status"] == "VALID"
    assert out["by_file_id"].startswith(
        f"and this?\nimage 1: 320x200 RGB, mostly red (file {out['file_id']}: file, "
    )
    assert emulator.files.get(out["file_id"]) is None  # deleted through the SDK
    # The SDK had only the access key pair, so every request above carried its own HS256 JWT.
    assert emulator.requests[0]["messages"][0]["content"][0]["text"] == "Describe the picture"
