"""The panel on the token plan as a person meets it (issue 22): a real JupyterLab, Debian's
Chromium and the emulator's token-plan entry point, the client given only the key and the base
URL. The picker holds the listed vision model (never the text-only one listed first), a question
with an image is answered with its reasoning apart, and Settings' max new tokens goes up to the
chosen model's own output limit, following the picker.
"""

from __future__ import annotations

import pytest

from sensenova_widget import protocol

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

VISION = protocol.TOKEN_PLAN_VISION_MODEL


def plan_panel(lab: dict, *args: str) -> list[str]:
    """The cells of a notebook whose panel talks to the token plan with only the key (from the
    kernel's environment, never written in the notebook) and the base URL."""
    given = "".join(f", {arg}" for arg in args)
    return [
        "import os\nimport sensenova_widget as snw",
        f"plan = snw.Client(api_key=os.environ['SENSENOVA_API_KEY'],\n"
        f"                  base_url={lab['emulator'].token_plan_base_url!r})",
        f"panel = snw.ChatPanel(client=plan{given})\npanel",
        "assert panel.models_loaded.wait(60)",  # the endpoint's list was read (the picker's models)
    ]


def max_tokens_field(panel):
    field = panel.locator(".snw-field[data-field='max_new_tokens']")
    return field, field.locator("input"), field.locator("small"), field.locator(".snw-field-error")


def test_the_vision_model_answers_an_image_with_its_thinking_apart_and_its_own_output_limit(
    open_panel, lab, tmp_path
):
    from PIL import Image

    emulator = lab["emulator"]
    page, panel = open_panel("token-plan.ipynb", plan_panel(lab))
    picker = panel.locator(".snw-model")
    assert picker.input_value() == VISION
    assert picker.locator("option").all_inner_texts() == [VISION]  # deepseek-v4-flash reads text only

    panel.get_by_role("button", name="Settings").click()
    field, box, hint, error = max_tokens_field(panel)
    assert hint.inner_text() == "a whole number from 1 to 65536"  # the model's own limit, in words
    assert box.get_attribute("max") == "65536"
    box.fill("30000")
    box.press("Tab")
    assert error.is_hidden() and box.get_attribute("aria-invalid") is None

    path = tmp_path / "red.png"
    Image.new("RGB", (64, 48), (200, 20, 20)).save(path)
    panel.locator("input[type=file][accept='image/*']").set_input_files(str(path))
    panel.locator(".snw-staged-item").wait_for(timeout=30_000)
    saved = emulator.knobs
    emulator.configure(delta_delay=0.1)  # the service paces its stream: the thinking is seen live
    try:
        box = panel.locator(".snw-input")
        box.fill("What is in this picture?")
        box.press("Enter")
        details = panel.locator(".snw-assistant .snw-reasoning").last
        body = details.locator(".snw-reasoning-body")
        page.wait_for_function("el => el.textContent.length > 10", arg=body.element_handle(), timeout=30_000)
        assert "Thinking" in details.locator("summary").inner_text() and details.evaluate("el => el.open")
        reply = panel.locator(".snw-assistant").last
        reply.locator(".snw-body.snw-markdown").wait_for(timeout=60_000)
    finally:
        emulator.knobs = saved
    answer = reply.locator(".snw-body.snw-markdown").inner_text()
    assert "image 1: 64x48 RGB, mostly red" in answer and "Reasoning:" not in answer
    assert reply.locator(".snw-reasoning-body").text_content().startswith("Reasoning: 1 message, 1 image")
    sent = emulator.requests[-1]
    assert sent["model"] == VISION and sent["max_tokens"] == 30000 and "max_new_tokens" not in sent
    path = emulator.requests.summaries[-1]["path"]
    assert path == protocol.EMULATOR_TOKEN_PLAN_PREFIX + "/chat/completions"

    count = len(emulator.requests)
    field, box, hint, error = max_tokens_field(panel)
    box.fill("70000")
    box.press("Tab")
    assert error.inner_text() == "70000 is not allowed: expected a whole number from 1 to 65536."
    assert box.get_attribute("aria-invalid") == "true"
    box = panel.locator(".snw-input")
    box.fill("And its colour?")
    box.press("Enter")
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-assistant .snw-body.snw-markdown').length === 2",
        arg=panel.element_handle(),
        timeout=60_000,
    )
    assert len(emulator.requests) == count + 1 and emulator.requests[-1]["max_tokens"] == 30000  # never kept


def test_the_max_new_tokens_field_follows_the_model_chosen_in_the_picker(open_panel, lab):
    # a model the plan does not list, named by the notebook: the documented table's 16384
    page, panel = open_panel("token-plan-picker.ipynb", plan_panel(lab, "model='SenseNova-V6-Pro'"))
    picker = panel.locator(".snw-model")
    assert picker.locator("option").all_inner_texts() == ["SenseNova-V6-Pro", VISION]
    panel.get_by_role("button", name="Settings").click()
    field, box, hint, error = max_tokens_field(panel)
    assert hint.inner_text() == "a whole number from 1 to 16384" and box.get_attribute("max") == "16384"
    box.fill("30000")
    box.press("Tab")
    assert error.inner_text() == "30000 is not allowed: expected a whole number from 1 to 16384."

    picker.select_option(VISION)
    page.wait_for_function(  # the kernel sends the form again, for the model's own limit
        "el => el.querySelector(\"[data-field='max_new_tokens'] input\").max === '65536'",
        arg=panel.element_handle(),
        timeout=30_000,
    )
    field, box, hint, error = max_tokens_field(panel)
    assert hint.inner_text() == "a whole number from 1 to 65536" and error.is_hidden()
    box.fill("30000")
    box.press("Tab")
    assert error.is_hidden()
    page.wait_for_function(
        "el => el.querySelector(\"[data-field='max_new_tokens'] input\").value === '30000'",
        arg=panel.element_handle(),
        timeout=30_000,
    )

    picker.select_option("SenseNova-V6-Pro")  # the kept 30000 is over this model's limit: said by its field
    page.wait_for_function(
        "el => el.querySelector(\"[data-field='max_new_tokens'] input\").max === '16384'",
        arg=panel.element_handle(),
        timeout=30_000,
    )
    field, box, hint, error = max_tokens_field(panel)
    assert error.inner_text() == "30000 is not allowed: expected a whole number from 1 to 16384."
    assert box.input_value() == "30000" and box.get_attribute("aria-invalid") == "true"
