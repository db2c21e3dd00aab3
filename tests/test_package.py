"""The package imports cheaply and exposes its public names."""

import subprocess
import sys

import pytest


def test_import_pulls_in_no_heavy_modules():
    code = (
        "import sys, sensenova_widget\n"
        "heavy = [m for m in ('pandas', 'numpy', 'PIL', 'anywidget') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_name_is_an_attribute_error():
    import sensenova_widget as snw

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        snw.nope


@pytest.mark.slow
def test_the_wheel_ships_the_panel_bundle_but_not_its_development_build(tmp_path):
    """`pip wheel .` from a checkout: the panel's script and stylesheet, and none of the test and
    benchmark hooks of static/widget.dev.* (built beside them for the tests)."""
    import zipfile
    from pathlib import Path

    import sensenova_widget

    root = Path(sensenova_widget.__file__).parent.parent
    if not (root / "pyproject.toml").is_file():
        pytest.skip("sensenova_widget is installed, not imported from a checkout")
    assert (root / "sensenova_widget" / "static" / "widget.dev.js").is_file()  # the checkout has it
    command = [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "-q", "-w", str(tmp_path)]
    subprocess.run(command, capture_output=True, text=True, check=True)
    (wheel,) = tmp_path.glob("sensenova_widget-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    static = sorted(name for name in names if "/static/" in name)
    assert static == ["sensenova_widget/static/widget.css", "sensenova_widget/static/widget.js"]
    assert "sensenova_widget/panel/widget.py" in names and not [n for n in names if n.startswith("tests/")]
