"""Closed forms agree with lifetimes at the same parameters and with the paper."""

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter

from lifevalue.models import predictions as pr

BG = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = dict(p=6.25, q=3.74, gamma=15.44)


@pytest.fixture(scope="module")
def bgf():
    f = BetaGeoFitter()
    f.params_ = pd.Series(BG)
    return f


@pytest.fixture(scope="module")
def ggf():
    f = GammaGammaFitter()
    f.params_ = pd.Series(dict(p=GG["p"], q=GG["q"], v=GG["gamma"]))
    return f


def _xtT(cdnow_cal):
    return (cdnow_cal["frequency"].to_numpy(float), cdnow_cal["recency"].to_numpy(float),
            cdnow_cal["T"].to_numpy(float))


def test_published_expected_purchases():
    assert pr.expected_purchases(*BG.values(), 2, 30.43, 38.86, 39) == pytest.approx(1.226,
                                                                                  abs=5e-4)


def test_p_alive_matches_lifetimes(cdnow_cal, bgf):
    x, t_x, T = _xtT(cdnow_cal)
    ref = bgf.conditional_probability_alive(x, t_x, T)
    np.testing.assert_allclose(pr.p_alive(*BG.values(), x, t_x, T), ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("t", [1.0, 39.0, 104.0])
def test_expected_purchases_match_lifetimes(cdnow_cal, bgf, t):
    x, t_x, T = _xtT(cdnow_cal)
    ref = bgf.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
    np.testing.assert_allclose(pr.expected_purchases(*BG.values(), x, t_x, T, t), ref,
                               rtol=1e-6, atol=1e-6)


def test_new_customer_matches_lifetimes(bgf):
    t = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(pr.expected_purchases_new_customer(*BG.values(), t),
                               bgf.expected_number_of_purchases_up_to_time(t), rtol=1e-6)


def test_expected_spend_matches_lifetimes(cdnow_cal, ggf):
    x = cdnow_cal["frequency"].to_numpy(float)
    m = cdnow_cal["monetary_value"].to_numpy(float)
    rep = x > 0
    ref = ggf.conditional_expected_average_profit(pd.Series(x[rep]), pd.Series(m[rep]))
    np.testing.assert_allclose(pr.expected_spend(*GG.values(), x[rep], m[rep]), ref, rtol=1e-6)
    # no repeat purchase: the population mean p gamma / (q - 1)
    assert pr.expected_spend(*GG.values(), 0, 0) == pytest.approx(6.25 * 15.44 / 2.74)


def test_prob_no_purchase_is_a_probability_and_decreases_with_t(cdnow_cal):
    x, t_x, T = _xtT(cdnow_cal)
    short = pr.prob_no_purchase(*BG.values(), x, t_x, T, 1.0)
    long = pr.prob_no_purchase(*BG.values(), x, t_x, T, 52.0)
    assert ((0 <= long) & (long <= short) & (short <= 1)).all()
    # a dead customer never buys: P(no purchase) falls towards 1 - P(alive), never below
    far = pr.prob_no_purchase(*BG.values(), x, t_x, T, 1e9)
    dead = 1 - pr.p_alive(*BG.values(), x, t_x, T)
    assert (far <= long).all() and (far >= dead - 1e-12).all()
    rep = x > 5
    np.testing.assert_allclose(far[rep], dead[rep], atol=1e-6)


def test_predictions_broadcast_over_draws(cdnow_cal):
    x, t_x, T = _xtT(cdnow_cal)
    draws = {k: np.array([v, v * 1.1, v * 0.9])[:, None] for k, v in BG.items()}
    out = pr.p_alive(*draws.values(), x, t_x, T)
    assert out.shape == (3, len(x))
    np.testing.assert_allclose(out[0], pr.p_alive(*BG.values(), x, t_x, T))
    assert not np.allclose(out[1], out[0])


def test_p_alive_stable_for_huge_histories():
    # x = 1000 purchases long ago: the odds overflow in a naive formula
    out = pr.p_alive(*BG.values(), np.array([1000.0, 0.0]), np.array([1.0, 0.0]),
                     np.array([10_000.0, 10_000.0]))
    assert np.isfinite(out).all() and out[0] == pytest.approx(0.0, abs=1e-12) and out[1] == 1.0
