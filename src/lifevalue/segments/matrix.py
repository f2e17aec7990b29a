"""The customer relationship matrix: current value on one axis,
potential value on the other.

* current value at or above its threshold: **retain**;
* otherwise, potential value at or above its threshold: **develop**;
* otherwise (low on both, or negative): **phase out**.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CELLS = ("retain", "develop", "phase_out")


def classify(current, potential, current_threshold: float, potential_threshold: float
             ) -> np.ndarray:
    """Cell codes (0 retain, 1 develop, 2 phase out) of values; arrays broadcast.

    Applied to each posterior draw it gives the probability of each cell.

    Examples
    --------
    >>> classify(np.array([10.0, 1.0, 1.0, -3.0]), np.array([12.0, 9.0, 2.0, 20.0]), 5, 8)
    array([0, 1, 2, 1])
    """
    current = np.asarray(current, dtype="float64")
    potential = np.asarray(potential, dtype="float64")
    return np.where(current >= current_threshold, 0,
                    np.where(potential >= potential_threshold, 1, 2))


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
