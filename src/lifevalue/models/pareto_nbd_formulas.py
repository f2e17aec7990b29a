"""Pareto/NBD closed forms in plain NumPy/SciPy (and the likelihood for PyTensor too).

While active a customer buys as a Poisson process with rate lambda and stays active for
an exponential lifetime with rate mu; across customers ``lambda ~ Gamma(r, alpha)`` and
``mu ~ Gamma(s, beta)`` (Schmittlein, Morrison & Colombo 1987).

Every function takes the population parameters as scalars (a point estimate) or
arrays of draws, and customers' histories as arrays; everything broadcasts (draws
``(S, 1)`` and customers ``(n,)`` give ``(S, n)``).

All the customer-level expressions rest on one integral,

``I(lo, hi) = int_lo^hi (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau
= A0(lo, hi) / (r+s+x)``,

the probability weight of "dropped out at tau, no purchase after t_x" (Fader & Hardie
2005, "A note on deriving the Pareto/NBD model and related expressions", eqs. 19-22),
where ``A0`` is their difference of two Gauss hypergeometric functions, with the two
cases ``alpha >= beta`` and ``alpha < beta`` that keep the argument in [0, 1).
:func:`log_bracket` is the logarithm of the likelihood's bracket, which gives the
likelihood, P(alive) and the probability of no purchase.

References
----------
Schmittlein, Morrison & Colombo (1987), "Counting your customers: who are they and
what will they do next?", Management Science 33(1).
Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
expressions", http://brucehardie.com/notes/009/.
Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
analysis", Journal of Marketing Research 42(4), appendix.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from scipy import special

from lifevalue.models.likelihoods import NUMPY, BGNBDStats


def _hyp_namespace(xp):
    """``xp`` with ``hyp2f1`` and ``log1mexp`` (``log(1 - exp(z))``, z <= 0) added."""
    if hasattr(xp, "hyp2f1"):
        return xp
    if xp is NUMPY:
        def log1mexp(z):
            with np.errstate(divide="ignore"):
                return np.log(-np.expm1(z))

        return SimpleNamespace(**vars(xp), hyp2f1=special.hyp2f1, log1mexp=log1mexp,
                               log1p=np.log1p)
    import pytensor.tensor as pt

    return SimpleNamespace(**vars(xp), hyp2f1=pt.hyp2f1, log1mexp=pt.log1mexp,
                           log1p=pt.log1p)


def log_integral(r, alpha, s, beta, x, lo, hi, xp=NUMPY):
    """``log I(lo, hi)``: ``log A0 - log(r+s+x)`` of Fader & Hardie (2005), eq. (22).

    With ``m = max(alpha, beta)``, ``k = r+s+x`` and ``b2 = s+1`` if alpha >= beta
    else ``r+x``,
    ``A0 = 2F1(k, b2; k+1; |alpha-beta|/(m+lo)) / (m+lo)^k
    - 2F1(k, b2; k+1; |alpha-beta|/(m+hi)) / (m+hi)^k``,
    evaluated as ``l_lo + log(1 - exp(l_hi - l_lo))`` of the two terms' logarithms,
    so that it never overflows. ``-inf`` where ``lo == hi``. Each 2F1 is taken after
    Euler's transformation (Abramowitz & Stegun 15.3.3),
    ``2F1(k, b2; k+1; z) = (1-z)^(1-b2) 2F1(1, k+1-b2; k+1; z)``: with many purchases
    and ``alpha < beta`` the left side overflows (``(1-z)^-(r+x)``), the right side's
    power is taken in logs.

    Examples
    --------
    >>> from scipy import integrate
    >>> r, alpha, s, beta = 0.553, 10.578, 0.606, 11.669
    >>> direct = integrate.quad(lambda u: (alpha + u) ** -(r + 2) * (beta + u) ** -(s + 1),
    ...                         30.43, 38.86)[0]
    >>> bool(np.isclose(np.exp(log_integral(r, alpha, s, beta, 2, 30.43, 38.86)), direct,
    ...                 rtol=1e-10))
    True
    """
    numpy = xp is NUMPY or getattr(xp, "hyp2f1", None) is special.hyp2f1
    xp = _hyp_namespace(xp)
    # rows with lo == hi (data, not parameters) have I = 0: evaluated on a dummy
    # interval and masked, so that neither the value nor a gradient sees log(0)
    lo, hi = np.asarray(lo, dtype="float64"), np.asarray(hi, dtype="float64")
    empty = hi <= lo
    hi = np.where(empty, lo + 1.0, hi)
    k = r + s + x
    big = xp.maximum(alpha, beta)
    first = alpha >= beta
    gap = xp.where(first, alpha - beta, beta - alpha)
    b2 = xp.where(first, s + 1.0, r + x)  # the second parameter of 2F1
    b_euler = xp.where(first, r + x, s + 1.0)  # k + 1 - b2

    def term(y):
        z = gap / (big + y)
        return ((1.0 - b2) * xp.log1p(-z) + xp.log(xp.hyp2f1(1.0, b_euler, k + 1.0, z))
                - k * xp.log(big + y))

    l_lo = term(lo)
    out = l_lo + xp.log1mexp(term(hi) - l_lo) - xp.log(k)
    if numpy:
        out = _fall_back(out, r, alpha, s, beta, x, lo, hi)
    return xp.where(empty, -np.inf, out) if np.any(empty) else out


def _fall_back(out, r, alpha, s, beta, x, lo, hi):
    """Where SciPy's 2F1 gave no finite value (it returns nan for large parameters
    with an argument near 1, e.g. s = 200), the quadrature of
    :func:`lifevalue.models.pareto_nbd_kernel.log_integral_quadrature` instead."""
    out = np.asarray(out, dtype="float64")
    bad = np.isnan(out) | np.isposinf(out)  # -inf is right where lo == hi
    if not np.any(bad):
        return out
    from lifevalue.models.pareto_nbd_kernel import log_integral_quadrature

    out = out.copy().reshape(-1)
    args = [np.broadcast_to(np.asarray(a, dtype="float64"), bad.shape).reshape(-1)
            for a in (r, alpha, s, beta, x, lo, hi)]
    for i in np.flatnonzero(bad):
        out[i] = log_integral_quadrature(*(float(a[i]) for a in args))[0]
    out = out.reshape(bad.shape)
    return out


def log_bracket(r, alpha, s, beta, x, lo, hi, xp=NUMPY):
    """``log[(alpha+hi)^-(r+x) (beta+hi)^-s + s I(lo, hi)]``: the bracket of the
    Pareto/NBD likelihood (Fader & Hardie 2005, eq. 19) with ``lo = t_x, hi = T``."""
    alive = -(r + x) * xp.log(alpha + hi) - s * xp.log(beta + hi)
    return xp.logaddexp(alive, xp.log(s) + log_integral(r, alpha, s, beta, x, lo, hi, xp))


def x_terms(r, alpha, s, beta, x, xp=NUMPY):
    """The terms of the log-likelihood that depend on x only:
    ``log[Gamma(r+x) alpha^r beta^s / Gamma(r)]``."""
    return xp.gammaln(r + x) - xp.gammaln(r) + r * xp.log(alpha) + s * xp.log(beta)


def pareto_nbd_loglik(r, alpha, s, beta, x, t_x, T, xp=NUMPY):
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005, eqs. 19 and 22).

    ``L = Gamma(r+x) alpha^r beta^s / Gamma(r) [(alpha+T)^-(r+x) (beta+T)^-s
    + s/(r+s+x) A0]``.

    Examples
    --------
    >>> round(float(pareto_nbd_loglik(0.553, 10.578, 0.606, 11.669, 2, 30.43, 38.86)), 4)
    -9.5543
    """
    x = np.asarray(x, dtype="float64")
    return x_terms(r, alpha, s, beta, x, xp) + log_bracket(r, alpha, s, beta, x, t_x, T, xp)


def pareto_nbd_total_loglik(r, alpha, s, beta, stats: BGNBDStats, xp=NUMPY):
    """Total Pareto/NBD log-likelihood from the unique (x, t_x, T) rows with counts.

    Equals ``pareto_nbd_loglik(...).sum()`` over the original customers; the x-only
    terms are evaluated once per distinct x.
    """
    x_part = xp.sum(stats.x_count * x_terms(r, alpha, s, beta, stats.x_unique, xp))
    rows = log_bracket(r, alpha, s, beta, stats.x, stats.t_x, stats.T, xp)
    return x_part + xp.sum(stats.count * rows)


def pareto_nbd_total_loglik_draws(params: np.ndarray, stats: BGNBDStats, *,
                                  workers: int = 1) -> np.ndarray:
    """:func:`pareto_nbd_total_loglik` at each row ``(r, alpha, s, beta)`` of ``params``
    (one pass over the unique rows per draw; ``workers`` is accepted for the common
    signature and unused)."""
    params = np.atleast_2d(np.asarray(params, dtype="float64"))
    return np.array([float(pareto_nbd_total_loglik(*row, stats)) for row in params])


# ------------------------------------------------------------------ predictions


def _log_alive_term(r, alpha, s, beta, x, T):
    return -(r + x) * np.log(alpha + T) - s * np.log(beta + T)


def p_alive(r, alpha, s, beta, x, t_x, T):
    """Probability that a customer with history (x, t_x, T) is still alive.

    Schmittlein et al. (1987), section 3; Fader & Hardie (2005), from eq. (19):
    ``P(alive) = (alpha+T)^-(r+x) (beta+T)^-s / bracket
    = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0)``, a logistic function of
    log odds here.

    Examples
    --------
    >>> round(float(p_alive(0.553, 10.578, 0.606, 11.669, 2, 30.43, 38.86)), 4)
    0.8692
    """
    x = np.asarray(x, dtype="float64")
    log_odds_dead = (np.log(s) + log_integral(r, alpha, s, beta, x, t_x, T)
                     - _log_alive_term(r, alpha, s, beta, x, T))
    return special.expit(-log_odds_dead)


def _expm1_ratio(s, base, t):
    """``[1 - (base/(base+t))^(s-1)] / (s-1)``, and its limit ``log(1 + t/base)`` at
    s = 1."""
    s = np.asarray(s, dtype="float64")
    log_ratio = np.log1p(t / base)
    near_one = np.abs(s - 1.0) < 1e-10
    s_safe = np.where(near_one, 2.0, s)
    return np.where(near_one, log_ratio, -np.expm1(-(s_safe - 1.0) * log_ratio) / (s_safe - 1.0))


def expected_purchases_if_alive(r, alpha, s, beta, x, T, t):
    """Expected purchases in (T, T+t] of a customer alive at T.

    Given alive, ``lambda ~ Gamma(r+x, alpha+T)`` and ``mu ~ Gamma(s, beta+T)``,
    independent, and ``E[lambda/mu (1 - exp(-mu t))]`` is
    ``(r+x)/(alpha+T) (beta+T)/(s-1) [1 - ((beta+T)/(beta+T+t))^(s-1)]``
    (Schmittlein et al. 1987, section 3; ``log(1 + t/(beta+T))`` in place of the
    bracket over ``s-1`` at s = 1).
    """
    x = np.asarray(x, dtype="float64")
    return (r + x) / (alpha + T) * (beta + T) * _expm1_ratio(s, beta + T, t)


def survival_if_alive(s, beta, T, t):
    """Probability that a customer alive at T is still alive at T+t: given alive,
    ``mu ~ Gamma(s, beta+T)`` and the remaining lifetime is Exp(mu), so survival is
    ``E[exp(-mu t)] = ((beta+T)/(beta+T+t))^s`` (Schmittlein et al. 1987, section 3).

    Examples
    --------
    >>> round(float(survival_if_alive(0.606, 11.669, 38.86, 52.0)), 4)
    0.6513
    """
    return np.exp(-s * np.log1p(t / (beta + T)))


def expected_purchases(r, alpha, s, beta, x, t_x, T, t):
    """Expected purchases in (T, T+t] of a customer with history (x, t_x, T).

    Schmittlein et al. (1987), section 3; Fader, Hardie & Lee (2005), appendix:
    ``P(alive) x`` :func:`expected_purchases_if_alive`.

    Examples
    --------
    >>> round(float(expected_purchases(0.553, 10.578, 0.606, 11.669, 2, 30.43, 38.86, 39)), 4)
    1.4551
    """
    return (p_alive(r, alpha, s, beta, x, t_x, T)
            * expected_purchases_if_alive(r, alpha, s, beta, x, T, t))


def expected_purchases_new_customer(r, alpha, s, beta, t):
    """Expected purchases in (0, t] of a customer just acquired.

    Schmittlein et al. (1987), section 3:
    ``E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]``.

    Examples
    --------
    >>> round(float(expected_purchases_new_customer(0.553, 10.578, 0.606, 11.669, 39)), 4)
    1.213
    """
    return expected_purchases_if_alive(r, alpha, s, beta, 0.0, 0.0, t)


def prob_no_purchase(r, alpha, s, beta, x, t_x, T, t):
    """Probability of no purchase in (T, T+t].

    A customer alive at T, with ``lambda ~ Gamma(r+x, alpha+T)`` and
    ``mu ~ Gamma(s, beta+T)``, makes no purchase in (T, T+t] when their lifetime ends
    at T+u before their first purchase, or when no purchase comes by T+t:
    ``((alpha+T)/(alpha+T+t))^(r+x) ((beta+T)/(beta+T+t))^s
    + s (alpha+T)^(r+x) (beta+T)^s I(T, T+t)``, the bracket of Fader & Hardie's
    eq. (19) on (T, T+t] over its value at x purchases by T. So
    ``P(no purchase) = 1 - P(alive) + P(alive) exp(log_bracket(x, T, T+t) - log of the
    alive term at T)``.

    Examples
    --------
    >>> round(float(prob_no_purchase(0.553, 10.578, 0.606, 11.669, 0, 0, 38.86, 39)), 4)
    0.9307
    """
    x = np.asarray(x, dtype="float64")
    alive = p_alive(r, alpha, s, beta, x, t_x, T)
    with np.errstate(divide="ignore"):
        quiet = np.exp(log_bracket(r, alpha, s, beta, x, T, T + t)
                       - _log_alive_term(r, alpha, s, beta, x, T))
    return 1.0 - alive + alive * quiet


def simulate_counts(params: dict, x, t_x, T, horizon: float, rng):
    """Purchases in (T, T+horizon], one future per population draw and customer.

    The customer is alive at T with probability :func:`p_alive`, and then their rates
    have the posterior ``lambda ~ Gamma(r+x, alpha+T)``, ``mu ~ Gamma(s, beta+T)``,
    independent (the likelihood of an alive customer is
    ``lambda^x exp(-(lambda+mu) T)``): exact draws, no rejection needed. The remaining
    lifetime is ``D ~ Exponential(mu)`` (memoryless), and the customer makes
    ``Poisson(lambda min(D, horizon))`` purchases and is active at the end when
    ``D > horizon``. A customer drawn dead buys nothing.

    Parameters
    ----------
    params : dict
        ``r, alpha, s, beta`` as arrays ``(S,)``.
    x, t_x, T : arrays ``(n,)``
    horizon : float
    rng : lifevalue.models.customer_posterior.BlockRNG

    Returns
    -------
    counts : int64 array ``(S, n)``
    active : bool array ``(S, n)``
    """
    r, alpha, s, beta = (np.asarray(params[k], dtype="float64")[:, None]
                         for k in ("r", "alpha", "s", "beta"))
    x, t_x, T = (np.asarray(c, dtype="float64")[None, :] for c in (x, t_x, T))
    shape = (r.shape[0], x.shape[1])
    alive = rng.uniform(shape) < p_alive(r, alpha, s, beta, x, t_x, T)
    lam = rng.gamma(r + x, 1.0 / (alpha + T), shape)
    mu = np.maximum(rng.gamma(s, 1.0 / (beta + T), shape), np.finfo(float).tiny)
    life = rng.gamma(1.0, 1.0 / mu, shape)
    with np.errstate(over="ignore", invalid="ignore"):
        n = rng.poisson(lam * np.minimum(life, float(horizon)), shape)
    counts = np.where(alive, n, 0).astype(np.int64)
    return counts, alive & (life > horizon)
