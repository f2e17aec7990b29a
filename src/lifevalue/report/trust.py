"""Can the model be trusted? Convergence of both fits and a holdout check of the
purchase model, turned into a plain verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lifevalue.report.fmt import (
    MODEL_NAMES,
    TIME_UNIT_NAMES,
    count,
    esc,
    number,
    percent,
    table,
)

#: Verdict levels, worst last.
LEVELS = ("ok", "care", "warn")
HEADLINES = {"ok": "The model can be trusted",
             "care": "Usable with care",
             "warn": "Do not rely on these numbers yet"}
#: The holdout check values at most this many customers (a seeded sample beyond).
HOLDOUT_MAX_CUSTOMERS = 50_000
#: A holdout forecast of total purchases within this relative error is good ...
GOOD_ERROR = 0.10
#: ... and beyond this one poor; likewise for the gap between the customers' interval
#: coverage and what the model expects.
POOR_ERROR = 0.25
GOOD_GAP, POOR_GAP = 0.05, 0.15
GOOD_MEANING = "Predictions match what customers did: the values can be used for decisions."

SUMMARY_HEADINGS = {"mean": "posterior mean", "sd": "standard deviation",
                    "lo": "interval low", "hi": "interval high",
                    "mcse_mean": "Monte Carlo error of the mean",
                    "ess_bulk": "effective draws (centre)",
                    "ess_tail": "effective draws (tails)", "r_hat": "R-hat",
                    "prior_sensitivity": "sensitivity to the prior",
                    "likelihood_sensitivity": "sensitivity to the data"}


@dataclass
class Trust:
    """The verdict: ``level`` (ok, care, warn), the sentences behind it, and the
    holdout check (None when the data have no holdout period)."""

    level: str
    converged: bool
    sentences: list[str] = field(default_factory=list)
    holdout: dict | None = None
    holdout_level: str | None = None

    @property
    def headline(self) -> str:
        return HEADLINES[self.level]


def _worst(*levels) -> str:
    return max((lv for lv in levels if lv), key=LEVELS.index)


def convergence_sentence(models) -> tuple[str, str]:
    """(level, sentence) for the fits' convergence."""
    bad = [m for m in models if not m.converged]
    if bad:
        names = ", ".join(f"{type(m).__name__} ({'; '.join(m.convergence_problems())})"
                          for m in bad)
        return "warn", (f"The fit did not converge: {names}. Refit with more tuning steps "
                        "and draws.")
    methods = {m.diagnostics_.get("method") for m in models}
    if methods - {"mcmc", "laplace"}:
        return "care", ("The models were fitted by their most likely parameters only: "
                        "parameter intervals have zero width and understate the "
                        "uncertainty.")
    return "ok", ("Both fits converged: every check of the sampler passed (R-hat at most "
                  "1.01, at least 400 effective draws, no divergences).")


def holdout_check(model, summary: pd.DataFrame, random_seed: int = 0) -> dict | None:
    """The holdout check of the purchase model, or None without a holdout period."""
    from lifevalue.models.holdout import holdout_report

    if "frequency_holdout" not in summary.columns or "duration_holdout" not in summary.columns:
        return None
    sample = summary
    if len(summary) > HOLDOUT_MAX_CUSTOMERS:
        rng = np.random.default_rng(random_seed)
        pick = np.sort(rng.choice(len(summary), HOLDOUT_MAX_CUSTOMERS, replace=False))
        sample = summary.iloc[pick]
    out = holdout_report(model, sample, random_seed=random_seed, max_draws=500)
    out["customers"] = len(sample)
    out["of_customers"] = len(summary)
    out["duration"] = float(summary["duration_holdout"].iloc[0])
    out["time_unit"] = summary.attrs.get("time_unit", "W")
    return out


def holdout_verdict(check: dict) -> tuple[str, str]:
    """(level, sentences) of a holdout check."""
    agg = check["aggregate"]
    cov = check["coverage"].loc[0.9]
    actual, forecast, rel = agg["actual"], agg["forecast"], agg["relative_error"]
    inside = agg["pred_lo"] <= actual <= agg["pred_hi"]
    gap = cov["coverage"] - cov["expected_coverage"]
    unit = TIME_UNIT_NAMES.get(check["time_unit"], check["time_unit"])
    weeks = f"{check['duration']:.0f} {unit}s"
    who = (f"the {count(check['customers'])} customers" if check["customers"] ==
           check["of_customers"] else f"a random sample of {count(check['customers'])} "
           "customers")
    direction = "under-predicted" if forecast < actual else "over-predicted"
    text = (f"Holdout check: over the {weeks} after the data the model was fitted on, it "
            f"predicted {count(forecast)} repeat purchases for {who} (90% predictive range "
            f"{count(agg['pred_lo'])} to {count(agg['pred_hi'])}); they made "
            f"{count(actual)}: the model {direction} by {percent(abs(rel))}"
            + (", outside its range. " if not inside else ". ")
            + f"Customer by customer, the 90% predictive ranges held the actual count for "
            f"{percent(cov['coverage'])} of customers (the model expected "
            f"{percent(cov['expected_coverage'])}). ")
    if np.isnan(rel) or abs(rel) > POOR_ERROR or abs(gap) > POOR_GAP:
        level = "warn"
        text += ("This is a poor fit: do not base decisions on these values before the "
                 "model is improved (more data, another calibration period).")
    elif inside and abs(rel) <= GOOD_ERROR and abs(gap) <= GOOD_GAP:
        level = "ok"
        text += GOOD_MEANING
    else:
        level = "care"
        side = "too low" if forecast < actual else "too high"
        text += (f"Values are probably {side} by a similar share: read them as "
                 f"{'cautious' if side == 'too low' else 'optimistic'} estimates.")
    return level, text


def assess(transactions_model, spend_model, summary: pd.DataFrame) -> Trust:
    """The verdict on both fits and the holdout check (see :class:`Trust`)."""
    conv_level, conv_text = convergence_sentence((transactions_model, spend_model))
    check = holdout_check(transactions_model, summary)
    if check is None:
        h_level = "care"
        h_text = ("Not checked against held-out data: value the customers as of a "
                  "calibration end to see how well the model predicts the following period.")
    else:
        h_level, h_text = holdout_verdict(check)
        if conv_level == "warn" and h_level == "ok":
            h_text = h_text.replace(GOOD_MEANING, "The holdout check alone looks good, but a "
                                    "fit that did not converge cannot be relied on.")
    return Trust(level=_worst(conv_level, h_level), converged=conv_level != "warn",
                 sentences=[conv_text, h_text], holdout=check, holdout_level=h_level)


def diagnostics_block(model) -> str:
    """The convergence line and the parameter table of one fit."""
    d = model.diagnostics_
    name = type(model).__name__
    problems = model.convergence_problems()
    if problems:
        status = (f'<p class="warn">{name} did NOT converge: {esc("; ".join(problems))}.'
                  " Its intervals cannot be trusted; refit with more tuning and draws.</p>")
    elif d.get("method") == "mcmc":
        status = (f'<p class="ok">{name}: converged (largest R-hat {d["rhat_max"]:.3f}, '
                  f'fewest effective draws {d["ess_bulk_min"]:.0f} in the centre and '
                  f'{d["ess_tail_min"]:.0f} in the tails, {d["divergences"]} divergences, '
                  f'{d["chains"]} chains, {d["draws"]} draws).</p>')
    elif d.get("method") == "laplace":
        status = (f'<p class="ok">{name}: Laplace approximation corrected by Pareto-smoothed '
                  f'importance sampling (Pareto k-hat {d.get("pareto_k", float("nan")):.2f} '
                  f'&lt;= 0.7, importance ESS {d.get("importance_ess", float("nan")):.0f}, '
                  f'{d["draws"]} draws).</p>')
    else:
        status = (f'<p class="note">{name}: fitted by {d.get("method")}; no posterior '
                  "uncertainty, so parameter intervals have zero width.</p>")
    summ = model.summary()
    ci = summ.attrs.get("ci")
    headings = dict(SUMMARY_HEADINGS)
    if ci:
        headings["lo"] = f"{ci:.0%} interval low"
        headings["hi"] = f"{ci:.0%} interval high"
    summ = summ.rename(columns=headings).rename_axis("parameter")
    fmt = {c: (lambda v: number(v, 0)) for c in summ.columns if c.startswith("effective")}
    fmt.update({c: (lambda v: f"{v:.4g}") for c in summ.columns
                if not c.startswith("effective")})
    return status + table(summ, fmt)


def covariate_effects_block(model) -> str:
    """What each customer attribute changes (a model with covariates), in words and a
    table of ratios with their intervals; empty without covariates."""
    if getattr(model, "_design", None) is None:
        return ""
    effects = model.covariate_effects()
    ci = effects.attrs["ci"]

    def ratio(row, name):
        if not np.isfinite(row[f"{name}_mean"]):
            return "not modelled"
        return (f"{row[f'{name}_mean']:.2f} ({row[f'{name}_lo']:.2f} to "
                f"{row[f'{name}_hi']:.2f})")

    dropout = ("dropout rate" if model.dropout_process == "lifetime"
               else "chance of dropping out after a purchase")
    frame = pd.DataFrame({
        "purchase rate, times": [ratio(r, "purchase_rate_ratio") for _, r in effects.iterrows()],
        f"{dropout}, times": [ratio(r, "dropout_ratio") for _, r in effects.iterrows()]},
        index=pd.Index([str(c) for c in effects.index], name="one unit more of"))
    return ("<h3>What customer attributes change</h3>"
            '<p class="note">The model lets each attribute change the purchase rate and the '
            "dropout of the customers who have it. Each row compares an average customer "
            "with one unit more of that attribute (the others at 0) to one without: 1 means "
            f"no change; in brackets the {ci:.0%} parameter interval.</p>"
            + table(frame, text=True))


def holdout_tables(check: dict) -> str:
    """The holdout check as two tables with worded headings."""
    agg = check["aggregate"]
    total = pd.DataFrame({"repeat purchases": [
        count(agg["actual"]), count(agg["forecast"]),
        f"{count(agg.get('param_lo', np.nan))} to {count(agg.get('param_hi', np.nan))}",
        f"{count(agg['pred_lo'])} to {count(agg['pred_hi'])}",
        percent(agg["relative_error"], 1)]}, index=pd.Index(
        ["actual", "forecast (mean)", "parameter interval (90%)",
         "predictive interval (90%)", "forecast error (forecast − actual) / actual"],
        name="all customers in the holdout period"))
    cov = check["coverage"].copy()
    cov.index = [f"{lv:.0%}" for lv in cov.index]
    cov.index.name = "predictive range of each customer"
    cov = cov.rename(columns={"coverage": "customers whose actual count was inside",
                              "expected_coverage": "what the model expects",
                              "mean_width": "average width (purchases)",
                              "customers": "customers"})
    fmt = {"customers whose actual count was inside": lambda v: percent(v, 1),
           "what the model expects": lambda v: percent(v, 1),
           "average width (purchases)": lambda v: number(v, 2)}
    return table(total) + table(cov, fmt)


def model_comparison_section(comparison: pd.DataFrame, valued: str) -> str:
    """The comparison of transaction models (:func:`lifevalue.models.scorecard.
    compare_models`): a heading, how to read it, a table with worded headings, best
    first, and which model (``valued``, e.g. ``'BG/NBD'``) the report's values use and how
    to value with another."""
    rows = {}
    for name, row in comparison.iterrows():
        label = MODEL_NAMES.get(str(name), str(name))
        loo = ("not available (point estimate)" if not np.isfinite(row["elpd_loo"]) else
               f"{number(row['elpd_diff'], 1)} ± {number(row['diff_se'], 1)}")
        rows[label] = {
            "rank": count(row["rank"]),
            "error per customer (purchases)": number(row["mae"], 3),
            "total forecast error": percent(row["aggregate_error"], 1),
            "90% ranges holding the actual count": (
                f"{percent(row['coverage_0.9'], 1)} (model expects "
                f"{percent(row['expected_coverage_0.9'], 1)})"),
            "fit to the calibration data (LOO, difference to best)": loo}
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    return ('<h3 id="models">Which purchase model predicts best</h3>'
            '<p class="note">Each model was fitted on the calibration period and forecast '
            "every customer's purchases in the holdout period; best first, by the average "
            "error per customer. The last column compares the models' fit to the "
            "calibration data by leave-one-out cross-validation (0 for the best; more "
            "negative is worse, by more than twice its ± to matter).</p>"
            + table(frame, text=True)
            + f'<p class="note">The values in this report use the {esc(valued)}. To value '
            "with another model, fit it with <code>lifevalue fit --model mbgnbd</code> or "
            "<code>--model paretonbd</code> (<code>model = ...</code> in a job file's "
            "<code>[fit]</code>).</p>")
