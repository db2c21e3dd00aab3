"""Shared fixtures: one emulator for the session, a fresh Client pointed at it per test.

Tests talk to the emulator over real sockets on 127.0.0.1. A test that changes the shared
emulator's knobs (`emulator.configure(...)`) gets them restored afterwards; a test that needs
a server of its own starts `Emulator(**knobs)` in a `with` block.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def emulator():
    """The session's emulator (`base_url`, `file_base_url`, `api_key`, access key pair, `requests`)."""
    from sensenova_widget.emulator import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh_emulator_state(request):
    """Per test: an empty `emulator.requests` log, fresh `times` counts, knobs restored after."""
    if "emulator" not in request.fixturenames:
        yield
        return
    emu = request.getfixturevalue("emulator")
    knobs = emu.knobs
    emu.reset(files=False)
    yield
    emu.knobs = knobs


@pytest.fixture(autouse=True)
def _private_conversation_home(tmp_path_factory, monkeypatch):
    """Panels save by default: each test's go to a fresh folder, never the checkout's `.sensenova/`."""
    monkeypatch.setenv("SENSENOVA_HOME", str(tmp_path_factory.mktemp("sensenova-home")))


@pytest.fixture
def client(emulator):
    """A `sensenova_widget.Client` with the emulator's API key and URLs."""
    from sensenova_widget import Client

    return Client(api_key=emulator.api_key, base_url=emulator.base_url, file_base_url=emulator.file_base_url)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, request):
    """The panel's browser tests: one emulator, JupyterLab and Chromium per test module (a module may
    define its own `lab`, as the magic's does)."""
    from browser_helpers import lab_with_emulator

    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "root"
    with lab_with_emulator(root) as running:
        yield running


@pytest.fixture
def open_panel(lab):
    """open_panel(name, cells) -> (page, panel locator): a notebook run top to bottom, its panel shown."""
    from browser_helpers import panel_opener

    with panel_opener(lab) as opener:
        yield opener


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test (any with a `lab`) gets, before its pages close, a screenshot of each
    page and the text of any JupyterLab dialog in its report (section "browser pages")."""
    outcome = yield
    report = outcome.get_result()
    lab = getattr(item, "funcargs", {}).get("lab")
    if report.when != "call" or not report.failed or not isinstance(lab, dict) or "browser" not in lab:
        return
    from browser_helpers import report_pages

    lines = report_pages(lab["browser"], item.nodeid)
    report.sections.append(("browser pages", "\n".join(lines)))


def pytest_collection_modifyitems(items):
    """Browser and notebook tests are slow too: `-m "not slow"` leaves out all of them at once."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("notebook"):
            item.add_marker(pytest.mark.slow)
