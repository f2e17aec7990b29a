"""Action lists: the top customers, the customers to develop and the customers likely
lost, each with the reasons (chance still active, purchases, spend, value with both
intervals), shown as tables and downloadable as CSV embedded in the page."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifevalue.report.fmt import TIME_UNIT_NAMES, count, esc, money, money_range, number, percent
from lifevalue.value.periods import PeriodGrid

#: A repeat customer whose chance of still being active is below this is "likely lost".
LOST_BELOW = 0.25


@dataclass
class ActionList:
    """One action list: ``key`` (its file name without .csv), ``title``, ``why`` (how
    the customers were chosen), ``data`` (raw numbers, one row per customer, the CSV)
    and ``columns`` (the table: heading, then the CSV columns it shows and a
    formatter)."""

    key: str
    title: str
    why: str
    data: pd.DataFrame
    columns: list

    def csv(self) -> str:
        """The list as CSV text."""
        return self.data.to_csv(index=True, lineterminator="\n")

    def data_uri(self) -> str:
        """The CSV as a ``data:`` URI (no network needed to download it)."""
        payload = base64.b64encode(self.csv().encode("utf-8")).decode("ascii")
        return f"data:text/csv;charset=utf-8;base64,{payload}"

    def html(self) -> str:
        """The table and its download link."""
        head = "".join(f"<th>{esc(h)}</th>" for h, _, _ in self.columns)
        rows = []
        for cid, row in self.data.iterrows():
            cells = [f"<td>{esc(cid)}</td>"]
            for _, cols, fmt in self.columns[1:]:
                cells.append(f"<td>{esc(fmt(*(row[c] for c in cols)))}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        link = (f'<a class="csv" download="{self.key}.csv" data-list="{self.key}" '
                f'href="{self.data_uri()}">Download this list as CSV '
                f"({count(len(self.data))} customers)</a>")
        return (f'<p>{esc(self.why)}</p>'
                f'<table class="action" id="list-{self.key}"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>{link}")


def _frame(ids, value, summary, transactions_model, horizon_t) -> pd.DataFrame:
    c = value.customers.loc[ids]
    s = summary.loc[ids]
    x = s["frequency"].to_numpy(dtype="float64")
    out = pd.DataFrame(index=pd.Index(ids, name="customer"))
    out["p_alive"] = c["p_alive_mean"].to_numpy()
    out["repeat_purchases"] = x.astype("int64")
    out["time_since_last_purchase"] = (s["T"] - s["recency"]).to_numpy(dtype="float64")
    out["spend_per_purchase"] = np.where(x > 0, s["monetary_value"].to_numpy(dtype="float64"),
                                         np.nan)
    if len(ids):
        exp = transactions_model.expected_purchases(s, horizon_t, predictive=False)
        out["expected_purchases"] = exp["purchases_mean"].to_numpy()
    else:
        out["expected_purchases"] = np.zeros(0)
    for q, name in (("current", "current_value"), ("potential", "potential_value"),
                    ("growth", "gain")):
        for kind in ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi"):
            out[f"{name}_{kind}"] = c[f"{q}_{kind}"].to_numpy()
    out["p_develop"] = c["p_develop"].to_numpy()
    return out


def action_lists(value, summary: pd.DataFrame, transactions_model, *, top_n: int = 20,
                 currency: str | None = None) -> list[ActionList]:
    """The three action lists of the report."""
    a = value.assumptions
    c = value.customers
    grid = PeriodGrid(a["period"], a["horizon"], a["annual_discount_rate"], a["time_unit"])
    from lifevalue.report.figures import horizon_words

    horizon = horizon_words(a)
    unit = TIME_UNIT_NAMES.get(a["time_unit"], a["time_unit"])
    cur = currency or "currency units"
    ci = f"{a['ci']:.0%}"

    def m(v):  # the headings name the currency
        return money(v)

    def rng(lo, hi):
        return money_range(lo, hi)

    def frame(ids):
        return _frame(list(ids), value, summary, transactions_model, float(grid.edges[-1]))

    why_cols = [
        ("customer", (), None),
        ("chance still active", ("p_alive",), percent),
        ("repeat purchases so far", ("repeat_purchases",), count),
        (f"spend per purchase so far ({cur})", ("spend_per_purchase",),
         lambda v: "none" if np.isnan(v) else m(v)),
        (f"expected purchases, next {horizon}", ("expected_purchases",),
         lambda v: number(v, 1)),
    ]
    current_cols = [
        (f"current value, next {horizon} ({cur}): expected", ("current_value_mean",), m),
        (f"parameter interval, {ci} ({cur})", ("current_value_param_lo", "current_value_param_hi"),
         rng),
        (f"predictive interval, {ci} ({cur})", ("current_value_pred_lo", "current_value_pred_hi"),
         rng),
    ]
    top = frame(c.nlargest(top_n, "current_mean").index)
    develop_ids = c[c["cell"].astype(str) == "develop"].nlargest(top_n, "growth_mean").index
    develop = frame(develop_ids)
    past = summary.loc[c.index, "frequency"] * summary.loc[c.index, "monetary_value"].where(
        summary.loc[c.index, "frequency"] > 0, 0.0)
    lost_mask = (c["p_alive_mean"] < LOST_BELOW) & (summary.loc[c.index, "frequency"] > 0)
    lost_ids = past[lost_mask].sort_values(ascending=False, kind="stable").index[:top_n]
    lost = frame(lost_ids)
    develop_cols = why_cols + [
        (f"current value, next {horizon} ({cur}): expected", ("current_value_mean",), m),
        (f"potential value ({cur}): expected", ("potential_value_mean",), m),
        (f"gain from developing ({cur}): expected", ("gain_mean",), m),
        (f"gain, parameter interval {ci}", ("gain_param_lo", "gain_param_hi"), rng),
        (f"gain, predictive interval {ci}", ("gain_pred_lo", "gain_pred_hi"), rng),
        ("chance worth developing", ("p_develop",), percent),
    ]
    lost_cols = why_cols[:4] + [
        (f"{unit}s since last purchase", ("time_since_last_purchase",),
         lambda v: number(v, 0)),
    ] + current_cols
    keep = {"top_customers": ["p_alive", "repeat_purchases", "spend_per_purchase",
                              "expected_purchases", "current_value_mean",
                              "current_value_param_lo", "current_value_param_hi",
                              "current_value_pred_lo", "current_value_pred_hi"],
            "customers_to_develop": ["p_alive", "repeat_purchases", "spend_per_purchase",
                                     "expected_purchases", "current_value_mean",
                                     "potential_value_mean", "gain_mean", "gain_param_lo",
                                     "gain_param_hi", "gain_pred_lo", "gain_pred_hi",
                                     "p_develop"],
            "customers_likely_lost": ["p_alive", "repeat_purchases", "spend_per_purchase",
                                      "time_since_last_purchase", "current_value_mean",
                                      "current_value_param_lo", "current_value_param_hi",
                                      "current_value_pred_lo", "current_value_pred_hi"]}
    return [
        ActionList("top_customers", "Top customers: keep them",
                   f"The {count(len(top))} customers with the highest expected current value "
                   f"over the next {horizon}.", top[keep["top_customers"]],
                   why_cols + current_cols),
        ActionList("customers_to_develop", "Customers to develop",
                   f"Customers in the develop group (current value below the retain "
                   f"threshold, potential value above it), largest expected gain first "
                   f"({count(len(develop))} shown).",
                   develop[keep["customers_to_develop"]], develop_cols),
        ActionList("customers_likely_lost", "Customers likely lost: win back or let go",
                   f"Repeat customers whose chance of still being active is below "
                   f"{percent(LOST_BELOW)}, largest past spend first "
                   f"({count(len(lost))} shown).", lost[keep["customers_likely_lost"]],
                   lost_cols),
    ]
