"""ValueResult: what a notebook shows of it."""

import re

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

