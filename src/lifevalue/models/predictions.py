"""Closed-form predictions of BG/NBD and Gamma-Gamma in plain NumPy/SciPy.

Every function takes the population parameters either as scalars (a point estimate)
or as arrays of posterior draws, and the customer data as arrays; everything
broadcasts. With draws of shape ``(S, 1)`` and customers of shape ``(n,)``, results
have shape ``(S, n)``: one expectation per draw, from which a **parameter interval**
follows.

References
----------
FHL (2005a): Fader, Hardie & Lee, "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2).
FHL (2005b): Fader, Hardie & Lee, "RFM and CLV: using iso-value curves for customer
base analysis", Journal of Marketing Research 42(4). It introduces the Gamma-Gamma
model of spend and pairs it with the Pareto/NBD model of purchases; lifevalue pairs it
with the BG/NBD.
Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model", technical note.
Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", technical note.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _log_odds_dead(r, alpha, a, b, x, t_x, T):
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) for x > 0, -inf for x = 0."""
    x = np.asarray(x, dtype="float64")
    x1 = np.maximum(x, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = (np.log(a) - np.log(b + x1 - 1.0)
              + (r + x1) * (np.log(alpha + T) - np.log(alpha + t_x)))
    return np.where(x > 0, lo, -np.inf)


def p_alive(r, alpha, a, b, x, t_x, T):
    """Probability that a customer with history (x, t_x, T) is still alive.

    Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model":
    ``P(alive) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``,
    evaluated as a logistic function of the log odds so that it never overflows.
    With x = 0 it is exactly 1: under the BG/NBD a customer drops out only after a
    repeat purchase.

    Examples
    --------
    >>> round(float(p_alive(0.243, 4.414, 0.793, 2.426, 2, 30.43, 38.86)), 4)
    0.7266
    """
    return special.expit(-_log_odds_dead(r, alpha, a, b, x, t_x, T))


def expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """Expected purchases in (T, T+t] of a customer with history (x, t_x, T).

    FHL (2005a), eq. (10):
    ``E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
    2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] * P(alive)``.

    Examples
    --------
    The paper's customer: x=2, t_x=30.43, T=38.86 expects 1.226 purchases in the next
    39 weeks.

    >>> round(float(expected_purchases(0.243, 4.414, 0.793, 2.426, 2, 30.43, 38.86, 39)), 3)
    1.226
    """
    body = expected_purchases_if_alive(r, alpha, a, b, x, T, t)
    return body * p_alive(r, alpha, a, b, x, t_x, T)


def expected_purchases_if_alive(r, alpha, a, b, x, T, t):
    """Expected purchases in (T, T+t] of a customer who is alive at T.

    The bracket of FHL (2005a), eq. (10): ``E[(1 - exp(-lambda p t)) / p]`` with
    ``lambda ~ Gamma(r+x, alpha+T)`` and ``p ~ Beta(a, b+x)``,

    ``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1;
    t/(alpha+T+t))]``.

    At ``a = 1`` the expression is 0/0; within 1e-6 of it, it is evaluated as the mean
    of ``a = 1 +/- 2e-6``, whose error is of order 1e-12.
    """
    a = np.asarray(a, dtype="float64")
    near_one = np.abs(a - 1.0) < 1e-6
    if not np.any(near_one):
        return _eq10_bracket(r, alpha, a, b, x, T, t)
    up = _eq10_bracket(r, alpha, np.where(near_one, 1.0 + 2e-6, a), b, x, T, t)
    down = _eq10_bracket(r, alpha, np.where(near_one, 1.0 - 2e-6, a), b, x, T, t)
    return np.where(near_one, (up + down) / 2.0, up)


def _eq10_bracket(r, alpha, a, b, x, T, t):
    x = np.asarray(x, dtype="float64")
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    return (a + b + x - 1.0) / (a - 1.0) * (1.0 - ratio * hyp)


def survival_if_alive(r, alpha, a, b, x, T, t):
    """Probability that a customer alive at T is still alive at T+t.

    An active customer survives each purchase with probability 1-p, so given
    (lambda, p) survival to T+t is ``exp(-lambda p t)``. Integrating lambda ~
    Gamma(r+x, alpha+T) gives ``(1 + p t/(alpha+T))^-(r+x)``, and p ~ Beta(a, b+x)
    then gives Euler's integral ``2F1(r+x, a; a+b+x; -t/(alpha+T))`` (FHL 2005a,
    section 3 posterior; Abramowitz & Stegun 15.3.1), evaluated after Pfaff's
    transformation ``(1+z)^-(r+x) 2F1(r+x, b+x; a+b+x; z/(1+z))`` with z = t/(alpha+T).

    Examples
    --------
    >>> round(float(survival_if_alive(0.243, 4.414, 0.793, 2.426, 0, 38.86, 0.0)), 6)
    1.0
    """
    x = np.asarray(x, dtype="float64")
    z = t / (alpha + T)
    w = z / (1.0 + z)
    return np.exp(-(r + x) * np.log1p(z)) * special.hyp2f1(r + x, b + x, a + b + x, w)


def prob_no_purchase(r, alpha, a, b, x, t_x, T, t):
    """Probability of no purchase in (T, T+t].

    A customer who dropped out buys nothing; an active one buys nothing with
    probability ``exp(-lambda t)``, and lambda | active ~ Gamma(r+x, alpha+T)
    (FHL 2005a, eq. 6 with the posterior of section 3), so

    ``P(no purchase) = 1 - P(alive) + P(alive) ((alpha+T)/(alpha+T+t))^(r+x)``.

    Examples
    --------
    >>> round(float(prob_no_purchase(0.243, 4.414, 0.793, 2.426, 0, 0, 38.86, 39)), 4)
    0.8554
    """
    x = np.asarray(x, dtype="float64")
    return no_purchase_given_alive(r, alpha, x, T, t, p_alive(r, alpha, a, b, x, t_x, T))


def no_purchase_given_alive(r, alpha, x, T, t, alive):
    """``1 - P(alive) + P(alive) ((alpha+T)/(alpha+T+t))^(r+x)``: no purchase in (T, T+t]
    for the BG/NBD family, in which an active customer drops out only at a purchase, so
    one without a purchase in the window was active throughout it or had already left
    (FHL 2005a, eq. 6, with the posterior rate Gamma(r+x, alpha+T) of section 3).
    ``alive`` is the model's P(alive)."""
    x = np.asarray(x, dtype="float64")
    quiet = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    return 1.0 - alive + alive * quiet


def expected_purchases_new_customer(r, alpha, a, b, t):
    """Expected purchases in (0, t] of a customer just acquired.

    FHL (2005a), eq. (9):
    ``E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]``.

    Examples
    --------
    >>> round(float(expected_purchases_new_customer(0.243, 4.414, 0.793, 2.426, 78)), 4)
    1.8605
    """
    hyp = special.hyp2f1(r, b, a + b - 1.0, t / (alpha + t))
    return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp)


def expected_spend(p, q, gamma, x, m):
    """Expected spend per transaction of a customer with x repeat purchases of mean m.

    Fader & Hardie (2013), eq. (5), the posterior mean of p/nu:
    ``E[M | p, q, gamma, m, x] = (p (gamma + x m)) / (p x + q - 1)``.
    With x = 0 it is the population mean ``p gamma / (q - 1)``.

    Examples
    --------
    >>> round(float(expected_spend(6.25, 3.74, 15.44, 2, 22.35)), 2)
    24.66
    """
    x = np.asarray(x, dtype="float64")
    m = np.asarray(m, dtype="float64")
    denom = p * x + q - 1.0
    if np.any(denom <= 0):
        _raise_infinite_spend(p, q, x, denom)
    return p * (gamma + x * m) / denom


def _raise_infinite_spend(p, q, x, denom) -> None:
    """The posterior of nu is Gamma(p x + q, ...); its mean spend p/nu is finite only when
    p x + q > 1 (Fader & Hardie 2013, eq. 5). With q <= 1 the population's spend has no finite mean,
    so a customer without repeat purchases (x = 0) has no finite expected spend."""
    from lifevalue.errors import ModelError

    bad = np.broadcast_to(denom <= 0, np.broadcast(p, q, x, denom).shape)
    q_arr = np.broadcast_to(np.asarray(q, dtype="float64"), bad.shape)
    x_arr = np.broadcast_to(x, bad.shape)
    raise ModelError(
        "expected spend is infinite: the Gamma-Gamma fit has p x + q <= 1 for customers with "
        f"x = {sorted({int(val) for val in x_arr[bad]})[:5]} (q = {float(q_arr[bad].min()):.4g}"
        "): the population's spend per purchase has no finite mean. Check the monetary values "
        "for outliers or mixed units, or give q a prior that keeps it above 1.",
        column="monetary_value")
