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
    shape = alive.shape + (len(lengths),)
    k = np.where(alive, rng.geometric(p, alive.shape), 0.0)
    counts = rng.poisson(lam[..., None] * lengths, shape)
    done = np.minimum(np.cumsum(counts, axis=-1), k[..., None])
    before = np.concatenate([np.zeros(alive.shape + (1,)), done[..., :-1]], axis=-1)
    purchases = (done - before).astype(np.int64)
    active = before < k[..., None]
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
    shape_param = np.where(k > 0, k * p, 1.0)
    spend = rng.gamma(shape_param, 1.0 / nu[..., None], purchases.shape)
    return np.where(k > 0, spend, 0.0)
