"""The customer pyramid (Curry): customers ranked by value into top 1%, big (next
4%), medium (next 15%) and small (the remaining 80%), plus inactive customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue import validation as v

LEVELS = ("top", "big", "medium", "small", "inactive")


def customer_pyramid(value: pd.Series, p_alive: pd.Series | None = None, *,
                     cuts=(0.01, 0.05, 0.20), inactive_below: float = 0.1) -> pd.Series:
    """Pyramid level of each customer.

    Parameters
    ----------
    value : pandas.Series
        Customer value (e.g. ``current_mean``), indexed by customer.
    p_alive : pandas.Series, optional
        P(alive); customers below ``inactive_below`` are ``'inactive'`` whatever their
        value, and the ranking covers the active ones only.
    cuts : three increasing fractions
        Cumulative shares of active customers, from the top, that end the top, big and
        medium levels (default 1%, 5%, 20%: top 1%, big 4%, medium 15%, small 80%).
    inactive_below : float

    Returns
    -------
    pandas.Series of an ordered Categorical with :data:`LEVELS`.

    Examples
    --------
    >>> vals = pd.Series(np.arange(100.0, 0, -1))
    >>> customer_pyramid(vals).value_counts().sort_index().tolist()
    [1, 4, 15, 80, 0]
    """
    cuts = tuple(float(c) for c in cuts)
    if len(cuts) != 3 or not (0 < cuts[0] < cuts[1] < cuts[2] <= 1):
        raise v.InvalidOptionError(f"cuts must be three increasing fractions in (0, 1], got "
                                   f"{cuts!r}", column="cuts")
    active = np.ones(len(value), dtype=bool)
    if p_alive is not None:
        active = p_alive.reindex(value.index).to_numpy() >= inactive_below
    codes = np.full(len(value), 4)
    vals = value.to_numpy(dtype="float64")[active]
    order = np.argsort(-vals, kind="stable")
    rank_share = np.empty(len(vals))
    rank_share[order] = (np.arange(len(vals)) + 1) / max(len(vals), 1)
    level = np.searchsorted(np.array(cuts[:2] + (cuts[2],)), rank_share - 1e-12, side="right")
    level = np.minimum(level, 3)
    codes[active] = level
    return pd.Series(pd.Categorical.from_codes(codes, LEVELS, ordered=True), index=value.index,
                     name="pyramid")


def pyramid_summary(levels: pd.Series, value: pd.Series) -> pd.DataFrame:
    """Customers, total value and share of value per level."""
    frame = pd.DataFrame({"level": levels, "value": value})
    out = frame.groupby("level", observed=False)["value"].agg(["size", "sum", "mean"])
    out.columns = ["customers", "value", "mean_value"]
    total = frame["value"].sum()
    out["share_of_value"] = out["value"] / total if total else np.nan
    return out


def pyramid_movement(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Crosstab of pyramid levels between two periods (rows: before, columns: after).

    Customers are matched by id; one missing from either side is an error.
    """
    if not before.index.sort_values().equals(after.index.sort_values()):
        raise v.InputError("pyramid_movement needs the same customers before and after")
    return pd.crosstab(before.rename("before"), after.reindex(before.index).rename("after"),
                       dropna=False)
