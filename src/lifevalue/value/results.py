"""What :meth:`lifevalue.value.CustomerValue.evaluate` returns, and the base's value
from per-draw totals."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lifevalue.models import scoring as sc
from lifevalue.value.thresholds import CELLS


@dataclass(repr=False)
class ValueResult:
    """The outcome of :meth:`CustomerValue.evaluate`.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer (same index as the summary). For each of ``current``,
        ``potential`` and ``growth`` (potential - current): ``<q>_mean``,
        ``<q>_param_lo/hi`` (parameter interval) and ``<q>_pred_lo/hi`` (predictive
        interval); ``current_p_negative`` and ``potential_p_negative``, the predictive
        probability of a negative value; ``p_alive_mean``; the relationship-matrix
        ``cell`` (from the mean values), ``p_retain``, ``p_develop``, ``p_phase_out``
        (parameter kind: the share of population draws at which the customer's
        expected current and potential values fall in that cell; the matrix is a
        decision on what a customer is expected to bring, not on their own luck) and
        ``most_likely_cell``. Units: values in
        currency over the horizon, discounted; probabilities in [0, 1].

        With comparisons (the default), on current value: ``rank_mean`` (rank of
        ``current_mean`` among the scored customers, 1 = most valuable),
        ``rank_param_lo/hi`` (parameter interval of the rank: the ranks of the
        expectations at each population draw) and ``rank_pred_lo/hi`` (predictive
        interval: the ranks of the simulated futures), in customers;
        ``p_top20``, the predictive probability of being among the 20% most valuable;
        ``p_top``, ``p_big``, ``p_medium``, ``p_small``, ``p_inactive``, the predictive
        probability of each pyramid level (they add up to 1; see
        :mod:`lifevalue.value.comparisons`), and ``most_likely_level``.
    base : pandas.DataFrame
        The whole base, one row each for current, potential and growth: ``mean``,
        ``param_lo``, ``param_hi``, ``pred_lo``, ``pred_hi``. The intervals come from
        per-draw totals, so customers share their population parameters.
    cash_flows : pandas.DataFrame
        Per period and scenario, base totals of the expected flows: ``p_active``
        (sum of P_t = expected active customers), ``revenue``, ``margin``,
        ``costs`` and ``discounted_net``.
    assumptions : dict
        Margin, costs, discounting, horizon, scenarios, thresholds and interval level.
    lorenz : pandas.DataFrame or None
        The concentration curve of current value: per ``customer_share`` (0 to 1, most
        valuable first), the share of the non-negative value they hold, per ``kind``
        (``param``: of the expectations; ``pred``: of the simulated futures) the mean
        over draws and the ``lo``/``hi`` band (equal-tailed, level ``ci``).
    pyramid : pandas.DataFrame or None
        Per pyramid level: ``expected_customers`` (sum of the level probabilities) and
        ``customers`` (of ``most_likely_level``), the current value of those customers
        (``value``, of ``current_mean``), its positive and negative parts and
        ``share_of_value``, the share of the positive value (shares add up to 1; the
        loss-making customers' negative value is shown apart, in ``negative_value``).
    draw_totals : dict
        What ``base`` is computed from (:func:`base_table`): per ``(scenario, kind)``,
        the sums over the customers of the expectation at each population draw (kind
        ``"expected"``) and of the simulated futures (``"simulated"``). Totals of
        disjoint sets of customers add up to those of their union (how
        :func:`lifevalue.spark.value_base` works).
    cell_totals : dict
        The same per ``(cell, scenario, kind)``, over the customers of each cell of the
        relationship matrix (``cell``, from their mean values); they add up to
        ``draw_totals``. See :meth:`cell_values`.
    """

    customers: pd.DataFrame
    base: pd.DataFrame
    cash_flows: pd.DataFrame
    assumptions: dict = field(default_factory=dict)
    draw_totals: dict = field(default_factory=dict)
    lorenz: pd.DataFrame | None = None
    pyramid: pd.DataFrame | None = None
    cell_totals: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        a = self.assumptions
        ci = a.get("ci", self.customers.attrs.get("ci"))
        head = f"ValueResult: {len(self.customers):,} customers"
        if "horizon" in a:
            head += f", {a['horizon']} periods of {a['period']!r}"
        if ci is not None:
            head += f", {ci:.0%} intervals"
        scenario = (a.get("potential_scenario") or {}).get("name")
        if scenario:
            head += f", potential {scenario!r}"
        lines = [head + " (values in currency over the horizon, discounted)",
                 f"{'':<10}{'mean':>14}{'parameter interval':>30}{'predictive interval':>30}"]
        for name, row in self.base.iterrows():
            lines.append(f"{name:<10}{row['mean']:>14,.2f}"
                         f"{f'{row.param_lo:,.2f} .. {row.param_hi:,.2f}':>30}"
                         f"{f'{row.pred_lo:,.2f} .. {row.pred_hi:,.2f}':>30}")
        if "cell" in self.customers:
            counts = self.customers["cell"].value_counts()
            lines.append("matrix (from the mean values): " + ", ".join(
                f"{cell} {int(counts.get(cell, 0)):,}" for cell in CELLS))
        lines.append("attributes: customers, base, cash_flows, assumptions, draw_totals"
                     + (", lorenz, pyramid" if self.lorenz is not None else ""))
        return "\n".join(lines)

    def cell_values(self) -> pd.DataFrame:
        """The value of each group of the relationship matrix: per ``cell`` (retain,
        develop, phase out; customers by their mean values, the ``cell`` column), its
        ``customers`` and, for ``current``, ``potential`` and ``growth``, the group's
        total with both intervals (``<q>_mean``, ``<q>_param_lo/hi``,
        ``<q>_pred_lo/hi``), from per-draw totals as :attr:`base` is: the same
        simulated futures as the customers' own columns, so customers of one group share
        their population draws.

        Examples
        --------
        >>> from lifevalue.datasets import load_cdnow_summary
        >>> from lifevalue.models import BetaGeo, GammaGamma
        >>> from lifevalue.value import CustomerValue
        >>> s = load_cdnow_summary().iloc[:300]
        >>> bg = BetaGeo.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426),
        ...                          time_unit="W")
        >>> gg = GammaGamma.from_params(dict(p=6.25, q=3.74, gamma=15.44))
        >>> res = CustomerValue(bg, gg, margin=0.3, max_draws=1).evaluate(s)
        >>> cells = res.cell_values()
        >>> int(cells["customers"].sum()), bool(np.isclose(cells["current_mean"].sum(),
        ...                                                 res.base.loc["current", "mean"]))
        (300, True)
        """
        if not self.cell_totals:
            raise ValueError("this result has no per-cell totals (it was assembled, not "
                             "returned by CustomerValue.evaluate)")
        counts = self.customers["cell"].value_counts()
        rows = {}
        for cell in CELLS:
            row = {"customers": int(counts.get(cell, 0))}
            table = base_table({(name, kind): self.cell_totals[(cell, name, kind)]
                                for name in ("current", "potential", "growth")
                                for kind in ("expected", "simulated")},
                               self.assumptions.get("ci", self.customers.attrs.get("ci", 0.9)))
            for name, values in table.iterrows():
                for kind, val in values.items():
                    row[f"{name}_{kind}"] = float(val)
            rows[cell] = row
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("cell")

    def top_share(self, kind: str = "param") -> pd.Series:
        """Share of the non-negative current value held by the top 20% of customers:
        ``mean``, ``lo`` and ``hi`` (``kind`` ``'param'`` or ``'pred'``)."""
        if self.lorenz is None:
            raise ValueError("this result has no comparisons: evaluate(..., comparisons=True)")
        row = self.lorenz[(self.lorenz["kind"] == kind)
                          & np.isclose(self.lorenz["customer_share"], 0.2)].iloc[0]
        return pd.Series({"mean": row["value_share"], "lo": row["lo"], "hi": row["hi"]})


def base_table(draw_totals: dict, ci: float) -> pd.DataFrame:
    """The whole base's value from per-draw totals (:attr:`ValueResult.draw_totals`):
    per scenario (current, potential, growth) the mean and the parameter interval over
    the expected totals, and the predictive interval over the simulated ones."""
    return pd.DataFrame(
        {name: _base_row(draw_totals[(name, "expected")], draw_totals[(name, "simulated")], ci)
         for name in ("current", "potential", "growth")}).T.rename_axis("value")


def _base_row(expected_totals, simulated_totals, ci) -> dict:
    lo, hi = sc.quantile_bounds(ci)
    return {
        "mean": float(expected_totals.mean()),
        "param_lo": float(np.quantile(expected_totals, lo)),
        "param_hi": float(np.quantile(expected_totals, hi)),
        "pred_lo": float(np.quantile(simulated_totals, lo)),
        "pred_hi": float(np.quantile(simulated_totals, hi)),
    }
