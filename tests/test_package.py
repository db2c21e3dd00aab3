"""The package imports cheaply and exposes its public names."""

import subprocess
import sys


def test_import_pulls_in_no_heavy_modules():
    code = (
        "import sys, sensenova_widget\n"
        "heavy = [m for m in ('pandas', 'numpy', 'PIL', 'anywidget') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_name_is_an_attribute_error():
    import pytest

    import sensenova_widget as snw

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        snw.nope
