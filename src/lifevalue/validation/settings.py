"""Checks of the value settings: margin and costs.

Part of :mod:`lifevalue.validation`, which re-exports every name here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue.validation.core import InvalidOptionError


def check_margin(margin) -> None:
    """A margin is a fraction in [0, 1]: a number, one per period or one per customer (a
    Series or a column name, checked once resolved)."""
    if isinstance(margin, str | pd.Series):
        return
    arr = np.asarray(margin, dtype="float64")
    if not np.all(np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        raise InvalidOptionError(f"margin must be a fraction in [0, 1], got {margin!r}",
                                 column="margin")


def check_cost(cost, name: str) -> None:
    """A cost (``development_cost``, ``retention_cost``) is a number >= 0, one per period
    or one per customer."""
    if isinstance(cost, str | pd.Series):
        return
    arr = np.asarray(cost, dtype="float64")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidOptionError(f"{name} must be >= 0, got {cost!r}", column=name)


__all__ = ["check_cost", "check_margin"]
