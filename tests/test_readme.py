"""What the README tells a newcomer holds: the front-end build needs npm, and the emulator's fault
header it quotes slows a reply enough to press Stop."""

from __future__ import annotations

import re
from pathlib import Path

from sensenova_widget import Client

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_readme_says_a_clone_needs_npm_as_the_build_hook_does():
    pyproject = (ROOT / "pyproject.toml").read_text()  # (tomllib is 3.11+; the project runs on 3.10)
    assert 'build-function = "hatch_jupyter_builder.npm_builder"' in pyproject
    assert 'npm = ["npm"]' in pyproject and 'path = "js"' in pyproject
    start = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    assert "Node.js" in start and "npm" in start
    # hatch_jupyter_builder's own words when npm is not on the PATH (seen with `pip install -e .`)
    assert "Could not find cmd (npm) in path" in start and "metadata-generation-failed" in start


def test_the_fault_header_the_readme_quotes_slows_a_reply_enough_to_stop_it(emulator):
    panel_section = README.split("## The chat panel", 1)[1].split("\n## ", 1)[0]
    [header] = re.findall(r'"x-emulator-fault": "([^"]+)"', panel_section)
    assert "ttft=" in header and "delta_delay=" in header
    slow = {"x-emulator-fault": header}
    client = Client(api_key=emulator.api_key, base_url=emulator.base_url, headers=slow)
    with client.stream("Tell me a long story") as stream:
        first = next(iter(stream))
        stream.close()
    assert first.text and stream.reply.finish_reason == "stopped"
    assert len(stream.reply.text.split()) < 400  # stopped long before the 400 tokens the header asks for
