"""Likelihoods: sufficient statistics are exact, PyTensor equals NumPy, extremes stay finite."""

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest

from lifevalue.models import BetaGeo
from lifevalue.models import likelihoods as L
from lifevalue.validation import InvalidValueError

BG = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = dict(p=6.25, q=3.74, gamma=15.44)


def _cdnow(cdnow_cal):
    c = cdnow_cal
    return (c["frequency"].to_numpy(float), c["recency"].to_numpy(float),
            c["T"].to_numpy(float), c["monetary_value"].to_numpy(float))


def test_bgnbd_compressed_equals_per_customer(cdnow_cal):
    x, t_x, T, _ = _cdnow(cdnow_cal)
    stats = L.compress_bgnbd(x, t_x, T)
    assert stats.n_unique < len(x) / 2 and stats.n_customers == 2357
    per_customer = L.bgnbd_loglik(*BG.values(), x, t_x, T).sum()
    assert L.bgnbd_total_loglik(*BG.values(), stats) == pytest.approx(per_customer, abs=1e-9)
    assert per_customer == pytest.approx(-9582.4, abs=0.05)


def test_gamma_gamma_compressed_equals_per_customer(cdnow_cal):
    x, _, _, m = _cdnow(cdnow_cal)
    rep = x > 0
    stats = L.compress_gamma_gamma(x[rep], m[rep])
    per_customer = L.gamma_gamma_loglik(*GG.values(), x[rep], m[rep]).sum()
    assert L.gamma_gamma_total_loglik(*GG.values(), stats) == pytest.approx(per_customer,
                                                                             abs=1e-9)
    assert per_customer == pytest.approx(-4055.92, abs=0.01)


def test_pytensor_graph_equals_numpy(cdnow_cal):
    x, t_x, T, m = _cdnow(cdnow_cal)
    xp = L.pytensor_namespace()
    r, alpha, a, b = pt.dscalars("r", "alpha", "a", "b")
    stats = L.compress_bgnbd(x, t_x, T)
    f = pytensor.function([r, alpha, a, b], L.bgnbd_total_loglik(r, alpha, a, b, stats, xp))
    assert float(f(*BG.values())) == pytest.approx(L.bgnbd_total_loglik(*BG.values(), stats),
                                                   rel=1e-12)
    p, q, g = pt.dscalars("p", "q", "g")
    rep = x > 0
    gstats = L.compress_gamma_gamma(x[rep], m[rep])
    fg = pytensor.function([p, q, g], L.gamma_gamma_total_loglik(p, q, g, gstats, xp))
    assert float(fg(*GG.values())) == pytest.approx(
        L.gamma_gamma_total_loglik(*GG.values(), gstats), rel=1e-12)


def test_bgnbd_gradient_is_finite_at_x_zero():
    xp = L.pytensor_namespace()
    theta = pt.dvector("theta")
    stats = L.compress_bgnbd([0, 0, 3], [0, 0, 5.0], [10.0, 20.0, 30.0])
    ll = L.bgnbd_total_loglik(theta[0], theta[1], theta[2], theta[3], stats, xp)
    grad = pytensor.function([theta], pt.grad(ll, theta))(np.array([0.5, 3.0, 0.4, 0.6]))
    assert np.isfinite(grad).all()  # b = 0.6 < 1: log(b - 1) must never be evaluated


@pytest.mark.parametrize("x,t_x,T", [
    (0, 0.0, 10_000.0), (500, 9_000.0, 10_000.0), (500, 10_000.0, 10_000.0),
    (1, 0.0, 1.0), (1000, 1.0, 1.0), (3, 7.0, 7.0),
])
def test_bgnbd_finite_at_extremes(x, t_x, T):
    for params in (BG, dict(r=50.0, alpha=0.01, a=0.01, b=100.0), dict(r=0.01, alpha=500.0,
                                                                       a=20.0, b=0.05)):
        ll = L.bgnbd_loglik(*params.values(), np.array([x]), np.array([t_x]), np.array([T]))
        assert np.isfinite(ll).all()


def test_bgnbd_large_values_match_direct_formula_where_it_is_representable():
    # direct evaluation of eq. (6) with mpmath-free float arithmetic at moderate x
    r, alpha, a, b = BG.values()
    x, t_x, T = 20.0, 30.0, 38.86
    from scipy.special import beta as B
    from scipy.special import gamma as G
    direct = (B(a, b + x) / B(a, b) * G(r + x) * alpha**r / G(r)
              * ((alpha + T) ** -(r + x) + a / (b + x - 1) * (alpha + t_x) ** -(r + x)))
    assert L.bgnbd_loglik(r, alpha, a, b, x, t_x, T) == pytest.approx(np.log(direct),
                                                                        rel=1e-10)


@pytest.mark.parametrize("m", [0.01, 1.0, 1e7])
@pytest.mark.parametrize("x", [1, 2, 500])
def test_gamma_gamma_finite_at_extremes(x, m):
    assert np.isfinite(L.gamma_gamma_loglik(*GG.values(), x, m))
    assert np.isfinite(L.gamma_gamma_loglik(0.5, 200.0, 1e-3, x, m))


def test_analytic_gradients_match_pytensor(cdnow_cal):
    x, t_x, T, m = _cdnow(cdnow_cal)
    xp = L.pytensor_namespace()
    theta = pt.dvector("theta")
    stats = L.compress_bgnbd(x, t_x, T)
    ll = L.bgnbd_total_loglik(theta[0], theta[1], theta[2], theta[3], stats, xp)
    f = pytensor.function([theta], [ll, pt.grad(ll, theta)])
    for point in ([0.243, 4.414, 0.793, 2.426], [2.0, 0.5, 0.3, 0.7], [0.05, 40.0, 5.0, 50.0]):
        ref_ll, ref_grad = f(np.array(point))
        ll_np, grad_np = L.bgnbd_total_loglik_grad(*point, stats)
        assert ll_np == pytest.approx(float(ref_ll), rel=1e-12)
        np.testing.assert_allclose(grad_np, ref_grad, rtol=1e-9, atol=1e-6)
    rep = x > 0
    gstats = L.compress_gamma_gamma(x[rep], m[rep])
    ll = L.gamma_gamma_total_loglik(theta[0], theta[1], theta[2], gstats, xp)
    f = pytensor.function([theta], [ll, pt.grad(ll, theta)])
    for point in ([6.25, 3.74, 15.44], [0.5, 20.0, 300.0]):
        ref_ll, ref_grad = f(np.array(point))
        ll_np, grad_np = L.gamma_gamma_total_loglik_grad(*point, gstats)
        assert ll_np == pytest.approx(float(ref_ll), rel=1e-12)
        np.testing.assert_allclose(grad_np, ref_grad, rtol=1e-9, atol=1e-6)


def test_unique_rows_equals_numpy_unique(rng):
    cols = [rng.integers(0, 5, 500).astype(float), rng.integers(0, 3, 500) / 7.0]
    ref, counts = np.unique(np.stack(cols, axis=1), axis=0, return_counts=True)
    *got, got_counts = L.unique_rows(*cols)
    np.testing.assert_array_equal(np.stack(got, axis=1), ref)
    np.testing.assert_array_equal(got_counts, counts)


def test_counts_stand_for_repeated_rows(rng):
    x = rng.integers(0, 4, 300).astype(float)
    T = rng.choice([20.0, 30.0], 300)
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, 300) * T), 0.0)
    counts = rng.integers(1, 5, 300)
    expanded = L.compress_bgnbd(np.repeat(x, counts), np.repeat(t_x, counts), np.repeat(T, counts))
    weighted = L.compress_bgnbd(x, t_x, T, counts=counts)
    for field in ("x", "t_x", "T", "count", "x_unique", "x_count"):
        np.testing.assert_array_equal(getattr(weighted, field), getattr(expanded, field))
    assert weighted.n_customers == expanded.n_customers == counts.sum()
    summary = pd.DataFrame({"frequency": x, "recency": t_x, "T": T,
                            "n_customers": counts.astype(float)})
    summary.loc[[3, 7], "n_customers"] = [0, 2.5]
    with pytest.raises(InvalidValueError, match=r"^column 'n_customers': 2 rows with a count "
                       r"that is not a whole number >= 1"):
        BetaGeo().fit(summary, method="map")


def _fd_hessian(grad, point, h=1e-6):
    """Central differences of an analytic gradient (itself checked against PyTensor)."""
    point = np.asarray(point, dtype=float)
    cols = []
    for i in range(len(point)):
        step = np.zeros_like(point)
        step[i] = h * point[i]
        cols.append((grad(point + step) - grad(point - step)) / (2 * step[i]))
    return np.stack(cols, axis=1)


def test_analytic_hessians_match_differentiated_gradients(cdnow_cal):
    x, t_x, T, m = _cdnow(cdnow_cal)
    stats = L.compress_bgnbd(x, t_x, T)
    for point in ([0.243, 4.414, 0.793, 2.426], [2.0, 0.5, 0.3, 0.7], [0.05, 40.0, 5.0, 50.0]):
        ll, grad, hess = L.bgnbd_total_loglik_derivs(*point, stats)
        ref_ll, ref_grad = L.bgnbd_total_loglik_grad(*point, stats)
        assert ll == ref_ll
        np.testing.assert_array_equal(grad, ref_grad)
        np.testing.assert_array_equal(hess, hess.T)
        fd = _fd_hessian(lambda p: L.bgnbd_total_loglik_grad(*p, stats)[1], point)
        np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-3)
    rep = x > 0
    gstats = L.compress_gamma_gamma(x[rep], m[rep])
    for point in ([6.25, 3.74, 15.44], [0.5, 20.0, 300.0]):
        _, _, hess = L.gamma_gamma_total_loglik_derivs(*point, gstats)
        fd = _fd_hessian(lambda p: L.gamma_gamma_total_loglik_grad(*p, gstats)[1], point)
        np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("workers", [1, 2])
def test_loglik_over_many_draws_equals_one_at_a_time(cdnow_cal, rng, workers):
    x, t_x, T, m = _cdnow(cdnow_cal)
    stats = L.compress_bgnbd(x, t_x, T)
    draws = np.array(list(BG.values())) * np.exp(0.3 * rng.standard_normal((37, 4)))
    got = L.bgnbd_total_loglik_draws(draws, stats, workers=workers)
    ref = [L.bgnbd_total_loglik(*d, stats) for d in draws]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    rep = x > 0
    gstats = L.compress_gamma_gamma(x[rep], m[rep])
    draws = np.array(list(GG.values())) * np.exp(0.3 * rng.standard_normal((37, 3)))
    got = L.gamma_gamma_total_loglik_draws(draws, gstats, workers=workers)
    ref = [L.gamma_gamma_total_loglik(*d, gstats) for d in draws]
    np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("modified", [False, True], ids=["bgnbd", "mbgnbd"])
def test_rows_loglik_is_the_per_customer_reference_on_any_slice(cdnow_cal, modified):
    """The factored pointwise log-likelihood (ArviZ's log_likelihood group, LOO in chunks)
    equals the per-customer reference at many draws, on the whole and on slices."""
    from lifevalue.models import modified_beta_geo_formulas as mf

    x, t_x, T, m = _cdnow(cdnow_cal)
    stats = L.compress_bgnbd(x, t_x, T)
    rng = np.random.default_rng(5)
    draws = [rng.uniform(lo, hi, (30, 1)) for lo, hi in ((0.1, 1), (1, 9), (0.2, 3), (0.5, 6))]
    ref = (mf.mbgnbd_loglik if modified else L.bgnbd_loglik)(*draws, stats.x, stats.t_x, stats.T)
    kw = {"modified": True, "x_terms": mf._x_terms} if modified else {}
    for start, stop in ((0, stats.n_unique), (7, 300), (stats.n_unique - 3, stats.n_unique)):
        np.testing.assert_allclose(L.bgnbd_rows_loglik(*draws, stats, start, stop, **kw),
                                   ref[:, start:stop], rtol=1e-13)
    gg = L.compress_gamma_gamma(x[x > 0], m[x > 0])
    spend = [rng.uniform(lo, hi, (30, 1)) for lo, hi in ((2, 8), (2, 5), (5, 20))]
    ref = L.gamma_gamma_loglik(*spend, gg.x, gg.m)
    for start, stop in ((0, gg.n_unique), (11, 200)):
        np.testing.assert_allclose(L.gamma_gamma_rows_loglik(*spend, gg, start, stop),
                                   ref[:, start:stop], rtol=1e-13)
