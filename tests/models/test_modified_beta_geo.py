"""ModifiedBetaGeo: lifetimes' MLE and closed forms on CDNOW, the derivatives, NUTS,
simulation and persistence."""

import warnings

import numpy as np
import pandas as pd
import pytest
from lifetimes import ModifiedBetaGeoFitter

from helpers import assert_counts_match_closed_forms
from lifevalue import validation as v
from lifevalue.models import BetaGeo, ConvergenceWarning, ModifiedBetaGeo
from lifevalue.models import modified_beta_geo_formulas as mf
from lifevalue.models import predictions as pr
from lifevalue.models.customer_posterior import BlockRNG
from lifevalue.models.likelihoods import bgnbd_total_loglik_derivs, compress_bgnbd


def _columns(summary):
    return tuple(summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def mbg_map(cdnow_cal):
    return ModifiedBetaGeo(priors=ModifiedBetaGeo.flat_priors()).fit(cdnow_cal, method="map")


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow_cal):
    x, t_x, T = _columns(cdnow_cal)
    return ModifiedBetaGeoFitter().fit(x, t_x, T)


def _lifetimes_loglik(fitter, params, x, t_x, T):
    return -len(x) * ModifiedBetaGeoFitter._negative_log_likelihood(
        np.log(np.asarray(params, dtype=float)), x, t_x, T, np.ones(len(x)), 0.0)


def test_map_matches_lifetimes(mbg_map, lifetimes_fit, cdnow_cal):
    est = mbg_map.point_estimate()
    for name, value in lifetimes_fit.params_.items():
        assert est[name] == pytest.approx(value, rel=1e-3), name
    x, t_x, T = _columns(cdnow_cal)
    theirs = _lifetimes_loglik(lifetimes_fit, lifetimes_fit.params_.to_numpy(), x, t_x, T)
    assert mbg_map.loglik(cdnow_cal) == pytest.approx(theirs, abs=0.01)
    # the same likelihood: equal at the same parameters
    assert mbg_map.loglik(cdnow_cal, est) == pytest.approx(
        _lifetimes_loglik(lifetimes_fit, list(est.values()), x, t_x, T), rel=1e-12)
    assert round(mbg_map.loglik(cdnow_cal), 2) == -9582.14


def test_closed_forms_match_lifetimes(mbg_map, cdnow_cal):
    x, t_x, T = _columns(cdnow_cal)
    ref = ModifiedBetaGeoFitter()
    ref.params_ = pd.Series(mbg_map.point_estimate())
    alive = mbg_map.p_alive(cdnow_cal)["p_alive_mean"]
    np.testing.assert_allclose(alive, ref.conditional_probability_alive(x, t_x, T), rtol=1e-6)
    for t in (10.0, 39.0):
        ours = mbg_map.expected_purchases(cdnow_cal, t, predictive=False)["purchases_mean"]
        np.testing.assert_allclose(
            ours, ref.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T),
            rtol=1e-6)
    new = mbg_map.expected_purchases_new_customer([39.0, 78.0])["purchases_mean"]
    np.testing.assert_allclose(
        new, [ref.expected_number_of_purchases_up_to_time(t) for t in (39.0, 78.0)], rtol=1e-6)
    # unlike the BG/NBD, one-time buyers are not certainly alive
    assert alive[cdnow_cal["frequency"] == 0].max() < 0.9


def test_expected_purchases_at_draws_on_continuous_T_equal_the_formula():
    # the model's expectation (compiled, on the table grid in T) against Batislam et
    # al.'s formula (SciPy) at 100 draws, T to 0.01 week: within the grid's bound
    from lifevalue.models import table_grid as tg

    rng = np.random.default_rng(12)
    n = 2000
    x = rng.integers(0, 20, n).astype(float)
    T = np.round(rng.uniform(0.5, 78.0, n), 2)
    t_x = np.round(T * rng.uniform(0, 1, n) * (x > 0), 2)
    d = {k: val * rng.lognormal(0, 0.3, 100)[:, None]
         for k, val in dict(r=0.525, alpha=6.183, a=0.891, b=1.614).items()}
    got = ModifiedBetaGeo()._expected_draws(d, x, t_x, T, 39.0)
    want = mf.expected_purchases(d["r"], d["alpha"], d["a"], d["b"], x, t_x, T, 39.0)
    np.testing.assert_allclose(got, want, rtol=tg.BOUND)


def test_likelihood_pieces(cdnow_cal):
    x, t_x, T = _columns(cdnow_cal)
    stats = compress_bgnbd(x, t_x, T)
    params = (0.525, 6.183, 0.891, 1.614)
    per_customer = mf.mbgnbd_loglik(*params, x, t_x, T)
    assert float(mf.mbgnbd_total_loglik(*params, stats)) == pytest.approx(per_customer.sum(),
                                                                        rel=1e-12)
    # the paper's form, term by term
    from scipy.special import betaln, gammaln

    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    paper = np.logaddexp(common + betaln(a, b + x + 1) - (r + x) * np.log(alpha + T),
                         common + betaln(a + 1, b + x) - (r + x) * np.log(alpha + t_x))
    np.testing.assert_allclose(per_customer, paper, rtol=1e-11)
    draws = np.array([params, (0.3, 5.0, 1.5, 3.0)])
    np.testing.assert_allclose(mf.mbgnbd_total_loglik_draws(draws, stats),
                               [float(mf.mbgnbd_total_loglik(*p, stats)) for p in draws])


@pytest.mark.parametrize("params", [(0.525, 6.183, 0.891, 1.614), (2.0, 0.7, 3.0, 0.4)])
def test_derivatives_match_finite_differences(cdnow_cal, params):
    stats = compress_bgnbd(*_columns(cdnow_cal))
    ll, grad, hess = mf.mbgnbd_total_loglik_derivs(*params, stats)
    assert ll == pytest.approx(float(mf.mbgnbd_total_loglik(*params, stats)), rel=1e-12)
    values = np.array(params)
    for i in range(4):
        h = 1e-6 * values[i]
        step = np.eye(4)[i] * h
        up, down = (mf.mbgnbd_total_loglik_grad(*(values + sgn * step), stats)
                    for sgn in (1, -1))
        assert grad[i] == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-5, abs=1e-4)
        np.testing.assert_allclose(hess[:, i], (up[1] - down[1]) / (2 * h), rtol=1e-5,
                                   atol=1e-3)
    # the shared derivative code leaves the BG/NBD's untouched: it differs from it
    assert bgnbd_total_loglik_derivs(*params, stats)[0] != pytest.approx(ll)


@pytest.mark.parametrize("params", [(0.525, 6.183, 0.891, 1.614), (2.0, 0.7, 3.0, 0.4)])
def test_compiled_kernel_matches_numpy(cdnow_cal, params):
    """NUTS's kernel (the BG/NBD's numba kernel on the MBG/NBD's statistics) equals the
    NumPy derivatives."""
    stats = compress_bgnbd(*_columns(cdnow_cal))
    ll, grad = mf.mbgnbd_loglik_grad_compiled(*params, *mf.mbgnbd_kernel_data(stats))
    ref_ll, ref_grad = mf.mbgnbd_total_loglik_grad(*params, stats)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-9)
    fn, data = ModifiedBetaGeo()._kernel(stats)
    assert fn(*params, *data)[0] == ll


def test_closed_form_identities():
    """The MBG/NBD's expectations are the BG/NBD's at b + 1 (Beta(a, b+x+1) given
    alive), scaled by b/(a+b) for a new customer."""
    r, alpha, a, b = 0.525, 6.183, 0.891, 1.614
    x, t_x, T = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.43, 20.0]), np.full(3, 38.86)
    # P(alive) of a repeat buyer is the BG/NBD's at b + 1
    np.testing.assert_allclose(mf.p_alive(r, alpha, a, b, x[1:], t_x[1:], T[1:]),
                               pr.p_alive(r, alpha, a, b + 1, x[1:], t_x[1:], T[1:]))
    # without repeat purchases P(alive) falls with the time since the first purchase
    assert mf.p_alive(r, alpha, a, b, 0.0, 0.0, 50.0) < mf.p_alive(r, alpha, a, b, 0.0, 0.0, 5.0)
    # t -> 0: nothing expected; new customer's expectation at long horizons grows
    assert mf.expected_purchases_new_customer(r, alpha, a, b, 1e-9) == pytest.approx(0, abs=1e-8)


def test_simulation_matches_closed_forms(mbg_map, cdnow_cal):
    sub = cdnow_cal.iloc[:256]
    x, t_x, T = _columns(sub)
    est = mbg_map.point_estimate()
    n_sims, t = 10_000, 39.0
    params = {k: np.full(n_sims, val) for k, val in est.items()}
    counts, active = mf.simulate_counts(params, x, t_x, T, t, BlockRNG(3, 0, len(x)))
    closed = mf.expected_purchases(*est.values(), x, t_x, T, t)
    assert_counts_match_closed_forms(counts, closed,
                                     mf.prob_no_purchase(*est.values(), x, t_x, T, t))
    # active at T + t: P(alive) E[exp(-lambda p t)], with p ~ Beta(a, b+x+1)
    r, alpha, a, b = est.values()
    still = mf.p_alive(r, alpha, a, b, x, t_x, T) * pr.survival_if_alive(r, alpha, a, b + 1,
                                                                         x, T, t)
    assert (np.abs(active.mean(axis=0) - still)
            <= 5 * np.sqrt(still * (1 - still) / n_sims) + 1e-9).all()
    sims = mbg_map.simulate_purchases(sub, [39.0], random_seed=2)
    assert sims["purchases_sim_mean"].sum() == pytest.approx(closed.sum(), rel=0.03)


def test_nuts_posterior_means_within_one_sd_of_map(mbg_map, cdnow_cal):
    with warnings.catch_warnings():
        # 2 x 200 draws cannot give the ESS of 400 that the warning asks for
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ModifiedBetaGeo().fit(cdnow_cal, draws=200, tune=200, chains=2,
                                      random_seed=1)
    assert model.metadata_["sampler"] == "compiled"
    summ = model.summary()
    for name, value in mbg_map.point_estimate().items():
        assert abs(summ.loc[name, "mean"] - value) < summ.loc[name, "sd"], name
    d = model.diagnostics_
    assert d["divergences"] == 0 and d["rhat_max"] < 1.05
    assert (summ["prior_sensitivity"] < 0.05).all()


def test_save_load_round_trip(tmp_path, mbg_map, cdnow_cal):
    path = mbg_map.save(tmp_path / "mbg.nc")
    loaded = ModifiedBetaGeo.load(path)
    assert loaded.point_estimate() == mbg_map.point_estimate()
    pd.testing.assert_frame_equal(loaded.expected_purchases(cdnow_cal, 10.0, predictive=False),
                                  mbg_map.expected_purchases(cdnow_cal, 10.0, predictive=False))
    with pytest.raises(v.InputError, match="holds a ModifiedBetaGeo, not a BetaGeo"):
        BetaGeo.load(path)
