"""A real JupyterLab and Debian's Chromium for the panel's end-to-end tests and benchmark.

`jupyterlab(root, env)` starts `jupyter lab` on a free port with an empty token, settings that
keep it off the internet (no news, no update check) and widget state saved into the notebook;
`chromium()` launches /usr/bin/chromium through Playwright (its own browser download cannot
work here). `open_notebook` / `run_all` drive the page as a person would.

On a loaded 2-core machine JupyterLab's page can open a notebook before it has fetched the kernel
specs; it then cannot pick the notebook's kernel and asks in a "Select Kernel" dialog (its
cancel button reads "No Kernel") that covers the notebook. `open_notebook` starts the notebook's
session through the server's REST API first, so the page connects to that kernel and never asks.
A helper that fails on a page saves a screenshot and names any dialog on it (`diagnosed`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "browser"

# A notebook's first cell when it reads the panel's test hooks (`el.snwStats`): the kernel then
# serves the development build, static/widget.dev.js; every other notebook gets the shipped one.
DEV_BUILD_CELL = (
    "from sensenova_widget import ChatPanel\n"
    "ChatPanel.development_bundle = True  # the panel's development build, with its hooks"
)

LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"theme": "JupyterLab Light"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # every cell stays in the page (no windowing), so a widget below the fold is still "visible"
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _settings_dir(root: Path) -> Path:
    return root.parent / (root.name + "-settings")


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None. In CI a missing browser is a failure."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing"
    return None


def require_chromium() -> None:
    """Skip (locally) or fail (in CI, env CI set) when the browser tests cannot run."""
    import pytest

    reason = chromium_missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)


@contextlib.contextmanager
def lab_with_emulator(root: Path) -> Iterator[dict]:
    """An emulator, a JupyterLab whose kernels talk to it, and Chromium: one of each per module.

    Yields {"url", "root", "browser", "emulator"}; the kernels get the emulator's address and key
    from the environment, as a person's kernel gets the real service's.
    """
    require_chromium()
    from sensenova_widget.emulator import Emulator

    root.mkdir(parents=True, exist_ok=True)
    with Emulator() as emu:
        env = {
            "SENSENOVA_API_BASE": emu.base_url,
            "SENSENOVA_API_BASE_FILE": emu.file_base_url,
            "SENSENOVA_API_KEY": emu.api_key,
            "SENSENOVA_ACCESS_KEY_ID": "",
            "SENSENOVA_SECRET_ACCESS_KEY": "",
        }
        with jupyterlab(root, env) as url, chromium() as browser:
            yield {"url": url, "root": root, "browser": browser, "emulator": emu}


@contextlib.contextmanager
def panel_opener(lab: dict) -> Iterator[object]:
    """Yields opener(name, cells, ui="lab") -> (page, panel locator): a notebook written, opened in
    its own page (JupyterLab's, or Notebook 7's with ui="notebook"), run top to bottom, its (last)
    panel shown; every page is closed afterwards."""
    pages = []

    def opener(name: str, cells: list[str], ui: str = "lab"):
        write_notebook(lab["root"] / name, cells)
        page = lab["browser"].new_page(viewport={"width": 1280, "height": 1000})
        pages.append(page)
        open_notebook(page, lab["url"], name, ui=ui)
        run_all(page)
        panel = page.locator(".jp-Notebook:visible .snw-panel").last
        panel.wait_for(timeout=60_000)
        wait_cells_ran(page)
        panel.scroll_into_view_if_needed()
        return page, panel

    try:
        yield opener
    finally:
        for page in pages:
            page.close()


def send_and_watch_it_stream(page, panel, text: str):
    """Type `text` in the panel, press Enter and wait until its reply has streamed some text; the
    streaming reply's locator."""
    box = panel.locator(".snw-input")
    box.fill(text)
    box.press("Enter")
    streaming = panel.locator(".snw-assistant .snw-streaming")
    streaming.wait_for(timeout=30_000)
    page.wait_for_function("el => el.textContent.length > 40", arg=streaming.element_handle(), timeout=30_000)
    return streaming


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict[str, str]) -> Iterator[str]:
    """Run JupyterLab serving `root` with `env` (which its kernels inherit); yields its URL."""
    settings = _settings_dir(root)
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port = free_port()
    log = open(root.parent / (root.name + "-jupyterlab.log"), "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={settings / 'workspaces'}",
            "--LabServerApp.open_browser=False",
            # window.jupyterapp: the helpers read the notebook's kernel connection from the page
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, url + "/api/status", "jupyter lab", log.name)
        yield url
    finally:
        _shutdown_kernels(url)
        stop_server(process)
        log.close()


def stop_server(process: subprocess.Popen) -> None:
    """Terminate a server the test started, killing it if it has not exited 15 s later."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def wait_until_serving(process: subprocess.Popen, url: str, name: str, log: str) -> None:
    """Wait (90 s at most) until `url` answers; raise, pointing at the log, if the server exits first."""
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within 90 s; see {log}") from None
            time.sleep(0.3)


def _shutdown_kernels(url: str) -> None:
    try:
        with urllib.request.urlopen(url + "/api/kernels", timeout=5) as response:
            kernels = json.load(response)
        for kernel in kernels:
            request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}", method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A Playwright Chromium browser (Debian's build)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def start_kernel(url: str, name: str, kernel: str = "python3") -> str:
    """Start (or find) the session of notebook `name` through the server's REST API; its kernel id.

    A page opening a notebook that already has a session connects to its kernel; left to start
    one itself, it needs the kernel specs first and, when they are late, asks "Select Kernel".
    """
    body = {"path": name, "name": name, "type": "notebook", "kernel": {"name": kernel}}
    request = urllib.request.Request(
        url + "/api/sessions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)["kernel"]["id"]


# The page's own view of its notebook's kernel: connected (websocket open) and idle. JupyterLab's
# execution indicator says "idle" before a notebook has any kernel, so it cannot tell this.
KERNEL_CONNECTED_AND_IDLE = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
        && widget.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


@contextlib.contextmanager
def diagnosed(page, what: str) -> Iterator[None]:
    """Run a step on `page`; if it fails, save a screenshot and raise naming any JupyterLab dialog
    on the page, so an intermittent failure says what covered the notebook."""
    try:
        yield
    except Exception as error:
        dialogs = dialog_texts(page)
        shot = _failure_screenshot(page, what)
        raise AssertionError(f"{what} failed; dialogs on the page: {dialogs or 'none'}; {shot}") from error


def open_notebook(page, url: str, name: str, ui: str = "lab") -> None:
    """Open a notebook (alone in its own workspace in JupyterLab, `ui="lab"`, or in Notebook 7's
    page, `ui="notebook"`) with its kernel already started, and wait until the page is connected
    to that kernel and it is idle."""
    start_kernel(url, name)
    if ui == "lab":
        workspace = name.replace(".", "-")
        address = f"{url}/lab/workspaces/{workspace}/tree/{name}?reset"
    else:
        address = f"{url}/notebooks/{name}"
    with diagnosed(page, f"opening {name}"):
        page.goto(address)
        page.wait_for_selector(".jp-Notebook:visible", timeout=120_000)
        page.wait_for_function(KERNEL_CONNECTED_AND_IDLE, timeout=120_000)
        wait_kernel_idle(page)


def wait_kernel_idle(page, timeout: float = 120_000) -> None:
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout)


def wait_cells_ran(page, timeout: float = 120_000) -> None:
    """Wait until every code cell of the open notebook shows an execution count and its kernel is
    idle: the kernel reports idle between two queued cells, so idle alone does not mean done."""
    with diagnosed(page, "waiting for the notebook's cells to run"):
        page.wait_for_function(
            """() => {
                const widget = window.jupyterapp.shell.currentWidget;
                const prompts = [...widget.node.querySelectorAll(".jp-CodeCell .jp-InputPrompt")];
                return prompts.every((prompt) => /\\[\\d+\\]/.test(prompt.textContent));
            }""",
            timeout=timeout,
        )
        wait_kernel_idle(page, timeout)


def run_all(page) -> None:
    """Run every cell of the open notebook through JupyterLab's Run menu.

    A click made while the kernel's websocket is still connecting can be lost: try again
    until the first cell shows it ran (or is running).
    """
    first_prompt = page.locator(".jp-Notebook:visible .jp-CodeCell .jp-InputPrompt").first  # not Markdown
    with diagnosed(page, "Run All Cells"):
        for _ in range(5):
            page.click(".jp-Notebook:visible")
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if first_prompt.inner_text().strip() not in ("[ ]:", ""):
                    return
                time.sleep(0.2)
        raise AssertionError("JupyterLab did not start running the notebook's cells")


# Two animation frames (what a change rendered is in the page and its fetches are sent), then every
# image loaded or failed: a condition, where a fixed sleep would only guess.
_SETTLED = """() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(
    () => done([...document.images].every(image => image.complete)))))"""


def settle(page) -> None:
    """Wait until the page has rendered what it holds and each image it asked for has arrived or
    failed, so any request a render made has been sent and any handler it triggered has run."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(_SETTLED, timeout=30_000)


def wait_saved(path: Path, needle: str, what: str) -> str:
    """The file's text once it holds `needle` (JupyterLab saves asynchronously after Ctrl+S)."""
    deadline = time.monotonic() + 90
    while needle not in (text := path.read_text()):
        assert time.monotonic() < deadline, f"the notebook was not saved with {what}"
        time.sleep(0.3)
    return text


def set_theme(page, theme: str) -> None:
    """Switch JupyterLab's theme ("JupyterLab Light" / "JupyterLab Dark") from the command palette."""
    page.keyboard.press("Control+Shift+c")
    palette = page.locator(".lm-CommandPalette-input:visible")
    palette.wait_for(timeout=60_000)
    palette.fill(f"Use Theme: {theme}")
    page.keyboard.press("Enter")
    light = "false" if "Dark" in theme else "true"
    page.wait_for_selector(f"body[data-jp-theme-light='{light}']", state="attached", timeout=30_000)
    page.wait_for_timeout(500)  # let the new theme's CSS variables settle before a screenshot


def dialog_texts(page) -> list[str]:
    """The text of every JupyterLab dialog (`.jp-Dialog`) open in `page`, title first."""
    try:
        return [text.strip() for text in page.locator(".jp-Dialog").all_inner_texts()]
    except Exception as error:  # a closed or crashed page: say so rather than hide the test's failure
        return [f"(could not read the page's dialogs: {error})"]


def _failure_screenshot(page, what: str) -> str:
    """A full-page screenshot under test-output/browser/ named after `what`; where it went, in words."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in what)[:120]
    path = OUTPUT / f"failure-{safe}-{int(time.time() * 1000)}.png"
    try:
        page.screenshot(path=str(path), full_page=True, timeout=15_000)
    except Exception as error:  # a closed or crashed page
        return f"no screenshot ({error})"
    return f"screenshot {path}"


def report_pages(browser, test_name: str) -> list[str]:
    """After a browser test failed: a screenshot of every page still open and the text of any
    JupyterLab dialog on it; one line per page (its URL, screenshot and dialogs)."""
    pages = [page for context in browser.contexts for page in context.pages if not page.is_closed()]
    return [
        f"{page.url}: {_failure_screenshot(page, test_name)}; dialogs: {dialog_texts(page) or 'none'}"
        for page in pages
    ]


def save_screenshot(locator, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / name
    locator.screenshot(path=str(path))
    return path


def copy_to_docs(path: Path, name: str) -> None:
    """Refresh the README's screenshot docs/<name> only when asked (SNW_UPDATE_SCREENSHOTS=1) or
    when it is missing, so a test run leaves the committed tree unchanged."""
    target = ROOT / "docs" / name
    if os.environ.get("SNW_UPDATE_SCREENSHOTS") == "1" or not target.exists():
        shutil.copyfile(path, target)


@contextlib.contextmanager
def stranger() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request it gets (and answers 200)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(f"{self.command} {self.path}")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def panel_with_saved_replies(texts: list[str]) -> str:
    """A cell that saves `texts` as finished replies of a named conversation and opens a panel on
    it: the panel shows them as it shows any saved conversation (the kernel's own turns)."""
    return (
        "import json\n"
        "from sensenova_widget.conversation.store import open_store\n"
        "from sensenova_widget.conversation.turns import Answer, Turn\n"
        "store = open_store()\n"
        f"for i, text in enumerate(json.loads({json.dumps(json.dumps(texts))})):\n"
        "    answer = Answer(text, finish_reason='stop', model='m')\n"
        "    store.save('hostile-replies', Turn(f'payload {i}', answers=(answer,)))\n"
        "panel = snw.ChatPanel(name='hostile-replies')\n"
        "panel"
    )
