"""Is the model honest about the future? Holdout checks of a transaction model.

Fit on a calibration period, predict the holdout, and compare with what customers
actually did:

* :func:`interval_coverage` - how often the 50/80/90% **predictive intervals** of each
  customer's holdout purchases contain the actual count. Counts are discrete, so a
  central interval of whole numbers holds *more* than its nominal mass; the function
  therefore also returns the coverage the model itself expects for these very
  intervals (the predictive mass inside them, averaged over customers). A calibrated
  model matches that, not the nominal level.
* :func:`randomized_pit`, :func:`pit_uniformity` and :func:`pit_histogram` - the
  randomized probability
  integral transform for counts (Czado, Gneiting & Held 2009, "Predictive model
  assessment for count data", Biometrics 65, eq. 1): ``u = F(y-1) + V (F(y) - F(y-1))``
  with ``V ~ U(0, 1)``, which is exactly uniform when the predictive distribution F is
  the true one; a chi-square test of its histogram.
* :func:`aggregate_forecast` - total holdout purchases of the whole base, forecast vs
  actual, with the parameter and the predictive interval. Each
  draw's total sums all customers under the same population draw, so the interval
  respects that customers share their parameters.

The functions are pure: they take arrays of predictive draws (simulations ``(S, n)``:
S futures of n customers) and the actual counts. :func:`simulate_holdout_counts` and
:func:`expected_count_draws` make those arrays from any fitted transaction model
(:class:`~lifevalue.models.BetaGeo` and its siblings); they hold ``S x n`` numbers at
once, so they are meant for a holdout evaluation, not for scoring a large base (use the
model's ``expected_purchases`` for that). :mod:`lifevalue.models.scorecard` sums
them up per model and compares models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lifevalue import validation as v
from lifevalue.models import customer_posterior as cp
from lifevalue.models import scoring as sc
from lifevalue.models.covariates import profile_groups, profile_offsets

#: Interval levels reported by default.
LEVELS = (0.5, 0.8, 0.9)


def _check_draws(draws, actual) -> tuple[np.ndarray, np.ndarray]:
    draws = np.asarray(draws, dtype="float64")
    actual = np.asarray(actual, dtype="float64")
    if draws.ndim != 2:
        raise v.InvalidOptionError(
            f"draws must be a 2-D array (simulations x customers), got shape {draws.shape}",
            column="draws")
    if actual.shape != (draws.shape[1],):
        raise v.InvalidOptionError(
            f"actual has shape {actual.shape} but draws have {draws.shape[1]} customers",
            column="actual")
    if not (np.all(np.isfinite(actual)) and np.all(actual >= 0)
            and np.all(actual == np.round(actual))):
        raise v.InvalidOptionError("actual must hold whole numbers >= 0 (purchase counts)",
                                   column="actual")
    return draws, actual


def predictive_cdf(draws, y) -> tuple[np.ndarray, np.ndarray]:
    """``P(Y < y)`` and ``P(Y <= y)`` per customer under the predictive draws.

    Parameters
    ----------
    draws : array ``(S, n)``
        Simulated counts.
    y : array ``(n,)``
        Counts to evaluate at.

    Examples
    --------
    >>> below, upto = predictive_cdf(np.array([[0], [1], [1], [3]]), np.array([1]))
    >>> float(below[0]), float(upto[0])
    (0.25, 0.75)
    """
    draws, y = np.asarray(draws, dtype="float64"), np.asarray(y, dtype="float64")
    return (draws < y[None, :]).mean(axis=0), (draws <= y[None, :]).mean(axis=0)


def interval_coverage(draws, actual, levels=LEVELS) -> pd.DataFrame:
    """Share of customers whose actual count lies in their central predictive interval.

    The interval at level c runs from the ``(1-c)/2`` to the ``(1+c)/2`` quantile of the
    draws, taken as observed values (inverted CDF), exactly as
    ``BetaGeo.expected_purchases`` reports ``purchases_pred_lo``/``_hi``; both ends count
    as inside.

    Parameters
    ----------
    draws : array ``(S, n)``
        Simulated holdout counts, S per customer.
    actual : array ``(n,)``
        Actual holdout counts.
    levels : sequence of float
        Nominal interval levels in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``level``: ``coverage`` (share of customers covered),
        ``expected_coverage`` (mean predictive mass inside the intervals: what a
        calibrated model covers, above the level because counts are discrete),
        ``mean_width`` (hi - lo) and ``customers``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sims = rng.poisson(2.0, size=(4000, 3000))
    >>> table = interval_coverage(sims, rng.poisson(2.0, size=3000), levels=[0.5])
    >>> bool(abs(table.loc[0.5, "coverage"] - table.loc[0.5, "expected_coverage"]) < 0.03)
    True
    """
    draws, actual = _check_draws(draws, actual)
    rows = {}
    for level in levels:
        _, lo, hi = sc.reduce_draws(draws, v.check_probability(level, "level"), discrete=True)
        inside = (actual >= lo) & (actual <= hi)
        mass = ((draws >= lo[None, :]) & (draws <= hi[None, :])).mean(axis=0)
        rows[float(level)] = {"coverage": float(inside.mean()),
                              "expected_coverage": float(mass.mean()),
                              "mean_width": float((hi - lo).mean()),
                              "customers": int(len(actual))}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("level")


def randomized_pit(draws, actual, random_seed: int = 0) -> np.ndarray:
    """Randomized probability integral transform of each customer's actual count.

    ``u = F(y-1) + V (F(y) - F(y-1))`` with ``V ~ U(0, 1)`` (Czado, Gneiting & Held
    2009, eq. 1), F the predictive CDF estimated from the draws. Under a calibrated
    model u is uniform on [0, 1].

    Parameters
    ----------
    draws : array ``(S, n)``
    actual : array ``(n,)``
    random_seed : int
        Seed of V.

    Returns
    -------
    numpy.ndarray ``(n,)``

    Examples
    --------
    >>> u = randomized_pit(np.array([[0, 5], [0, 5]]), np.array([0, 5]), random_seed=1)
    >>> bool(np.all((u >= 0) & (u <= 1)))
    True
    """
    draws, actual = _check_draws(draws, actual)
    below, upto = predictive_cdf(draws, actual)
    noise = np.random.default_rng(random_seed).random(len(actual))
    return below + noise * (upto - below)


def pit_histogram(draws, actual, bins: int = 10) -> np.ndarray:
    """Non-randomized PIT histogram: the randomized one averaged over its noise V.

    Czado, Gneiting & Held (2009), eq. 2: each customer contributes the CDF
    ``F(u | y) = clip((u - F(y-1)) / (F(y) - F(y-1)), 0, 1)`` of their randomized PIT,
    spread over the bins by the mass it puts in each. The result is the expected count
    per bin; it carries no randomization noise, so its departures from flat are the
    model's (and the simulation's), which makes it the steadier check of the two.

    Returns
    -------
    numpy.ndarray ``(bins,)``
        Expected customers per bin; sums to the number of customers.

    Examples
    --------
    >>> pit_histogram(np.array([[0], [1], [1], [3]]), np.array([1]), bins=4).tolist()
    [0.0, 0.5, 0.5, 0.0]
    """
    draws, actual = _check_draws(draws, actual)
    below, upto = predictive_cdf(draws, actual)
    edges = np.linspace(0.0, 1.0, bins + 1)[:, None]
    jump = upto - below
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf = np.where(jump > 0, np.clip((edges - below) / jump, 0.0, 1.0),
                       (edges >= upto).astype("float64"))
    return np.diff(cdf.sum(axis=1))


def pit_uniformity(u, bins: int = 10) -> dict:
    """Histogram of PIT values and a chi-square test that it is flat.

    Returns
    -------
    dict
        ``counts`` (per bin, equal-width on [0, 1]), ``expected`` (per bin under
        uniformity), ``chi2``, ``dof``, ``p_value``, and ``max_ratio`` / ``min_ratio``,
        the fullest and emptiest bin relative to the expected count.

    Examples
    --------
    >>> out = pit_uniformity((np.arange(1000) + 0.5) / 1000, bins=10)
    >>> out["counts"].tolist() == [100] * 10, round(out["p_value"], 3)
    (True, 1.0)
    """
    u = np.asarray(u, dtype="float64")
    if u.ndim != 1 or len(u) == 0 or np.any((u < 0) | (u > 1)) or not np.all(np.isfinite(u)):
        raise v.InvalidOptionError("PIT values must be a non-empty 1-D array in [0, 1]",
                                   column="u")
    counts, _ = np.histogram(u, bins=bins, range=(0.0, 1.0))
    expected = len(u) / bins
    chi2, p_value = stats.chisquare(counts)
    return {"counts": counts, "expected": expected, "chi2": float(chi2), "dof": bins - 1,
            "p_value": float(p_value), "max_ratio": float(counts.max() / expected),
            "min_ratio": float(counts.min() / expected)}


def aggregate_forecast(simulated, actual, expected=None, ci: float = 0.9) -> pd.Series:
    """Total holdout purchases of all customers: forecast against actual.

    Parameters
    ----------
    simulated : array ``(S, n)``
        Simulated counts; row s sums to one predictive draw of the total.
    actual : array ``(n,)``
    expected : array ``(S, n)``, optional
        Closed-form expected counts per population draw (FHL 2005a, eq. 10), for the
        forecast mean and its parameter interval. Without it the mean is that of the
        simulated totals.
    ci : float

    Returns
    -------
    pandas.Series
        ``actual``, ``forecast``, ``param_lo``/``param_hi`` (when ``expected`` is given),
        ``pred_lo``/``pred_hi``, ``relative_error`` ((forecast - actual) / actual) and
        ``predictive_quantile``, the share of simulated totals below the actual one.

    Examples
    --------
    >>> sims = np.array([[0, 1], [1, 1], [2, 2], [1, 0]])
    >>> aggregate_forecast(sims, np.array([1, 1]))[["actual", "forecast"]].tolist()
    [2.0, 2.0]
    """
    simulated, actual = _check_draws(simulated, actual)
    lo_q, hi_q = sc.quantile_bounds(ci)
    totals = simulated.sum(axis=1)
    total = float(actual.sum())
    out = {"actual": total}
    if expected is not None:
        per_draw = np.asarray(expected, dtype="float64").sum(axis=1)
        out["forecast"] = float(per_draw.mean())
        out["param_lo"], out["param_hi"] = (float(q) for q in np.quantile(per_draw,
                                                                          [lo_q, hi_q]))
    else:
        out["forecast"] = float(totals.mean())
    out["pred_lo"], out["pred_hi"] = (float(q) for q in np.quantile(totals, [lo_q, hi_q]))
    out["relative_error"] = (out["forecast"] - total) / total if total else np.nan
    out["predictive_quantile"] = float((totals < total).mean())
    return pd.Series(out, name="holdout purchases")


# ------------------------------------------------------------ draws from a model


def _calibration(summary):
    """A split summary's calibration part (its calibration columns as plain ones)."""
    from lifevalue.data.summary import calibration_part

    return calibration_part(summary) if v.is_split_summary(summary) else summary


def _holdout_inputs(model, summary: pd.DataFrame, t):
    # the holdout checks use the calibration columns of a split by design
    x, t_x, T = model._customers(_calibration(summary))
    if t is None:
        if "duration_holdout" not in summary.columns:
            raise v.MissingColumnError(
                "missing column 'duration_holdout': give t or a summary made with "
                "calibration_end", column="duration_holdout")
        t = float(summary["duration_holdout"].iloc[0])
    if not v.is_finite_number(t) or float(t) <= 0:
        raise v.InvalidOptionError(f"t must be a positive, finite time, got {t!r}", column="t")
    return x, t_x, T, float(t)


def simulate_holdout_counts(model, summary: pd.DataFrame, t: float | None = None, *,
                            random_seed: int = 0, max_draws: int | None = None,
                            min_simulations: int = sc.MIN_SIMULATIONS) -> np.ndarray:
    """Simulated purchases in (T, T+t] of each customer, ``(S, n)``.

    The same simulation as the model's ``simulate_purchases`` (its per-customer
    posterior, e.g. FHL 2005a, section 3 for the BG/NBD; one future per population
    draw, random streams per block of customers in id order), kept draw by draw instead
    of reduced to an interval, so its quantiles are exactly the
    ``purchases_pred_lo``/``_hi`` the model reports.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo or ParetoNBD
        Fitted on the calibration columns of ``summary``.
    summary : pandas.DataFrame
        A calibration/holdout summary (or any RFM summary if ``t`` is given).
    t : float, optional
        Holdout length in the model's time unit; default ``duration_holdout``.
    """
    x, t_x, T, t = _holdout_inputs(model, summary, t)
    random_seed = v.check_random_seed(random_seed)

    def simulate(own, rows, offset):  # as simulate_purchases: streams by place in the order
        params = sc.simulation_draws(own.draws(max_draws), min_simulations)
        n_sim = len(params[own.param_names[0]])
        order = sc.canonical_order(summary.index[rows])
        out = np.empty((n_sim, len(rows)), dtype=np.int64)
        for sl in sc.iter_chunks(len(rows), None, n_sim):
            idx = rows[order[sl]]
            rng = cp.BlockRNG(random_seed, offset + sl.start, offset + sl.stop)
            out[:, order[sl]] = own._simulate_counts(params, x[idx], t_x[idx], T[idx], t,
                                                     rng)[0]
        return out

    return _by_profile(model, summary, simulate, np.int64)


def expected_count_draws(model, summary: pd.DataFrame, t: float | None = None, *,
                         max_draws: int | None = None) -> np.ndarray:
    """Closed-form expected purchases in (T, T+t] per population draw, ``(S, n)``.

    The model's conditional expectation (for the BG/NBD, FHL 2005a, eq. 10) at each
    draw; its spread across draws is the parameter interval.
    """
    x, t_x, T, t = _holdout_inputs(model, summary, t)

    def expected(own, rows, offset):
        d = {k: a[:, None] for k, a in own.draws(max_draws).items()}
        return own._expected_draws(d, x[rows], t_x[rows], T[rows], t)

    return _by_profile(model, summary, expected, np.float64)


def _by_profile(model, summary, fn, dtype) -> np.ndarray:
    """``fn(model, rows, rng_offset)`` -> ``(S, len(rows))`` on all customers, or on each
    covariate profile's customers with that profile's model and random streams after the
    previous profile's (as the model's own ``simulate_purchases``), gathered ``(S, n)``."""
    if model._design is None:
        return fn(model, np.arange(len(summary)), 0)
    profiles, positions = profile_groups(model._design, _calibration(summary))
    parts = [(rows, fn(model.for_profile(z), rows, offset)) for z, rows, offset in
             zip(profiles, positions, profile_offsets(map(len, positions)), strict=True)]
    out = np.empty((parts[0][1].shape[0], len(summary)), dtype=dtype)
    for rows, values in parts:
        out[:, rows] = values
    return out


def holdout_report(model, summary: pd.DataFrame, *, levels=LEVELS, bins: int = 10,
                   random_seed: int = 0, max_draws: int | None = None) -> dict:
    """Every holdout check of ``model`` on a calibration/holdout ``summary`` at once.

    Returns
    -------
    dict
        ``coverage`` (:func:`interval_coverage`), ``pit`` (the randomized PIT values),
        ``uniformity`` (:func:`pit_uniformity` of them), ``pit_histogram`` (the
        non-randomized histogram, :func:`pit_histogram`) and ``aggregate``
        (:func:`aggregate_forecast`).
    """
    if "frequency_holdout" not in summary.columns:
        raise v.MissingColumnError(
            "missing column 'frequency_holdout': the holdout check needs a summary made "
            "with calibration_end", column="frequency_holdout")
    actual = summary["frequency_holdout"].to_numpy(dtype="float64")
    random_seed = v.check_random_seed(random_seed)  # one seed for both, even from a Generator
    sims = simulate_holdout_counts(model, summary, random_seed=random_seed,
                                   max_draws=max_draws)
    expected = expected_count_draws(model, summary, max_draws=max_draws)
    pit = randomized_pit(sims, actual, random_seed=random_seed)
    return {"coverage": interval_coverage(sims, actual, levels), "pit": pit,
            "uniformity": pit_uniformity(pit, bins),
            "pit_histogram": pit_histogram(sims, actual, bins),
            "aggregate": aggregate_forecast(sims, actual, expected)}
