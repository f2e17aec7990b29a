"""GammaGamma: published CDNOW numbers, the independence check, spend intervals."""

import numpy as np
import pandas as pd
import pytest
from lifetimes import GammaGammaFitter

from lifevalue import validation as v
from lifevalue.models import GammaGamma, SpendFrequencyCorrelationWarning

PUBLISHED = dict(p=6.25, q=3.74, gamma=15.44)


@pytest.fixture(scope="module")
def gg_map(cdnow_cal):
    return GammaGamma().fit(cdnow_cal, method="map")


def test_map_reproduces_published_cdnow(gg_map, cdnow_cal):
    assert {k: round(val, 2) for k, val in gg_map.point_estimate().items()} == PUBLISHED
    assert round(gg_map.loglik(cdnow_cal), 2) == -4055.92


def test_mcmc_posterior_means_within_one_sd(cdnow_gg_mcmc):
    summ = cdnow_gg_mcmc.summary()
    for name, value in PUBLISHED.items():
        assert abs(summ.loc[name, "mean"] - value) < summ.loc[name, "sd"], name
    assert cdnow_gg_mcmc.converged


def test_reports_spend_frequency_correlation(gg_map, cdnow_cal):
    corr = gg_map.spend_frequency_correlation_
    rep = cdnow_cal["frequency"] > 0
    expected = np.corrcoef(cdnow_cal.loc[rep, "frequency"],
                           cdnow_cal.loc[rep, "monetary_value"])[0, 1]
    assert corr["pearson"] == pytest.approx(expected) and corr["n"] == 946
    assert 0.1 < corr["spearman"] < 0.3  # weak on CDNOW: no warning


def test_warns_when_spend_follows_frequency(rng):
    x = rng.integers(1, 20, 500)
    m = 10.0 * x * rng.gamma(20.0, 1 / 20.0, 500)
    s = pd.DataFrame({"frequency": x, "monetary_value": m})
    with pytest.warns(SpendFrequencyCorrelationWarning, match="Spearman 0.9"):
        GammaGamma().fit(s, method="map")


def test_expected_spend_intervals(cdnow_gg_mcmc, cdnow_cal):
    out = cdnow_gg_mcmc.expected_spend(cdnow_cal, random_seed=1)
    assert list(out.columns) == ["spend_mean", "spend_param_lo", "spend_param_hi",
                                 "spend_pred_lo", "spend_pred_hi"]
    assert ((out["spend_pred_lo"] < out["spend_param_lo"])
            & (out["spend_param_hi"] < out["spend_pred_hi"])).all()
    # one-time buyers get the population mean
    once = cdnow_cal["frequency"] == 0
    assert out.loc[once, "spend_mean"].nunique() == 1


def test_point_estimate_still_gets_a_predictive_interval(gg_map, cdnow_cal):
    out = gg_map.expected_spend(cdnow_cal.iloc[:50])
    assert (out["spend_param_lo"] == out["spend_param_hi"]).all()  # no parameter uncertainty
    assert (out["spend_pred_hi"] > out["spend_pred_lo"] * 1.5).all()


def test_predictive_interval_is_that_of_the_next_amount():
    # at a point estimate the next amount is Gamma(p, nu) with nu ~ Gamma(p x + q,
    # gamma + x m): gamma + x m times a beta-prime(p, p x + q) variable. 2000 customers
    # with the same history each get 1000 simulated amounts from a stream of their own:
    # the average of their 5% and 95% quantiles is the exact one within 0.4% (measured
    # over three seeds: the bias of a sample quantile of 1000 values), and the streams
    # differ (the quantiles spread)
    from scipy import stats

    gg = GammaGamma.from_params(PUBLISHED)
    x, m, n = 3, 25.0, 2000
    s = pd.DataFrame({"frequency": np.full(n, x), "monetary_value": np.full(n, m)},
                     index=pd.RangeIndex(n, name="customer_id"))
    out = gg.expected_spend(s, random_seed=3)
    shape_nu, rate_nu = PUBLISHED["p"] * x + PUBLISHED["q"], PUBLISHED["gamma"] + x * m
    exact = rate_nu * stats.betaprime(PUBLISHED["p"], shape_nu).ppf([0.05, 0.95])
    got = out[["spend_pred_lo", "spend_pred_hi"]].mean().to_numpy()
    np.testing.assert_allclose(got, exact, rtol=0.01)
    assert out["spend_pred_hi"].std() > 0.005 * exact[1]
    # one's interval does not depend on the others scored with it, nor on chunking
    again = gg.expected_spend(s.iloc[256:512], random_seed=3, rng_offset=256,
                              chunk_size=100)
    pd.testing.assert_frame_equal(again, out.iloc[256:512])


def test_from_lifetimes(cdnow_cal):
    rep = cdnow_cal[cdnow_cal["frequency"] > 0]
    ggf = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    model = GammaGamma.from_lifetimes(ggf)
    assert model.metadata_["time_unit"] is None
    assert GammaGamma.from_lifetimes(ggf, time_unit="W").metadata_["time_unit"] == "W"
    ours = model.expected_spend(rep, predictive=False)["spend_mean"]
    ref = ggf.conditional_expected_average_profit(rep["frequency"], rep["monetary_value"])
    np.testing.assert_allclose(ours, ref, rtol=1e-9)


def test_needs_repeat_customers():
    s = pd.DataFrame({"frequency": [0, 0], "monetary_value": [0.0, 0.0]})
    with pytest.raises(v.InputError, match="Gamma-Gamma needs repeat customers"):
        GammaGamma().fit(s, method="map")


def test_zero_spend_repeat_customers_are_left_out_of_the_fit_and_still_valued(cdnow_cal):
    """A repeat customer whose purchases were free (customer 10244 of the CDNOW master
    log) cannot enter the Gamma-Gamma likelihood; the fit says so and goes on, and their
    spend posterior Gamma(p x + q, gamma + x m) still gives an expected spend."""
    from lifevalue.models import ZeroSpendWarning

    free = pd.DataFrame({"frequency": [2, 3], "recency": [10.0, 20.0], "T": [30.0, 30.0],
                         "monetary_value": [0.0, 0.0]}, index=pd.Index([90001, 90002]))
    with_free = pd.concat([cdnow_cal[free.columns], free])
    with_free.attrs = dict(cdnow_cal.attrs)
    with pytest.warns(ZeroSpendWarning, match=r"^2 repeat customers with a mean spend of 0 left "
                      r"out of the Gamma-Gamma fit .* Customer ids \(up to 5\): 90001, 90002$"):
        model = GammaGamma().fit(with_free, method="map")
    assert model.metadata_["zero_spend_customers"] == 2
    ref = GammaGamma().fit(cdnow_cal, method="map").point_estimate()
    assert model.point_estimate() == pytest.approx(ref, rel=1e-10)
    est = model.point_estimate()
    out = model.expected_spend(with_free.loc[[90001]], predictive=True)
    assert out.loc[90001, "spend_mean"] == pytest.approx(
        est["p"] * est["gamma"] / (2 * est["p"] + est["q"] - 1), rel=1e-12)
    assert 0 < out.loc[90001, "spend_pred_lo"] < out.loc[90001, "spend_pred_hi"]


@pytest.mark.parametrize("m", [[1.0, 2.0, 3.0, 5.0], [5.0, 3.0, 2.0, 1.0], [1.0, 3.0, 2.0, 5.0],
                               [2.0, 2.0, 1.0, 7.0], [1.0, 2.0, 2.0, 9.0], [9.0, 2.0, 2.0, 1.0]])
def test_spearman_equals_scipy_including_a_perfect_relation(m):
    from scipy import stats

    from lifevalue.models.gamma_gamma import _spearman

    x = np.array([1.0, 2.0, 2.0, 4.0])
    rho, p = _spearman(x, np.array(m))
    ref = stats.spearmanr(x, m)
    assert rho == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, abs=1e-12)
