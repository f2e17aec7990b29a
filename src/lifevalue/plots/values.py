"""Plots of customer value: values with both intervals, their distribution, the
relationship matrix, the customer pyramid and the concentration (Lorenz) curve."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue.plots._common import CELL_COLOURS, _axes
from lifevalue.segments.concentration import lorenz_curve, top_share
from lifevalue.segments.matrix import CELLS
from lifevalue.segments.pyramid import LEVELS

#: A customer whose P(develop) reaches this is drawn as a confident "develop".
CONFIDENT = 0.5


def _customers(data) -> pd.DataFrame:
    """The customers' frame of a ValueResult, or the frame itself."""
    return data.customers if hasattr(data, "customers") else data


def plot_customer_values(customers, ids=None, *, quantity: str = "current", ax=None):
    """Value of selected customers with both intervals.

    The thick bar is the parameter interval of the expected value, the thin line the
    predictive interval of the customer's actual value.

    Parameters
    ----------
    customers : pandas.DataFrame or ValueResult
        :attr:`ValueResult.customers <lifevalue.value.ValueResult.customers>`.
    ids : sequence, optional
        The customers to draw, in order (default all).
    quantity : {'current', 'potential', 'growth'}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    customers = _customers(customers)
    sel = customers if ids is None else customers.loc[list(ids)]
    pos = np.arange(len(sel))
    mean = sel[f"{quantity}_mean"].to_numpy()
    ax.vlines(pos, sel[f"{quantity}_pred_lo"], sel[f"{quantity}_pred_hi"], color="grey",
              linewidth=1, label="predictive interval")
    ax.vlines(pos, sel[f"{quantity}_param_lo"], sel[f"{quantity}_param_hi"], color="tab:blue",
              linewidth=6, label="parameter interval")
    ax.plot(pos, mean, "o", color="black", label="expected value")
    ax.set_xticks(pos, [str(i) for i in sel.index], rotation=90)
    ax.set_xlabel("customer")
    ax.set_ylabel(f"{quantity} value")
    ax.set_title(f"{quantity.capitalize()} value per customer")
    ax.legend()
    return ax


def plot_value_distribution(customers, *, quantity: str = "current", bins: int = 50,
                            ax=None):
    """Histogram of the customers' expected value (``<quantity>_mean``).

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    ax.hist(_customers(customers)[f"{quantity}_mean"], bins=bins, color="tab:blue")
    ax.set_xlabel(f"expected {quantity} value")
    ax.set_ylabel("customers")
    ax.set_title(f"Distribution of {quantity} value")
    return ax


def plot_relationship_matrix(customers, thresholds=None, *, intervals: int = 100, ax=None):
    """Current vs potential value, coloured by cell, the develop group on top.

    Each customer is a point at their expected current and potential value, coloured by
    their cell (of the expected values). The develop group is drawn last, larger, and
    customers with P(develop) >= 0.5 are ringed; the develop region (current below its
    threshold, potential at or above its) is shaded. Both axes are symmetric-log, so
    the many customers near zero and the few of great value are both visible. The
    ``intervals`` customers of highest potential get their parameter intervals drawn
    as crosses.

    Parameters
    ----------
    customers : pandas.DataFrame or ValueResult
        The result of :meth:`CustomerValue.evaluate
        <lifevalue.value.CustomerValue.evaluate>` or its ``customers``.
    thresholds : dict, optional
        ``{"current": ..., "potential": ...}``; default the result's own
        (``assumptions["thresholds"]``) when a ValueResult is given, else no lines.
    intervals : int
        How many customers get their intervals drawn.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    if thresholds is None and hasattr(customers, "assumptions"):
        thresholds = customers.assumptions.get("thresholds")
    customers = _customers(customers)
    for cell in CELLS:
        sel = customers[customers["cell"] == cell]
        develop = cell == "develop"
        label = f"{cell.replace('_', ' ')} ({len(sel):,})"
        if develop and "p_develop" in sel:
            label = (f"develop ({len(sel):,}; "
                     f"{int((customers['p_develop'] >= CONFIDENT).sum()):,} with P >= 0.5)")
        ax.scatter(sel["current_mean"], sel["potential_mean"], s=18 if develop else 6,
                   alpha=0.9 if develop else 0.4, color=CELL_COLOURS[cell], label=label,
                   zorder=3 if develop else 2, linewidths=0)
    if "p_develop" in customers:
        sure = customers[customers["p_develop"] >= CONFIDENT]
        ax.scatter(sure["current_mean"], sure["potential_mean"], s=40, facecolors="none",
                   edgecolors=CELL_COLOURS["develop"], linewidths=0.8, zorder=4,
                   label="P(develop) >= 0.5")
    top = customers.nlargest(intervals, "potential_mean")
    ax.errorbar(top["current_mean"], top["potential_mean"],
                xerr=[top["current_mean"] - top["current_param_lo"],
                      top["current_param_hi"] - top["current_mean"]],
                yerr=[top["potential_mean"] - top["potential_param_lo"],
                      top["potential_param_hi"] - top["potential_mean"]],
                fmt="none", ecolor="grey", alpha=0.5, linewidth=0.8,
                label="parameter intervals", zorder=1)
    scale = 1.0
    if thresholds is not None:
        c_thr, p_thr = float(thresholds["current"]), float(thresholds["potential"])
        ax.axvline(c_thr, color="black", linestyle=":")
        ax.axhline(p_thr, color="black", linestyle=":")
        # a power of ten, so that the ticks of the linear part are 0 and +-scale
        scale = 10.0 ** np.ceil(np.log10(max(abs(c_thr), abs(p_thr), 1.0)))
        ax.add_patch(_develop_region(ax, c_thr, p_thr))
    ax.set_xscale("symlog", linthresh=scale)
    ax.set_yscale("symlog", linthresh=scale)
    ax.set_xlabel("current value")
    ax.set_ylabel("potential value")
    ax.set_title("Customer relationship matrix")
    ax.legend(fontsize="small")
    return ax


def _develop_region(ax, c_thr, p_thr):
    """The develop cell (current < threshold, potential >= threshold) as a shaded
    rectangle spanning the data."""
    from matplotlib.patches import Rectangle

    x0, _ = ax.get_xlim()
    _, y1 = ax.get_ylim()
    return Rectangle((min(x0, c_thr), p_thr), c_thr - min(x0, c_thr), max(y1, p_thr) - p_thr,
                     color=CELL_COLOURS["develop"], alpha=0.08, zorder=0, linewidth=0)


def plot_pyramid(levels, value: pd.Series | None = None, ax=None):
    """The customer pyramid: customers per level, top level at the top.

    Parameters
    ----------
    levels : pandas.Series or ValueResult
        Each customer's level (:func:`lifevalue.segments.customer_pyramid`), or a
        ValueResult evaluated with ``comparisons=True``: then each bar is the
        *expected* number of customers at the level (the sum of the customers'
        level probabilities, predictive), a black tick marks the customers whose most
        likely level it is, and each label gives the level's share of the positive
        current value (shares add up to 100%; loss-making customers' value is shown
        apart as "loss").
    value : pandas.Series, optional
        With a Series of levels: each customer's value, summed per level in the labels.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    pos = np.arange(len(LEVELS))[::-1]
    if hasattr(levels, "pyramid"):
        table = levels.pyramid
        if table is None:
            raise ValueError("this result has no comparisons: evaluate(..., comparisons=True)")
        widths = table["expected_customers"].to_numpy()
        ax.barh(pos, widths, left=-widths / 2, color="tab:blue",
                label="expected customers (level probabilities)")
        counts = table["customers"].to_numpy()
        ax.vlines(np.concatenate([-counts / 2, counts / 2]), np.tile(pos - 0.4, 2),
                  np.tile(pos + 0.4, 2), color="black",
                  label="customers whose most likely level it is")
        labels = []
        for level, row in table.iterrows():
            label = (f"{level}: {row['expected_customers']:,.0f} expected "
                     f"({int(row['customers']):,} most likely)")
            if level != "inactive" and np.isfinite(row["share_of_value"]):
                label += f", {row['share_of_value']:.0%} of value"
            if row["negative_value"] < 0:
                label += f", loss {row['negative_value']:,.0f}"
            labels.append(label)
        ax.set_xlabel("customers")
        ax.legend(fontsize="small", loc="lower right")
    else:
        counts = levels.value_counts().reindex(list(LEVELS), fill_value=0)
        widths = counts.to_numpy()
        ax.barh(pos, widths, left=-widths / 2, color="tab:blue")
        labels = []
        for level, count in counts.items():
            label = f"{level}: {count}"
            if value is not None:
                label += f" ({value[levels == level].sum():,.0f})"
            labels.append(label)
        ax.set_xlabel("customers" + (" (total value)" if value is not None else ""))
    ax.set_yticks(pos, labels)
    ax.set_xticks([])
    ax.set_title("Customer pyramid")
    return ax


def plot_lorenz(value, ax=None, *, kind: str = "param"):
    """Lorenz curve of value with the diagonal and the top-20% share marked.

    Parameters
    ----------
    value : array-like or ValueResult
        Each customer's value (the curve of these numbers), or a ValueResult evaluated
        with ``comparisons=True``: then the curve is the mean over the posterior draws,
        with its credible band, and the top-20% share comes with its interval.
    ax : matplotlib Axes, optional
    kind : {'param', 'pred'}
        With a ValueResult: the band of the expectations at each population draw
        (parameter) or of the simulated futures (predictive).

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    if hasattr(value, "lorenz"):
        if value.lorenz is None:
            raise ValueError("this result has no comparisons: evaluate(..., comparisons=True)")
        curve = value.lorenz[value.lorenz["kind"] == kind]
        words = {"param": "parameter", "pred": "predictive"}[kind]
        ax.plot(curve["customer_share"], curve["value_share"], color="tab:blue",
                label="value (mean over draws)")
        ax.fill_between(curve["customer_share"], curve["lo"], curve["hi"], color="tab:blue",
                        alpha=0.25, label=f"{value.customers.attrs.get('ci', 0.9):.0%} "
                                          f"{words} band")
        top = value.top_share(kind)
        share = top["mean"]
        top_label = f"top 20% hold {share:.0%} ({top['lo']:.0%} to {top['hi']:.0%})"
    else:
        curve = lorenz_curve(value)
        share = top_share(value, 0.2)
        ax.plot(curve["customer_share"], curve["value_share"], color="tab:blue", label="value")
        top_label = f"top 20% hold {share:.0%}"
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="equal value")
    ax.plot([0.2, 0.2], [0, share], color="black", linestyle="--", label=top_label)
    ax.set_xlabel("share of customers (most valuable first)")
    ax.set_ylabel("share of value")
    ax.set_title("Concentration of value (Lorenz)")
    ax.legend()
    return ax
