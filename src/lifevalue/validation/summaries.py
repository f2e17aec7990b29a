"""Checks of RFM summaries: columns, values, time unit and "as of" dates.

Part of :mod:`lifevalue.validation`, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lifevalue.validation.core import (
    TIME_UNIT_NAMES,
    EmptyInputError,
    InputError,
    InvalidOptionError,
    MissingColumnError,
    check_columns,
    offending_rows_error,
)

# -------------------------------------------------------------------- RFM summaries


#: Constant columns that carry a summary's time unit and "as of" dates through a CSV
#: file, a merge or a hand-built copy; every consumer ignores them but these checks.
METADATA_COLUMNS = ("time_unit", "observation_end", "calibration_end")
RFM_NAMES = ("frequency", "recency", "T", "monetary_value")


def is_split_summary(frame) -> bool:
    """True for a calibration/holdout summary that still has its ``*_cal`` columns."""
    return (isinstance(frame, pd.DataFrame) and "frequency_cal" in frame.columns
            and "frequency" not in frame.columns)


def split_summary_error(frame: pd.DataFrame) -> MissingColumnError:
    """The error for a calibration/holdout split given where a plain summary is needed."""
    end = summary_metadata(frame).get("calibration_end")
    as_of = f"as of calibration_end {end}" if end else "as of the calibration end"
    return MissingColumnError(
        f"the summary is a calibration/holdout split (columns 'frequency_cal', "
        f"'recency_cal', 'T_cal', ...): it describes customers {as_of}. Choose: "
        "lifevalue.calibration_part(summary) to fit or value them as of the calibration end, "
        "or lifevalue.summarize(...) without calibration_end to value them as of the end of "
        "the data", column="frequency")


def summary_columns(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, str]:
    """Map each RFM name to the frame's column, checking that it exists.

    A calibration/holdout split (``frequency_cal``, ...) is refused with a message that
    says how to choose: :func:`lifevalue.calibration_part` or a summary without split.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"the summary must be a pandas DataFrame, not {type(frame).__name__}")
    if is_split_summary(frame):
        raise split_summary_error(frame)
    mapping = {n: n for n in names}
    check_columns(list(frame.columns), list(mapping.values()), what="summary")
    return mapping


def summary_metadata(frame) -> dict:
    """The summary's time unit and dates: from ``attrs``, else from its constant
    metadata columns (which survive a CSV file). Conflicting values raise."""
    attrs = getattr(frame, "attrs", {}) or {}
    out = {}
    for name in METADATA_COLUMNS:
        value = attrs.get(name)
        from_col = None
        if isinstance(frame, pd.DataFrame) and name in frame.columns and len(frame):
            distinct = pd.unique(frame[name].dropna().astype(str))
            if len(distinct) > 1:
                rows = frame[frame[name].astype(str) != distinct[0]][[name]]
                raise offending_rows_error(
                    name, rows, len(rows),
                    f"another {name} than the first row's {distinct[0]!r}")
            from_col = distinct[0] if len(distinct) else None
        if value is not None and from_col is not None and str(value) != from_col:
            raise InvalidOptionError(
                f"the summary's attrs[{name!r}] is {value!r} but its {name!r} column says "
                f"{from_col!r}: correct one of them", column=name)
        if value is None:
            value = from_col
        if value is not None:
            out[name] = str(value)
    return out


def summary_time_unit(frame) -> str | None:
    """The summary's time unit (attrs, else its ``time_unit`` column), or None."""
    unit = summary_metadata(frame).get("time_unit")
    if unit is not None and unit not in TIME_UNIT_NAMES:
        raise InvalidOptionError(
            f"the summary's time_unit {unit!r} is not one of 'D' (days), 'W' (weeks), "
            "'M' (months)", column="time_unit")
    return unit


UNKNOWN_SUMMARY_UNIT = (
    "the summary does not say its time unit (no summary.attrs['time_unit'] and no "
    "'time_unit' column), and lifevalue does not guess it: state it with "
    "summary.attrs['time_unit'] = 'W' (or 'D', 'M'; a constant 'time_unit' column works "
    "too), or make the summary with lifevalue.summarize(..., time_unit=...)")


def require_time_unit(frame) -> str:
    """The summary's time unit; raise :class:`InvalidOptionError` when unknown."""
    if not isinstance(frame, pd.DataFrame):
        summary_columns(frame, ())  # says it is not a frame
    unit = summary_time_unit(frame)
    if unit is None:
        raise InvalidOptionError(UNKNOWN_SUMMARY_UNIT, column="time_unit")
    return unit


def model_time_unit(model) -> str:
    """The time unit a fitted transaction model works in; raise when it has none."""
    unit = (getattr(model, "metadata_", None) or {}).get("time_unit")
    if unit is None:
        name = type(model).__name__
        raise InvalidOptionError(
            f"this {name} has no time unit (a point model from from_params or from_lifetimes "
            f"without time_unit=), and lifevalue does not guess it: make it again with "
            f"{name}.from_params(params, time_unit='W') or {name}.from_lifetimes(fitter, "
            "time_unit='W'), naming the unit ('D', 'W' or 'M') of the data its parameters "
            "were estimated on", column="time_unit")
    return unit


def check_summary(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Validate an RFM summary and return its columns as float arrays by RFM name.

    Checks: the columns exist; the summary is not empty; customer ids (the index) are
    unique; values are numeric, finite and not negative; ``frequency`` is a whole
    number; ``recency`` <= ``T``; ``recency`` is 0 when ``frequency`` is 0. A mean spend
    of 0 is allowed (free repeat purchases): the Gamma-Gamma fit leaves such customers
    out of its likelihood and says so.
    """
    cols = summary_columns(frame, names)
    if len(frame) == 0:
        raise EmptyInputError("the summary is empty: no customers")
    dup = frame.index.duplicated(keep=False)
    if dup.any():
        raise offending_rows_error(
            frame.index.name or "index", frame[dup][list(cols.values())], int(dup.sum()),
            "a duplicated customer id",
        )
    shown = frame[list(cols.values())]
    out = {}
    for name, col in cols.items():
        raw = frame[col]
        if not pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
            bad = np.isnan(values) & raw.notna().to_numpy()
            if bad.any():
                raise offending_rows_error(col, shown[bad], int(bad.sum()), "a non-numeric value")
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise offending_rows_error(col, shown[bad], int(bad.sum()),
                                       "a missing (NaN) or infinite value")
        bad = values < 0
        if bad.any():
            raise offending_rows_error(col, shown[bad], int(bad.sum()), "a negative value")
        out[name] = values
    if "frequency" in out:
        bad = out["frequency"] != np.round(out["frequency"])
        if bad.any():
            raise offending_rows_error(cols["frequency"], shown[bad], int(bad.sum()),
                                       "a frequency that is not a whole number")
    if "recency" in out and "T" in out:
        bad = out["recency"] > out["T"]
        if bad.any():
            raise offending_rows_error(cols["recency"], shown[bad], int(bad.sum()),
                                       "a recency greater than T")
        bad = (out["frequency"] == 0) & (out["recency"] != 0)
        if bad.any():
            raise offending_rows_error(cols["recency"], shown[bad], int(bad.sum()),
                                       "a non-zero recency but no repeat purchase")
    return out


#: Optional summary column: how many customers each row stands for (sufficient statistics).
COUNT_COLUMN = "n_customers"


def check_counts(frame: pd.DataFrame) -> np.ndarray | None:
    """The :data:`COUNT_COLUMN` of a summary as whole numbers >= 1, or ``None`` when the
    summary has one row per customer (no such column)."""
    if COUNT_COLUMN not in frame.columns:
        return None
    raw = frame[COUNT_COLUMN]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 1) | (values != np.round(values))
    if bad.any():
        raise offending_rows_error(COUNT_COLUMN, frame[bad], int(bad.sum()),
                                   "a count that is not a whole number >= 1")
    return values.astype("int64")


def check_time_unit_matches(summary: pd.DataFrame, model_unit: str | None) -> None:
    """Raise unless the summary and the model work in the same, known time unit.

    Both unknown (a unit-free simulation with a point model) passes: there is nothing to
    mix up. One side unknown raises: lifevalue does not guess a unit.
    """
    if not isinstance(summary, pd.DataFrame):
        return  # check_summary says so
    if is_split_summary(summary):
        raise split_summary_error(summary)
    unit = summary_time_unit(summary)
    if unit is None and model_unit is None:
        return
    if unit is None:
        raise InvalidOptionError(UNKNOWN_SUMMARY_UNIT, column="time_unit")
    if model_unit is None:
        raise InvalidOptionError(
            f"the model has no time unit but the summary is in {unit!r} "
            f"({TIME_UNIT_NAMES[unit]}), and lifevalue does not guess that they match: make "
            f"the model with time_unit={unit!r} (from_params or from_lifetimes)",
            column="time_unit")
    if unit != model_unit:
        raise InvalidOptionError(
            f"the summary is in time_unit {unit!r} ({TIME_UNIT_NAMES.get(unit, unit)}) but the "
            f"model was fitted in {model_unit!r} ({TIME_UNIT_NAMES.get(model_unit, model_unit)});"
            " summarise again with the model's time_unit",
            column="time_unit",
        )


__all__ = ["COUNT_COLUMN", "METADATA_COLUMNS", "RFM_NAMES", "UNKNOWN_SUMMARY_UNIT",
           "check_counts", "check_summary", "check_time_unit_matches", "is_split_summary",
           "model_time_unit", "require_time_unit", "split_summary_error", "summary_columns",
           "summary_metadata", "summary_time_unit"]
