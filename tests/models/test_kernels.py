"""Compiled kernels: the vectorised exp/log are exact to a few ulp, the kernels equal the
NumPy likelihoods, and ``sampler="compiled"`` is a real NUTS fit of the same posterior."""

import numba
import numpy as np
import pandas as pd
import pytest

from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.models import kernels as K
from lifevalue.models import likelihoods as L

BG = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = dict(p=6.25, q=3.74, gamma=15.44)
BG_POINTS = [tuple(BG.values()), (2.0, 0.5, 0.3, 0.7), (0.05, 40.0, 5.0, 50.0),
             (50.0, 0.01, 0.01, 100.0), (0.01, 500.0, 20.0, 0.05)]
GG_POINTS = [tuple(GG.values()), (0.5, 20.0, 300.0), (0.5, 200.0, 1e-3), (100.0, 0.3, 0.01)]


@numba.njit(error_model="numpy", fastmath=K._FASTMATH)
def _elementwise(y, d, z):
    """The inlined functions over arrays, under the kernels' own fast-math flags."""
    exp, log = np.empty(len(y)), np.empty(len(z))
    softplus, sigmoid = np.empty(len(d)), np.empty(len(d))
    for i in range(len(y)):
        exp[i] = K._exp_nonpositive(y[i])
    for i in range(len(d)):
        softplus[i], sigmoid[i] = K._softplus_sigmoid(d[i])
    for i in range(len(z)):
        log[i] = K._log_positive(z[i])
    return exp, softplus, sigmoid, log


def test_exp_log_softplus_within_a_few_ulp(rng):
    n = 20_000
    y = np.concatenate([-rng.uniform(0, 708, n), -np.abs(rng.normal(0, 3, n)),
                        -np.log(2) * (np.arange(n) / 2.0) % 700,  # k log 2 and halfway
                        [0.0, -0.0, -1e-300, -np.log(2) / 2, -708.0]])
    y = -np.abs(y)
    d = np.concatenate([rng.normal(0, 5, 3 * n), rng.uniform(-800, 800, 2 * n),
                        [0.0, 1e-300, -1e-300, 0.881373587019543, -0.881373587019543, 36.0,
                         -36.0, 745.0, -745.0]])
    z = np.concatenate([np.exp(rng.uniform(-700, 700, 2 * n)), rng.uniform(0.5, 2.0, 2 * n),
                        [1.0, 2.0, 0.5, np.sqrt(2), np.nextafter(np.sqrt(2), 2), 1e-300,
                         1e300, np.nextafter(1.0, 0), np.nextafter(1.0, 2), 3.0, 15.44]])
    out = _elementwise(y, d, z)
    np.testing.assert_allclose(out[0], np.exp(y), rtol=5e-16, atol=0)
    e = np.exp(-np.abs(d))
    softplus = np.maximum(d, 0) + np.log1p(e)
    sigmoid = np.where(d > 0, 1 / (1 + e), e / (1 + e))
    tiny = softplus < 1e-300  # exp underflows to 0 in NumPy, to exp(-708) here
    np.testing.assert_allclose(out[1][~tiny], softplus[~tiny], rtol=2e-15, atol=0)
    np.testing.assert_allclose(out[2][~tiny], sigmoid[~tiny], rtol=2e-15, atol=0)
    assert np.all(out[1][tiny] < 1e-300) and np.all(out[2][tiny] < 1e-300)
    ref = np.log(z)
    assert np.all(np.abs(out[3] - ref) <= 4 * np.spacing(np.abs(ref)))  # measured: 3 ulp


def test_digamma_matches_scipy():
    from scipy.special import digamma

    for x in (1e-3, 0.01, 0.243, 1.0, 2.5, 9.99, 10.0, 37.7, 500.0, 1e6):
        assert K._digamma(x) == pytest.approx(float(digamma(x)), rel=1e-14, abs=1e-14)


def _cdnow(cdnow_cal):
    c = cdnow_cal
    return (c["frequency"].to_numpy(float), c["recency"].to_numpy(float),
            c["T"].to_numpy(float), c["monetary_value"].to_numpy(float))


def _check_bgnbd(stats, points):
    data = K.bgnbd_kernel_data(stats)
    scale = stats.n_customers
    for point in points:
        ll, grad = K.bgnbd_loglik_grad(*point, *data)
        ref_ll, ref_grad = L.bgnbd_total_loglik_grad(*point, stats)
        assert ll == pytest.approx(ref_ll, rel=1e-12), point
        # each gradient is a sum of terms of order n_customers that nearly cancel
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-11 * scale,
                                   err_msg=str(point))


def _check_gamma_gamma(stats, points):
    data = K.gamma_gamma_kernel_data(stats)
    for p, q, gamma in points:
        ll, grad = K.gamma_gamma_loglik_grad(p, q, gamma, *data)
        ref_ll, ref_grad = L.gamma_gamma_total_loglik_grad(p, q, gamma, stats)
        # the total is a difference of terms that can be far larger (p x log m, p x log
        # (gamma + m x)): compare to their size
        terms = abs(p * stats.sum_x_log_m) + np.sum(
            stats.count * (p * stats.x + q) * np.abs(np.log(gamma + stats.m * stats.x)))
        assert ll == pytest.approx(ref_ll, rel=1e-12, abs=1e-14 * terms), (p, q, gamma)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13 * terms,
                                   err_msg=str((p, q, gamma)))


def test_bgnbd_kernel_equals_numpy_on_cdnow(cdnow_cal):
    x, t_x, T, _ = _cdnow(cdnow_cal)
    _check_bgnbd(L.compress_bgnbd(x, t_x, T), BG_POINTS)


def test_gamma_gamma_kernel_equals_numpy_on_cdnow(cdnow_cal):
    x, _, _, m = _cdnow(cdnow_cal)
    rep = x > 0
    _check_gamma_gamma(L.compress_gamma_gamma(x[rep], m[rep]), GG_POINTS)


def test_kernels_equal_numpy_at_extremes():
    # one-time buyers only; x = 500; t_x = T; T = 10,000 days; a customer with T = 1
    x = np.array([0, 0, 500, 500, 1, 3, 1000, 2])
    t_x = np.array([0.0, 0.0, 9_000.0, 10_000.0, 0.0, 7.0, 1.0, 1.0])
    T = np.array([10_000.0, 1.0, 10_000.0, 10_000.0, 1.0, 7.0, 1.0, 10_000.0])
    _check_bgnbd(L.compress_bgnbd(x, t_x, T), BG_POINTS)
    _check_bgnbd(L.compress_bgnbd(x[:2], t_x[:2], T[:2]), BG_POINTS)  # no repeat buyer
    xg = np.array([1, 1, 2, 500, 500, 3])
    m = np.array([0.01, 1e7, 0.01, 1e7, 1.0, 22.35])
    _check_gamma_gamma(L.compress_gamma_gamma(xg, m), GG_POINTS)


def test_counts_weight_the_rows(rng):
    x = rng.integers(0, 4, 200).astype(float)
    T = rng.choice([20.0, 30.0], 200)
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, 200) * T), 0.0)
    counts = rng.integers(1, 5, 200).astype(float)
    _check_bgnbd(L.compress_bgnbd(x, t_x, T, counts=counts), BG_POINTS[:2])


def _log_posterior_in_z(model, summary, priors=None):
    stats = model._prepare(summary)
    priors = model.resolved_priors(stats)
    return stats, priors, model._compiled_log_density(stats, priors)


@pytest.mark.parametrize("spec", [
    None, {"dist": "HalfCauchy", "beta": 2.0}, {"dist": "HalfStudentT", "nu": 3.0, "sigma": 2.0},
    {"dist": "Gamma", "alpha": 2.0, "beta": 0.5}, {"dist": "Gamma", "mu": 2.0, "sigma": 1.0},
    {"dist": "Exponential", "lam": 0.3}, {"dist": "LogNormal", "mu": 0.5, "sigma": 1.2},
    {"dist": "Weibull", "alpha": 1.5, "beta": 2.0}, {"dist": "InverseGamma", "alpha": 3.0,
                                                     "beta": 2.0},
    {"dist": "HalfFlat"},
])
def test_compiled_density_is_the_log_posterior_of_log_params(cdnow_cal, spec):
    """Likelihood + every prior a user may choose + Jacobian, as the NumPy route has it."""
    model = BetaGeo(priors=None if spec is None else {"a": spec, "r": spec})
    stats = model._prepare(cdnow_cal)
    priors = model.resolved_priors(stats)
    logp, to_params, z0 = model._compiled_log_density(stats, priors)
    specs = [priors[n] for n in model.param_names]
    z = np.array([0.3, -0.5, 0.2, 0.4])
    theta = np.log(to_params(z))
    ref, ref_grad, _ = model._log_posterior(theta, stats, specs, jacobian=True)
    val, grad = logp(z)
    assert val == pytest.approx(ref, rel=1e-12)
    # d/dz = S' d/dtheta, with S from theta = mode + S z
    scale = np.column_stack([np.log(to_params(np.eye(4)[i])) - np.log(to_params(0 * z))
                             for i in range(4)])
    np.testing.assert_allclose(grad, scale.T @ ref_grad, rtol=1e-8, atol=1e-8)
    assert np.allclose(z0, 0.0)
    assert logp(np.full(4, 1e12))[0] == -np.inf  # overflow: a divergence, not an error


@pytest.fixture(scope="module")
def bg_compiled(cdnow_cal):
    return BetaGeo().fit(cdnow_cal, sampler="compiled", draws=500, tune=500, random_seed=3)


@pytest.fixture(scope="module")
def gg_compiled(cdnow_cal):
    return GammaGamma().fit(cdnow_cal, sampler="compiled", draws=500, tune=500, random_seed=3)


def test_compiled_nuts_reproduces_published_cdnow(bg_compiled, gg_compiled):
    published = {**BG, **GG}
    for model in (bg_compiled, gg_compiled):
        summ = model.summary()
        for name in model.param_names:
            assert abs(summ.loc[name, "mean"] - published[name]) < summ.loc[name, "sd"], name
        d = model.diagnostics_
        assert d["divergences"] == 0 and d["rhat_max"] <= 1.01 and d["ess_bulk_min"] >= 400
        assert d["draws"] == 2000 and d["chains"] == 4 and model.converged
        assert model.metadata_["sampler"] == "compiled"
        assert model.metadata_["draws_from"] == "nuts"
        post = model.idata_.posterior
        assert set(model.param_names) <= set(post.data_vars)
        assert dict(post[model.param_names[0]].sizes) == {"chain": 4, "draw": 500}
        assert model.idata_.sample_stats["diverging"].dtype == bool
        assert "warmup_posterior" not in model.idata_.children


def test_compiled_nuts_is_deterministic_and_saves(bg_compiled, cdnow_cal, tmp_path):
    again = BetaGeo().fit(cdnow_cal, sampler="compiled", draws=500, tune=500, random_seed=3)
    for name in BetaGeo.param_names:
        np.testing.assert_array_equal(again.idata_.posterior[name].values,
                                      bg_compiled.idata_.posterior[name].values)
    other = BetaGeo().fit(cdnow_cal, sampler="compiled", draws=500, tune=500, random_seed=4)
    assert not np.array_equal(other.idata_.posterior["r"].values,
                              bg_compiled.idata_.posterior["r"].values)
    loaded = BetaGeo.load(bg_compiled.save(tmp_path / "bg.nc"))
    assert loaded.metadata_["sampler"] == "compiled"
    assert loaded.diagnostics_ == bg_compiled.diagnostics_
    pd.testing.assert_frame_equal(loaded.p_alive(cdnow_cal), bg_compiled.p_alive(cdnow_cal))


def test_compiled_sampler_passes_options_and_start(cdnow_cal):
    model = GammaGamma().fit(cdnow_cal, sampler="compiled", draws=400, tune=400, random_seed=1,
                             target_accept=0.9, initvals={"p": 6.0, "q": 4.0, "gamma": 15.0})
    assert model.diagnostics_["divergences"] == 0 and model.converged


def test_compiled_density_without_a_mode_of_theta(cdnow_cal, monkeypatch):
    """No mode of theta's density: centred at the MAP; a non-finite Hessian: no whitening."""
    model = GammaGamma()
    stats = model._prepare(cdnow_cal)
    priors = model.resolved_priors(stats)
    real_mode = GammaGamma._mode

    def mode(self, stats, priors, *, jacobian, **kwargs):
        if jacobian:
            raise RuntimeError("MAP optimisation failed: test")
        theta, f, hess, nit = real_mode(self, stats, priors, jacobian=False, **kwargs)
        return theta, f, np.full_like(hess, np.nan), nit

    monkeypatch.setattr(GammaGamma, "_mode", mode)
    logp, to_params, z0 = model._compiled_log_density(stats, priors)
    map_values = np.exp(real_mode(model, stats, priors, jacobian=False)[0])
    np.testing.assert_allclose(to_params(z0), map_values)
    np.testing.assert_allclose(np.log(to_params(np.array([1.0, 0, 0]))),
                               np.log(map_values) + [1.0, 0, 0])
    assert np.isfinite(logp(np.array([0.1, 0.2, 0.3]))[0])


def test_default_sampler_needs_nutpie(cdnow_cal, monkeypatch):
    import importlib.util

    from lifevalue.models import base

    assert base.default_sampler() == base.DEFAULT_SAMPLER == "compiled"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nutpie" else real(name, *a))
    assert base.default_sampler() == "pymc"
    monkeypatch.setitem(__import__("sys").modules, "nutpie", None)  # import fails
    with pytest.raises(ImportError, match="pip install nutpie"):
        GammaGamma().fit(cdnow_cal, sampler="compiled", draws=50, tune=50)
