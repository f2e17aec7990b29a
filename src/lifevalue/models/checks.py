"""Posterior predictive checks of a fitted model against its own calibration data.

:func:`repeat_purchase_ppc` compares how many customers made 0, 1, 2, ... repeat
purchases in the calibration period with what the model expects, the check of FHL
(2005a), Figure 2. The model's expected number of customers with x repeat purchases
is ``sum_i P(X(T_i) = x | r, alpha, a, b)`` (FHL 2005a, eq. 8), averaged over the
posterior draws; its **predictive interval** comes from
simulating every customer's count under each draw, so it holds both the parameter
uncertainty and the customers' own randomness.

The distribution of counts comes from the model: :data:`COUNT_PMFS` maps a model
class to the log probability mass function of its repeat purchases in (0, t] for a
customer just acquired. Only the BG/NBD has one.

References
----------
FHL (2005a): Fader, Hardie & Lee, "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import special

from lifevalue import validation as v
from lifevalue.models import covariates as cov
from lifevalue.models import scoring as sc
from lifevalue.models.beta_geo import BetaGeo


def bgnbd_log_pmf(r, alpha, a, b, x, t):
    """log P(X(t) = x | r, alpha, a, b): BG/NBD repeat purchases of a new customer.

    FHL (2005a), eq. (8):

    ``P(X(t)=x) = B(a, b+x)/B(a, b) * Gamma(r+x)/(Gamma(r) x!) (alpha/(alpha+t))^r
    (t/(alpha+t))^x + [x>0] B(a+1, b+x-1)/B(a, b) * [1 - (alpha/(alpha+t))^r
    sum_{j<x} Gamma(r+j)/(Gamma(r) j!) (t/(alpha+t))^j]``.

    The first term is "alive at t with x purchases", the second "dropped out after the
    x-th purchase". The bracket is the survival function of the negative binomial
    NB(r, alpha/(alpha+t)) at x-1, i.e. the regularized incomplete beta function
    ``I_{t/(alpha+t)}(x, r)`` (Abramowitz & Stegun 26.5.24), evaluated without the
    cancellation of ``1 - sum``. Both terms are combined in log space, so the result
    stays finite for large x and t. Everything broadcasts: parameters of shape
    ``(S, 1)`` (posterior draws) with ``x`` and ``t`` of shape ``(k,)`` give ``(S, k)``.

    Parameters
    ----------
    r, alpha, a, b : float or array
        BG/NBD population parameters (alpha in the time unit of ``t``).
    x : int or array
        Repeat purchases, whole numbers >= 0.
    t : float or array
        Length of the period, >= 0 (``t = 0`` gives ``P(X=0) = 1``).

    Examples
    --------
    >>> p = np.exp(bgnbd_log_pmf(0.243, 4.414, 0.793, 2.426, np.arange(3), 38.86))
    >>> [round(float(q), 4) for q in p]
    [0.5742, 0.1993, 0.0854]
    """
    x = np.asarray(x, dtype="float64")
    t = np.asarray(t, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_beta_ab = special.betaln(a, b)
        log_p0 = np.log(alpha) - np.log(alpha + t)  # log of alpha / (alpha + t)
        z = t / (alpha + t)
        alive = (special.betaln(a, b + x) - log_beta_ab + special.gammaln(r + x)
                 - special.gammaln(r) - special.gammaln(x + 1.0) + r * log_p0
                 + special.xlogy(x, z))
        x1 = np.maximum(x, 1.0)
        dropped = (special.betaln(a + 1.0, b + x1 - 1.0) - log_beta_ab
                   + np.log(special.betainc(x1, r, z)))
        dropped = np.where(x > 0, dropped, -np.inf)
        return np.logaddexp(alive, dropped)


#: Model class -> log pmf of its repeat purchases in (0, t] for a new customer, called as
#: ``fn(params, x, t)`` with ``params`` a dict of broadcastable parameter arrays.
COUNT_PMFS: dict[type, Callable] = {
    BetaGeo: lambda p, x, t: bgnbd_log_pmf(p["r"], p["alpha"], p["a"], p["b"], x, t),
}


def count_log_pmf(model) -> Callable:
    """The repeat-purchase log pmf of ``model``'s class (see :data:`COUNT_PMFS`)."""
    for cls in type(model).__mro__:
        if cls in COUNT_PMFS:
            return COUNT_PMFS[cls]
    supported = ", ".join(sorted(c.__name__ for c in COUNT_PMFS))
    raise v.InvalidOptionError(
        f"{type(model).__name__} has no distribution of repeat purchases: the repeat-purchase "
        f"check supports {supported}", column="model")


def binned_pmf(log_pmf: Callable, params: dict, t, max_count: int) -> np.ndarray:
    """P(X(t) = 0), ..., P(X(t) = max_count - 1) and the tail P(X(t) >= max_count).

    ``params`` hold arrays of shape ``(S, 1, 1)`` (or scalars) and ``t`` has shape
    ``(k,)``; the result has shape ``(S, k, max_count + 1)`` (without the draws axis for
    scalars) and sums to 1 over its last axis. The tail is ``1 - sum`` of the others,
    clipped at 0 against rounding.
    """
    t = np.asarray(t, dtype="float64")[..., None]
    x = np.arange(max_count, dtype="float64")
    head = np.exp(log_pmf(params, x, t))
    tail = np.clip(1.0 - head.sum(axis=-1, keepdims=True), 0.0, None)
    out = np.concatenate([head, tail], axis=-1)
    return out / out.sum(axis=-1, keepdims=True)


def _check_whole(value, option: str, minimum: int, none_ok: bool = False):
    if none_ok and value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, int | np.integer)
            or value < minimum):
        raise v.InvalidOptionError(f"{option} must be a whole number >= {minimum}, got "
                                   f"{value!r}", column=option)
    return int(value)


def _unique_weighted(T: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct T values and how many customers have each."""
    values, inverse = np.unique(T, return_inverse=True)
    return values, np.bincount(inverse.reshape(-1), weights=weights,
                               minlength=len(values)).astype("int64")


def repeat_purchase_ppc(model, summary: pd.DataFrame, *, max_count: int = 7, ci: float = 0.9,
                        max_draws: int | None = 1000, random_seed: int | None = None
                        ) -> pd.DataFrame:
    """Customers by number of repeat purchases in the calibration period: observed vs model.

    The posterior predictive check of FHL (2005a), Figure 2. For each count
    ``x = 0, ..., max_count - 1`` and the pooled tail ``max_count+``:

    * ``observed`` - customers in the summary with that count;
    * ``expected`` - the model's expected number of such customers, ``sum_i P(X(T_i)
      = x)`` (FHL 2005a, eq. 8, each customer observed for their own ``T_i`` since
      their first purchase), averaged over the posterior draws;
    * ``pred_lo`` / ``pred_hi`` - the central ``ci`` **predictive interval** of that
      number: under each posterior draw, every customer's count is drawn from their
      pmf, and the interval is taken over these simulated tables (quantiles that are
      whole numbers). Customers sharing a T share their pmf, so their categorical
      draws are made at once as one multinomial draw, which is the same distribution.
      A posterior with fewer than 1000 draws (MAP, ``from_params``) is simulated
      repeatedly to at least 1000 tables;
    * ``inside`` - whether ``observed`` lies in [pred_lo, pred_hi].

    The pmf is computed on the distinct values of T only, weighted by how many
    customers have each (and by the ``n_customers`` column of a weighted summary), in
    chunks of draws, so memory stays bounded for any number of customers; the time
    grows with draws x distinct T values (1M customers over 545 distinct T and 1000
    draws: about 3 s).

    Parameters
    ----------
    model : BetaGeo
        A fitted model (or ``BetaGeo.from_params``); other models raise
        :class:`~lifevalue.validation.InvalidOptionError`.
    summary : pandas.DataFrame
        The RFM summary the model was fitted on: ``frequency``, ``recency``, ``T``, or
        the ``_cal`` columns of a calibration/holdout summary.
    max_count : int
        Counts from this one up are pooled into the last bin (FHL 2005a: 7).
    ci : float
        Width of the equal-tailed predictive interval.
    max_draws : int or None
        Thin the posterior to at most this many draws (None: all).
    random_seed : int, numpy.random.Generator or None
        Seed of the simulation (None: fresh randomness, not repeatable).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``repeat_purchases`` ("0", "1", ..., "7+"), with the columns above.
        ``attrs``: ``ci``, ``interval`` ("predictive"), ``unit`` ("customers"),
        ``draws`` (posterior draws used) and ``simulations`` (simulated tables).

    Examples
    --------
    The published CDNOW estimates reproduce FHL (2005a), Figure 2:

    >>> from lifevalue.datasets import load_cdnow_summary
    >>> model = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    ...                             time_unit="W")
    >>> ppc = repeat_purchase_ppc(model, load_cdnow_summary(), random_seed=1)
    >>> ppc[["observed", "expected"]].round(0).astype(int).T  # doctest: +NORMALIZE_WHITESPACE
    repeat_purchases     0    1    2    3   4   5   6  7+
    observed          1411  439  214  100  62  38  29  64
    expected          1406  461  193  101  60  38  26  72
    """
    log_pmf = count_log_pmf(model)
    max_count = _check_whole(max_count, "max_count", 1)
    lo_q, hi_q = sc.quantile_bounds(ci)
    max_draws = _check_whole(max_draws, "max_draws", 1, none_ok=True)
    random_seed = v.check_random_seed(random_seed)
    model._check_fitted()
    if v.is_split_summary(summary):  # FHL 2005a Figure 2 is the calibration period
        from lifevalue.data.summary import calibration_part

        summary = calibration_part(summary)
    v.check_time_unit_matches(summary, model.metadata_.get("time_unit"))
    cols = v.check_summary(summary, model.summary_names)
    counts = v.check_counts(summary)
    weights = np.ones(len(summary)) if counts is None else counts.astype("float64")

    x = np.minimum(cols["frequency"], max_count).astype("int64")
    observed = np.bincount(x, weights=weights, minlength=max_count + 1)

    # one population per covariate profile (its own parameters at every draw)
    populations = [(model.draws(max_draws), cols["T"], weights)] if model._design is None \
        else [(model.for_profile(z).draws(max_draws), cols["T"][pos], weights[pos])
              for z, pos in zip(*cov.profile_groups(model._design, summary), strict=True)]
    n_draws = len(next(iter(populations[0][0].values())))
    reps = -(-sc.MIN_SIMULATIONS // n_draws)  # simulated tables per posterior draw
    n_bins = max_count + 1
    rng = np.random.default_rng(random_seed)
    expected = np.zeros((n_draws, n_bins))
    simulated = np.zeros((reps, n_draws, n_bins), dtype="int64")
    for draws, T_all, w in populations:
        T, n_T = _unique_weighted(T_all, w)
        # chunks of draws x distinct T with about CELLS_PER_CHUNK cells of reps x bins
        t_step = max(1, sc.CELLS_PER_CHUNK // (n_bins * reps))
        for t0 in range(0, len(T), t_step):
            T_c, n_c = T[t0:t0 + t_step], n_T[t0:t0 + t_step]
            d_step = max(1, sc.CELLS_PER_CHUNK // (len(T_c) * n_bins * reps))
            for d0 in range(0, n_draws, d_step):
                sl = slice(d0, d0 + d_step)
                params = {k: a[sl, None, None] for k, a in draws.items()}
                probs = binned_pmf(log_pmf, params, T_c, max_count)  # (s, k, bins)
                expected[sl] += np.einsum("k,skb->sb", n_c.astype("float64"), probs)
                n = np.broadcast_to(n_c, (reps, probs.shape[0], len(T_c)))
                simulated[:, sl] += rng.multinomial(n, probs[None]).sum(axis=2)
    tables = simulated.reshape(-1, n_bins)
    lo, hi = np.quantile(tables, [lo_q, hi_q], axis=0, method="inverted_cdf")
    index = pd.Index([str(i) for i in range(max_count)] + [f"{max_count}+"],
                     name="repeat_purchases")
    out = pd.DataFrame({"observed": observed, "expected": expected.mean(axis=0),
                        "pred_lo": lo.astype("float64"), "pred_hi": hi.astype("float64")},
                       index=index)
    out["inside"] = (out["observed"] >= out["pred_lo"]) & (out["observed"] <= out["pred_hi"])
    out.attrs.update({"ci": float(ci), "interval": "predictive", "unit": "customers",
                      "draws": int(n_draws), "simulations": int(len(tables))})
    return out
