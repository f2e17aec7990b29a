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

#: Customers per random-number block. Chunks are whole numbers of blocks.
RNG_BLOCK = 256


class BlockRNG:
    """Random draws for customers ``[start, stop)`` that do not depend on chunking.

    Every draw method takes arrays of shape ``(S, n, ...)``, whose axis 1 runs over the
    customers of the chunk; each block of :data:`RNG_BLOCK` customers uses its own generator, seeded
    by ``(seed, block index)``, in a fixed order of calls.
    """

    def __init__(self, seed: int, start: int, stop: int):
        if start % RNG_BLOCK:
            raise ValueError("chunks must start on a block boundary")
        self.start, self.stop = start, stop
        first, last = start // RNG_BLOCK, -(-stop // RNG_BLOCK)
        self._gens = [np.random.default_rng([int(seed), b]) for b in range(first, last)]

    def _apply(self, method: str, *arrays, shape):
        out = np.empty(shape)
        n = shape[1]
        for i, gen in enumerate(self._gens):
            sl = slice(i * RNG_BLOCK, min((i + 1) * RNG_BLOCK, n))
            block = (np.broadcast_to(a, shape)[:, sl] for a in arrays)
            out[:, sl] = getattr(gen, method)(*block, size=out[:, sl].shape)
        return out

    def stream_seeds(self) -> np.ndarray:
        """The xoshiro256** seed words of each block, ``(blocks, 4)`` (for compiled
        scorers that derive one stream per customer, see :func:`seed_stream`)."""
        return np.stack([_xoshiro_state(gen) for gen in self._gens])

    def per_block(self, n: int, draw) -> None:
        """Call ``draw(generator, block_slice)`` for each block of the chunk's ``n``
        customers, in order: for draws whose size depends on earlier ones."""
        for i, gen in enumerate(self._gens):
            draw(gen, slice(i * RNG_BLOCK, min((i + 1) * RNG_BLOCK, n)))

    def gamma_where(self, mask, shape_param, scale):
        """Gamma draws where ``mask`` (``(S, n, ...)``) is true, 0 elsewhere."""
        out = np.zeros(mask.shape)
        shape_param = np.broadcast_to(shape_param, mask.shape)
        scale = np.broadcast_to(scale, mask.shape)

        def draw(gen, sl):
            m = mask[:, sl]
            out[:, sl][m] = gen.gamma(shape_param[:, sl][m], scale[:, sl][m])

        self.per_block(mask.shape[1], draw)
        return out

    def uniform(self, shape):
        return self._apply("random", shape=shape)

    def gamma(self, shape_param, scale, shape):
        return self._apply("gamma", shape_param, scale, shape=shape)

    def beta(self, a, b, shape):
        return self._apply("beta", a, b, shape=shape)

    def poisson(self, lam, shape):
        return self._apply("poisson", lam, shape=shape)

    def geometric(self, p, shape):
        return self._apply("geometric", p, shape=shape)


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
    window = np.zeros(3, dtype=np.int64)  # one period (see new_counts)
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
                             edges, 1.0 / horizon, window)
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
    counts = np.zeros(2 * P + 1, dtype=np.int64)  # see new_counts
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
                b[s] + x[i], ps[s], pd[s], pc[s], ps[s] * x[i] + qs[s], gs[s] + x[i] * m[i],
                edges, per_unit, weights, counts)
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
def buyer_revenue(st, w, shape, scale, a_d, b_x, p, p_d, p_c, nu_shape, nu_rate, edges,
                  per_unit, weights, counts):
    """One buyer's future: the purchases (:func:`_walk`), then the spend.

    ``nu ~ Gamma(p x + q, gamma + x m)`` (``nu_shape``, ``nu_rate``) and the spend of the
    k purchases of a period is ``Gamma(k p, nu)`` (FHL 2005b); ``p_d, p_c`` are the
    Marsaglia-Tsang constants of ``Gamma(p)`` (:func:`gamma_constants`), for the periods
    with one purchase. ``st`` is the random state (:func:`_load`). Returns ``(sum_t
    weights_t spend_t, time of dropping out, st)``; ``counts`` (:func:`new_counts`) is
    left empty.
    """
    drop, st = _walk(st, w, shape, scale, a_d, b_x, edges, per_unit, counts)
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


def new_counts(periods: int) -> np.ndarray:
    """The walk's scratch: purchases per period, then how many periods have any, then
    which (in order)."""
    return np.zeros(2 * periods + 1, dtype=np.int64)


@numba.njit(nogil=True, cache=True, inline="always")
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


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _walk(st, w, shape, scale, a_d, b_x, edges, per_unit, counts):
    """One buyer's purchases in the horizon, added to ``counts`` (:func:`new_counts`);
    returns the time of dropping out (``inf`` if still active at the horizon) and the
    random state ``st``.

    ``w`` is uniform on [0, 1 - q_none): the first purchase falls inside the horizon.
    The first gap is Lomax with shape ``r + x`` and scale ``(alpha + T) / rate`` (lambda
    integrated out), inverted at ``w``. Given it, lambda is ``Gamma(r + x + 1, scale +
    t_1)`` (one arrival in an exposure of t_1), drawn once; the further gaps are
    Exp(lambda). After the j-th purchase the customer drops out with probability
    ``a_d / (a_d + b + x + j - 1)`` (p integrated out: the Beta-geometric urn).
    """
    P = len(edges) - 1
    horizon = edges[P]
    # invert the Lomax distribution function of the first purchase
    t = min(scale * (math.exp(-math.log(1.0 - w) / shape) - 1.0), np.nextafter(horizon, 0.0))
    _add_purchase(counts, _period_of(t, edges, per_unit), P)
    ab = a_d + b_x
    u, st = _uniform_s(st)
    if u * ab < a_d:
        return t, st
    # 1 / lambda; a Gamma draw that underflows gives inf: no further purchase
    g, st = _gamma_s(st, shape + 1.0)
    inverse_rate = (scale + t) / g
    k = 1
    while True:
        e, st = _exponential_s(st)
        t += e * inverse_rate
        if t >= horizon:
            return np.inf, st
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


# ------------------------------------------------ the simulation's own random numbers
#
# The compiled walk draws from xoshiro256** (Blackman & Vigna 2018), seeded per block by
# the block's NumPy generator, so its streams keep the block structure (and so do not
# depend on chunking, threads or Spark partitions); normals and exponentials by the
# ziggurat method (Marsaglia & Tsang 2000, in Doornik's 2005 form), Gamma variates by
# Marsaglia & Tsang (2000). All are exact samplers; inlined, they cost a fraction of a
# call into a NumPy generator.


def _xoshiro_state(gen: np.random.Generator) -> np.ndarray:
    """Four 64-bit words from ``gen``: a xoshiro256** state (never all zero)."""
    state = gen.integers(0, 2**64, size=4, dtype=np.uint64, endpoint=False)
    if not state.any():
        state[0] = 1
    return state


@numba.njit(nogil=True, cache=True)
def seed_stream(words, index, state):
    """Write into ``state`` the xoshiro256** state of stream ``index`` of the four seed
    ``words``: four splitmix64 outputs (Vigna's recommended seeding) from a start that
    differs per stream, so that streams neither coincide nor depend on each other."""
    z = (words[0] ^ _rotl(words[1], 17) ^ _rotl(words[2], 31) ^ _rotl(words[3], 47)) \
        + np.uint64(index) * np.uint64(4) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(4):
        z += np.uint64(0x9E3779B97F4A7C15)
        y = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        y = (y ^ (y >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state[j] = y ^ (y >> np.uint64(31))
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = np.uint64(1)


@numba.njit(nogil=True, cache=True, inline="always")
def _rotl(v, k):
    return (v << np.uint64(k)) | (v >> np.uint64(64 - k))


# The samplers take the state as a value, ``st``, a tuple of the four words, and return
# the new one with their draw: inlined, the state then lives in registers. Kept in an
# array, it went through memory at every draw, since any store (of a count, of a value)
# might alias it: about 3 ns per uniform instead of 1.4 (measured). A caller that holds
# the state in an array loads it once (:func:`_load`) and stores it back at the end.


@numba.njit(nogil=True, cache=True, inline="always")
def _load(state):
    """The random state held in a 4-word array, as a value."""
    return (state[0], state[1], state[2], state[3])


@numba.njit(nogil=True, cache=True, inline="always")
def _store(state, st):
    """Write the random state ``st`` back into its array."""
    state[0], state[1], state[2], state[3] = st[0], st[1], st[2], st[3]


@numba.njit(nogil=True, cache=True, inline="always")
def _next_s(st):
    """The next 64-bit output of xoshiro256** and the new state."""
    s0, s1, s2, s3 = st
    out = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return out, (s0, s1, s2, s3)


@numba.njit(nogil=True, cache=True, inline="always")
def _uniform_s(st):
    """A uniform on [0, 1) from the top 53 bits of the next xoshiro256** output."""
    bits, st = _next_s(st)
    return float(np.int64(bits >> np.uint64(11))) * (1.0 / 9007199254740992.0), st


def _ziggurat_tables(density, inverse, r: float, v: float, layers: int = 256):
    """Layer edges ``x_0 > x_1 = r > ... > x_256 = 0`` of a ziggurat of equal areas ``v``
    under the decreasing ``density`` (layer 0 is the base strip with the tail), and
    ``x_{i+1} / x_i``."""
    x = np.empty(layers + 1)
    x[0] = v / density(r)
    x[1] = r
    for i in range(1, layers - 1):
        x[i + 1] = inverse(v / x[i] + density(x[i]))
    x[layers] = 0.0
    return x, x[1:] / x[:-1]


# Marsaglia & Tsang (2000): 256 layers for the normal's half (r = 3.654...) and the
# exponential (r = 7.697...)
_ZIG_X, _ZIG_RATIO = _ziggurat_tables(lambda t: math.exp(-0.5 * t * t),
                                      lambda y: math.sqrt(-2.0 * math.log(y)),
                                      3.6541528853610088, 0.00492867323399)
_ZIG_R = float(_ZIG_X[1])
_EXP_X, _EXP_RATIO = _ziggurat_tables(lambda t: math.exp(-t), lambda y: -math.log(y),
                                      7.69711747013104972, 0.0039496598225815571993)
_EXP_R = float(_EXP_X[1])


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _exponential_s(st):
    """A standard exponential by the ziggurat: the low 8 bits of one output pick the
    layer, its top 53 bits the uniform; inside the next layer's width (about 99% of
    the time) that is the draw. The tail beyond r is r plus an exponential."""
    while True:
        bits, st = _next_s(st)
        i = np.int64(bits & np.uint64(255))
        u = float(np.int64(bits >> np.uint64(11))) * (1.0 / 9007199254740992.0)
        if u < _EXP_RATIO[i]:
            return u * _EXP_X[i], st
        z, st = _exponential_edge(st, i, u)
        if z == z:
            return z, st


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _exponential_edge(st, i, u):
    """The exponential ziggurat's rare cases (see :func:`_normal_edge`)."""
    v, st = _uniform_s(st)
    if i == 0:
        return _EXP_R - math.log(1.0 - v), st
    z = u * _EXP_X[i]
    f0 = math.exp(-_EXP_X[i])
    f1 = math.exp(-_EXP_X[i + 1])
    if f1 + v * (f0 - f1) < math.exp(-z):
        return z, st
    return np.nan, st


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _normal_edge(st, i, u):
    """The ziggurat's rare cases for layer ``i`` and signed uniform ``u``: the tail beyond
    r (Marsaglia 1964) for the base layer, else the wedge test; NaN means reject."""
    if i == 0:
        while True:
            v, st = _uniform_s(st)
            x = math.log(1.0 - v) / _ZIG_R
            v, st = _uniform_s(st)
            y = math.log(1.0 - v)
            if -2.0 * y >= x * x:
                return (x - _ZIG_R if u < 0.0 else _ZIG_R - x), st
    z = u * _ZIG_X[i]
    f0 = math.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - z * z))
    f1 = math.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - z * z))
    v, st = _uniform_s(st)
    if f1 + v * (f0 - f1) < 1.0:
        return z, st
    return np.nan, st


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _normal_s(st):
    """A standard normal by the ziggurat (Doornik 2005): the low 8 bits of one output
    pick the layer, its top 53 bits the signed uniform; inside the next layer's width
    (about 99% of the time) that is the draw."""
    while True:
        bits, st = _next_s(st)
        i = np.int64(bits & np.uint64(255))
        u = float(np.int64(bits >> np.uint64(11))) * (2.0 / 9007199254740992.0) - 1.0
        if abs(u) < _ZIG_RATIO[i]:
            return u * _ZIG_X[i], st
        z, st = _normal_edge(st, i, u)
        if z == z:
            return z, st


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _gamma_s(st, shape):
    """A Gamma(shape, 1) variate (Marsaglia & Tsang 2000; below shape 1 via
    ``Gamma(shape + 1) * U^(1/shape)``)."""
    boost = 1.0
    if shape < 1.0:
        v, st = _uniform_s(st)
        boost = v ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    g, st = _gamma_dc_s(st, d, 1.0 / math.sqrt(9.0 * d))
    return g * boost, st


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _gamma_dc_s(st, d, c):
    """Marsaglia & Tsang's Gamma(d + 1/3) sampler, given ``d`` and ``c = 1/sqrt(9 d)``."""
    while True:
        z, st = _normal_s(st)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u, st = _uniform_s(st)
        zz = z * z
        if u < 1.0 - 0.0331 * zz * zz:
            return d * v, st
        if math.log(u) < 0.5 * zz + d * (1.0 - v + math.log(v)):
            return d * v, st
