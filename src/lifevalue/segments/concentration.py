"""Concentration of value: the Lorenz curve and the 20/80 check."""

from __future__ import annotations

import numpy as np
import pandas as pd


def lorenz_curve(value) -> pd.DataFrame:
    """Share of value held by the most valuable share of customers.

    Customers are sorted from most to least valuable; negative values count as 0
    (a customer who costs money holds no share of the value). Returns columns
    ``customer_share`` and ``value_share``, starting at (0, 0) and ending at (1, 1).

    Examples
    --------
    >>> lorenz_curve([1.0, 3.0, 0.0, 4.0])["value_share"].round(3).tolist()
    [0.0, 0.5, 0.875, 1.0, 1.0]
    """
    vals = np.sort(np.maximum(np.asarray(value, dtype="float64"), 0.0))[::-1]
    total = vals.sum()
    cum = np.concatenate([[0.0], np.cumsum(vals)]) / (total if total > 0 else 1.0)
    share = np.arange(len(vals) + 1) / max(len(vals), 1)
    return pd.DataFrame({"customer_share": share, "value_share": cum})


def top_share(value, fraction: float = 0.2) -> float:
    """Share of the (non-negative) value held by the top ``fraction`` of customers.

    >>> top_share([1.0, 3.0, 0.0, 4.0, 2.0], 0.2)
    0.4
    """
    curve = lorenz_curve(value)
    return float(np.interp(fraction, curve["customer_share"], curve["value_share"]))
