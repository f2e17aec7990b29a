"""The customer relationship matrix: current value on one axis,
potential value on the other.

* current value at or above its threshold: **retain**;
* otherwise, potential value at or above its threshold: **develop**;
* otherwise (low on both, or negative): **phase out**.
"""

from __future__ import annotations

import pandas as pd

from lifevalue.value.thresholds import CELLS, classify  # noqa: F401 (re-exported)


def matrix_counts(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers, expected current and potential value per cell.

    ``customers`` is :attr:`lifevalue.value.ValueResult.customers`. ``expected_count``
    adds up the cell probabilities, so it carries the uncertainty of classification.
    """
    grouped = customers.groupby("cell", observed=False)
    out = pd.DataFrame({
        "customers": grouped.size(),
        "expected_count": pd.Series({c: customers[f"p_{c}"].sum() for c in CELLS}),
        "current_value": grouped["current_mean"].sum(),
        "potential_value": grouped["potential_mean"].sum(),
    }).reindex(list(CELLS))
    out.index.name = "cell"
    return out
