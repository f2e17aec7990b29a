import numpy as np
import pytest
from scipy import integrate, special

from lifevalue.models import predictions as pr
from lifevalue.models.compiled_closed_forms import p_alive_draws, purchases_and_survival


def _reference(r, alpha, a, b, x, T, rate, dropout, edges):
    def row(v):
        return v[:, None, None]

    def col(v):
        return v[None, :, None]

    tau = col(rate) * edges[None, None, :]
    args = (row(r), row(alpha), row(a) * col(dropout), row(b), col(x), col(T), tau)
    return pr.expected_purchases_if_alive(*args), pr.survival_if_alive(*args)


def test_equals_scipy_closed_forms_over_a_wide_range():
    # random populations and rows, with extremes: x = 0, 500; T = 0.01 and 10,000 days;
    # shapes a above 2 (the series' first terms grow) and below 1; rate and dropout
    # multipliers; an edge at 0
    rng = np.random.default_rng(7)
    S, U = 40, 200
    r, alpha, b = rng.uniform(0.05, 3, S), rng.uniform(0.5, 50, S), rng.uniform(0.3, 6, S)
    a = rng.uniform(0.2, 3.5, S)
    a = np.where(np.abs(a - 1.0) < 1e-3, 1.5, a)  # scipy's eq. (10) loses digits near a = 1
    dropout = rng.uniform(0.5, 2, U)
    x = np.r_[rng.integers(0, 40, U - 3), 0, 500, 200].astype(float)
    T = np.r_[rng.uniform(0.1, 80, U - 2), 10_000 / 7, 0.01]
    rate = rng.uniform(0.5, 2, U)
    edges = np.r_[0.0, np.linspace(0, 52.18, 13)[1:]]
    keep = np.abs(a[:, None] * dropout[None, :] - 1.0) > 1e-3
    e, s = purchases_and_survival(r, alpha, a, b, x, T, rate, dropout, edges)
    e0, s0 = _reference(r, alpha, a, b, x, T, rate, dropout, edges)
    assert np.isfinite(e).all() and np.isfinite(s).all()
    # scipy's eq. (10) loses up to ~1e-8 where 1/(a-1) and large x meet (see the
    # quadrature test below for which one is right)
    np.testing.assert_allclose(e[keep], e0[keep], rtol=1e-7, atol=1e-14)
    np.testing.assert_allclose(s, s0, rtol=1e-10, atol=1e-300)
    assert (e[..., 0] == 0).all() and (s[..., 0] == 1).all()
    assert (np.diff(e, axis=-1) >= 0).all() and (np.diff(s, axis=-1) <= 0).all()


@pytest.mark.parametrize("x", [0.0, 3.0, 50.0])
def test_continuous_through_a_equal_one(x):
    # eq. (10) has 1/(a-1); the series takes it out analytically, so a = 1 is ordinary
    def args(a):
        return [np.array([v]) for v in (0.243, 4.414, a, 2.426, x, 38.86, 1.0, 1.0)]

    edges = np.array([4.35, 26.0, 52.18])
    at_one = purchases_and_survival(*args(1.0), edges)[0]
    for delta in (1e-10, -1e-10, 1e-7, -1e-7):
        near = purchases_and_survival(*args(1.0 + delta), edges)[0]
        np.testing.assert_allclose(near, at_one, rtol=20 * abs(delta))
    far = purchases_and_survival(*args(1.01), edges)[0]
    ref = pr.expected_purchases_if_alive(0.243, 4.414, 1.01, 2.426, x, 38.86, edges)
    np.testing.assert_allclose(far[0, 0], ref, rtol=1e-9)


def test_published_expected_purchases():
    # FHL (2005a): 1.226 purchases in the next 39 weeks for x=2, t_x=30.43, T=38.86
    e, _ = purchases_and_survival(*(np.array([v]) for v in (0.243, 4.414, 0.793, 2.426,
                                                               2.0, 38.86, 1.0, 1.0)),
                                  np.array([39.0]))
    p_alive = pr.p_alive(0.243, 4.414, 0.793, 2.426, 2.0, 30.43, 38.86)
    assert round(float(e[0, 0, 0] * p_alive), 3) == 1.226


def _quadrature(r, alpha, a, b, x, T, t):
    """E[(1 - exp(-lambda p t)) / p] by quadrature over p ~ Beta(a, b+x), lambda
    integrated out: an independent route to eq. (10)."""
    def f(p):
        log_beta = (a - 1) * np.log(p) + (b + x - 1) * np.log1p(-p) - special.betaln(a, b + x)
        return np.exp(log_beta) * -np.expm1(-(r + x) * np.log1p(p * t / (alpha + T))) / p
    return integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-13, limit=500,
                          points=[a / (a + b + x)])[0]


@pytest.mark.parametrize("params", [
    (1.14, 20.0, 1.0065, 4.92, 500.0, 1428.57, 10.0),  # a near 1, large x and T
    (2.0, 1.0, 1.0002, 1.0, 30.0, 5.0, 52.0),
    (0.243, 4.414, 0.793, 2.426, 2.0, 38.86, 39.0),     # CDNOW
    (0.5, 3.0, 3.2, 0.8, 0.0, 0.5, 52.0),               # a > 2, w near 1
])
def test_matches_quadrature_where_the_closed_form_is_ill_conditioned(params):
    e, _ = purchases_and_survival(*(np.array([v]) for v in (*params[:6], 1.0, 1.0)),
                                  np.array([params[6]]))
    assert e[0, 0, 0] == pytest.approx(_quadrature(*params), rel=1e-12)


def test_p_alive_draws_equals_the_closed_form():
    # random draws and customers, with x = 0, x = 500, t_x = T, t_x = 0 with x > 0 and
    # T = 10,000 days (odds far beyond exp's range)
    rng = np.random.default_rng(3)
    S, n = 30, 400
    r, alpha = rng.uniform(0.05, 3, S), rng.uniform(0.5, 50, S)
    a, b = rng.uniform(0.2, 3.5, S), rng.uniform(0.3, 6, S)
    x = np.r_[rng.integers(0, 40, n - 4), 0, 500, 3, 2].astype(float)
    T = np.r_[rng.uniform(0.1, 80, n - 4), 50.0, 10_000 / 7, 10_000 / 7, 40.0]
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    t_x[-1], t_x[-3] = T[-1], 0.0
    got = p_alive_draws(r, alpha, a, b, x, t_x, T)
    want = pr.p_alive(r[:, None], alpha[:, None], a[:, None], b[:, None], x, t_x, T)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    assert (got[:, x == 0] == 1.0).all()
    assert (got[:, -3] < 1e-100).all()  # 500 purchases at once, then 27 silent years
