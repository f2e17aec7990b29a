"""Fits recover known parameters from data simulated by the generative processes."""

import numpy as np
import pytest

from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.models.simulation import simulate_bgnbd, simulate_gamma_gamma

TRUE_BG = dict(r=0.5, alpha=8.0, a=0.8, b=2.5)
TRUE_GG = dict(p=6.0, q=4.0, gamma=15.0)


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(2005)
    n = 50_000
    T = rng.integers(7, 52 * 7 + 1, n) / 7.0  # weeks at day resolution
    s = simulate_bgnbd(n, *TRUE_BG.values(), T, rng=rng)
    s["recency"] = np.floor(s["recency"] * 7) / 7  # purchases on whole days
    s["monetary_value"] = simulate_gamma_gamma(s["frequency"], *TRUE_GG.values(), rng=rng)
    return s


def test_simulated_summary_is_valid(simulated):
    assert (simulated["recency"] <= simulated["T"]).all()
    assert ((simulated["frequency"] == 0) == (simulated["recency"] == 0)).mean() > 0.99
    assert (simulated.loc[simulated["frequency"] > 0, "monetary_value"] > 0).all()


def test_mcmc_recovers_bgnbd_parameters_at_50k(simulated):
    model = BetaGeo().fit(simulated, random_seed=3)
    summ = model.summary(ci=0.99)
    for name, value in TRUE_BG.items():
        assert summ.loc[name, "lo"] <= value <= summ.loc[name, "hi"], name
    # and the intervals are informative: narrower than half the value
    assert ((summ["hi"] - summ["lo"]) / summ["mean"]).max() < 0.5


def test_mcmc_recovers_gamma_gamma_parameters_at_50k(simulated):
    model = GammaGamma().fit(simulated, random_seed=3)
    summ = model.summary(ci=0.99)
    for name, value in TRUE_GG.items():
        assert summ.loc[name, "lo"] <= value <= summ.loc[name, "hi"], name
