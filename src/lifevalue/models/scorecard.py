"""Which transaction model predicts best? A holdout scorecard per model and a comparison.

Fit each model on the calibration period of a calibration/holdout summary
(:func:`lifevalue.summarize` with ``calibration_end``), then
:func:`holdout_scorecard` scores its forecast of every customer's holdout purchases:

* **per-customer error** of the expected holdout purchases (the posterior mean of the
  conditional expectation) against the actual counts: mean absolute error, root mean
  squared error and bias (mean forecast minus mean actual), in purchases per customer;
* **aggregate error**: the base's total holdout purchases, forecast (with its parameter
  and predictive intervals) against actual, and the relative error;
* **calibration by decile of prediction**: customers ordered by their forecast and cut
  into ten groups of equal size; per group the mean forecast and the mean actual;
* **coverage of predictive intervals**: how often the 50/80/90% predictive interval of a
  customer's holdout count holds the actual count, beside the coverage the model itself
  expects for those intervals (counts are discrete, so it exceeds the level), and the
  uniformity of the randomized PIT (Czado, Gneiting & Held 2009);
* **repeat-purchase check** (posterior predictive, calibration period; FHL 2005a, Figure
  2) where the model has a distribution of repeat purchases: how many count bins fall
  outside their predictive interval.

:func:`compare_models` puts several fitted models side by side: their PSIS-LOO
(expected log predictive density on the calibration data, from each model's
:meth:`loo`; higher is better; the difference to the best with its standard error, as
:func:`arviz.compare` gives it) and their scorecards, ranked by holdout error.

References
----------
FHL (2005a): Fader, Hardie & Lee, "Counting your customers the easy way: an alternative
to the Pareto/NBD model", Marketing Science 24(2), 275-284.
Czado, Gneiting & Held (2009), "Predictive model assessment for count data",
Biometrics 65, 1254-1261.
Vehtari, Gelman & Gabry (2017), "Practical Bayesian model evaluation using leave-one-out
cross-validation and WAIC", Statistics and Computing 27, 1413-1432.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models import holdout as ho

#: Groups of the calibration table (deciles of the forecast).
GROUPS = 10


@dataclass
class Scorecard:
    """The holdout scorecard of one model (see :func:`holdout_scorecard`).

    Attributes
    ----------
    metrics : pandas.Series
        ``customers``; ``mae``, ``rmse``, ``bias`` (purchases per customer);
        ``forecast_total``, ``forecast_param_lo``/``_hi``, ``forecast_pred_lo``/``_hi``,
        ``actual_total``, ``aggregate_error`` (forecast / actual - 1); per interval
        level L: ``coverage_L`` and ``expected_coverage_L``; ``pit_p_value``;
        ``ppc_bins_outside`` and ``ppc_bins`` (NaN where the model has no
        repeat-purchase distribution).
    calibration : pandas.DataFrame
        Per decile of the forecast (1 = lowest): ``customers``, ``forecast`` and
        ``actual`` (mean holdout purchases per customer).
    coverage : pandas.DataFrame
        :func:`lifevalue.models.holdout.interval_coverage`.
    ppc : pandas.DataFrame or None
        :func:`lifevalue.models.checks.repeat_purchase_ppc`, or None.
    """

    metrics: pd.Series
    calibration: pd.DataFrame
    coverage: pd.DataFrame
    ppc: pd.DataFrame | None = None


def _actual(summary: pd.DataFrame) -> np.ndarray:
    if "frequency_holdout" not in summary.columns:
        raise v.MissingColumnError(
            "missing column 'frequency_holdout': the holdout scorecard needs a summary "
            "made with calibration_end", column="frequency_holdout")
    return summary["frequency_holdout"].to_numpy(dtype="float64")


def calibration_by_group(forecast, actual, groups: int = GROUPS) -> pd.DataFrame:
    """Mean forecast and mean actual per group of customers ordered by forecast.

    Customers are sorted by forecast (ties in their given order) and cut into
    ``groups`` groups of (nearly) equal size.

    Examples
    --------
    >>> calibration_by_group([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 2.0, 6.0], groups=2)
           customers  forecast  actual
    group
    1              2       1.5     1.0
    2              2       3.5     4.0
    """
    forecast = np.asarray(forecast, dtype="float64")
    actual = np.asarray(actual, dtype="float64")
    order = np.argsort(forecast, kind="stable")
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.arange(len(order)) * groups // max(len(order), 1) + 1
    frame = pd.DataFrame({"group": group, "forecast": forecast, "actual": actual})
    out = frame.groupby("group").agg(customers=("forecast", "size"),
                                     forecast=("forecast", "mean"), actual=("actual", "mean"))
    return out


def holdout_scorecard(model, summary: pd.DataFrame, *, ci: float = 0.9,
                      levels=ho.LEVELS, groups: int = GROUPS, random_seed: int = 0,
                      max_draws: int | None = 1000) -> Scorecard:
    """Score a fitted model's forecast of the holdout period.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo or ParetoNBD
        Fitted on the calibration columns of ``summary``.
    summary : pandas.DataFrame
        A calibration/holdout summary (``frequency_holdout``, ``duration_holdout``).
    ci : float
        Mass of the aggregate forecast's intervals.
    levels : sequence of float
        Levels of the per-customer predictive intervals whose coverage is checked.
    groups : int
        Groups of the calibration table.
    random_seed : int, numpy.random.Generator or None
        Seed of the simulations.
    max_draws : int, optional
        Posterior draws used (thinned evenly).

    Returns
    -------
    Scorecard

    Examples
    --------
    >>> from lifevalue import BetaGeo, datasets
    >>> summary = datasets.load_cdnow_summary()
    >>> bg = BetaGeo().fit(summary, method="map")
    >>> card = holdout_scorecard(bg, summary)
    >>> round(float(card.metrics["aggregate_error"]), 2)
    -0.12
    """
    from lifevalue.models import checks

    actual = _actual(summary)
    random_seed = v.check_random_seed(random_seed)  # one seed for every use below
    sims = ho.simulate_holdout_counts(model, summary, random_seed=random_seed,
                                      max_draws=max_draws)
    expected = ho.expected_count_draws(model, summary, max_draws=max_draws)
    forecast = expected.mean(axis=0)
    err = forecast - actual
    metrics = {"customers": float(len(actual)), "mae": float(np.abs(err).mean()),
               "rmse": float(np.sqrt(np.mean(err ** 2))), "bias": float(err.mean())}
    agg = ho.aggregate_forecast(sims, actual, expected, ci=ci)
    metrics.update({
        "forecast_total": float(agg["forecast"]), "forecast_param_lo": float(agg["param_lo"]),
        "forecast_param_hi": float(agg["param_hi"]), "forecast_pred_lo": float(agg["pred_lo"]),
        "forecast_pred_hi": float(agg["pred_hi"]), "actual_total": float(actual.sum()),
        "aggregate_error": float(agg["forecast"] / actual.sum() - 1.0)
        if actual.sum() > 0 else np.nan})
    coverage = ho.interval_coverage(sims, actual, levels)
    for level, row in coverage.iterrows():
        metrics[f"coverage_{level:g}"] = row["coverage"]
        metrics[f"expected_coverage_{level:g}"] = row["expected_coverage"]
    metrics["pit_p_value"] = float(
        ho.pit_uniformity(ho.randomized_pit(sims, actual, random_seed=random_seed))["p_value"])
    ppc = None
    metrics["ppc_bins_outside"] = metrics["ppc_bins"] = np.nan
    try:
        checks.count_log_pmf(model)
    except v.InvalidOptionError:
        pass
    else:
        ppc = checks.repeat_purchase_ppc(model, summary, ci=ci, max_draws=max_draws,
                                         random_seed=random_seed)
        metrics["ppc_bins_outside"] = float((~ppc["inside"]).sum())
        metrics["ppc_bins"] = float(len(ppc))
    return Scorecard(pd.Series(metrics, name=type(model).__name__),
                     calibration_by_group(forecast, actual, groups), coverage, ppc)


def compare_models(models: Mapping[str, object], summary: pd.DataFrame, *,
                   loo: bool = True, **scorecard_options) -> pd.DataFrame:
    """Several fitted models side by side: PSIS-LOO and the holdout scorecard.

    Parameters
    ----------
    models : mapping of name to fitted model
        Transaction models fitted on the calibration columns of the same ``summary``.
    summary : pandas.DataFrame
        A calibration/holdout summary.
    loo : bool
        Also compare the models by PSIS-LOO on the calibration data (needs posterior
        draws: MCMC or Laplace fits; a MAP fit gets NaN).
    **scorecard_options
        Passed to :func:`holdout_scorecard`.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first by holdout ``mae``: ``rank``; ``elpd_loo``, its
        ``se``, ``elpd_diff`` (to the model of highest elpd, <= 0) and ``diff_se`` (the
        standard error of that difference, from the customers' paired pointwise
        terms, as :func:`arviz.compare`), ``p_loo``; then the scorecard's metrics.
    """
    if not models:
        raise v.InvalidOptionError("compare_models needs at least one model", column="models")
    rows, pointwise = {}, {}
    for name, model in models.items():
        row = holdout_scorecard(model, summary, **scorecard_options).metrics
        fit = {"elpd_loo": np.nan, "se": np.nan, "p_loo": np.nan}
        if loo and getattr(model, "idata_", None) is not None and _has_draws(model):
            res = model.loo()
            fit = {"elpd_loo": float(res.elpd), "se": float(res.se), "p_loo": float(res.p)}
            pointwise[name] = np.asarray(res.elpd_i)
        rows[name] = pd.concat([pd.Series(fit), row])
    table = pd.DataFrame(rows).T
    table.insert(2, "elpd_diff", np.nan)
    table.insert(3, "diff_se", np.nan)
    if pointwise:
        best = max(pointwise, key=lambda k: table.loc[k, "elpd_loo"])
        for name, elpd_i in pointwise.items():
            diff = elpd_i - pointwise[best]
            table.loc[name, "elpd_diff"] = float(diff.sum())
            table.loc[name, "diff_se"] = float(np.sqrt(len(diff) * np.var(diff)))
    table = table.sort_values("mae", kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.rename_axis("model")


def _has_draws(model) -> bool:
    """A posterior with more than one draw (not a point estimate)."""
    first = model.draws()[model.param_names[0]]
    return len(first) > 1
