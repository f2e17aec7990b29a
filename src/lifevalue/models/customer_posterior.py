"""Per-customer posterior draws and simulation of future purchases and spend.

Given population draws, each customer's latent state has a closed-form posterior
(DESIGN.md section 3; FHL 2005a, section 3):

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
these simulations is the **predictive interval** of DESIGN.md section 4.

Randomness is drawn per block of :data:`RNG_BLOCK` customers (in the scorer's
canonical order) from ``numpy.random.default_rng([seed, block])``, so results do not
depend on how customers are chunked.
"""

from __future__ import annotations

import numpy as np

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
        the dropped-out posterior (DESIGN.md section 3) and matter no further.
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
