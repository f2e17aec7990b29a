"""Benchmark headroom: how far each customer's buying can realistically develop.

A benchmark is what a stated share of the population already reaches, read from the
fitted population distributions at every posterior draw ``s``:

* **purchase rate**: the ``level`` quantile of lambda ~ Gamma(r_s, alpha_s) (FHL 2005a);
* **spend per purchase**: the ``level`` quantile of the mean spend ``zeta = p / nu``
  with nu ~ Gamma(q_s, gamma_s) (FHL 2005b; Fader & Hardie 2013), that is
  ``p_s / Q_nu(1 - level)``;
* **retention**: the ``1 - level`` quantile of the dropout probability p ~ Beta(a_s, b_s)
  (a lower dropout is a higher retention); under the Pareto/NBD, of the dropout rate
  mu ~ Gamma(s_s, beta_s).

A customer below a benchmark is raised to it; one above keeps their own. The customer
is compared through their posterior mean at the same draw, and the whole posterior is
scaled, so its shape (and so the customer's own uncertainty) is kept:

* rate: lambda | data ~ Gamma(r + x, alpha + T) has mean ``mu = (r + x) / (alpha + T)``;
  the rate multiplier ``c = max(1, lambda* / mu)`` makes it Gamma(r + x, (alpha + T) /
  c), mean ``max(mu, lambda*)``;
* spend: the expected spend per purchase ``E[zeta | x, m]`` (Fader & Hardie 2013, eq. 5) is
  multiplied by ``max(1, zeta* / E[zeta | x, m])``, and so is every simulated spend;
* retention: the dropout posterior Beta(a, b + x) becomes Beta(d a, b + x) with ``d =
  min(1, p* (b + x) / ((1 - p*) a))``, whose mean ``d a / (d a + b + x)`` is
  ``min(a / (a + b + x), p*)``; under the Pareto/NBD the dropout rate's posterior
  given alive, Gamma(s, beta + T), becomes Gamma(s, (beta + T) / d) with ``d = min(1,
  mu* (beta + T) / s)``, mean ``min(s / (beta + T), mu*)``.

Being per draw and per customer, the multipliers go through the same closed forms (the
parameter interval) and the same simulation (the predictive interval) as current value,
and the spend and purchases of a draw stay paired.

**Customers without a repeat purchase.** Under the BG/NBD such a customer cannot have
dropped out yet, so P(alive) = 1 however long ago they bought, and their rate posterior
is low only because they have been silent: a benchmark would send every old one-time
buyer to "develop". Their headroom is therefore weighted by the evidence that they
could buy at the benchmark at all: ``c -> 1 + w (c - 1)`` (and likewise for spend and
retention), with ``w = exp(-(r / alpha) T)`` the probability that a customer buying at
the population's mean rate ``r / alpha`` would have made no repeat purchase in the ``T``
since their first (it does not depend on the benchmark level, so a higher benchmark
never lowers potential value). A
one-time buyer of last week keeps almost all the headroom, one silent for a year
almost none. Repeat customers have ``w = 1``: their value already weights the developed
future by P(alive), which falls with their silence since the last purchase.
"""

from __future__ import annotations

import numpy as np
from scipy import special

#: Default population level of each preset's benchmarks.
LEVELS = {"defensive": 0.50, "realistic": 0.75, "ambitious": 0.90}


def population_benchmarks(bgd: dict, ggd: dict, rate: float | None, spend: float | None,
                          retention: float | None) -> dict[str, np.ndarray]:
    """Per draw, the benchmark rate, mean spend and dropout probability (or rate).

    Parameters
    ----------
    bgd, ggd : dict of arrays ``(S,)``
        Paired transaction-model draws (BG/NBD ``r, alpha, a, b``, or Pareto/NBD ``r,
        alpha, s, beta``: then the dropout benchmark is a rate) and Gamma-Gamma (``p, q,
        gamma``) draws.
    rate, spend, retention : float in (0, 1) or None
        The share of the population below each benchmark (0.75: what the top 25%
        reach); None for no benchmark on that driver.

    Returns
    -------
    dict with ``rate``, ``spend``, ``dropout``: arrays ``(S,)``, or empty arrays where
    the driver has no benchmark.

    Examples
    --------
    >>> bg = {k: np.array([v]) for k, v in dict(r=0.243, alpha=4.414, a=0.793, b=2.426).items()}
    >>> gg = {k: np.array([v]) for k, v in dict(p=6.25, q=3.74, gamma=15.44).items()}
    >>> b = population_benchmarks(bg, gg, 0.5, 0.5, 0.5)
    >>> from scipy import stats
    >>> bool(np.isclose(b["rate"][0], stats.gamma.median(0.243, scale=1 / 4.414)))
    True
    """
    empty = np.zeros(0)
    out = {"rate": empty, "spend": empty, "dropout": empty}
    if rate is not None:
        out["rate"] = special.gammaincinv(bgd["r"], rate) / bgd["alpha"]
    if spend is not None:
        nu_low = special.gammaincinv(ggd["q"], 1.0 - spend) / ggd["gamma"]
        out["spend"] = ggd["p"] / nu_low
    if retention is not None and "s" in bgd:  # Pareto/NBD: mu ~ Gamma(s, beta)
        out["dropout"] = special.gammaincinv(bgd["s"], 1.0 - retention) / bgd["beta"]
    elif retention is not None:
        out["dropout"] = special.betaincinv(bgd["a"], bgd["b"], 1.0 - retention)
    return out


def evidence_weight(bench_rate, r, alpha, x, T) -> np.ndarray:
    """Weight of the headroom: 1 for a repeat customer; for one without a repeat
    purchase, ``exp(-(r / alpha) T)``. Draws broadcast against rows (``bench_rate`` is
    not used: the weight does not depend on the benchmark level)."""
    x, T = np.asarray(x, dtype="float64"), np.asarray(T, dtype="float64")
    lam = r / alpha
    return np.where(x > 0, 1.0, np.exp(-lam * T))


def row_multipliers(bench: dict, r, alpha, a, b, x, T, lifetime: bool = False):
    """Per draw and row, the benchmark's rate and dropout multipliers (already weighted
    by :func:`evidence_weight`) and the weight itself, each ``(S, U)`` for draws ``(S,
    1)`` and rows ``(U,)``. With ``lifetime`` (Pareto/NBD) ``a, b`` are ``s, beta`` and
    the dropout benchmark a rate."""
    w = evidence_weight(bench["rate"], r, alpha, x, T)
    w = np.broadcast_to(w, np.broadcast_shapes(np.shape(w), np.shape(r), np.shape(x)))
    rate = np.ones(w.shape)
    if len(bench["rate"]):
        lam = bench["rate"][:, None]
        c = np.maximum(1.0, lam * (alpha + T) / (r + x))
        rate = 1.0 + w * (c - 1.0)
    dropout = np.ones(w.shape)
    if len(bench["dropout"]):
        ps = bench["dropout"][:, None]
        with np.errstate(divide="ignore"):  # a benchmark dropout of 1: no headroom (d = 1)
            d = np.minimum(1.0, ps * (b + T) / a if lifetime else ps * (b + x) / ((1.0 - ps) * a))
        dropout = 1.0 + w * (d - 1.0)
    return rate, dropout, np.ascontiguousarray(w)


def spend_multiplier(bench_spend, weight, expected_spend):
    """``1 + w (max(1, zeta* / E[zeta | x, m]) - 1)``: arrays broadcast."""
    with np.errstate(divide="ignore"):  # no expected spend: the benchmark is all headroom
        return 1.0 + weight * (np.maximum(1.0, bench_spend / expected_spend) - 1.0)
