"""Checks of customer covariates: their names, their values and the join of a
customer-attributes frame onto a summary.

Part of :mod:`lifevalue.validation`, which re-exports every name here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lifevalue.validation.core import (
    InputError,
    InvalidOptionError,
    MissingColumnError,
    offending_rows_error,
)

#: A covariate's name: it becomes part of its coefficients' names (``alpha[channel]``).
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_covariate_names(names, option: str) -> tuple[str, ...]:
    """A model option that lists covariate columns, as a tuple of distinct names."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = (names,)
    out = tuple(names)
    for name in out:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidOptionError(
                f"{option} names columns by letters, digits and '_' (not starting with a "
                f"digit); got {name!r}", column=option)
    dup = sorted({n for n in out if out.count(n) > 1})
    if dup:
        raise InvalidOptionError(f"{option} names {dup[0]!r} twice", column=option)
    return out


def check_covariates(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The covariate columns of a summary as a float array ``(customers, columns)``.

    Each column must exist and hold finite numbers for every customer (encode a
    category as 0/1 columns first, e.g. with ``pandas.get_dummies(..., dtype=float)``).
    """
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"the summary has no covariate column {missing[0]!r} (the model was set up with "
            f"covariates {columns}); add the customers' attributes with "
            "lifevalue.join_attributes(summary, attributes)", column=missing[0])
    out = np.empty((len(frame), len(columns)))
    for j, col in enumerate(columns):
        raw = frame[col]
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype("float64")
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64",
                                                              na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            what = ("a non-numeric value" if not pd.api.types.is_numeric_dtype(raw)
                    and (raw.notna().to_numpy() & bad).any() else "a missing or infinite value")
            raise offending_rows_error(
                col, frame.loc[bad, [col]], int(bad.sum()), f"{what} of a covariate",
                hint="covariates must be numbers for every customer: encode categories as "
                     "0/1 columns and fill or drop the missing values first")
        out[:, j] = values
    return out


def join_attributes(summary: pd.DataFrame, attributes: pd.DataFrame,
                    columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The summary with the customers' attributes joined by customer id.

    Parameters
    ----------
    summary : pandas.DataFrame
        An RFM summary indexed by customer id.
    attributes : pandas.DataFrame
        One row per customer, indexed by the same ids (or with the summary's index name
        as a column).
    columns : sequence of str, optional
        The attribute columns to join (default: all).

    Returns
    -------
    pandas.DataFrame
        A copy of ``summary`` with the attribute columns, its ``attrs`` (time unit,
        dates) kept. Every customer of the summary must have attributes, once: a missing
        or duplicated id raises, naming the ids.
    """
    if not isinstance(attributes, pd.DataFrame):
        raise InputError("attributes must be a pandas DataFrame indexed by customer id, not "
                         f"{type(attributes).__name__}", column="attributes")
    key = summary.index.name
    if key is not None and key in attributes.columns:
        attributes = attributes.set_index(key)
    columns = list(attributes.columns if columns is None else columns)
    absent = [c for c in columns if c not in attributes.columns]
    if absent:
        raise MissingColumnError(f"attributes have no column {absent[0]!r}", column=absent[0])
    clash = [c for c in columns if c in summary.columns]
    if clash:
        raise InvalidOptionError(
            f"the summary already has a column {clash[0]!r}; drop it or rename the "
            "attribute", column=clash[0])
    dup = attributes.index.duplicated(keep=False)
    if dup.any():
        raise offending_rows_error(
            key or "customer_id", attributes.loc[dup, columns], int(dup.sum()),
            "a customer id listed twice in the attributes")
    missing = ~summary.index.isin(attributes.index)
    if missing.any():
        raise offending_rows_error(
            key or "customer_id", summary.loc[missing, summary.columns[:3]], int(missing.sum()),
            "a customer without attributes",
            hint="every customer of the summary needs a row of attributes")
    out = summary.join(attributes[columns], how="left")
    out.attrs.update(summary.attrs)
    return out


__all__ = ["check_covariate_names", "check_covariates", "join_attributes"]
