"""The figures of the report's first screen, all taken from a
:class:`~lifevalue.value.ValueResult` (and, for the groups' intervals and the value of a
new customer, from the valuer that produced it).

Group totals are never sums of per-customer intervals: each group of the relationship
matrix is valued again on its own with the same draws and settings, so its interval
comes from per-draw totals (customers share their population parameters). The means
are the sums of the customers' means, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifevalue.value.periods import PeriodGrid
from lifevalue.value.thresholds import CELLS

KINDS = ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi")
QUANTITIES = ("current", "potential", "growth")


@dataclass
class KeyFigures:
    """What the first screen says, in numbers.

    Attributes
    ----------
    customers : int
    base : pandas.DataFrame
        :attr:`ValueResult.base` (current, potential, growth x mean and intervals).
    groups : pandas.DataFrame
        Per cell (retain, develop, phase_out): ``customers`` and, for current,
        potential and growth, ``<q>_mean`` and ``<q>_param_lo/hi``, ``<q>_pred_lo/hi``
        (NaN when the valuer could not be rebuilt).
    prospect : pandas.Series or None
        Value of a new customer: ``value_mean``, ``value_param_lo/hi``,
        ``value_pred_lo/hi``.
    floor : float or None
        The lowest value a customer can have: the discounted costs of one who churns
        at once (None when costs differ per customer).
    floor_customers : int
        Customers whose predictive lower bound is that floor.
    thresholds : dict
        The matrix thresholds (current, potential).
    """

    customers: int
    base: pd.DataFrame
    groups: pd.DataFrame
    prospect: pd.Series | None
    floor: float | None
    floor_customers: int
    thresholds: dict


def valued_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as valued: a calibration/holdout split becomes its calibration part
    (customers as of the calibration end), holdout columns kept."""
    if "frequency_cal" not in summary.columns:
        return summary
    from lifevalue import calibration_part

    return calibration_part(summary)


def rebuild_valuer(value, transactions_model, spend_model):
    """A :class:`~lifevalue.value.CustomerValue` with the settings recorded in
    ``value.assumptions``, or None when a setting is per customer."""
    from lifevalue.value import CustomerValue

    a = value.assumptions
    settings = {}
    for key in ("margin", "development_cost", "retention_cost"):
        setting = a.get(key)
        if setting is None or isinstance(setting, str):
            return None
        settings[key] = setting
    return CustomerValue(transactions_model, spend_model, period=a["period"],
                         horizon=a["horizon"], annual_discount_rate=a["annual_discount_rate"],
                         costs_stop_at_churn=a["costs_stop_at_churn"], ci=a["ci"],
                         max_draws=a["max_draws"], random_seed=a["random_seed"], **settings)


def rebuild_scenario(value, valuer):
    """The potential scenario of ``value`` when it is a preset (checked field by field),
    else None."""
    from lifevalue.value import PRESETS

    shown = value.assumptions.get("potential_scenario") or {}
    preset = PRESETS.get(shown.get("name"))
    if preset is None or valuer.assumptions(preset)["potential_scenario"] != shown:
        return None
    return preset


def cost_floor(assumptions: dict) -> float | None:
    """The value of a customer who churns at once: minus the discounted development and
    retention costs (all horizon; only the first period when costs stop at churn)."""
    costs = []
    grid = PeriodGrid(assumptions["period"], assumptions["horizon"],
                      assumptions["annual_discount_rate"], assumptions["time_unit"])
    for key in ("development_cost", "retention_cost"):
        setting = assumptions.get(key)
        if setting is None or isinstance(setting, str):
            return None
        costs.append(np.broadcast_to(np.asarray(setting, dtype="float64"), (grid.horizon,)))
    per_period = costs[0] + costs[1]
    d = grid.discount
    if assumptions.get("costs_stop_at_churn"):
        return -float(d[0] * per_period[0])
    return -float(d @ per_period)


def key_figures(value, summary: pd.DataFrame, valuer=None, scenario=None) -> KeyFigures:
    """The first screen's numbers from ``value`` (see :class:`KeyFigures`).

    The groups' totals and intervals are ``value.cell_values()`` (the same simulated
    futures as the customers' columns). ``valuer`` and ``scenario`` are what produced
    ``value``: with them, a result assembled without per-cell totals has its groups
    valued again, and the value of a new customer is shown; without them such a result's
    groups have means only.
    """
    c = value.customers
    a = value.assumptions
    thresholds = dict(a.get("thresholds") or {"current": np.nan, "potential": np.nan})
    rows = {}
    for cell in CELLS:
        members = c.index[c["cell"].astype(str) == cell]
        row = {"customers": len(members)}
        for q in QUANTITIES:
            row[f"{q}_mean"] = float(c.loc[members, f"{q}_mean"].sum())
            for kind in KINDS[1:]:
                row[f"{q}_{kind}"] = 0.0 if len(members) == 0 else np.nan
        rows[cell] = row
    if value.cell_totals:
        cells = value.cell_values()
        for cell in CELLS:
            for q in QUANTITIES:
                for kind in KINDS[1:]:
                    rows[cell][f"{q}_{kind}"] = float(cells.loc[cell, f"{q}_{kind}"])
    elif valuer is not None and scenario is not None and c.index.isin(summary.index).all():
        for cell in CELLS:
            members = c.index[c["cell"].astype(str) == cell]
            if len(members) == 0:
                continue
            part = valuer.evaluate(summary.loc[members], scenario,
                                   thresholds=(thresholds["current"], thresholds["potential"]))
            for q in QUANTITIES:
                for kind in KINDS[1:]:
                    rows[cell][f"{q}_{kind}"] = float(part.base.loc[q, kind])
    groups = pd.DataFrame.from_dict(rows, orient="index").rename_axis("cell")
    prospect = None
    if valuer is not None:
        prospect = valuer.prospect_value(0.0, "neutral").iloc[0]
    floor = cost_floor(a)
    at_floor = 0
    if floor is not None:
        at_floor = int(np.isclose(c["current_pred_lo"], floor, rtol=0, atol=0.005).sum())
    return KeyFigures(customers=len(c), base=value.base, groups=groups, prospect=prospect,
                      floor=floor, floor_customers=at_floor, thresholds=thresholds)


def pyramid_frame(customers: pd.DataFrame) -> pd.DataFrame:
    """Per pyramid level (of the expected current value, as in the scores' ``pyramid``
    column): ``customers``, ``value``, its ``positive`` and ``negative`` parts, and
    ``share``, the share of the positive value (the shares add up to 1)."""
    from lifevalue.segments import customer_pyramid

    value = customers["current_mean"]
    frame = pd.DataFrame({"level": customer_pyramid(value, customers["p_alive_mean"]),
                          "value": value, "positive": value.clip(lower=0.0),
                          "negative": value.clip(upper=0.0)})
    grp = frame.groupby("level", observed=False)
    out = pd.DataFrame({"customers": grp.size(), "value": grp["value"].sum(),
                        "positive": grp["positive"].sum(), "negative": grp["negative"].sum()})
    total = out["positive"].sum()
    out["share"] = out["positive"] / total if total > 0 else np.nan
    return out


def horizon_words(assumptions: dict) -> str:
    """``'12 months'``, ``'1 year'``."""
    from lifevalue.report.fmt import PERIOD_NAMES

    n, name = int(assumptions["horizon"]), PERIOD_NAMES[assumptions["period"]]
    return f"{n} {name}" + ("s" if n != 1 else "")


def scenario_words(assumptions: dict) -> str:
    """The potential scenario in a sentence."""
    s = assumptions.get("potential_scenario")
    if not s:
        return "no potential scenario"
    from lifevalue.value import PRESETS

    name = s.get("name", "custom")
    parts = []
    preset = PRESETS.get(name)
    level = None if preset is None else preset.benchmark_rate
    if level is not None:
        parts.append(f"every customer who buys less often, spends less per purchase or is "
                     f"more likely to drop out than the best {100 - level * 100:.0f}% of "
                     f"customers is raised to their level")
    labels = {"purchase_rate": "purchase rate", "dropout": "chance of dropping out",
              "spend": "spend per purchase", "margin": "margin",
              "development_cost": "development costs", "retention_cost": "retention costs"}
    for key, label in labels.items():
        factor = s.get(key, 1.0)
        if isinstance(factor, str):
            parts.append(f"{label} changed per customer ({factor})")
        elif factor != 1.0:
            change = (factor - 1.0) * 100
            parts.append(f"{label} {'up' if change > 0 else 'down'} {abs(change):.0f}%")
    share = s.get("target_share_of_wallet")
    if share is not None:
        parts.append(f"customers whose share of wallet is known grow it to "
                     f"{share * 100:.0f}%")
    if not parts:
        return f"scenario “{name}”: behaviour unchanged (potential equals current value)"
    return f"scenario “{name}”: " + "; ".join(parts)
