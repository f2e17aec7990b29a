"""The C log densities nutpie samples equal the Python route's, priors included."""

import ctypes
import warnings

import numpy as np
import pytest

from lifevalue.models import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from lifevalue.models import nuts_density as nd
from lifevalue.models.priors import POSITIVE_PRIORS, REAL_PRIORS, logp_and_grad, prior_code

SPECS = [
    {"dist": "HalfNormal", "sigma": 3.0}, {"dist": "HalfCauchy", "beta": 2.0},
    {"dist": "HalfStudentT", "nu": 3.0, "sigma": 2.0}, {"dist": "HalfStudentT"},
    {"dist": "Gamma", "alpha": 2.0, "beta": 0.5}, {"dist": "Gamma", "alpha": 2.0, "scale": 4.0},
    {"dist": "Gamma", "mu": 2.0, "sigma": 1.0}, {"dist": "Exponential", "lam": 0.3},
    {"dist": "Exponential", "scale": 2.0}, {"dist": "LogNormal", "mu": 0.5, "sigma": 1.2},
    {"dist": "Weibull", "alpha": 1.5, "beta": 2.0}, {"dist": "InverseGamma", "alpha": 3.0,
                                                     "beta": 2.0},
    {"dist": "HalfFlat"}, {"dist": "Normal", "mu": 0.5, "sigma": 2.0},
    {"dist": "StudentT", "nu": 4.0, "mu": -1.0, "sigma": 0.5}, {"dist": "Flat"},
]


def test_every_prior_has_a_code():
    assert {s["dist"] for s in SPECS} == set(POSITIVE_PRIORS + REAL_PRIORS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s))
def test_compiled_prior_equals_numpy(spec):
    for x in (0.01, 0.3, 1.0, 2.7, 45.0):
        lp, d1 = nd.prior_logp_grad(*prior_code(spec), x)
        ref_lp, ref_d1 = logp_and_grad(spec, x)
        assert lp == pytest.approx(ref_lp, rel=1e-13, abs=1e-15)
        assert d1 == pytest.approx(ref_d1, rel=1e-13, abs=1e-15)


def _c_call(cfunc, model, z):
    n = len(z)
    z = np.ascontiguousarray(z, dtype="float64")
    grad, lp = np.zeros(n), np.zeros(1)
    dbl = ctypes.POINTER(ctypes.c_double)
    status = cfunc.ctypes(n, z.ctypes.data_as(dbl), grad.ctypes.data_as(dbl),
                          lp.ctypes.data_as(dbl), ctypes.c_void_p(model.user_data.ctypes.data))
    return status, lp[0], grad


def _both(cls, summary, priors=None, **covariates):
    model = cls(priors=priors, **covariates)
    stats = model._prepare(summary)
    resolved = model.resolved_priors(stats)
    logp, to_params, _ = model._compiled_log_density(stats, resolved)
    c_model, kind = model._nuts_model(stats, resolved, None)
    assert kind == "c"
    return model, logp, to_params, c_model


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD, GammaGamma])
def test_c_density_equals_the_python_density(cls, cdnow_cal):
    """The same log density and gradient in z, and the same parameters of a point."""
    first = cls.param_names[0]
    for priors in (None, {first: {"dist": "Gamma", "alpha": 2.0, "beta": 0.5}},
                   {first: {"dist": "LogNormal", "mu": 0.0, "sigma": 2.0}}):
        model, logp, to_params, c_model = _both(cls, cdnow_cal, priors)
        n = len(cls.param_names)
        rng = np.random.default_rng(1)
        for z in (np.zeros(n), rng.normal(0, 1, n), rng.normal(0, 2, n)):
            status, lp, grad = _c_call(c_model.compiled_logp_func, c_model, z)
            ref_lp, ref_grad = logp(z)
            assert status == 0
            assert lp == pytest.approx(ref_lp, rel=1e-12)
            np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-9)
            values = np.zeros(n)
            dbl = ctypes.POINTER(ctypes.c_double)
            c_model.compiled_expand_func.ctypes(
                n, n, np.ascontiguousarray(z).ctypes.data_as(dbl), values.ctypes.data_as(dbl),
                ctypes.c_void_p(c_model.user_data.ctypes.data))
            np.testing.assert_allclose(values, to_params(z), rtol=1e-14)
        # overflow: a status nutpie counts as a divergence, not a crash
        status, _, _ = _c_call(c_model.compiled_logp_func, c_model, np.full(n, 1e12))
        assert status in (3, 4)


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_c_density_with_covariates_equals_the_python_density(cls, cdnow_cal):
    """Six attribute profiles, effects on purchase and dropout: the profiles' sum."""
    cdnow = cdnow_cal.assign(web=np.arange(len(cdnow_cal)) % 2,
                             tier=(np.arange(len(cdnow_cal)) // 2) % 3 - 1.0)
    model, logp, to_params, c_model = _both(cls, cdnow, purchase_covariates=["web", "tier"],
                                            dropout_covariates=["web"])
    n = len(model.param_names)
    assert n == 4 + 2 + (2 if cls is not ParetoNBD else 1)
    rng = np.random.default_rng(2)
    for z in (np.zeros(n), rng.normal(0, 1, n)):
        status, lp, grad = _c_call(c_model.compiled_logp_func, c_model, z)
        ref_lp, ref_grad = logp(z)
        assert status == 0
        assert lp == pytest.approx(ref_lp, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-8, atol=1e-8)


def test_fits_say_which_density_ran(cdnow_cal):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 2 x 100 draws: too few for the ESS warning
        plain = GammaGamma().fit(cdnow_cal, draws=100, tune=100, chains=2, random_seed=1)
        cdnow = cdnow_cal.assign(web=np.arange(len(cdnow_cal)) % 2)
        cov = BetaGeo(purchase_covariates=["web"]).fit(cdnow, draws=100, tune=100, chains=2,
                                                       random_seed=1)
    assert plain.metadata_["nuts_density"] == cov.metadata_["nuts_density"] == "c"
    assert BetaGeo().fit(cdnow_cal, method="map").metadata_["nuts_density"] is None
