"""Per-customer posterior draws and simulation of future purchases and spend.

Given population draws, each customer's latent state has a closed-form posterior
(FHL 2005a, section 3):

* with probability P(alive) the customer is active, and then
  ``lambda ~ Gamma(r+x, alpha+T)`` and ``p ~ Beta(a, b+x)``;
* otherwise the customer dropped out right after the last purchase.

Spend works the same way (FHL 2005b): ``nu ~ Gamma(p x + q, gamma + x m)`` and each
future transaction is ``Gamma(p, nu)``.

From one such state per population draw we simulate the future exactly: an active
customer makes purchases as a Poisson(lambda) process and drops out after each
purchase with probability p, so the number of purchases before dropping out is
``K ~ Geometric(p)`` and the purchases in the first ``j`` periods are
``min(N_1 + ... + N_j, K)`` with ``N_j ~ Poisson(lambda * length_j)``. The spread of
these simulations is the **predictive interval**.

Randomness is drawn per block of :data:`RNG_BLOCK` customers (in the scorer's
canonical order) from ``numpy.random.default_rng([seed, block])`` (the compiled value
simulation draws from a xoshiro256** stream seeded by it), so results do not depend on
how customers are chunked.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from lifevalue.models.compiled_closed_forms import no_purchase_draws, p_alive_draws
from lifevalue.models.predictions import p_alive
from lifevalue.models.random_streams import (  # noqa: F401  (RNG_BLOCK, BlockRNG: re-exported)
    RNG_BLOCK,
    BlockRNG,
    _exponential_s,
    _gamma_dc_s,
    _gamma_s,
    _load,
    _store,
    _uniform_s,
    _xoshiro_state,
)


def draw_bgnbd_states(params: dict, x, t_x, T, rng: BlockRNG, dropout_multiplier=1.0):
    """Draw (alive, lambda, p) for each population draw and customer.

    Parameters
    ----------
    params : dict
        ``r, alpha, a, b`` as arrays of shape ``(S,)``.
    x, t_x, T : array of shape ``(n,)``
    dropout_multiplier : float or array ``(n,)``
        A scenario's change of dropout propensity: the active customer's future p is
        drawn from ``Beta(dropout_multiplier * a, b + x)``
        (see :mod:`lifevalue.value.scenarios`). P(alive) is not affected.

    Returns
    -------
    alive : bool array ``(S, n)``
    lam, p : float arrays ``(S, n)``; for customers drawn dead they are the draws of
        the dropped-out posterior and matter no further.
    """
    r, alpha, a, b = (np.asarray(params[k], dtype="float64")[:, None]
                      for k in ("r", "alpha", "a", "b"))
    x, t_x, T = (np.asarray(c, dtype="float64")[None, :] for c in (x, t_x, T))
    shape = (r.shape[0], x.shape[1])
    alive = rng.uniform(shape) < p_alive(r, alpha, a, b, x, t_x, T)
    lam = rng.gamma(r + x, 1.0 / (alpha + np.where(alive, T, t_x)), shape)
    x1 = np.maximum(x, 1.0)
    c = np.asarray(dropout_multiplier, dtype="float64")
    p = rng.beta(np.where(alive, a * c, a + 1.0), np.where(alive, b + x, b + x1 - 1.0), shape)
    return alive, lam, p


def simulate_purchases(alive, lam, p, lengths, rng: BlockRNG):
    """Simulate purchases per future period.

    An active customer's purchases arrive as a Poisson(lambda) process and the customer
    drops out right after the K-th, ``K ~ Geometric(p)``. We walk the arrivals with
    Exp(lambda) gaps until the horizon or the K-th purchase, which has the same law as
    period-by-period Poisson counts truncated at K, with work proportional to the
    purchases actually made rather than to customers x periods.

    Parameters
    ----------
    alive, lam, p : arrays ``(S, n)`` from :func:`draw_bgnbd_states`.
    lengths : sequence of float
        Length of each future period, in the model's time unit.

    Returns
    -------
    purchases : int array ``(S, n, P)``
        Purchases in each period.
    active : bool array ``(S, n, P)``
        Whether the customer is still active at the *start* of each period.
    """
    lengths = np.asarray(lengths, dtype="float64")
    edges = np.concatenate([[0.0], np.cumsum(lengths)])
    horizon, P = edges[-1], len(lengths)
    S, n = alive.shape
    purchases = np.zeros((S, n, P), dtype=np.int64)
    drop_time = np.full((S, n), np.inf)

    def draw(gen, sl):
        a = alive[:, sl]
        # a Beta draw of p can underflow to 0 (a tiny a, e.g. when nobody ever drops
        # out): p = 0 means K is infinite, which geometric(tiny) gives as int64 max
        k = np.where(a, gen.geometric(np.maximum(p[:, sl], np.finfo(float).tiny)),
                     0).ravel()
        rate = lam[:, sl].ravel()
        idx = np.flatnonzero(k > 0)
        t = np.zeros(len(idx))
        made = 0
        cells, dropped = [], np.full(a.size, np.inf)
        while idx.size:
            # a Gamma draw of lambda can underflow to 0 or a subnormal (a tiny r + x):
            # the next purchase is then never (t = inf, outside the horizon)
            with np.errstate(divide="ignore", over="ignore"):
                t = t + gen.standard_exponential(len(idx)) / rate[idx]
            inside = t < horizon
            idx, t = idx[inside], t[inside]
            made += 1
            cells.append(idx * P + np.searchsorted(edges, t, side="right") - 1)
            last = k[idx] == made  # the K-th purchase: the customer drops out now
            dropped[idx[last]] = t[last]
            idx, t = idx[~last], t[~last]
        if cells:
            flat = np.concatenate(cells)
            purchases[:, sl] = np.bincount(flat, minlength=a.size * P).reshape(a.shape + (P,))
        drop_time[:, sl] = dropped.reshape(a.shape)

    rng.per_block(n, draw)
    active = alive[..., None] & (drop_time[..., None] > edges[None, None, :-1])
    return purchases, active


def draw_spend_rate(params: dict, x, m, rng: BlockRNG):
    """Draw nu ~ Gamma(p x + q, rate gamma + x m) per population draw and customer."""
    p, q, g = (np.asarray(params[k], dtype="float64")[:, None] for k in ("p", "q", "gamma"))
    x, m = (np.asarray(c, dtype="float64")[None, :] for c in (x, m))
    shape = (p.shape[0], x.shape[1])
    return rng.gamma(p * x + q, 1.0 / (g + x * m), shape)


def simulate_spend(purchases, p, nu, rng: BlockRNG):
    """Total spend per period: the sum of ``purchases`` Gamma(p, nu) amounts.

    ``purchases`` is ``(S, n, P)``; ``p`` is ``(S,)`` and ``nu`` ``(S, n)``. A sum of
    k independent Gamma(p, nu) amounts is Gamma(k p, nu); zero purchases spend 0.
    """
    p = np.asarray(p, dtype="float64")[:, None, None]
    k = purchases.astype("float64")
    return rng.gamma_where(purchases > 0, k * p, 1.0 / nu[..., None])


def simulate_purchase_counts(params: dict, x, t_x, T, horizon: float, rng: BlockRNG):
    """Simulated purchases in (T, T+horizon] per population draw and customer, with each
    customer's rate and dropout integrated out (the walk of
    :func:`simulate_discounted_revenue`, without spend).

    The law is that of :func:`draw_bgnbd_states` followed by :func:`simulate_purchases`
    (one future per population draw; FHL 2005a, section 3 posterior); only the random
    streams differ, and it costs one uniform per customer and draw plus a few per
    purchase.

    Parameters
    ----------
    params : dict
        ``r, alpha, a, b`` as arrays ``(S,)``.
    x, t_x, T : arrays ``(n,)``
    horizon : float
        Length of the window after T, > 0.

    Returns
    -------
    counts : int64 array ``(S, n)``
    active : bool array ``(S, n)``
        Whether the customer is still active at T + horizon.
    """
    r, alpha, a, b = (np.ascontiguousarray(params[k], dtype="float64")
                      for k in ("r", "alpha", "a", "b"))
    x, t_x, T = (np.ascontiguousarray(c, dtype="float64") for c in (x, t_x, T))
    counts = np.zeros((len(r), len(x)), dtype=np.int64)
    active = np.zeros((len(r), len(x)), dtype=np.bool_)
    edges = np.array([0.0, float(horizon)])
    # P(alive) and P(no purchase | alive) of every draw and customer, in SIMD lanes
    # before the walk: computed inside it, one draw at a time, they took a third of it
    alive = p_alive_draws(r, alpha, a, b, x, t_x, T)
    q_none = no_purchase_draws(r, alpha, x, T, float(horizon))

    def draw(gen, sl):
        _count_block(_xoshiro_state(gen), sl.start, sl.stop, alive, q_none, r, alpha, a, b,
                     x, T, edges, counts, active)

    rng.per_block(len(x), draw)
    return counts, active


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _count_block(state, i0, i1, alive, q_none, r, alpha, a, b, x, T, edges, counts, active):
    """:func:`simulate_purchase_counts` for the customers ``[i0, i1)`` with one block's
    stream: the walk of :func:`_simulate_block` with one period and no spend, given
    P(alive) (Fader, Hardie & Lee 2008) and the probability of no purchase if alive, per draw
    and customer."""
    horizon = edges[1]
    window = new_counts(1)  # one period
    st = _load(state)
    for s in range(len(r)):
        alive_s, none_s, counts_s, active_s = alive[s], q_none[s], counts[s], active[s]
        for i in range(i0, i1):
            u, st = _uniform_s(st)
            pa = alive_s[i]
            if u >= pa:
                continue
            active_s[i] = True
            if u >= pa * (1.0 - none_s[i]):
                continue
            drop, st = _walk(st, u / pa, r[s] + x[i], alpha[s] + T[i], a[s], b[s] + x[i],
                             np.inf, edges, 1.0 / horizon, window)
            counts_s[i] = window[0]
            window[0] = 0
            window[1] = 0
            if drop < horizon:
                active_s[i] = False
    _store(state, st)


def simulate_discounted_revenue(p_alive_, q_none, bg: dict, gg: dict, x, T, m, edges,
                                weights, rng: BlockRNG, rate_multiplier=1.0,
                                dropout_multiplier=1.0, need_active: bool = False):
    """Simulate each customer's future and return the weighted revenue, without drawing
    the customer's own rate and dropout probability.

    Given a population draw, an active customer's purchase rate is ``lambda ~ Gamma(r+x,
    alpha+T)`` and dropout ``p ~ Beta(a, b+x)`` (FHL 2005a, section 3).
    Integrating them out gives the same law of the future purchase path,
    drawn one purchase at a time (a Polya process):

    * alive with probability P(alive) (Fader, Hardie & Lee 2008);
    * the gap to the next purchase, after k purchases in (T, T+t], is Lomax:
      ``P(gap > s) = ((alpha' + t) / (alpha' + t + s))^(r+x+k)`` with ``alpha' =
      (alpha+T)/c`` for a purchase-rate multiplier c (FHL 2005a, eq. 6 with the
      Gamma posterior of lambda, updated by each arrival); in particular no purchase at
      all in the horizon H has probability ``q_none = ((alpha+T)/(alpha+T+cH))^(r+x)``;
    * after the j-th purchase the customer drops out with probability
      ``a'/(a'+b+x+j-1)``, ``a' = dropout_multiplier * a`` (the Beta-geometric law of
      K, updated by each survived purchase);
    * spend: ``nu ~ Gamma(p x + q, gamma + x m)`` and the spend of k purchases in a
      period is ``Gamma(k p, nu)`` (FHL 2005b).

    One uniform per customer and draw decides alive, and for the alive whether (and
    when) the first purchase falls inside the horizon; everything else is drawn for the
    customers who buy only. The law is exactly that of :func:`draw_bgnbd_states`,
    :func:`simulate_purchases` and :func:`simulate_spend`; the random streams differ.

    Parameters
    ----------
    p_alive_, q_none : arrays ``(S, n)``
        P(alive) and the probability of no purchase in the horizon if alive.
    bg, gg : dict
        ``r, alpha, a, b`` and ``p, q, gamma`` as arrays ``(S,)``.
    x, T, m : arrays ``(n,)``
        Repeat purchases, age and mean spend (0 when x = 0).
    edges : array ``(P+1,)``
        Period edges in the model's time unit, from 0 to H.
    weights : array ``(P,)``
        Weight of each period's revenue (e.g. discount times margin).
    rate_multiplier, dropout_multiplier : float or array ``(n,)``
        A scenario's multipliers of the purchase rate and the dropout propensity.
    need_active : bool
        Also return the number of periods at whose start the customer is active.

    Returns
    -------
    revenue : float array ``(S, n)``
        ``sum_t weights_t * spend_t`` per draw and customer.
    n_active : int8 array ``(S, n)`` or None
        Periods active at their start (0 for a customer drawn dead).
    """
    S, n = p_alive_.shape
    edges = np.asarray(edges, dtype="float64")
    weights = np.asarray(weights, dtype="float64")
    r, alpha, a, b = (np.ascontiguousarray(bg[k], dtype="float64")
                      for k in ("r", "alpha", "a", "b"))
    ps, qs, gs = (np.ascontiguousarray(gg[k], dtype="float64") for k in ("p", "q", "gamma"))
    pd, pc = gamma_constants(ps)
    x, T, m = (np.ascontiguousarray(c, dtype="float64") for c in (x, T, m))
    c_rate = np.ascontiguousarray(np.broadcast_to(
        np.asarray(rate_multiplier, dtype="float64"), (n,)))
    c_drop = np.ascontiguousarray(np.broadcast_to(
        np.asarray(dropout_multiplier, dtype="float64"), (n,)))
    p_alive_ = np.ascontiguousarray(p_alive_, dtype="float64")
    q_none = np.ascontiguousarray(q_none, dtype="float64")
    revenue = np.zeros((S, n))
    n_active = np.zeros((S, n), dtype=np.int8)
    steps = np.diff(edges)
    # equal periods: the period of a time is a division, else a search of the edges
    per_unit = 1.0 / steps[0] if np.allclose(steps, steps[0], rtol=1e-12, atol=0.0) else 0.0

    def draw(gen, sl):
        _simulate_block(_xoshiro_state(gen), sl.start, sl.stop, p_alive_, q_none, r, alpha,
                        a, b, ps, pd, pc, qs, gs, x, T, m, c_rate, c_drop, edges, per_unit,
                        weights, revenue, n_active)

    rng.per_block(n, draw)
    return revenue, (n_active if need_active else None)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _simulate_block(state, i0, i1, p_alive_, q_none, r, alpha, a, b, ps, pd, pc, qs, gs, x,
                    T, m, c_rate, c_drop, edges, per_unit, weights, revenue, n_active):
    """The compiled walk of :func:`simulate_discounted_revenue` for the customers
    ``[i0, i1)`` of a chunk, with one block's random stream (:func:`_xoshiro_state`).

    For each draw ``s`` and customer ``i`` in turn (draw-major) one uniform decides
    alive and whether the first purchase falls in the horizon; a buyer's further draws
    (:func:`buyer_revenue`) follow at once.
    """
    S = p_alive_.shape[0]
    P = len(edges) - 1
    horizon = edges[P]
    counts = new_counts(P)
    st = _load(state)
    for s in range(S):
        for i in range(i0, i1):
            u, st = _uniform_s(st)
            pa = p_alive_[s, i]
            if u >= pa:
                continue  # dropped out before T: no purchases, never active
            n_active[s, i] = P
            if u >= pa * (1.0 - q_none[s, i]):
                continue  # active, but the first purchase falls after the horizon
            revenue[s, i], drop, st = buyer_revenue(
                st, u / pa, r[s] + x[i], (alpha[s] + T[i]) / c_rate[i], c_drop[i] * a[s],
                b[s] + x[i], np.inf, ps[s], pd[s], pc[s], ps[s] * x[i] + qs[s],
                gs[s] + x[i] * m[i], edges, per_unit, weights, counts)
            if drop < horizon:
                n_active[s, i] = periods_active(drop, edges)
    _store(state, st)


@numba.njit(nogil=True, cache=True)
def periods_active(drop, edges):
    """The number of periods that start before ``drop``, the time of dropping out (the
    periods at whose start the customer is active)."""
    P = len(edges) - 1
    active = 0
    while active < P and edges[active] < drop:
        active += 1
    return active


# Not inlined: called from the scorer's loop over draws, it keeps that loop small (an
# interleaved A/B in ``score_customers`` measured about 20% less time than inlined).
@numba.njit(nogil=True, cache=True, error_model="numpy")
def buyer_revenue(st, w, shape, scale, a_d, b_x, deadline, p, p_d, p_c, nu_shape, nu_rate,
                  edges, per_unit, weights, counts):
    """One buyer's future: the purchases (:func:`_walk`, ending at ``deadline`` at the
    latest: a lifetime drawn beforehand, ``inf`` for none), then the spend.

    ``nu ~ Gamma(p x + q, gamma + x m)`` (``nu_shape``, ``nu_rate``) and the spend of the
    k purchases of a period is ``Gamma(k p, nu)`` (FHL 2005b); ``p_d, p_c`` are the
    Marsaglia-Tsang constants of ``Gamma(p)`` (:func:`gamma_constants`), for the periods
    with one purchase. ``st`` is the random state (:func:`_load`). Returns ``(sum_t
    weights_t spend_t, time of dropping out, st)``; ``counts`` (:func:`new_counts`) is
    left empty.
    """
    drop, st = _walk(st, w, shape, scale, a_d, b_x, deadline, edges, per_unit, counts)
    g, st = _gamma_s(st, nu_shape)
    nu = g / nu_rate
    P = len(weights)
    total = 0.0
    for n in range(counts[P]):  # the periods with purchases, in order
        j = counts[P + 1 + n]
        k = counts[j]
        if k == 1 and p_d > 0.0:
            g, st = _gamma_dc_s(st, p_d, p_c)
        else:
            g, st = _gamma_s(st, k * p)
        total += weights[j] * g
        counts[j] = 0
    counts[P] = 0
    return total / nu, drop, st


@numba.njit(nogil=True, cache=True)
def new_counts(periods):
    """The walk's scratch: purchases per period, then how many periods have any, then
    which (in order), then one spare slot: :func:`_add_purchase` writes the period at the
    list's end whether or not it is new (branch-free), so once every period is listed
    it writes one past the list."""
    return np.zeros(2 * periods + 2, dtype=np.int64)


@numba.njit(nogil=True, cache=True)
def _add_purchase(counts, j, P):
    """One more purchase in period ``j`` (see :func:`new_counts`), without a branch."""
    n = counts[P]
    counts[P + 1 + n] = j
    counts[P] = n + (counts[j] == 0)
    counts[j] += 1


@numba.njit(nogil=True, cache=True)
def gamma_constants(shape):
    """Marsaglia-Tsang's ``d = shape - 1/3`` and ``c = 1/sqrt(9 d)`` of each shape >= 1
    (``d = -1`` for a shape below 1, which the sampler boosts instead)."""
    d = np.full(len(shape), -1.0)
    c = np.zeros(len(shape))
    for i in range(len(shape)):
        if shape[i] >= 1.0:
            d[i] = shape[i] - 1.0 / 3.0
            c[i] = 1.0 / math.sqrt(9.0 * d[i])
    return d, c


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _walk(st, w, shape, scale, a_d, b_x, deadline, edges, per_unit, counts):
    """One buyer's purchases in the horizon, added to ``counts`` (:func:`new_counts`);
    returns the time of dropping out (``inf`` if still active at the horizon) and the
    random state ``st``.

    ``w`` is uniform on [0, 1 - q_none): the first purchase falls inside the horizon.
    The first gap is Lomax with shape ``r + x`` and scale ``(alpha + T) / rate`` (lambda
    integrated out), inverted at ``w``. Given it, lambda is ``Gamma(r + x + 1, scale +
    t_1)`` (one arrival in an exposure of t_1), drawn once; the further gaps are
    Exp(lambda). After the j-th purchase the customer drops out with probability
    ``a_d / (a_d + b + x + j - 1)`` (p integrated out: the Beta-geometric urn; BG/NBD),
    and in any case at ``deadline`` (a lifetime that ends at any time, drawn by the
    caller independently of the purchases: Pareto/NBD, with ``a_d = 0``; ``inf`` for
    none): purchases from then on do not happen.
    """
    P = len(edges) - 1
    horizon = edges[P]
    # invert the Lomax distribution function of the first purchase
    t = min(scale * (math.exp(-math.log(1.0 - w) / shape) - 1.0), np.nextafter(horizon, 0.0))
    if t >= deadline:  # the lifetime ended before the first purchase
        return deadline, st
    _add_purchase(counts, _period_of(t, edges, per_unit), P)
    ab = a_d + b_x
    u, st = _uniform_s(st)
    if u * ab < a_d:
        return t, st
    # 1 / lambda; a Gamma draw that underflows gives inf: no further purchase
    g, st = _gamma_s(st, shape + 1.0)
    inverse_rate = (scale + t) / g
    end = min(horizon, deadline)
    k = 1
    while True:
        e, st = _exponential_s(st)
        t += e * inverse_rate
        if t >= end:
            return (np.inf if deadline >= horizon else deadline), st
        _add_purchase(counts, _period_of(t, edges, per_unit), P)
        k += 1
        u, st = _uniform_s(st)
        if u * (ab + (k - 1)) < a_d:
            return t, st


@numba.njit(nogil=True, cache=True)
def _period_of(t, edges, per_unit):
    """The period ``j`` with ``edges[j] <= t < edges[j + 1]`` (``t`` inside the horizon)."""
    P = len(edges) - 1
    if per_unit > 0.0:
        return min(int(t * per_unit), P - 1)
    j = 0
    while j < P - 1 and edges[j + 1] <= t:
        j += 1
    return j
