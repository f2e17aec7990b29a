"""Per-customer posterior simulation agrees with the closed forms and ignores chunking."""

import numpy as np
import pytest

from lifevalue.models import customer_posterior as cp
from lifevalue.models import predictions as pr

BG = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = dict(p=6.25, q=3.74, gamma=15.44)
HIST = dict(x=np.array([0.0, 1.0, 2.0, 7.0, 25.0]), t_x=np.array([0.0, 1.71, 30.43, 20.0, 37.0]),
            T=np.array([38.86, 38.86, 38.86, 38.86, 38.86]))


def _draws(n):
    return {k: np.full(n, v) for k, v in BG.items()}


def test_simulated_purchases_match_closed_form():
    n = 40_000
    rng = cp.BlockRNG(11, 0, len(HIST["x"]))
    alive, lam, p = cp.draw_bgnbd_states(_draws(n), HIST["x"], HIST["t_x"], HIST["T"], rng)
    purchases, active = cp.simulate_purchases(alive, lam, p, [13.0, 13.0, 13.0], rng)
    sim = purchases.sum(axis=-1).mean(axis=0)
    exact = pr.expected_purchases(*BG.values(), HIST["x"], HIST["t_x"], HIST["T"], 39.0)
    se = purchases.sum(axis=-1).std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(sim - exact) < 4 * se + 1e-3), (sim, exact)
    # P(alive) now = share active at the start of the first period
    np.testing.assert_allclose(active[..., 0].mean(axis=0),
                               pr.p_alive(*BG.values(), HIST["x"], HIST["t_x"], HIST["T"]),
                               atol=4 * 0.5 / np.sqrt(n))
    # no purchase in the window
    none = (purchases.sum(axis=-1) == 0).mean(axis=0)
    np.testing.assert_allclose(
        none, pr.prob_no_purchase(*BG.values(), HIST["x"], HIST["t_x"], HIST["T"], 39.0),
        atol=4 * 0.5 / np.sqrt(n))


def test_simulated_spend_matches_expected_spend():
    n = 40_000
    x = np.array([1.0, 2.0, 10.0])
    m = np.array([5.0, 22.35, 80.0])
    rng = cp.BlockRNG(3, 0, 3)
    nu = cp.draw_spend_rate({k: np.full(n, v) for k, v in GG.items()}, x, m, rng)
    one = cp.simulate_spend(np.ones((n, 3, 1), dtype=np.int64), np.full(n, GG["p"]), nu, rng)
    exact = pr.expected_spend(*GG.values(), x, m)
    np.testing.assert_allclose(one[..., 0].mean(axis=0), exact, rtol=0.03)
    zero = cp.simulate_spend(np.zeros((n, 3, 1), dtype=np.int64), np.full(n, GG["p"]), nu, rng)
    assert (zero == 0).all()


def test_block_rng_does_not_depend_on_chunking():
    n = cp.RNG_BLOCK * 3 + 17
    shape = (4, n)
    whole = cp.BlockRNG(5, 0, n).gamma(np.full(shape, 2.0), np.ones(shape), shape)
    first = cp.BlockRNG(5, 0, cp.RNG_BLOCK * 2).gamma(
        np.full((4, cp.RNG_BLOCK * 2), 2.0), 1.0, (4, cp.RNG_BLOCK * 2))
    rest_n = n - cp.RNG_BLOCK * 2
    rest = cp.BlockRNG(5, cp.RNG_BLOCK * 2, n).gamma(np.full((4, rest_n), 2.0), 1.0,
                                                     (4, rest_n))
    np.testing.assert_array_equal(whole, np.concatenate([first, rest], axis=1))
    with pytest.raises(ValueError, match="block boundary"):
        cp.BlockRNG(5, 3, 10)


@pytest.mark.parametrize("params", [BG, dict(r=2.0, alpha=1.0, a=1.5, b=1.0)])
def test_marginal_simulation_matches_closed_forms(params):
    # lambda and p integrated out (Polya walk): purchases, survival and spend still agree
    # with the closed forms, with a purchase-rate and a dropout multiplier; the second
    # population buys often, so that the dropout law after each purchase matters
    n, edges = 40_000, np.array([0.0, 13.0, 26.0, 39.0])
    x, t_x, T = HIST["x"], HIST["t_x"], HIST["T"]
    m = np.where(x > 0, 30.0, 0.0)
    c_rate, c_drop = np.array([1.0, 1.5, 1.0, 0.8, 1.2]), np.array([1.0, 1.0, 0.5, 1.0, 2.0])
    bg, gg = {k: np.full(n, v) for k, v in params.items()}, {k: np.full(n, v)
                                                             for k, v in GG.items()}
    r, alpha, a, b = params.values()
    alive = np.broadcast_to(pr.p_alive(r, alpha, a, b, x, t_x, T), (n, len(x)))
    q_none = np.broadcast_to(((alpha + T) / (alpha + T + c_rate * 39.0)) ** (r + x),
                             (n, len(x)))
    weights = np.array([1.0, 0.5, 0.25])
    rev, active = cp.simulate_discounted_revenue(
        alive, q_none, bg, gg, x, T, m, edges, weights, cp.BlockRNG(2, 0, len(x)),
        rate_multiplier=c_rate, dropout_multiplier=c_drop, need_active=True)
    assert rev.shape == active.shape == (n, len(x))
    tau = c_rate[:, None] * edges[None, :]
    bought = np.diff(pr.expected_purchases_if_alive(r, alpha, a * c_drop[:, None], b,
                                                    x[:, None], T[:, None], tau), axis=-1)
    spend = pr.expected_spend(GG["p"], GG["q"], GG["gamma"], x, m)
    exact = alive[0] * spend * (bought @ weights)
    # the sample sd understates the noise of a customer who is rarely alive (the second
    # one: P(alive) = 2e-4, about 8 alive draws): the count of alive draws alone has a
    # relative sd of 1 / sqrt(n P(alive))
    se = np.maximum(rev.std(axis=0), exact / np.sqrt(alive[0])) / np.sqrt(n)
    assert np.all(np.abs(rev.mean(axis=0) - exact) < 4 * se), (rev.mean(axis=0), exact)
    surv = pr.survival_if_alive(r, alpha, a * c_drop[:, None], b, x[:, None], T[:, None],
                                tau[:, :-1])
    for t in range(3):  # active at the start of period t+1
        np.testing.assert_allclose((active > t).mean(axis=0), alive[0] * surv[:, t],
                                   atol=4 * 0.5 / np.sqrt(n))
    none = (rev == 0).mean(axis=0)
    np.testing.assert_allclose(none, 1 - alive[0] * (1 - q_none[0]), atol=4 * 0.5 / np.sqrt(n))


def test_marginal_simulation_does_not_depend_on_chunking():
    n_draws, n = 20, 3 * cp.RNG_BLOCK + 17
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, n).astype(float)
    T = np.full(n, 30.0)
    m = np.where(x > 0, 20.0, 0.0)
    bg, gg = _draws(n_draws), {k: np.full(n_draws, v) for k, v in GG.items()}
    alive = np.full((n_draws, n), 0.8)
    q_none = np.full((n_draws, n), 0.5)
    edges, w = np.array([0.0, 10.0, 20.0]), np.array([1.0, 0.9])

    def run(lo, hi):
        return cp.simulate_discounted_revenue(alive[:, lo:hi], q_none[:, lo:hi], bg, gg,
                                              x[lo:hi], T[lo:hi], m[lo:hi], edges, w,
                                              cp.BlockRNG(9, lo, hi))[0]

    whole = run(0, n)
    parts = np.concatenate([run(0, 2 * cp.RNG_BLOCK), run(2 * cp.RNG_BLOCK, n)], axis=1)
    np.testing.assert_array_equal(whole, parts)
    assert (whole > 0).any()


@pytest.mark.parametrize("params", [BG, dict(r=2.0, alpha=1.0, a=1.5, b=1.0)])
def test_purchase_counts_match_closed_forms(params):
    # the scorer's walk (rate and dropout integrated out): mean count (eq. 10 x P(alive)),
    # P(no purchase) and P(active at the end) against the closed forms
    n, h = 40_000, 39.0
    x, t_x, T = HIST["x"], HIST["t_x"], HIST["T"]
    counts, active = cp.simulate_purchase_counts({k: np.full(n, v) for k, v in params.items()},
                                                 x, t_x, T, h, cp.BlockRNG(4, 0, len(x)))
    assert counts.shape == active.shape == (n, len(x))
    r, alpha, a, b = params.values()
    exact = pr.expected_purchases(r, alpha, a, b, x, t_x, T, h)
    alive = pr.p_alive(r, alpha, a, b, x, t_x, T)
    se = np.maximum(counts.std(axis=0), exact / np.sqrt(alive)) / np.sqrt(n)
    assert np.all(np.abs(counts.mean(axis=0) - exact) < 4 * se), (counts.mean(axis=0), exact)
    tol = 4 * 0.5 / np.sqrt(n)
    np.testing.assert_allclose((counts == 0).mean(axis=0),
                               pr.prob_no_purchase(r, alpha, a, b, x, t_x, T, h), atol=tol)
    np.testing.assert_allclose(active.mean(axis=0),
                               alive * pr.survival_if_alive(r, alpha, a, b, x, T, h), atol=tol)


def test_walk_scratch_holds_a_purchase_in_every_period_and_more():
    # a heavy buyer with purchases in every period and more: the branch-free bookkeeping
    # writes one slot past the list of periods, which the scratch must hold (it did not:
    # the compiled kernels, which do not check bounds, wrote past the array). Run as
    # plain Python, where an index past the end raises.
    P = 3
    counts = cp.new_counts(P)
    for j in (2, 0, 1, 0, 2, 2, 1):
        cp._add_purchase.py_func(counts, j, P)
    assert counts[:P].tolist() == [2, 2, 3]     # purchases per period
    assert counts[P] == 3                        # periods with any
    assert counts[P + 1:2 * P + 1].tolist() == [2, 0, 1]  # which, in order of first purchase
