"""Every notebook under notebooks/ runs top to bottom in a real kernel, with no credentials.

Exactly what a newcomer gets: no SenseNova key in the environment, so each notebook's first
cell starts the local emulator (`snw.connect()`). Any error output fails the test.
"""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
OUTPUT = ROOT / "test-output" / "notebooks"
CREDENTIALS = (
    "SENSENOVA_API_KEY",
    "SENSENOVA_ACCESS_KEY_ID",
    "SENSENOVA_SECRET_ACCESS_KEY",
    "SENSENOVA_API_BASE",
    "SENSENOVA_API_BASE_FILE",
)


def problems(nb) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr" and "Traceback" in output.text:
                found.append(f"cell {index}: traceback on stderr:\n{output.text[-2000:]}")
    return found


def said_by(cell) -> str:
    return " ".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", [])
    )


def check_chat_panel(nb) -> None:
    """The tour ends with its panel still holding the conversation: Clear is shown on another one."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert not any(
        "panel.clear()" in line and not line.lstrip().startswith("#")
        for cell in code
        for line in cell.source.splitlines()
    )
    found = re.search(r"(\d+) messages after clear\(\); (\d+) in the panel above", said_by(code[-1]))
    assert found and found.group(1) == "0" and int(found.group(2)) >= 4, said_by(code[-1])


def check_captioning(nb) -> None:
    """Its own fresh cache: the first run asks for every row, the second serves them from the cache."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    [summary] = [cell for cell in code if cell.source.strip() == 'captioned.attrs["sensenova_summary"]']
    assert re.search(r"'from_cache': 0\b", said_by(summary)), said_by(summary)
    [again] = [cell for cell in code if "again = " in cell.source]
    found = re.search(r"(\d+) rows came from the cache", said_by(again))
    assert found and int(found.group(1)) >= 5, said_by(again)
    assert all("cache=cache" in cell.source for cell in code if "caption(" in cell.source)


def check_quickstart(nb) -> None:
    """The captions table is whole: line breaks kept (no literal \\n), wrapped, thumbnails beside."""
    [shown] = [cell for cell in nb.cells if "show_captions(" in cell.source]
    [page] = [o["data"]["text/html"] for o in shown.outputs if "text/html" in o.get("data", {})]
    assert page.count('<img src="data:image/') == 3 and "<br>image 1: " in page and "\\n" not in page


def check_extract(nb) -> None:
    """Exact values checked against the pixels, and the second run served wholly from the cache."""
    said = " ".join(said_by(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "every value as the pixels say" in said and "0 rows failed" in said
    found = re.search(r"(\d+) rows came from the cache", said)
    assert found and int(found.group(1)) == 8, said[-2000:]


CHECKS = {
    "chat_panel": check_chat_panel,
    "captioning": check_captioning,
    "quickstart": check_quickstart,
    "extract": check_extract,
}


@pytest.mark.notebook
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_credentials(path, tmp_path, monkeypatch):
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # caption() cache, away from the user's
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUTPUT / path.name)
    assert problems(nb) == []
    said = " ".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        for o in cell.get("outputs", [])
    )
    assert "local emulator" in said, "the notebook should say it fell back to the local emulator"
    CHECKS.get(path.stem, lambda nb: None)(nb)
