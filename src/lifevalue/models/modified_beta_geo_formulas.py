"""MBG/NBD likelihood and closed forms in plain NumPy/SciPy.

The MBG/NBD (Batislam, Denizel & Filiztekin 2007, "Empirical validation and
comparison of models for customer base analysis", International Journal of Research in
Marketing 24(3)) is the BG/NBD in which a customer may also drop out at time 0, right
after the first purchase: with ``p ~ Beta(a, b)`` a customer survives x + 1 coin
flips, not x, by their x-th repeat purchase. Every expression is the BG/NBD's with
``b + x`` where the BG/NBD has ``b + x - 1`` for the posterior of p, and without the
BG/NBD's exception for x = 0; this module builds them from the BG/NBD's pieces
(:mod:`lifevalue.models.likelihoods`, :mod:`lifevalue.models.predictions`).

Every function broadcasts: draws ``(S, 1)`` and customers ``(n,)`` give ``(S, n)``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import special

from lifevalue.models import predictions as bg
from lifevalue.models.bg_family import bg_family_derivs
from lifevalue.models.customer_posterior import BlockRNG
from lifevalue.models.kernels import bgnbd_at, bgnbd_kernel_data, bgnbd_loglik_grad
from lifevalue.models.likelihoods import NUMPY, BGNBDStats, _bgnbd_tail, _bgnbd_x_terms
from lifevalue.models.nuts_density import add_profile, array_f8, begin, end, profile_params


def _x_terms(r, alpha, a, b, x, xp):
    """x-only terms: the BG/NBD's with ``B(a, b+x+1)`` for ``B(a, b+x)``, i.e. plus
    ``log(b+x) - log(a+b+x)``."""
    return _bgnbd_x_terms(r, alpha, a, b, x, xp) + xp.log(b + x) - xp.log(a + b + x)


def mbgnbd_loglik(r, alpha, a, b, x, t_x, T, xp=NUMPY):
    """Per-customer MBG/NBD log-likelihood (Batislam et al. 2007).

    ``L = B(a, b+x+1)/B(a, b) Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
    + B(a+1, b+x)/B(a, b) Gamma(r+x) alpha^r / (Gamma(r) (alpha+t_x)^(r+x))``,

    the second term for every customer (x = 0 too, with t_x = 0). With the BG/NBD's
    factoring it is ``log[Gamma(r+x) alpha^r B(a, b+x+1) / (Gamma(r) B(a, b))]`` plus
    ``logaddexp(-(r+x) log(alpha+T), log a - log(b+x) - (r+x) log(alpha+t_x))``.

    Examples
    --------
    >>> round(float(mbgnbd_loglik(0.525, 6.183, 0.891, 1.614, 2, 30.43, 38.86)), 4)
    -9.4856
    """
    x = np.asarray(x, dtype="float64")
    log_b_x = xp.log(b + x)
    tail = _bgnbd_tail(r, a, x, xp.log(alpha + T), xp.log(alpha + t_x), log_b_x, 1.0, xp)
    return _x_terms(r, alpha, a, b, x, xp) + tail


def mbgnbd_total_loglik(r, alpha, a, b, stats: BGNBDStats, xp=NUMPY):
    """Total MBG/NBD log-likelihood from the unique (x, t_x, T) rows with counts.

    Equals ``mbgnbd_loglik(...).sum()`` over the original customers.
    """
    x_part = xp.sum(stats.x_count * _x_terms(r, alpha, a, b, stats.x_unique, xp))
    tail = _bgnbd_tail(
        r, a, stats.x,
        xp.log(alpha + stats.T_unique)[stats.T_index],
        xp.log(alpha + stats.t_x_unique)[stats.t_x_index],
        xp.log(b + stats.x_unique)[stats.x_index],
        1.0, xp)
    return x_part + xp.sum(stats.count * tail)


def mbgnbd_total_loglik_derivs(r, alpha, a, b, stats: BGNBDStats, *, hessian: bool = True):
    """:func:`mbgnbd_total_loglik`, its gradient and Hessian in (r, alpha, a, b): the
    BG/NBD's derivatives with the MBG/NBD's terms (see
    :func:`lifevalue.models.bg_family.bg_family_derivs`)."""
    return bg_family_derivs(r, alpha, a, b, stats, hessian=hessian, modified=True)


def mbgnbd_total_loglik_grad(r, alpha, a, b, stats: BGNBDStats):
    """``(ll, grad)`` of :func:`mbgnbd_total_loglik_derivs`: the signature of the
    compiled sampler's kernels."""
    ll, g, _ = bg_family_derivs(r, alpha, a, b, stats, hessian=False, modified=True)
    return ll, g


def mbgnbd_kernel_data(stats: BGNBDStats) -> tuple:
    """The arguments of :func:`mbgnbd_loglik_grad_compiled` after the parameters: those
    of the BG/NBD's compiled kernel (:func:`lifevalue.models.kernels.bgnbd_kernel_data`)
    with every triple in the bracket (x = 0 too) and ``log(b + x)`` where the BG/NBD has
    ``log(b + x - 1)``."""
    from dataclasses import replace

    data = list(bgnbd_kernel_data(replace(stats, repeat=np.ones_like(stats.repeat))))
    data[2] = np.asarray(stats.x_unique, dtype="float64")
    return tuple(data)


def mbgnbd_loglik_grad_compiled(r, alpha, a, b, *data):
    """Total MBG/NBD log-likelihood and gradient for NUTS: the BG/NBD's numba kernel
    (:func:`lifevalue.models.kernels.bgnbd_loglik_grad`) on :func:`mbgnbd_kernel_data`,
    plus the MBG/NBD's extra x-only terms (:func:`_extra_x_terms`)."""
    ll, g = bgnbd_loglik_grad(r, alpha, a, b, *data)
    return _extra_x_terms(a, b, data[0], data[1], ll, g)


@numba.njit(error_model="numpy")
def _extra_x_terms(a, b, xu, cx, ll, g):
    """Add the MBG/NBD's x-only terms ``log(b+x) - log(a+b+x)`` per distinct x (counts
    ``cx``) and their gradient in (a, b) to the BG/NBD's ``(ll, g)``."""
    for i in range(len(xu)):
        ll += cx[i] * (math.log(b + xu[i]) - math.log(a + b + xu[i]))
        inv_bx, inv_abx = 1.0 / (b + xu[i]), 1.0 / (a + b + xu[i])
        g[2] -= cx[i] * inv_abx
        g[3] += cx[i] * (inv_bx - inv_abx)
    return ll, g


@numba.njit(error_model="numpy")
def _mbgnbd_at(user_data, k, p):
    """The BG/NBD's kernel (:func:`lifevalue.models.kernels.bgnbd_at`) on
    :func:`mbgnbd_kernel_data`'s arrays from the k-th, plus :func:`_extra_x_terms`."""
    ll, g = bgnbd_at(user_data, k, p)
    return _extra_x_terms(p[2], p[3], array_f8(user_data, k), array_f8(user_data, k + 1),
                          ll, g)


def mbgnbd_density(n, z_, grad_, logp_, user_data):
    """The MBG/NBD's log density in z for nutpie (:mod:`lifevalue.models.nuts_density`)."""
    theta, values, prof, own, grad = begin(n, z_, user_data)
    ll = 0.0
    for g in range(int(prof[0])):
        profile_params(prof, g, values, own)
        ll += add_profile(prof, g, own, *_mbgnbd_at(user_data, 2 + 10 * g, own), grad)
    return end(ll, grad, theta, values, n, user_data, grad_, logp_)


def mbgnbd_total_loglik_draws(params: np.ndarray, stats: BGNBDStats, *,
                              workers: int = 1) -> np.ndarray:
    """:func:`mbgnbd_total_loglik` at each row ``(r, alpha, a, b)`` of ``params``
    (``workers`` is accepted for the common signature and unused)."""
    params = np.atleast_2d(np.asarray(params, dtype="float64"))
    return np.array([float(mbgnbd_total_loglik(*row, stats)) for row in params])


# ------------------------------------------------------------------ predictions


def p_alive(r, alpha, a, b, x, t_x, T):
    """Probability that a customer with history (x, t_x, T) is still alive
    (Batislam et al. 2007):
    ``P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``, for every x; a
    logistic function of the log odds here. Unlike the BG/NBD's it is below 1 for a
    customer without repeat purchases.

    Examples
    --------
    >>> round(float(p_alive(0.525, 6.183, 0.891, 1.614, 0, 0.0, 38.86)), 4)
    0.3897
    """
    x = np.asarray(x, dtype="float64")
    log_odds = (np.log(a) - np.log(b + x)
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
    return special.expit(-log_odds)


def expected_purchases_if_alive(r, alpha, a, b, x, T, t):
    """Expected purchases in (T, T+t] of a customer alive at T: the BG/NBD's bracket
    (FHL 2005a, eq. 10) with ``p ~ Beta(a, b+x+1)``, i.e. at ``b + 1``:
    ``(a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x;
    t/(alpha+T+t))]``."""
    return bg.expected_purchases_if_alive(r, alpha, a, np.asarray(b) + 1.0, x, T, t)


def expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """Expected purchases in (T, T+t] of a customer with history (x, t_x, T)
    (Batislam et al. 2007): ``P(alive)`` times :func:`expected_purchases_if_alive`.

    Examples
    --------
    >>> round(float(expected_purchases(0.525, 6.183, 0.891, 1.614, 2, 30.43, 38.86, 39)), 4)
    1.263
    """
    return (p_alive(r, alpha, a, b, x, t_x, T)
            * expected_purchases_if_alive(r, alpha, a, b, x, T, t))


def expected_purchases_new_customer(r, alpha, a, b, t):
    """Expected purchases in (0, t] of a customer just acquired (Batislam et al.
    2007): ``b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]``.

    The customer survives time 0 with probability 1 - p, and ``(1 - p) Beta(a, b)``
    is ``b/(a+b) Beta(a, b+1)``: the BG/NBD's FHL (2005a) eq. (9) at ``b + 1``, times
    ``b/(a+b)``.

    Examples
    --------
    >>> round(float(expected_purchases_new_customer(0.525, 6.183, 0.891, 1.614, 39)), 4)
    1.183
    """
    b = np.asarray(b, dtype="float64")
    return b / (a + b) * bg.expected_purchases_new_customer(r, alpha, a, b + 1.0, t)


def prob_no_purchase(r, alpha, a, b, x, t_x, T, t):
    """Probability of no purchase in (T, T+t]: as for the BG/NBD (an active customer
    drops out only at a purchase), ``1 - P(alive) + P(alive)
    ((alpha+T)/(alpha+T+t))^(r+x)`` with the MBG/NBD's P(alive).

    Examples
    --------
    >>> round(float(prob_no_purchase(0.525, 6.183, 0.891, 1.614, 0, 0.0, 38.86, 39)), 4)
    0.8912
    """
    return bg.no_purchase_given_alive(r, alpha, x, T, t, p_alive(r, alpha, a, b, x, t_x, T))


def simulate_counts(params: dict, x, t_x, T, horizon: float, rng: BlockRNG):
    """Purchases in (T, T+horizon], one future per population draw and customer.

    The customer is alive with probability :func:`p_alive`; then
    ``lambda ~ Gamma(r+x, alpha+T)`` and ``p ~ Beta(a, b+x+1)`` (the posterior given
    x + 1 survived dropout chances), the customer would make ``N ~ Poisson(lambda
    horizon)`` purchases and drops out at the ``K``-th, ``K ~ Geometric(p)``: they make
    ``min(N, K)`` and are still active at the end when ``N < K``.

    Returns
    -------
    counts : int64 array ``(S, n)``
    active : bool array ``(S, n)``
    """
    r, alpha, a, b = (np.asarray(params[k], dtype="float64")[:, None]
                      for k in ("r", "alpha", "a", "b"))
    x, t_x, T = (np.asarray(c, dtype="float64")[None, :] for c in (x, t_x, T))
    shape = (r.shape[0], x.shape[1])
    alive = rng.uniform(shape) < p_alive(r, alpha, a, b, x, t_x, T)
    lam = rng.gamma(r + x, 1.0 / (alpha + T), shape)
    p = np.maximum(rng.beta(a, b + x + 1.0, shape), np.finfo(float).tiny)
    n = rng.poisson(lam * float(horizon), shape)
    k = rng.geometric(p, shape)
    counts = np.where(alive, np.minimum(n, k), 0).astype(np.int64)
    return counts, alive & (n < k)
