"""A self-contained HTML report for people who never open Python.

One file: every figure is an embedded PNG, the style is inline, and nothing is loaded
from the network. Every value carries its interval, and the page says which kind.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lifevalue import plots
from lifevalue.files import atomic_write
from lifevalue.segments import customer_pyramid, matrix_counts, pyramid_summary, top_share

PERIOD_NAMES = {"W": "week", "M": "month", "Q": "quarter", "Y": "year"}
PARAM_MEANING = ("Parameter interval: how sure we are about the expected value of a customer "
                 "with this history (uncertainty in the population parameters only).")
PRED_MEANING = ("Predictive interval: the range this customer's actual value will fall in, "
                "their own randomness included (alive or not, own rate, own spend). Use it "
                "for decisions about one customer.")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45}
h1{border-bottom:3px solid #2166ac;padding-bottom:.2em}
h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f0f4f8}
td:first-child,th:first-child{text-align:left}
.warn{background:#fde0dc;border:2px solid #b2182b;padding:.8em 1em;font-weight:600}
.ok{background:#e5f5e0;border:1px solid #1b7837;padding:.5em 1em}
.note{color:#555;font-size:.9em}
img{max-width:100%;height:auto}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}
"""


def _png(draw, figsize=(6.4, 4.2)) -> str:
    fig = Figure(figsize=figsize, dpi=100)
    ax = fig.add_subplot()
    draw(ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, floatfmt="{:,.2f}") -> str:
    def fmt(value):
        if isinstance(value, float | np.floating):
            return floatfmt.format(value)
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>"
                   for c in [frame.index.name or ""] + list(frame.columns))
    rows = "".join(
        "<tr>" + f"<td>{html.escape(str(i))}</td>" + "".join(f"<td>{fmt(v)}</td>" for v in row)
        + "</tr>" for i, row in zip(frame.index, frame.itertuples(index=False), strict=True))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def money(value: float) -> str:
    """How the report prints an amount (tests look for these strings)."""
    return f"{value:,.2f}"


def _diagnostics_block(model) -> str:
    d = model.diagnostics_
    name = type(model).__name__
    problems = model.convergence_problems()
    if problems:
        status = (f'<p class="warn">{name} did NOT converge: {html.escape("; ".join(problems))}.'
                  " Its intervals cannot be trusted; refit with more tuning and draws.</p>")
    elif d.get("method") == "mcmc":
        status = (f'<p class="ok">{name}: converged (max r-hat {d["rhat_max"]:.3f}, min bulk ESS '
                  f'{d["ess_bulk_min"]:.0f}, min tail ESS {d["ess_tail_min"]:.0f}, '
                  f'{d["divergences"]} divergences, {d["chains"]} chains, {d["draws"]} '
                  'draws).</p>')
    elif d.get("method") == "laplace":
        status = (f'<p class="ok">{name}: Laplace approximation corrected by Pareto-smoothed '
                  f'importance sampling (Pareto k-hat {d.get("pareto_k", float("nan")):.2f} '
                  f'&lt;= 0.7, importance ESS {d.get("importance_ess", float("nan")):.0f}, '
                  f'{d["draws"]} draws).</p>')
    else:
        status = (f'<p class="note">{name}: fitted by {d.get("method")}; no posterior '
                  "uncertainty, so parameter intervals have zero width.</p>")
    summ = model.summary().copy()
    summ.index.name = "parameter"
    return status + _table(summ, "{:,.4g}")


def build_report(*, summary: pd.DataFrame, transactions_model, spend_model, value,
                 transactions: pd.DataFrame | None = None, title: str = "Customer value",
                 top_n: int = 20) -> str:
    """The report as an HTML string. ``value`` is a :class:`~lifevalue.value.ValueResult`."""
    c = value.customers
    a = value.assumptions
    ci = int(round(a["ci"] * 100))
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">Written {dt.datetime.now():%Y-%m-%d %H:%M} by lifevalue. '
             f"Intervals are {ci}% central intervals.</p>"]
    warnings = [m for m in (transactions_model, spend_model)
                if not m.converged]
    if warnings:
        parts.append('<p class="warn">Warning: the model fit did not converge ('
                     + ", ".join(type(m).__name__ for m in warnings)
                     + "). Every number below rests on it; see Model checks.</p>")

    # --- data overview
    freq = summary["frequency_cal" if "frequency_cal" in summary else "frequency"]
    money_col = "monetary_value_cal" if "monetary_value_cal" in summary else "monetary_value"
    overview = pd.DataFrame({"value": [
        f"{len(summary):,}", f"{int((freq > 0).sum()):,}", f"{int(freq.sum()):,}",
        money(float(summary.loc[freq > 0, money_col].mean())) if (freq > 0).any() else "-",
        str(summary.attrs.get("time_unit", "?")),
        str(summary.attrs.get("calibration_end") or summary.attrs.get("observation_end")),
    ]}, index=pd.Index(["customers", "repeat customers", "repeat purchases",
                        "mean repeat spend", "time unit", "data up to"], name="quantity"))
    parts += ["<h2>Data overview</h2>", _table(overview)]

    # --- assumptions
    assumptions = pd.DataFrame({"setting": [
        f"{a['horizon']} periods of one {PERIOD_NAMES[a['period']]}",
        f"{a['annual_discount_rate']:.2%} a year ({a['period_discount_rate']:.4%} a period)",
        str(a["margin"]), str(a["development_cost"]), str(a["retention_cost"]),
        "stop at churn" if a["costs_stop_at_churn"] else "run for the whole horizon",
        ", ".join(f"{k}={v}" for k, v in a.get("potential_scenario", {}).items()),
        f"current {money(a['thresholds']['current'])}, potential "
        f"{money(a['thresholds']['potential'])}",
    ]}, index=pd.Index(["horizon", "discount rate", "margin", "development cost per period",
                        "retention cost per period", "costs", "potential scenario",
                        "matrix thresholds"], name="assumption"))
    parts += ["<h2>Assumptions</h2>", _table(assumptions),
              '<p class="note">Value is the return-based customer value: expected margin '
              "minus development and retention costs, discounted (Wayland &amp; Cole 1997). "
              "Current value assumes today's behaviour goes on; potential value assumes the "
              "scenario above.</p>"]

    # --- model checks
    parts.append("<h2>Model checks</h2>")
    parts.append("<h3>Purchases and dropout (BG/NBD)</h3>" + _diagnostics_block(transactions_model))
    parts.append("<h3>Spend per purchase (Gamma-Gamma)</h3>" + _diagnostics_block(spend_model))
    corr = getattr(spend_model, "spend_frequency_correlation_", None)
    if corr:
        parts.append(f'<p class="note">Spend vs frequency among repeat customers: Spearman '
                     f'{corr["spearman"]:.2f} (the spend model assumes none).</p>')
    figures = []
    if "frequency_holdout" in summary.columns:
        figures.append(_png(lambda ax: plots.plot_calibration_holdout(transactions_model,
                                                                       summary, ax=ax)))
    if transactions is not None:
        figures.append(_png(lambda ax: plots.plot_tracking(
            transactions_model, transactions, time_unit=summary.attrs.get("time_unit", "W"),
            ax=ax)))
    if figures:
        parts.append('<div class="grid">' + "".join(figures) + "</div>")

    # --- base value
    base = value.base.rename(columns={"param_lo": f"parameter {ci}% low",
                                      "param_hi": f"parameter {ci}% high",
                                      "pred_lo": f"predictive {ci}% low",
                                      "pred_hi": f"predictive {ci}% high"})
    parts += ["<h2>Value of the customer base</h2>", _table(base),
              f'<p class="note">{PARAM_MEANING} For the base it respects that all customers '
              f"share the same population parameters. {PRED_MEANING}</p>"]

    # --- segments
    counts = matrix_counts(c)
    levels = customer_pyramid(c["current_mean"], c["p_alive_mean"])
    pyr = pyramid_summary(levels, c["current_mean"])
    share = top_share(c["current_mean"], 0.2)
    parts += ["<h2>Customer relationship matrix</h2>", _table(counts),
              '<p class="note">Retain: current value at or above the threshold. Develop: '
              "below it, but potential value reaches it. Phase out: neither. "
              "expected_count adds up each customer's probability of the cell.</p>",
              _png(lambda ax: plots.plot_relationship_matrix(c, a["thresholds"], ax=ax),
                   (7, 5)),
              "<h2>Customer pyramid and concentration</h2>", _table(pyr),
              f"<p>The top 20% of customers hold {share:.1%} of current value.</p>",
              '<div class="grid">'
              + _png(lambda ax: plots.plot_pyramid(levels, c["current_mean"], ax=ax))
              + _png(lambda ax: plots.plot_lorenz(c["current_mean"], ax=ax)) + "</div>"]

    # --- customer tables
    cols = ["p_alive_mean", "current_mean", "current_param_lo", "current_param_hi",
            "current_pred_lo", "current_pred_hi", "potential_mean", "p_develop", "cell"]
    top = c.nlargest(top_n, "current_mean")[cols]
    dev = c[c["cell"] != "retain"].nlargest(top_n, "p_develop")[cols]
    parts += ["<h2>Top customers by current value</h2>", _table(top),
              f'<p class="note">current_param_lo/hi: {PARAM_MEANING} current_pred_lo/hi: '
              f"{PRED_MEANING}</p>",
              "<h2>Customers most likely worth developing</h2>", _table(dev),
              '<p class="note">p_develop: the share of posterior predictive draws in which '
              "the customer's current value is below the retain threshold and the potential "
              "value above the develop threshold.</p>",
              _png(lambda ax: plots.plot_customer_values(c, top.index[:15], ax=ax), (8, 4))]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>")


def write_report(path, **kwargs) -> Path:
    """Write :func:`build_report` to ``path`` atomically and return the path."""
    text = build_report(**kwargs)
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
