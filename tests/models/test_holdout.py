"""Calibrated intervals: predictive coverage, randomized PIT and the aggregate forecast.

The functions are checked on a predictive distribution known to be right (so coverage
must match and the PIT must be flat) and on one known to be wrong (so the checks can
fail), then measured on CDNOW: fit on the 39-week calibration period, predict the
39-week holdout.
"""

import numpy as np
import pytest

from lifevalue import validation as v
from lifevalue.models import holdout as h
from lifevalue.models import scoring as sc


def _poisson_case(rng, n=3000, S=2000, rate_scale=1.0):
    """Customers with Gamma-distributed rates; the predictive draws use the true rates
    times ``rate_scale`` (1.0: calibrated)."""
    rates = rng.gamma(0.8, 2.0, size=n)
    actual = rng.poisson(rates)
    sims = rng.poisson(rates * rate_scale, size=(S, n))
    return sims, actual


def test_calibrated_predictive_covers_what_it_promises(rng):
    sims, actual = _poisson_case(rng)
    table = h.interval_coverage(sims, actual)
    assert list(table.index) == [0.5, 0.8, 0.9]
    # discreteness: a central interval of whole numbers holds at least its level
    assert (table["expected_coverage"] >= table.index.to_numpy()).all()
    # 3000 independent customers: binomial SE of a coverage <= sqrt(.25/3000) = 0.009;
    # 0.03 is over 3 SE, so a calibrated model passes and a 20% rate error does not
    np.testing.assert_allclose(table["coverage"], table["expected_coverage"], atol=0.03)
    u = h.randomized_pit(sims, actual, random_seed=1)
    out = h.pit_uniformity(u)
    assert out["p_value"] > 0.001 and out["counts"].sum() == 3000
    hist = h.pit_histogram(sims, actual)
    np.testing.assert_allclose(hist / hist.mean(), 1.0, atol=0.08)  # 300 a bin: SD 5.5%


def test_overconfident_predictive_is_caught(rng):
    # predictive draws at half the true rate: too few purchases, too narrow
    sims, actual = _poisson_case(rng, rate_scale=0.5)
    table = h.interval_coverage(sims, actual)
    assert (table["coverage"] < table["expected_coverage"] - 0.05).all()
    out = h.pit_uniformity(h.randomized_pit(sims, actual))
    assert out["p_value"] < 1e-6
    assert out["counts"][-1] > 1.5 * out["expected"]  # actuals pile up in the upper tail
    hist = h.pit_histogram(sims, actual)
    assert hist[-1] > 1.5 * hist.mean() and hist[0] < 0.8 * hist.mean()
    agg = h.aggregate_forecast(sims, actual)
    assert agg["forecast"] < agg["actual"] and agg["predictive_quantile"] == 1.0


def test_randomized_pit_by_hand():
    # draws 0, 1, 1, 3: F(0) = .25, F(1) = .75; the PIT of y = 1 is uniform on [.25, .75]
    sims = np.array([[0], [1], [1], [3]] * 1)
    u = np.array([h.randomized_pit(sims, np.array([1]), random_seed=s)[0] for s in range(200)])
    assert u.min() >= 0.25 and u.max() <= 0.75 and u.std() > 0.1
    # y above every draw: F(y-1) = F(y) = 1
    assert h.randomized_pit(sims, np.array([7]))[0] == 1.0


def test_interval_coverage_by_hand():
    # one customer, draws 0..9 each once: the 50% interval (inverted CDF) is [2, 7]
    sims = np.arange(10)[:, None]
    table = h.interval_coverage(np.repeat(sims, 2, axis=1), np.array([2, 8]), levels=[0.5])
    assert table.loc[0.5, "coverage"] == 0.5  # 2 is inside (ends count), 8 is not
    assert table.loc[0.5, "expected_coverage"] == pytest.approx(0.6)  # 2..7 hold 6 of 10
    assert table.loc[0.5, "mean_width"] == 5.0


def test_aggregate_forecast_by_hand():
    sims = np.array([[0, 1], [1, 1], [2, 2], [1, 0]])
    expected = np.array([[1.0, 1.0], [1.5, 0.5], [2.0, 2.0], [0.5, 1.5]])
    agg = h.aggregate_forecast(sims, np.array([2, 1]), expected, ci=0.5)
    assert agg["actual"] == 3.0 and agg["forecast"] == pytest.approx(2.5)
    assert agg["param_lo"] == pytest.approx(2.0) and agg["param_hi"] == pytest.approx(2.5)
    assert agg["predictive_quantile"] == 0.75  # totals 1, 2, 4, 1: three below 3
    assert agg["relative_error"] == pytest.approx(-1 / 6)


@pytest.mark.parametrize("call,match", [
    (lambda: h.interval_coverage(np.zeros(3), np.zeros(3)), r"draws must be a 2-D array"),
    (lambda: h.interval_coverage(np.zeros((2, 3)), np.zeros(4)),
     r"actual has shape \(4,\) but draws have 3 customers"),
    (lambda: h.randomized_pit(np.zeros((2, 2)), np.array([1.5, 0])),
     r"actual must hold whole numbers >= 0"),
    (lambda: h.pit_uniformity(np.array([0.2, 1.2])), r"PIT values must be a non-empty 1-D"),
    (lambda: h.interval_coverage(np.zeros((2, 1)), np.zeros(1), levels=[1.0]),
     r"level must be a number strictly between 0 and 1, got 1.0"),
])
def test_bad_arguments(call, match):
    with pytest.raises(v.InvalidOptionError, match=match):
        call()


@pytest.fixture(scope="module")
def cdnow_holdout(cdnow_bg_mcmc, cdnow_cal):
    return h.holdout_report(cdnow_bg_mcmc, cdnow_cal, random_seed=3)


def test_cdnow_holdout_coverage(cdnow_holdout, cdnow_bg_mcmc, cdnow_cal):
    cov = cdnow_holdout["coverage"]
    # Measured (2 x 1000 NUTS draws): 81/93/95% covered; the model expects 82/94/96%
    # for these intervals (over-coverage from discreteness: most customers' interval is
    # [0, 0] or [0, 1], which holds far more than 50%). Tolerances:
    # * coverage >= the nominal level: the intervals do not promise more than they hold;
    # * |coverage - expected_coverage| <= 0.03: 2,357 customers give a binomial SE of
    #   0.004-0.008, and the model is known to under-forecast CDNOW's holdout a little
    #   (see the aggregate below), which costs it 1-2 points. A predictive that is 20%
    #   off in rate misses by more than 0.05 (test_overconfident_predictive_is_caught).
    assert (cov["coverage"] >= cov.index.to_numpy()).all()
    np.testing.assert_allclose(cov["coverage"], cov["expected_coverage"], atol=0.03)
    # the intervals are those the model reports to users
    sims = h.simulate_holdout_counts(cdnow_bg_mcmc, cdnow_cal, random_seed=3)
    ep = cdnow_bg_mcmc.expected_purchases(cdnow_cal, 39.0, ci=0.8, random_seed=3)
    _, lo, hi = sc.reduce_draws(sims, 0.8, discrete=True)
    np.testing.assert_array_equal(lo, ep["purchases_pred_lo"].to_numpy())
    np.testing.assert_array_equal(hi, ep["purchases_pred_hi"].to_numpy())


def test_cdnow_pit_is_close_to_flat(cdnow_holdout):
    out = cdnow_holdout["uniformity"]
    # Randomized PIT (10 bins, 2,357 customers): its noise V alone moves the chi-square
    # p-value between 0.03 and 0.92 across seeds on one and the same fit (measured, 6
    # seeds), so a bound any tighter than p > 0.001 would test the seed. A clearly
    # miscalibrated predictive (the half-rate one above) gives p < 1e-6.
    assert out["p_value"] > 0.001
    u = cdnow_holdout["pit"]
    assert len(u) == 2357 and np.all((u >= 0) & (u <= 1))
    # The non-randomized histogram has no such noise and is the same for every seed to
    # 0.01: measured 0.94 in the lowest bins rising to 1.08 in the highest, a mild slope
    # (actual counts sit a little high in their predictive distributions: the model
    # under-forecasts CDNOW's holdout, see the aggregate below). Tolerance +-12%.
    hist = cdnow_holdout["pit_histogram"]
    assert hist.sum() == pytest.approx(2357)
    ratio = hist / hist.mean()
    assert np.all(np.abs(ratio - 1.0) < 0.12), ratio
    assert ratio[5:].sum() > ratio[:5].sum()  # the slope, stated


def test_cdnow_aggregate_forecast(cdnow_holdout):
    agg = cdnow_holdout["aggregate"]
    assert agg["actual"] == 1882
    # what must hold for any reasonable model: the level within 20%, and intervals
    # around the forecast
    assert abs(agg["relative_error"]) < 0.2
    assert agg["param_lo"] < agg["forecast"] < agg["param_hi"]
    assert agg["pred_lo"] < agg["forecast"] < agg["pred_hi"]


def test_cdnow_aggregate_underforecast_snapshot(cdnow_holdout):
    """Regression snapshot, not a requirement: the BG/NBD's known miss on CDNOW.

    Measured: 1,620 forecast (parameter interval 1,480-1,750) vs 1,882 actual, -14%. The
    total's 90% predictive interval (about 1,445-1,786) does NOT contain the actual:
    BG/NBD's stationary rates miss some of CDNOW's holdout activity, and the interval of
    a sum over 2,357 customers is narrow. A change that moves these numbers changes the
    model's forecast: update the snapshot only with a reason (a better model should).
    """
    agg = cdnow_holdout["aggregate"]
    assert -0.2 < agg["relative_error"] < -0.05
    assert agg["predictive_quantile"] > 0.95
