"""ValueResult: what a notebook shows of it, and the value of each group of the matrix."""

import re

import numpy as np
import pytest

from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.value import CustomerValue


@pytest.fixture(scope="module")
def result(cdnow_cal):
    bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                             time_unit="W")
    gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44}, time_unit="W")
    return CustomerValue(bg, gg, margin=0.3, retention_cost=0.5).evaluate(
        cdnow_cal.iloc[:300], "realistic", comparisons=True)


def test_repr_is_a_short_summary_of_the_base_and_the_matrix(result):
    text = repr(result)
    lines = text.splitlines()
    assert lines[0] == ("ValueResult: 300 customers, 12 periods of 'M', 90% intervals, "
                        "potential 'realistic' (values in currency over the horizon, "
                        "discounted)")
    base = result.base
    for name in ("current", "potential", "growth"):
        row = next(line for line in lines if line.startswith(name))
        numbers = [float(n.replace(",", "")) for n in re.findall(r"-?[\d,]+\.\d\d", row)]
        want = [base.loc[name, k] for k in ("mean", "param_lo", "param_hi", "pred_lo",
                                            "pred_hi")]
        assert numbers == pytest.approx(want, abs=0.006)
    counts = result.customers["cell"].value_counts()
    assert (f"matrix (from the mean values): retain {counts['retain']:,}, develop "
            f"{counts['develop']:,}, phase_out {counts['phase_out']:,}") in lines
    assert lines[-1].endswith("lorenz, pyramid")
    assert len(lines) == 7  # not the frames



def test_cell_values_add_up_to_the_base_and_to_the_customers(result):
    cells = result.cell_values()
    c = result.customers
    assert list(cells.index) == ["retain", "develop", "phase_out"]
    for cell in cells.index:
        members = c[c["cell"] == cell]
        assert cells.loc[cell, "customers"] == len(members)
        for q in ("current", "potential", "growth"):
            assert cells.loc[cell, f"{q}_mean"] == pytest.approx(members[f"{q}_mean"].sum(),
                                                                 rel=1e-9, abs=1e-9)
            assert (cells.loc[cell, f"{q}_pred_lo"] <= cells.loc[cell, f"{q}_mean"]
                    <= cells.loc[cell, f"{q}_pred_hi"]) or len(members) < 5
    for key, total in result.draw_totals.items():
        summed = sum(result.cell_totals[(cell, *key)] for cell in cells.index)
        np.testing.assert_allclose(summed, total, rtol=1e-12, atol=1e-9)
