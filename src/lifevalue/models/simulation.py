"""Simulate RFM summaries from the BG/NBD and Gamma-Gamma generative processes.

Public: use them to check that a fit recovers known parameters or to try lifevalue at
any size (the tests and the benchmarks do both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T, *,
                   rng: np.random.Generator, time_unit: str = "W") -> pd.DataFrame:
    """Draw ``n`` customers' (frequency, recency, T) from BG/NBD (FHL 2005a, section 2).

    ``T`` and the rate ``alpha`` are in ``time_unit`` (weeks by default), recorded in
    ``attrs['time_unit']`` as :func:`lifevalue.summarize` records it.

    ``lambda ~ Gamma(r, rate=alpha)``, ``p ~ Beta(a, b)``; repeat purchases arrive as
    a Poisson(lambda) process on (0, T] and the customer drops out after each one with
    probability p, so ``x = min(N, K)`` with ``N ~ Poisson(lambda T)`` and
    ``K ~ Geometric(p)``. Given N arrivals, the x-th arrival time is ``T`` times the
    x-th order statistic of N uniforms, ``Beta(x, N - x + 1)``.

    Examples
    --------
    >>> s = simulate_bgnbd(1000, 0.243, 4.414, 0.793, 2.426, 38.86,
    ...                    rng=np.random.default_rng(1))
    >>> bool((s["recency"] <= s["T"]).all()), len(s)
    (True, 1000)
    """
    T = np.broadcast_to(np.asarray(T, dtype="float64"), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    N = rng.poisson(lam * T)
    K = rng.geometric(p)
    x = np.minimum(N, K)
    t_x = np.zeros(n)
    rep = x > 0
    t_x[rep] = T[rep] * rng.beta(x[rep], N[rep] - x[rep] + 1)
    out = pd.DataFrame({"frequency": x.astype("int64"), "recency": t_x, "T": T},
                       index=pd.RangeIndex(n, name="customer_id"))
    out.attrs["time_unit"] = time_unit
    return out


def simulate_gamma_gamma(frequency, p: float, q: float, gamma: float, *,
                         rng: np.random.Generator) -> np.ndarray:
    """Mean spend of each customer's ``frequency`` repeat purchases (0 when none).

    ``nu ~ Gamma(q, rate=gamma)``; the total of x purchases is ``Gamma(p x, rate=nu)``.
    """
    x = np.asarray(frequency, dtype="float64")
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    total = rng.gamma(np.where(x > 0, p * x, 1.0), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1.0), 0.0)


def simulate_pareto_nbd(n: int, r: float, alpha: float, s: float, beta: float, T, *,
                        rng: np.random.Generator, time_unit: str = "W") -> pd.DataFrame:
    """Draw ``n`` customers' (frequency, recency, T) from the Pareto/NBD (Schmittlein,
    Morrison & Colombo 1987).

    ``lambda ~ Gamma(r, rate=alpha)``, ``mu ~ Gamma(s, rate=beta)``; a customer stays
    for an Exponential(mu) lifetime tau and buys as a Poisson(lambda) process on
    (0, min(tau, T)]: ``x ~ Poisson(lambda min(tau, T))``, the last purchase the
    largest of x uniforms on that interval.

    Examples
    --------
    >>> s = simulate_pareto_nbd(1000, 0.553, 10.578, 0.606, 11.669, 38.86,
    ...                         rng=np.random.default_rng(1))
    >>> bool((s["recency"] <= s["T"]).all()), len(s)
    (True, 1000)
    """
    T = np.broadcast_to(np.asarray(T, dtype="float64"), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    end = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(lam * end)
    t_x = np.where(x > 0, end * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    out = pd.DataFrame({"frequency": x.astype("int64"), "recency": t_x, "T": T},
                       index=pd.RangeIndex(n, name="customer_id"))
    out.attrs["time_unit"] = time_unit
    return out
