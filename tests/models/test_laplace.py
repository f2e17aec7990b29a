"""fit(method="laplace"): Laplace proposal + PSIS, k-hat, fallback to NUTS, determinism."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from lifevalue import validation as v
from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma
from lifevalue.models import laplace as lp
from lifevalue.models.base import DEFAULT_SAMPLER, LaplaceFallbackWarning
from lifevalue.models.simulation import simulate_bgnbd, simulate_gamma_gamma

PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def bg_laplace(cdnow_cal):
    return BetaGeo().fit(cdnow_cal, method="laplace", random_seed=3)


@pytest.fixture(scope="module")
def gg_laplace(cdnow_cal):
    return GammaGamma().fit(cdnow_cal, method="laplace", random_seed=3)


# ------------------------------------------------------------------ pure functions


def test_student_t_proposal_density_matches_scipy(rng):
    hess = -np.array([[4.0, 1.0], [1.0, 2.0]])
    prop = lp.laplace_proposal(np.array([0.5, -1.0]), hess, df=7.0)
    theta, log_q = lp.draw_proposal(prop, 50, rng)
    ref = st.multivariate_t(loc=prop.mean, shape=np.linalg.inv(-hess), df=7.0).logpdf(theta)
    np.testing.assert_allclose(log_q - log_q[0], ref - ref[0], atol=1e-10)
    gauss = lp.laplace_proposal(np.zeros(2), hess, df=np.inf)
    theta, log_q = lp.draw_proposal(gauss, 4000, rng)
    ref = st.multivariate_normal(np.zeros(2), np.linalg.inv(-hess)).logpdf(theta)
    np.testing.assert_allclose(log_q - log_q[0], ref - ref[0], atol=1e-10)
    np.testing.assert_allclose(np.cov(theta.T), np.linalg.inv(-hess), rtol=0.1, atol=0.02)


def test_psis_khat_small_for_a_good_proposal_and_large_for_a_light_tailed_one(rng):
    # target: standard Cauchy in 1-D
    def log_target(theta):
        return -np.log1p(theta[:, 0] ** 2)

    good = lp.laplace_psis(log_target, np.zeros(1), -np.eye(1) * 2.0, n_proposals=2000,
                           n_out=1000, rng=rng, df=1.0)
    assert good.khat < 0.5 and good.reliable
    assert good.ess > 1500
    # a Gaussian proposal under-covers the Cauchy's tails: infinite-variance weights
    bad = lp.laplace_psis(log_target, np.zeros(1), -np.eye(1) * 2.0, n_proposals=2000,
                          n_out=1000, rng=rng, df=np.inf)
    assert bad.khat > lp.KHAT_MAX and not bad.reliable


def test_systematic_resampling_keeps_every_draw_once_under_equal_weights(rng):
    idx = lp.systematic_resample(np.zeros(500), 500, rng)
    assert sorted(idx) == list(range(500))
    w = np.log(np.array([0.7, 0.2, 0.1]))
    counts = np.bincount(lp.systematic_resample(w, 1000, rng), minlength=3)
    np.testing.assert_allclose(counts, [700, 200, 100], atol=1)
    assert lp.importance_ess(np.zeros(10)) == pytest.approx(10.0)


# ---------------------------------------------------------------------- on CDNOW


def test_cdnow_laplace_reproduces_published_values_and_nuts(bg_laplace, gg_laplace,
                                                           cdnow_bg_mcmc, cdnow_gg_mcmc):
    for model, published, nuts in ((bg_laplace, PUBLISHED_BG, cdnow_bg_mcmc),
                                   (gg_laplace, PUBLISHED_GG, cdnow_gg_mcmc)):
        assert model.metadata_["method"] == "laplace"
        assert model.metadata_["draws_from"] == "laplace+psis"
        d = model.diagnostics_
        assert d["method"] == "laplace" and not d["fallback"]
        assert d["pareto_k"] < lp.KHAT_MAX and d["importance_ess"] > 600
        assert d["proposals"] == 1000
        post = model.idata_.posterior
        assert dict(post.sizes) == {"chain": 4, "draw": 500}
        summ, ref = model.summary(), nuts.summary()
        assert summ.attrs["pareto_k"] == d["pareto_k"]
        for name, value in published.items():
            assert abs(summ.loc[name, "mean"] - value) < summ.loc[name, "sd"], name
            # the same posterior as NUTS: means and 5/50/95% quantiles within a fraction
            # of a posterior sd (the sds of the right-skewed a, b and p rest on a few
            # tail draws in both, so they agree only to about 20%)
            sd = ref.loc[name, "sd"]
            assert abs(summ.loc[name, "mean"] - ref.loc[name, "mean"]) < 0.2 * sd
            ours = np.quantile(model.draws()[name], [0.05, 0.5, 0.95])
            theirs = np.quantile(nuts.draws()[name], [0.05, 0.5, 0.95])
            np.testing.assert_array_less(np.abs(ours - theirs), [0.3 * sd, 0.2 * sd, 0.4 * sd])
            assert 0.75 < summ.loc[name, "sd"] / sd < 1.25
        assert model.converged


def test_laplace_draws_work_downstream_and_survive_save_load(bg_laplace, cdnow_cal, tmp_path):
    out = bg_laplace.p_alive(cdnow_cal.head(50))
    rep = cdnow_cal.head(50)["frequency"].to_numpy() > 0
    assert (out["p_alive_param_lo"] < out["p_alive_param_hi"]).to_numpy()[rep].all()
    loaded = BetaGeo.load(bg_laplace.save(tmp_path / "bg.nc"))
    assert loaded.metadata_["draws_from"] == "laplace+psis"
    assert loaded.diagnostics_["pareto_k"] == bg_laplace.diagnostics_["pareto_k"]
    pd.testing.assert_frame_equal(loaded.p_alive(cdnow_cal.head(50)), out)


def test_seed_determinism(cdnow_cal):
    one = BetaGeo().fit(cdnow_cal, method="laplace", draws=200, random_seed=11)
    two = BetaGeo().fit(cdnow_cal, method="laplace", draws=200, random_seed=11)
    other = BetaGeo().fit(cdnow_cal, method="laplace", draws=200, random_seed=12)
    for name in BetaGeo.param_names:
        np.testing.assert_array_equal(one.idata_.posterior[name].values,
                                      two.idata_.posterior[name].values)
        assert not np.array_equal(one.idata_.posterior[name].values,
                                  other.idata_.posterior[name].values)
    assert one.diagnostics_["pareto_k"] == two.diagnostics_["pareto_k"]
    # a numpy Generator seeds the fit with the number it gives
    seed = int(np.random.default_rng(5).integers(0, 2**63))
    by_gen = BetaGeo().fit(cdnow_cal, method="laplace", draws=200,
                           random_seed=np.random.default_rng(5))
    by_int = BetaGeo().fit(cdnow_cal, method="laplace", draws=200, random_seed=seed)
    np.testing.assert_array_equal(by_gen.idata_.posterior["r"].values,
                                  by_int.idata_.posterior["r"].values)


def test_bad_proposals_option(cdnow_cal):
    with pytest.raises(v.InvalidOptionError,
                       match=r"proposals must be a whole number of at least 100, got 5"):
        BetaGeo().fit(cdnow_cal, method="laplace", proposals=5)


# ------------------------------------------------------------ recovery, fallback


def test_recovers_known_parameters_on_simulated_customers():
    rng = np.random.default_rng(404)
    n = 30_000
    bg_true = {"r": 0.5, "alpha": 8.0, "a": 0.6, "b": 3.0}
    gg_true = {"p": 5.0, "q": 4.0, "gamma": 20.0}
    T = rng.uniform(10.0, 60.0, n)
    summary = simulate_bgnbd(n, *bg_true.values(), T, rng=rng)
    summary["monetary_value"] = simulate_gamma_gamma(summary["frequency"].to_numpy(),
                                                     *gg_true.values(), rng=rng)
    for cls, truth in ((BetaGeo, bg_true), (GammaGamma, gg_true)):
        model = cls().fit(summary, method="laplace", draws=500, random_seed=5)
        assert model.metadata_["draws_from"] == "laplace+psis"
        d = model.draws()
        for name, value in truth.items():
            lo, hi = np.quantile(d[name], [0.005, 0.995])
            assert lo < value < hi, (name, lo, value, hi)


def test_high_khat_falls_back_to_nuts():
    # twelve repeat customers: the posterior of (log p, log q, log gamma) is far from
    # the Laplace approximation along the Gamma-Gamma ridge; k-hat is about 1
    rng = np.random.default_rng(2)
    x = rng.integers(1, 4, 12).astype(float)
    summary = pd.DataFrame({"frequency": x,
                            "monetary_value": simulate_gamma_gamma(x, 6.25, 3.74, 15.44,
                                                                   rng=rng)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short NUTS run, 12 points
        with pytest.warns(LaplaceFallbackWarning, match=r"Pareto k-hat \d\.\d+ > 0.7"):
            model = GammaGamma().fit(summary, method="laplace", draws=200, tune=200,
                                     random_seed=0)
    d = model.diagnostics_
    assert d["fallback"] and d["pareto_k"] > lp.KHAT_MAX
    assert model.metadata_["method"] == "laplace"
    assert model.metadata_["draws_from"] == "nuts"
    assert model.metadata_["sampler"] == DEFAULT_SAMPLER == "compiled"
    assert d["method"] == "mcmc" and "rhat_max" in d
    assert "sample_stats" in model.idata_
    assert dict(model.idata_["posterior"].sizes) == {"chain": 4, "draw": 200}
