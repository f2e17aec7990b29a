"""Numerical extremes: fitting and scoring return finite numbers or a clear error.

Customers with x = 0, 1 and 1000, t_x = T, t_x = 0 with x > 0, T up to 10,000 days,
spend from 0.01 to 1e7, populations of one-time buyers and of weekly buyers. Every
output column of P(alive), expected purchases (both intervals), P(no purchase),
expected spend and ``CustomerValue.evaluate`` must be finite. ``filterwarnings =
error`` also turns any overflow or invalid-value RuntimeWarning into a failure.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import lifevalue as lv
from lifevalue import validation as v
from lifevalue.models import ConvergenceWarning
from lifevalue.models import holdout as h


def _population(rng, n=300, T_max=400.0):
    """An ordinary population in days: Poisson repeats, uniform ages, Gamma spend."""
    x = rng.poisson(1.0, n)
    T = rng.uniform(30.0, T_max, n).round()
    t_x = np.where(x > 0, (T * rng.uniform(0, 1, n)).round(), 0.0)
    m = np.where(x > 0, rng.gamma(2.0, 20.0, n).round(2), 0.0)
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T, "monetary_value": m})


#: The extreme customers: x = 0, 1, 1000; t_x = T; t_x = 0 with x > 0; T = 10,000 days
EXTREME = pd.DataFrame({
    "frequency": [0, 1, 1000, 1000, 5, 3, 1, 1],
    "recency": [0.0, 50.0, 9999.0, 10000.0, 100.0, 0.0, 10000.0, 0.0],
    "T": [10000.0, 100.0, 10000.0, 10000.0, 100.0, 100.0, 10000.0, 10000.0],
    "monetary_value": [0.0, 12.0, 35.0, 80.0, 20.0, 30.0, 15.0, 40.0],
}, index=[f"x{i}" for i in range(8)])


def _with_unit(summary, unit="D"):
    summary = summary.copy()
    summary.attrs["time_unit"] = unit
    return summary


def _assert_all_finite(bg, gg, summary, t=30.0):
    frames = {
        "p_alive": bg.p_alive(summary),
        "purchases": bg.expected_purchases(summary, t),
        "p_no_purchase": bg.prob_no_purchase(summary, t),
        "spend": gg.expected_spend(summary),
    }
    value = lv.CustomerValue(bg, gg, margin=0.3, retention_cost=0.1, max_draws=50,
                             min_simulations=200).evaluate(summary, "ambitious")
    frames["value"] = value.customers.select_dtypes("number")
    frames["base"] = value.base
    for name, frame in frames.items():
        assert frame.index.equals(summary.index) or name == "base"
        bad = frame.columns[~np.isfinite(frame.to_numpy(dtype="float64")).all(axis=0)]
        assert not len(bad), f"{name}: non-finite {list(bad)}"
    p = frames["p_alive"]["p_alive_mean"]
    assert ((p >= 0) & (p <= 1)).all()
    assert (frames["purchases"]["purchases_pred_lo"] >= 0).all()
    assert (frames["spend"].iloc[:, 0] > 0).all()
    return frames


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(11)
    return _with_unit(pd.concat([_population(rng), EXTREME]))


def test_extreme_customers_in_an_ordinary_population(mixed):
    bg = lv.BetaGeo().fit(mixed, method="map")
    gg = lv.GammaGamma().fit(mixed, method="map")
    frames = _assert_all_finite(bg, gg, mixed)
    alive = frames["p_alive"]["p_alive_mean"]
    purchases = frames["purchases"]["purchases_mean"]
    # x = 0 after 10,000 days is almost surely not coming back; x = 1000 with t_x = T is
    # alive and buys about its own rate, 1000 / 10,000 a day, so about 3 in 30 days
    assert alive["x0"] == 1.0  # P(alive) of x = 0 is 1 by the model (FHL 2005a eq. 12)
    assert purchases["x0"] < 0.05
    assert alive["x3"] > 0.99 and 2.0 < purchases["x3"] < 4.0
    # x = 1000 whose last purchase was one day before T: still almost surely alive
    assert alive["x2"] > 0.9
    # one repeat, last one at the very start of 10,000 days: almost surely gone
    assert alive["x7"] < 0.01 and purchases["x7"] < 0.01


def test_small_real_mcmc_on_extreme_customers(mixed):
    with warnings.catch_warnings():
        # 1 x 200 draws is short on purpose (time); a ConvergenceWarning is allowed,
        # non-finite numbers are not
        warnings.simplefilter("ignore", ConvergenceWarning)
        bg = lv.BetaGeo().fit(mixed, draws=200, tune=200, chains=1, random_seed=5)
    draws = bg.draws()
    assert all(np.isfinite(a).all() and (a > 0).all() for a in draws.values())
    assert bg.diagnostics_["divergences"] == 0
    gg = lv.GammaGamma().fit(mixed, method="map")
    _assert_all_finite(bg, gg, mixed)


def test_almost_everyone_a_one_time_buyer():
    rng = np.random.default_rng(12)
    n = 1000
    x = np.r_[np.zeros(995, dtype=int), np.ones(5, dtype=int)]
    T = rng.uniform(10.0, 300.0, n).round()
    s = _with_unit(pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T // 2, 0.0),
                                 "T": T, "monetary_value": np.where(x > 0, 25.0, 0.0)}))
    bg = lv.BetaGeo().fit(s, method="map")
    gg = lv.GammaGamma().fit(s, method="map")
    frames = _assert_all_finite(bg, gg, s)
    # 5 repeats among 1000 customers over ~155 days: expected purchases are tiny
    assert frames["purchases"]["purchases_mean"].mean() < 0.05


def test_everyone_buys_every_week():
    rng = np.random.default_rng(13)
    n = 500
    T = 364.0 + rng.integers(0, 7, n)
    s = _with_unit(pd.DataFrame({"frequency": np.full(n, 52), "recency": np.full(n, 364.0),
                                 "T": T, "monetary_value": rng.gamma(5.0, 10.0, n)}))
    bg = lv.BetaGeo().fit(s, method="map")
    gg = lv.GammaGamma().fit(s, method="map")
    frames = _assert_all_finite(bg, gg, s, t=28.0)
    # nobody ever left: everyone alive, about 4 purchases in the next 4 weeks
    assert frames["p_alive"]["p_alive_mean"].min() > 0.99
    np.testing.assert_allclose(frames["purchases"]["purchases_mean"], 4.0, rtol=0.05)
    # the holdout simulation draws the same states: also finite, about 4 each
    sims = h.simulate_holdout_counts(bg, s, 28.0, min_simulations=200)
    assert sims.min() >= 0 and abs(sims.mean() - 4.0) < 0.2


@pytest.mark.parametrize("scale", [1e-2, 1e5])
def test_spend_from_cents_to_ten_million(scale):
    """Spend 0.01-1 and 1e5-1e7 a purchase: the spend model is scale-equivariant
    (gamma scales with the currency, p and q do not), and so are the outputs."""
    rng = np.random.default_rng(14)
    s = _population(rng)
    rep = s["frequency"] > 0
    s.loc[rep, "monetary_value"] = s.loc[rep, "monetary_value"].clip(1.0, 100.0)
    s = _with_unit(s)
    big = s.assign(monetary_value=s["monetary_value"] * scale)
    assert big.loc[rep, "monetary_value"].between(0.01 - 1e-12, 1e7).all()
    gg1, gg2 = lv.GammaGamma().fit(s, method="map"), lv.GammaGamma().fit(big, method="map")
    e1, e2 = gg1.point_estimate(), gg2.point_estimate()
    assert e2["q"] == pytest.approx(e1["q"], rel=1e-4)
    assert e2["gamma"] == pytest.approx(e1["gamma"] * scale, rel=1e-4)
    bg = lv.BetaGeo().fit(big, method="map")
    frames = _assert_all_finite(bg, gg2, big)
    np.testing.assert_allclose(frames["spend"].iloc[:, 0],
                               gg1.expected_spend(s).iloc[:, 0] * scale, rtol=1e-4)


def test_spend_with_no_finite_mean_is_a_clear_error():
    """Mean spends from 0.01 to 1e7 (log-normal, sigma 3): the Gamma-Gamma fit has q < 1,
    the population's mean spend is infinite, and a customer with x = 0 has no finite
    expected spend. That is said, not returned as a negative or infinite number."""
    rng = np.random.default_rng(15)
    n = 300
    x = rng.poisson(1.0, n)
    T = rng.uniform(30.0, 400.0, n).round()
    m = np.where(x > 0, np.clip(np.exp(rng.normal(np.log(100.0), 3.0, n)), 0.01, 1e7), 0.0)
    s = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T // 2, 0.0), "T": T,
                      "monetary_value": m})
    s = _with_unit(pd.concat([s, pd.DataFrame({
        "frequency": [2, 2], "recency": [5.0, 5.0], "T": [10.0, 10.0],
        "monetary_value": [0.01, 1e7]})], ignore_index=True))
    gg = lv.GammaGamma().fit(s, method="map")
    est = gg.point_estimate()
    assert est["q"] < 1
    msg = (r"^expected spend is infinite: the Gamma-Gamma fit has p x \+ q <= 1 for customers "
           r"with x = \[0(, \d)*\] \(q = 0\.\d+\): the population's spend per purchase has no "
           r"finite mean\. Check the monetary values for outliers or mixed units, or give q a "
           r"prior that keeps it above 1\.$")
    with pytest.raises(v.InputError, match=msg) as info:
        gg.expected_spend(s)
    assert info.value.column == "monetary_value"
    bg = lv.BetaGeo().fit(s, method="map")
    with pytest.raises(v.InputError, match=msg):
        lv.CustomerValue(bg, gg, max_draws=1).evaluate(s)
    # customers with p x + q > 1 have a finite expected spend
    rep = s[est["p"] * s["frequency"] + est["q"] > 1]
    assert len(rep) > 50
    assert np.isfinite(gg.expected_spend(rep).to_numpy()).all()


_BOUNDS_SCRIPT = """
import numpy as np, pandas as pd
import lifevalue as lv
rng = np.random.default_rng(3)
n = 300
x = np.r_[rng.poisson(1.0, n - 40), np.full(40, 120.0)]  # 40 buy every few days
T = rng.uniform(200.0, 400.0, n).round(2)
s = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, T - 1.0, 0.0), "T": T,
                  "monetary_value": np.where(x > 0, 30.0, 0.0)})
s.attrs["time_unit"] = "D"
bg = lv.BetaGeo.from_params({"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426},
                            time_unit="D")
gg = lv.GammaGamma.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
bg.expected_purchases(s, 365.0)
gg.expected_spend(s)
cv = lv.CustomerValue(bg, gg, margin=0.3, retention_cost=0.5)
cv.evaluate(s, "realistic", comparisons=True)
cv.cash_flows(s.iloc[:50], "realistic")
print("in bounds")
"""


@pytest.mark.slow
def test_compiled_kernels_stay_in_bounds_for_heavy_buyers(tmp_path):
    """The compiled kernels do not check bounds: a write past an array corrupts memory
    silently (the walk's scratch did, for a buyer with purchases in every period). Here
    they are compiled with numba's bounds checks (a fresh cache, in a subprocess) and run
    on customers who buy every few days, through every scoring path: an index past an
    array raises instead."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", _BOUNDS_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0 and "in bounds" in run.stdout, run.stderr[-2000:]
