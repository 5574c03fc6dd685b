"""The package's own surface: lazy exports resolve, and importing it loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import pytest

import blockkit


@pytest.mark.parametrize("name", sorted(blockkit._EXPORTS))
def test_every_export_resolves_to_its_module(name):
    value = getattr(blockkit, name)
    module = __import__(blockkit._EXPORTS[name], fromlist=[name])
    assert value is getattr(module, name)


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Chian'"):
        blockkit.Chian  # noqa: B018


def test_import_loads_no_heavy_dependency():
    code = (
        "import sys, blockkit; "
        "names = ('pandas', 'matplotlib', 'ipywidgets', 'Crypto'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
