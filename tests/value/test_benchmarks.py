"""Benchmark headroom, matrix thresholds fixed by the model, and comparisons between
customers from the posterior draws."""

import numpy as np
import pandas as pd
import pytest

from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.value import CustomerValue, Scenario
from lifevalue.value import benchmarks as bm
from lifevalue.value.comparisons import LEVELS, prob_more_valuable, rank_of_mean

DEMO = dict(margin=0.3, retention_cost=0.5, period="M", horizon=12, annual_discount_rate=0.10)


@pytest.fixture(scope="module")
def maps(cdnow_cal):
    return BetaGeo().fit(cdnow_cal, method="map"), GammaGamma().fit(cdnow_cal, method="map")


@pytest.fixture(scope="module")
def demo(maps, cdnow_cal):
    return CustomerValue(*maps, **DEMO).evaluate(cdnow_cal, "realistic", comparisons=True)


def test_neutral_benchmark_gives_potential_equal_to_current(maps, cdnow_cal):
    c = CustomerValue(*maps, **DEMO).evaluate(cdnow_cal.iloc[::7], "neutral",
                                              comparisons=False).customers
    for kind in ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi", "p_negative"):
        np.testing.assert_array_equal(c[f"potential_{kind}"], c[f"current_{kind}"])


def test_higher_benchmark_never_lowers_potential(maps, cdnow_cal):
    sub = cdnow_cal.iloc[::7]
    cv = CustomerValue(*maps, **DEMO)
    means = [cv.evaluate(sub, Scenario(benchmark_rate=q, benchmark_spend=q,
                                       benchmark_retention=q), comparisons=False
                         ).customers["potential_mean"] for q in (0.25, 0.5, 0.75, 0.9)]
    current = cv.evaluate(sub, "neutral", comparisons=False).customers["current_mean"]
    assert (means[0] >= current - 1e-9).all()
    for lo, hi in zip(means[:-1], means[1:], strict=True):
        assert (hi >= lo - 1e-9).all()
    assert (means[-1] > means[0]).mean() > 0.5


def test_low_rate_customer_gets_the_larger_growth_room(maps):
    # the same history length and spend, one with few purchases (a low rate posterior,
    # and a lower P(alive)) and one with many: the low one has more room all the same
    summary = pd.DataFrame({"frequency": [2, 20], "recency": [30.0, 30.0], "T": [30.0, 30.0],
                            "monetary_value": [30.0, 30.0]}, index=["low", "high"])
    summary.attrs["time_unit"] = "W"
    c = CustomerValue(*maps, **DEMO).evaluate(summary, "realistic", comparisons=False).customers
    assert c.loc["low", "p_alive_mean"] > 0.5
    low = c.loc["low", "potential_mean"] / c.loc["low", "current_mean"]
    high = c.loc["high", "potential_mean"] / c.loc["high", "current_mean"]
    assert low > high >= 1.0


def test_benchmark_quantiles_per_draw():
    from scipy import stats

    bg = {k: np.array([v, v * 1.1]) for k, v in dict(r=0.243, alpha=4.414, a=0.793,
                                                        b=2.426).items()}
    gg = {k: np.array([v, v]) for k, v in dict(p=6.25, q=3.74, gamma=15.44).items()}
    b = bm.population_benchmarks(bg, gg, 0.75, 0.75, 0.75)
    np.testing.assert_allclose(b["rate"], stats.gamma.ppf(0.75, bg["r"], scale=1 / bg["alpha"]))
    nu = stats.gamma.ppf(0.25, gg["q"], scale=1 / gg["gamma"])
    np.testing.assert_allclose(b["spend"], gg["p"] / nu)
    np.testing.assert_allclose(b["dropout"], stats.beta.ppf(0.25, bg["a"], bg["b"]))
    # one-time buyers: the weight falls with the silence since the first purchase
    w = bm.evidence_weight(b["rate"], bg["r"][:, None], bg["alpha"][:, None],
                           np.array([0.0, 0.0, 3.0]), np.array([1.0, 40.0, 40.0]))
    assert (w[:, 0] > w[:, 1]).all() and (w[:, 2] == 1).all()


def test_develop_cell_on_cdnow(demo, cdnow_cal):
    c = demo.customers
    develop = c["cell"] == "develop"
    assert develop.sum() > 0.05 * len(c)
    # likely active, below the benchmark: real growth room, and repeat customers
    assert c.loc[develop, "p_alive_mean"].median() > 0.5
    assert (c.loc[develop, "growth_mean"] > 0).all()
    assert (cdnow_cal.loc[develop[develop].index, "frequency"] > 0).all()
    # potential is no constant multiple of current value
    ratio = (c["potential_mean"] / c["current_mean"])[c["current_mean"] > 1]
    assert ratio.std() > 0.1
    probs = c[["p_retain", "p_develop", "p_phase_out"]].sum(axis=1)
    np.testing.assert_allclose(probs, 1.0, rtol=1e-12)


def test_develop_probability_on_cdnow_posterior(cdnow_bg_mcmc, cdnow_gg_mcmc, cdnow_cal):
    """With the posterior (not a point estimate), the develop cell is a confident call
    for a real share of customers: likely active repeat buyers whose rate or spend is
    below the realistic benchmark."""
    cv = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, random_seed=3, **DEMO)
    c = cv.evaluate(cdnow_cal, "realistic").customers
    sure = c["p_develop"] >= 0.5
    assert sure.mean() >= 0.01
    assert c.loc[sure, "p_alive_mean"].median() > 0.5
    rows = cdnow_cal.loc[sure[sure].index]
    assert (rows["frequency"] > 0).all()
    # below the benchmark in rate or spend, at the posterior mean of the parameters
    bgp, ggp = cdnow_bg_mcmc.point_estimate(), cdnow_gg_mcmc.point_estimate()
    bench = bm.population_benchmarks({k: np.array([v]) for k, v in bgp.items()},
                                     {k: np.array([v]) for k, v in ggp.items()},
                                     0.75, 0.75, None)
    rate = (bgp["r"] + rows["frequency"]) / (bgp["alpha"] + rows["T"])
    x, m = rows["frequency"], rows["monetary_value"]
    spend = (ggp["p"] * (ggp["gamma"] + x * m)) / (ggp["p"] * x + ggp["q"] - 1)
    below = (rate < bench["rate"][0]) | (spend < bench["spend"][0])
    assert below.all()
    # the cell probabilities are those of the expectations at each draw: they agree
    # with the cell of the mean values for most customers
    assert (c["most_likely_cell"] == c["cell"]).mean() > 0.95


def test_thresholds_do_not_depend_on_who_is_scored(maps, cdnow_cal):
    cv = CustomerValue(*maps, **DEMO)
    whole = cv.evaluate(cdnow_cal, "realistic", comparisons=False)
    half = cdnow_cal.sample(frac=0.5, random_state=1)
    part = cv.evaluate(half, "realistic", comparisons=False)
    assert part.assumptions["thresholds"] == whole.assumptions["thresholds"]
    pd.testing.assert_series_equal(part.customers["cell"],
                                   whole.customers.loc[half.index, "cell"])
    # a stated amount, per period
    fixed = cv.evaluate(half, "neutral", thresholds={"current": 1.0, "potential": 2.0,
                                                     "per_period": True}, comparisons=False)
    d = cv.grid.discount.sum()
    assert fixed.assumptions["thresholds"] == pytest.approx({"current": d, "potential": 2 * d})


def test_rank_and_level_probabilities(demo):
    c = demo.customers
    levels = c[[f"p_{lv}" for lv in LEVELS]].sum(axis=1)
    np.testing.assert_allclose(levels, 1.0, rtol=1e-12)
    n = len(c)
    assert ((c["rank_param_lo"] >= 1) & (c["rank_pred_hi"] <= n)).all()
    # ranks come from per-draw histograms: exact up to the customers sharing a bin
    tol = 0.05 * n
    inside = (c["rank_param_lo"] - tol <= c["rank_mean"]) & (c["rank_mean"]
                                                            <= c["rank_param_hi"] + tol)
    assert inside.mean() > 0.97
    # expected counts per level are the levels' shares of the active customers
    pyr = demo.pyramid
    assert pyr["expected_customers"].sum() == pytest.approx(n)
    active = n - pyr.loc["inactive", "expected_customers"]
    assert pyr.loc["top", "expected_customers"] == pytest.approx(0.01 * active, rel=0.25)
    assert pyr["share_of_value"].sum() == pytest.approx(1.0)
    assert (pyr["negative_value"] <= 0).all()
    # P(top 20%) agrees with the predictive ranks: about 20% of customers in expectation
    assert c["p_top20"].sum() == pytest.approx(0.2 * n, rel=0.1)


def test_lorenz_band_contains_the_curve_of_the_mean(demo):
    from lifevalue.segments.concentration import lorenz_curve

    curve = lorenz_curve(demo.customers["current_mean"])
    band = demo.lorenz[demo.lorenz["kind"] == "param"]
    at = np.interp(band["customer_share"], curve["customer_share"], curve["value_share"])
    assert ((band["lo"] - 0.02 <= at) & (at <= band["hi"] + 0.02)).all()
    share = demo.top_share()
    assert share["lo"] <= share["mean"] <= share["hi"]


def test_prob_more_valuable(maps, cdnow_cal):
    cv = CustomerValue(*maps, **DEMO)
    a, b = cdnow_cal.index[:2]
    for kind in ("param", "pred"):
        ab = cv.prob_more_valuable(cdnow_cal, a, b, kind=kind)
        ba = cv.prob_more_valuable(cdnow_cal, b, a, kind=kind)
        assert ab + ba == pytest.approx(1.0)
    assert prob_more_valuable([1.0, 2.0], [2.0, 1.0]) == 0.5
    assert rank_of_mean([3.0, 1.0, 2.0]).tolist() == [1.0, 3.0, 2.0]
