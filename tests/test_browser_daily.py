"""The panel as a daily tool (issue 25), in Chromium on real JupyterLab and Notebook 7 pages.

Keys typed in the panel never reach the notebook in either page; a reader scrolled up during a
stream stays put; a kernel interrupt stops a reply; the conversation list opens a saved
conversation; a code block's Insert adds a cell below the panel's; the Export and Context menus
close as menus do.
"""

from __future__ import annotations

import pytest
from browser_helpers import (
    OUTPUT,
    copy_to_docs,
    open_notebook,
    run_all,
    save_screenshot,
    send_and_watch_it_stream,
    set_theme,
    write_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SLOW = 'snw.Client(headers={"x-emulator-fault": "delta_delay=0.05,reply_tokens=400"})'


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_shift_enter_in_the_panel_is_a_new_line_and_runs_no_cell(open_panel, ui):
    page, panel = open_panel(
        f"keys-{ui}.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"], ui=ui
    )
    cells = page.locator(".jp-Notebook:visible .jp-Cell")
    prompt = page.locator(".jp-Notebook:visible .jp-CodeCell").nth(1).locator(".jp-InputPrompt")
    before = (cells.count(), prompt.inner_text())
    box = panel.locator(".snw-input")
    box.click()
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two abddmy")
    assert box.input_value() == "line one\nline two abddmy"
    panel.get_by_role("button", name="Settings").focus()
    for key in ["a", "b", "d", "d", "m", "y", "Shift+Enter", "Control+Enter", "Alt+Enter"]:
        page.keyboard.press(key)
    page.wait_for_timeout(500)  # what a reached shortcut would do is done by now
    assert (cells.count(), prompt.inner_text()) == before  # no cell added, deleted, re-typed or rerun
    assert panel.is_visible() and box.input_value() == "line one\nline two abddmy"


# Starts `code` as an execute request of the page's kernel (as a cell would) and leaves its outcome
# in window.snwRun: {status, ename, printed}.
RUN_IN_KERNEL = """(code) => { window.snwRun = (async () => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({ code });
    const printed = [];
    future.onIOPub = (msg) => {
        if (msg.header.msg_type === "stream") printed.push(msg.content.text);
        if (msg.header.msg_type === "error") printed.push(...msg.content.traceback);
    };
    const reply = await future.done;
    return { status: reply.content.status, ename: reply.content.ename || null, printed: printed.join("") };
})(); }"""


def interrupt_kernel(page) -> None:
    """The notebook toolbar's stop square, as a person interrupts."""
    page.locator(".jp-NotebookPanel-toolbar:visible [data-command='notebook:interrupt-kernel']").click()


def stopped_reply(panel, index: int):
    stopped = panel.locator(".snw-assistant").nth(index)
    stopped.locator(".snw-markdown").wait_for(timeout=30_000)
    assert "snw-status-stopped" in stopped.get_attribute("class")
    assert "Stopped" in stopped.locator(".snw-notice").inner_text()
    return stopped.locator(".snw-markdown").inner_text()


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_a_kernel_interrupt_stops_a_reply_from_the_panel_and_from_ask(open_panel, ui):
    page, panel = open_panel(
        f"interrupt-{ui}.ipynb",
        ["import sensenova_widget as snw", f"panel = snw.ChatPanel(client={SLOW})\npanel"],
        ui=ui,
    )
    send_and_watch_it_stream(page, panel, "Tell me a long story")
    interrupt_kernel(page)  # the kernel is idle: the reply streams in the panel's thread
    partial = stopped_reply(panel, 0)
    assert partial.startswith("Tell me a long story") and len(partial.split()) < 400
    panel_cell = page.locator(".jp-Notebook:visible .jp-CodeCell").nth(1)
    panel_cell.get_by_text("KeyboardInterrupt: the panel's reply was stopped").wait_for(timeout=30_000)

    # panel.ask() waiting in a running cell: the same, and the cell ends with that one line
    page.evaluate(RUN_IN_KERNEL, "panel.ask('Another long story please')")
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-assistant').length === 2 && "
        "el.querySelectorAll('.snw-assistant')[1].textContent.length > 40",
        arg=panel.element_handle(),
        timeout=30_000,
    )
    interrupt_kernel(page)
    result = page.evaluate("() => window.snwRun")
    assert result["status"] == "error" and result["ename"] == "Interrupted"
    line = "KeyboardInterrupt: the panel's reply was stopped; its text so far is kept."
    assert result["printed"].strip() == line  # one line, no traceback
    partial, asked = stopped_reply(panel, 1), "Another long story please"  # the emulator echoes first
    assert partial and (asked.startswith(partial) or partial.startswith(asked)) and len(partial.split()) < 400


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_a_reader_scrolled_up_during_a_stream_stays_put_and_latest_brings_them_back(open_panel, ui):
    page, panel = open_panel(
        f"scroll-{ui}.ipynb",
        ["import sensenova_widget as snw", f"panel = snw.ChatPanel(client={SLOW})\npanel"],
        ui=ui,
    )
    log = panel.locator(".snw-log")
    log.evaluate("el => { el.style.maxHeight = '120px'; }")  # a short log: the reply overflows it soon
    streaming = send_and_watch_it_stream(page, panel, "Tell me a long story")
    overflows = "el => el.scrollHeight > el.clientHeight + 100"
    page.wait_for_function(overflows, arg=log.element_handle(), timeout=30_000)
    log.hover()
    page.mouse.wheel(0, -5000)  # the reader scrolls up to the top
    page.wait_for_function("el => el.scrollTop === 0", arg=log.element_handle(), timeout=30_000)
    jump = panel.get_by_role("button", name="Jump to the latest message")
    jump.wait_for(timeout=30_000)
    grown = streaming.inner_text()
    page.wait_for_function(  # more of the reply arrives...
        "([el, before]) => el.textContent.length > before + 40",
        arg=[streaming.element_handle(), len(grown)],
        timeout=30_000,
    )
    assert log.evaluate("el => el.scrollTop") == 0  # ...and the reader is still where they were
    jump.click()
    at_end = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 24"
    page.wait_for_function(at_end, arg=log.element_handle(), timeout=30_000)
    assert not jump.is_visible()
    panel.locator(".snw-send").click()  # Stop
    panel.locator(".snw-assistant.snw-status-stopped").wait_for(timeout=30_000)


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_the_conversation_list_searches_opens_renames_and_starts_conversations(open_panel, ui):
    page, panel = open_panel(
        f"chats-{ui}.ipynb",
        [
            "import sensenova_widget as snw\n"
            f"store = 'chats-store-{ui}'  # this test's own: the other tests' panels save too\n"
            "snw.Conversation(name='trip', store=store).ask('Where shall we go in May?')\n"
            "snw.Conversation(name='recipes', store=store).ask('How long do I boil an egg?')",
            "panel = snw.ChatPanel(store=store)\npanel",
        ],
        ui=ui,
    )
    panel.get_by_role("button", name="Chats").click()
    items = panel.locator(".snw-chats-item")
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-chats-item').length === 2", arg=panel.element_handle()
    )
    assert [items.nth(i).get_attribute("data-name") for i in range(2)] == ["recipes", "trip"]
    trip = panel.locator(".snw-chats-item[data-name='trip']")
    assert "Where shall we go in May?" in trip.locator(".snw-chats-last").inner_text()
    assert "1 turn" in trip.locator(".snw-chats-meta").inner_text()
    panel.get_by_label("Search saved conversations").fill("egg")
    page.wait_for_function(
        "el => [...el.querySelectorAll('.snw-chats-item')].map(i => i.dataset.name).join() === 'recipes'",
        arg=panel.element_handle(),
    )
    panel.get_by_label("Search saved conversations").fill("")
    trip.wait_for()
    if ui == "lab":
        copy_to_docs(save_screenshot(panel, "panel-chats.png"), "panel-chats.png")
    trip.locator(".snw-chats-open").click()  # open it: its turns show, and the next message continues it
    panel.locator(".snw-user .snw-body", has_text="Where shall we go in May?").wait_for()
    assert panel.locator(".snw-name").inner_text() == "trip"
    assert not panel.locator(".snw-chats").is_visible()
    box = panel.locator(".snw-input")
    box.fill("And in June?")
    box.press("Enter")
    page.wait_for_function(
        "el => el.querySelectorAll('.snw-assistant .snw-markdown').length === 2", arg=panel.element_handle()
    )

    panel.get_by_role("button", name="Chats").click()
    panel.get_by_role("button", name="Rename trip").click()
    rename = panel.get_by_label("New name for trip")
    rename.fill("holiday")
    rename.press("Enter")
    panel.locator(".snw-chats-item[data-name='holiday'] .snw-chats-meta", has_text="2 turns").wait_for()
    page.wait_for_function(
        "el => el.querySelector('.snw-name').textContent === 'holiday'", arg=panel.element_handle()
    )
    panel.get_by_role("button", name="New chat").click()
    page.wait_for_function("el => !el.querySelector('.snw-turn')", arg=panel.element_handle())
    assert panel.locator(".snw-name").inner_text() not in ("holiday", "trip", "")


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_insert_puts_a_code_block_in_a_new_cell_below_the_panel(open_panel, ui):
    page, panel = open_panel(
        f"insert-{ui}.ipynb",
        ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel", "after = 1"],
        ui=ui,
    )
    box = panel.locator(".snw-input")
    box.fill("Some code:\n\n```python\ndef add(a, b):\n    return a + b\n```")  # the emulator echoes it
    box.press("Enter")
    code = panel.locator(".snw-assistant .snw-code").first
    code.wait_for(timeout=30_000)
    insert = code.get_by_role("button", name="Insert as a new cell below the panel")
    insert.click()
    page.wait_for_function("el => el.textContent !== 'Insert'", arg=insert.element_handle())
    assert insert.inner_text() == "Inserted"
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Notebook:not(.lm-mod-hidden) .jp-Cell')].length === 4"
    )
    cells = page.locator(".jp-Notebook:visible .jp-Cell")
    assert cells.nth(2).locator(".cm-content").inner_text() == "def add(a, b):\n    return a + b"
    assert cells.nth(3).locator(".cm-content").inner_text() == "after = 1"  # below the panel's cell
    if ui == "lab":  # the reply's code block with its buttons, and the cell it became
        reply, added = panel.locator(".snw-assistant").last.bounding_box(), cells.nth(2).bounding_box()
        top, bottom = reply["y"] - 8, added["y"] + added["height"] + 8
        shot = OUTPUT / "panel-insert.png"
        page.screenshot(
            path=str(shot), clip={"x": added["x"], "y": top, "width": added["width"], "height": bottom - top}
        )
        copy_to_docs(shot, "panel-insert.png")


WAITING = "el => getComputedStyle(el.querySelector('.snw-assistant .snw-streaming'), '::before').content"


def test_a_superseded_panel_takes_no_input_and_the_newer_one_waits_visibly(open_panel):
    page, newer = open_panel(
        "newer.ipynb",
        [
            "import sensenova_widget as snw\nfrom PIL import Image\n"
            "older = snw.ChatPanel(name='shared', store='newer-store')\nolder",
            "late = snw.Client(headers={'x-emulator-fault': 'ttft=2,delta_delay=0.05,reply_tokens=60'})\n"
            "newer = snw.ChatPanel(client=late, name='shared', store='newer-store')\n"
            "newer.attach(Image.new('RGB', (64, 48), (200, 30, 30)), label='red')\nnewer",
        ],
    )
    older = page.locator(".jp-Notebook:visible .snw-panel").first
    older.locator(".snw-stale", has_text="A newer panel shows this conversation").wait_for()
    assert older.locator(".snw-input").is_disabled()  # cannot be typed into

    newer.get_by_role("button", name="Remove red").click()
    page.wait_for_function("el => !el.querySelector('.snw-staged-item')", arg=newer.element_handle())
    page.wait_for_function("() => document.activeElement.classList.contains('snw-input')")  # focus is back

    box = newer.locator(".snw-input")
    box.fill("Hello after a pause")
    box.press("Enter")
    newer.locator(".snw-assistant .snw-streaming").wait_for()
    assert newer.evaluate(WAITING) == '"Waiting for the reply"'  # between Send and the first token
    page.wait_for_function(
        "el => el.querySelector('.snw-assistant .snw-streaming, .snw-assistant .snw-markdown').textContent",
        arg=newer.element_handle(),
        timeout=30_000,
    )
    last_text = newer.locator(".snw-assistant .snw-body").last
    assert last_text.inner_text().startswith("Hello")  # the indicator gave way to the reply


# In the last reply: the code block's and the bubble's backgrounds, whether the display math
# scrolls vertically, and the inline math's font size against its paragraph's.
LOOKS = """el => {
    const reply = [...el.querySelectorAll('.snw-assistant')].pop();
    const block = reply.querySelector('.snw-math-block');
    const inline = reply.querySelector('p .snw-math math') || reply.querySelector('p math');
    return {
        code: getComputedStyle(reply.querySelector('pre')).backgroundColor,
        bubble: getComputedStyle(reply).backgroundColor,
        mathScrolls: ['auto', 'scroll'].includes(getComputedStyle(block).overflowY)
            && block.scrollHeight > block.clientHeight,
        mathClipped: block.scrollHeight - block.clientHeight,
        inline: getComputedStyle(inline).fontSize,
        text: getComputedStyle(inline.closest('p')).fontSize,
    };
}"""


def test_in_the_dark_theme_code_stands_apart_and_math_fits_the_text(open_panel):
    page, panel = open_panel(
        "looks.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    box = panel.locator(".snw-input")
    math = "Inline $a^2 + b^2$ here, and\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$"
    box.fill("Code:\n\n```python\nx = 1\n```\n\n" + math)
    box.press("Enter")
    panel.locator(".snw-assistant .snw-math-block").wait_for(timeout=30_000)
    set_theme(page, "JupyterLab Dark")
    try:
        looks = panel.evaluate(LOOKS)
        assert looks["code"] != looks["bubble"], looks  # the code block stands apart
        assert not looks["mathScrolls"] and looks["mathClipped"] <= 2, looks  # no tiny vertical scroll bar
        assert looks["inline"] == looks["text"], looks  # inline math at the text's size
    finally:
        set_theme(page, "JupyterLab Light")


def test_show_captions_is_left_aligned_and_uses_the_width(lab):
    write_notebook(
        lab["root"] / "captions-view.ipynb",
        [
            "import pandas as pd\nfrom sensenova_widget import show_captions\n"
            "show_captions(pd.DataFrame({'caption': ['A red square.', 'Two lines\\nof text.']}))"
        ],
    )
    page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
    try:
        open_notebook(page, lab["url"], "captions-view.ipynb")
        run_all(page)
        table = page.locator(".jp-Notebook:visible table.snw-captions")
        table.wait_for(timeout=60_000)
        box = table.bounding_box()
        area = table.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')][1]").bounding_box()
        assert abs(box["x"] - area["x"]) <= 12  # left-aligned, not centred
        assert box["width"] >= area["width"] - 24  # the output's width
    finally:
        page.close()


def test_the_export_menu_downloads_a_notebook_with_a_cell_per_turn(open_panel):
    import nbformat

    page, panel = open_panel(
        "export.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel(name='exported')\npanel"]
    )
    box = panel.locator(".snw-input")
    box.fill("Show code:\n\n```python\nprint(1)\n```")
    box.press("Enter")
    panel.locator(".snw-assistant .snw-markdown").wait_for(timeout=30_000)
    panel.get_by_role("button", name="Export").click()
    with page.expect_download() as download:
        panel.get_by_role("menuitem", name="Notebook download").click()
    got = download.value
    assert got.suggested_filename == "exported.ipynb"
    notebook = nbformat.reads(open(got.path()).read(), as_version=4)
    nbformat.validate(notebook)
    assert [cell.cell_type for cell in notebook.cells] == ["markdown"] * 3  # the title, then each turn
    assert "```python" in notebook.cells[2].source  # the code keeps its fence: highlighted on reload


def test_a_menu_closes_on_escape_and_on_a_click_elsewhere_so_two_never_overlap(open_panel):
    page, panel = open_panel(
        "menus.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    export, context = panel.locator(".snw-export-menu"), panel.locator(".snw-context-menu")
    panel.get_by_role("button", name="Export").click()
    export.wait_for()
    page.keyboard.press("Escape")  # focus is on the Export button: Escape closes its menu
    export.wait_for(state="hidden")
    panel.get_by_role("button", name="Export").click()
    export.wait_for()
    panel.get_by_role("button", name="Context").click()  # the other menu opens, this one closes
    context.wait_for()
    export.wait_for(state="hidden")
    panel.locator(".snw-log").click(position={"x": 20, "y": 20})  # a click elsewhere closes it too
    context.wait_for(state="hidden")
    panel.get_by_role("button", name="Context").click()
    panel.get_by_role("button", name="Context").click()  # its own button still toggles it
    context.wait_for(state="hidden")


def test_dock_fills_the_side_area_in_jupyterlab_and_notebook_7_says_what_to_do(open_panel):
    page, panel = open_panel(
        "dock.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"]
    )
    page.evaluate(RUN_IN_KERNEL, "side = panel.dock()")
    assert page.evaluate("() => window.snwRun")["status"] == "ok"
    docked = page.locator(".jupyterlab-sidecar .snw-panel")
    docked.wait_for(timeout=30_000)
    side = page.locator(".jupyterlab-sidecar").first.bounding_box()
    box = docked.bounding_box()
    assert box["height"] >= side["height"] - 60, (box, side)  # fills the side area's height
    toolbar = docked.locator(".snw-toolbar")
    assert toolbar.evaluate("el => getComputedStyle(el).flexWrap") == "wrap"
    assert toolbar.evaluate("el => el.scrollWidth <= el.clientWidth + 1")  # wraps, never overflows

    page7, panel7 = open_panel(
        "dock7.ipynb", ["import sensenova_widget as snw", "panel = snw.ChatPanel()\npanel"], ui="notebook"
    )
    page7.evaluate(RUN_IN_KERNEL, "panel.dock()")
    result = page7.evaluate("() => window.snwRun")
    assert result["status"] == "error" and "Notebook 7 does not have" in result["printed"], result


def test_context_chips_show_open_and_go_and_only_the_chips_present_at_send_are_sent(open_panel, lab):
    emulator = lab["emulator"]
    page, panel = open_panel(
        "context.ipynb",
        [
            "import pandas as pd\nimport sensenova_widget as snw\n"
            "sales = pd.DataFrame({'city': ['Rome', 'Oslo'], 'total': [3.5, 7.25]})",
            "panel = snw.ChatPanel()\npanel",
            "sales['missing']",  # the last error
        ],
    )
    box = panel.locator(".snw-input")
    panel.get_by_role("button", name="Context").click()
    panel.get_by_role("menuitem", name="Last error").click()
    error_chip = panel.locator(".snw-kind-context", has_text="Traceback: KeyError")
    error_chip.wait_for(timeout=30_000)
    panel.get_by_role("button", name="Context").click()
    panel.get_by_role("menuitem", name="A variable…").click()
    name = panel.get_by_label("Variable to summarize")
    name.fill("sales")
    name.press("Enter")
    sales_chip = panel.locator(".snw-kind-context", has_text="sales: DataFrame 2×2")
    sales_chip.wait_for(timeout=30_000)
    assert box.input_value() == "" and panel.locator(".snw-turn").count() == 0  # staged, nothing sent

    opener = sales_chip.locator(".snw-context-chip")  # opened from the keyboard: the exact text shown
    opener.focus()
    page.keyboard.press("Enter")
    shown = sales_chip.locator(".snw-context-text")
    shown.wait_for(state="visible")
    assert opener.get_attribute("aria-expanded") == "true"
    assert "shape (2, 2)" in shown.inner_text() and "Oslo" in shown.inner_text()
    set_theme(page, "JupyterLab Dark")
    save_screenshot(panel.locator(".snw-staged"), "context-chips-dark.png")
    set_theme(page, "JupyterLab Light")

    error_chip.get_by_role("button", name="Remove Traceback: KeyError").focus()
    page.keyboard.press("Enter")  # the × is a button: removed from the keyboard too
    error_chip.wait_for(state="detached")
    sent_before = len(emulator.requests)
    box.fill("What is the total?")
    panel.get_by_role("button", name="Send").click()
    panel.locator(".snw-streaming").wait_for(state="detached", timeout=30_000)
    panel.locator(".snw-staged-item").first.wait_for(state="detached")
    [request] = emulator.requests[sent_before:]
    sent = request["messages"][-1]["content"][-1]["text"]
    assert sent.startswith("What is the total?\n\nsales: DataFrame 2×2:\n```text\n") and "Oslo" in sent
    assert "KeyError" not in sent  # the removed chip was not sent
    assert "sales: DataFrame 2×2:" in panel.locator(".snw-user").last.inner_text()  # the history shows it

    box.click()
    page.keyboard.type("And @sa")  # @name offers the notebook's variables; Enter stages the one chosen
    panel.get_by_role("option", name="@sales").wait_for(timeout=30_000)
    page.keyboard.press("Enter")
    sales_chip.wait_for(timeout=30_000)
    assert box.input_value() == "And sales" and panel.locator(".snw-user").count() == 1  # nothing sent
    sales_chip.get_by_role("button", name="Remove sales: DataFrame 2×2").click()
    sales_chip.wait_for(state="detached")
    panel.get_by_role("button", name="Send").click()
    panel.locator(".snw-user").nth(1).wait_for(timeout=30_000)
    panel.locator(".snw-streaming").wait_for(state="detached", timeout=30_000)
    assert emulator.requests[-1]["messages"][-1]["content"][-1]["text"] == "And sales"  # chip gone: not sent
