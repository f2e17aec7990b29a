"""Convergence honesty: divergences, r-hat > 1.01 and low ESS are each named in the
warning, shown at the top of the report, logged by the CLI, and make ``fit --strict``
exit 4.

The low-ESS case is a real short NUTS run (also in tests/models/test_base.py and
tests/test_cli.py). Divergences and r-hat are hard to provoke reliably in a fast real
run, so for those the diagnostics are computed by lifevalue from a posterior whose two
chains disagree and whose sampler flagged divergences: what is under test is the
diagnostics, the warning, the report and the CLI, not the sampler.
"""

import json
import re

import arviz as az
import numpy as np
import pytest
from click.testing import CliRunner

from lifevalue import cli
from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma
from lifevalue.report import build_report
from lifevalue.value import CustomerValue


def _troubled_fit(cdnow_cal, *, divergences=0, shift=0.0, draws=500, seed=0):
    """A BetaGeo whose posterior has two chains, the second shifted by ``shift`` (relative),
    and ``divergences`` flagged transitions; diagnostics computed by lifevalue."""
    est = BetaGeo().fit(cdnow_cal, method="map").point_estimate()
    rng = np.random.default_rng(seed)
    post = {}
    for name, value in est.items():
        chains = value * (1.0 + 0.02 * rng.standard_normal((2, draws)))
        chains[1] *= 1.0 + shift
        post[name] = chains
    diverging = np.zeros((2, draws), dtype=bool)
    diverging.flat[rng.choice(2 * draws, divergences, replace=False)] = True
    model = BetaGeo.from_params(est, time_unit="W")
    model.idata_ = az.from_dict({"posterior": post, "sample_stats": {"diverging": diverging}})
    model.metadata_ = dict(model.metadata_, method="mcmc", sampler="pymc")
    model.diagnostics_ = model._diagnostics()
    return model


@pytest.mark.parametrize("kwargs,problem", [
    (dict(divergences=3), r"3 divergent transitions"),
    (dict(shift=0.3), r"r-hat \d\.\d{3} > 1\.01"),
])
def test_each_problem_is_named_in_the_warning(cdnow_cal, kwargs, problem):
    model = _troubled_fit(cdnow_cal, **kwargs)
    assert not model.converged
    assert any(re.fullmatch(problem, p) for p in model.convergence_problems())
    with pytest.warns(ConvergenceWarning, match=rf"^BetaGeo MCMC did not converge: (.*; )?"
                      rf"{problem}(; .*)?\. Do not trust its intervals"):
        model._warn_if_not_converged()


def test_a_clean_posterior_is_not_flagged(cdnow_cal):
    model = _troubled_fit(cdnow_cal, draws=1000)
    assert model.converged, model.convergence_problems()
    assert model.diagnostics_["rhat_max"] < 1.01 and model.diagnostics_["divergences"] == 0


def test_report_puts_each_problem_at_the_top(cdnow_cal):
    bg = _troubled_fit(cdnow_cal, divergences=2, shift=0.3)
    gg = GammaGamma().fit(cdnow_cal, method="map")
    sub = cdnow_cal.iloc[:150]
    value = CustomerValue(bg, gg, max_draws=20, min_simulations=100).evaluate(sub)
    text = build_report(summary=sub, transactions_model=bg, spend_model=gg, value=value)
    banner = text.index('<p class="warn">Warning: the model fit did not converge (BetaGeo)')
    assert banner < text.index(">Data overview<")  # before any number
    block = text[text.index("BetaGeo did NOT converge"):]
    assert "2 divergent transitions" in block[:300] and "r-hat" in block[:300]


def test_cli_says_so_and_flags_the_saved_model(cdnow_log, tmp_path):
    """A real, too short NUTS run on 300 customers through the CLI. (``--strict`` exiting
    4 on such a run is tests/test_cli.py::test_strict_fit_that_did_not_converge...)"""
    ids = cdnow_log["customer_id"].drop_duplicates().iloc[:300]
    csv = tmp_path / "log.csv"
    cdnow_log[cdnow_log["customer_id"].isin(ids)][["customer_id", "date", "amount"]].to_csv(
        csv, index=False)
    runner = CliRunner()
    args = ["fit", str(csv), "--draws", "25", "--tune", "25", "--no-progress", "--seed", "3"]
    out = tmp_path / "model"
    result = runner.invoke(cli.main, [*args, "--out", str(out)])  # warnings are logged
    assert result.exit_code == 0, result.stderr
    assert "MCMC did not converge: " in result.stderr and "ESS" in result.stderr
    assert json.loads((out / "fit.json").read_text())["converged"] is False
    # scoring with that model says so again
    result = runner.invoke(cli.main, ["score", str(out), str(csv), "--max-draws", "10",
                                      "--margin", "0.3", "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.stderr
    assert "in the model directory did NOT converge: " in result.stderr
