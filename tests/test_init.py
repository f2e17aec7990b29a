"""The package's top level: what ``import lifevalue`` gives."""

import subprocess
import sys

import pytest


def test_submodules_are_there_without_an_explicit_import():
    code = ("import lifevalue as lv, sys; assert 'lifevalue.plots' not in sys.modules; "
            "print(lv.plots.plot_lorenz.__name__, lv.report.write_report.__name__, "
            "lv.segments.customer_pyramid.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["plot_lorenz", "write_report", "customer_pyramid"]


def test_unknown_attributes_still_raise():
    import lifevalue as lv

    with pytest.raises(AttributeError, match="^module 'lifevalue' has no attribute 'plotz'$"):
        lv.plotz  # noqa: B018
