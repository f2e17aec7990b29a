"""Polars and Arrow logs give the summary, the errors and the rejected rows of the same
log in pandas, on every engine; the in-memory engine's sort equals DuckDB's group-by."""

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import random_log
from lifevalue import validation as v
from lifevalue.data import inputs, kernel
from lifevalue.data.summary import _choose_engine, summarize

if os.environ.get("CI"):  # the dev extra installs Polars: CI runs these tests
    import polars as pl
else:
    pl = pytest.importorskip("polars")

ENGINES = ["pandas", "duckdb", "auto"]
KINDS = ["arrow", "polars", "lazy"]


def _as(kind, frame):
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if kind == "arrow":
        return table
    out = pl.from_arrow(table)
    return out.lazy() if kind == "lazy" else out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", KINDS)
def test_cdnow_split_equals_pandas(cdnow_log, kind, engine):
    kw = dict(amount="amount", observation_end="1998-06-30", calibration_end="1997-09-30")
    ref = summarize(cdnow_log, engine="pandas", **kw)
    got = summarize(_as(kind, cdnow_log), engine=engine, **kw)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12)
    assert got.attrs == ref.attrs
    assert len(got) == 2357


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("kind", KINDS)
def test_text_ids_and_dates_equal_pandas(rng, kind, engine):
    log = random_log(rng, n_customers=60)
    log["date"] = log["date"].dt.strftime("%d/%m/%Y")
    kw = dict(amount="amount", occasion="W", time_unit="D", date_format="%d/%m/%Y",
              observation_end="2021-03-01")
    ref = summarize(log, engine="pandas", **kw)
    got = summarize(_as(kind, log), engine=engine, **kw)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12)
    assert sorted(got.index) == sorted(log["customer_id"].unique())


def _bad_log():
    return pd.DataFrame({"customer_id": pd.array([1, None, 2, None, 3], dtype="Int64"),
                         "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
                                                 "2024-01-04", "2024-01-05"]),
                         "amount": [1.0, 2.0, -3.0, 4.0, 5.0]})


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("kind", ["arrow", "polars"])
def test_bad_rows_are_named_with_their_rows(kind, engine):
    log = _bad_log()
    with pytest.raises(v.InvalidValueError) as ref:
        summarize(log, amount="amount", engine="pandas")
    with pytest.raises(v.InvalidValueError, match=r"^column 'customer_id': 2 rows with a "
                       r"missing customer id; offending rows \(up to 5\):") as got:
        summarize(_as(kind, log), amount="amount", engine=engine)
    assert got.value.column == "customer_id"
    assert list(got.value.rows.index) == list(ref.value.rows.index) == [1, 3]
    assert got.value.rows["amount"].tolist() == [2.0, 4.0]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_rejected_rows_equal_pandas(engine):
    log = _bad_log()
    kw = dict(amount="amount", on_bad_rows="reject", observation_end="2024-01-31")
    ref = summarize(log, engine="pandas", **kw)
    got = summarize(_as("polars", log), engine=engine, **kw)
    pd.testing.assert_frame_equal(got, ref)
    assert got.attrs["row_rules"] == ref.attrs["row_rules"] == {
        "missing customer id": 2, "negative amount": 1}
    assert list(got.attrs["rejected_rows"].index) == [1, 2, 3]
    assert list(got.attrs["rejected_rows"]["reason"]) == list(
        ref.attrs["rejected_rows"]["reason"])


def test_missing_column_and_wrong_type():
    table = pa.table({"customer_id": [1], "date": ["2024-01-01"]})
    with pytest.raises(v.MissingColumnError, match=r"^missing column 'amount': the "
                       r"transactions have columns \['customer_id', 'date'\]"):
        summarize(table, amount="amount")
    with pytest.raises(v.InputError, match=r"^transactions must be a pandas DataFrame or a "
                       r"path to a CSV or Parquet file \(or a Polars DataFrame or LazyFrame, "
                       r"a pyarrow Table, a Spark DataFrame\), not dict$"):
        summarize({"customer_id": [1]})


def test_auto_engine_by_column_types():
    typed = pd.DataFrame({"customer_id": [1], "date": pd.to_datetime(["2024-01-01"])})
    text = typed.assign(customer_id=["a"])
    assert inputs.has_typed_columns(typed, "customer_id", "date")
    assert not inputs.has_typed_columns(text, "customer_id", "date")
    for kind in KINDS:
        assert inputs.has_typed_columns(_as(kind, typed), "customer_id", "date")
        assert not inputs.has_typed_columns(_as(kind, text), "customer_id", "date")
    assert _choose_engine(_as("lazy", text), "auto") == "duckdb"
    assert _choose_engine(_as("lazy", typed), "auto") == "pandas"
    assert _choose_engine(_as("arrow", text), "auto") == "pandas"  # small


def test_spread_ids_sort_as_duckdb_groups(rng):
    # ids 2**31 apart and a ten-year span do not fit one 63-bit key with the holdout flag
    # and the row position: the stable argsort takes over, with the same result
    n = 4000
    days = rng.integers(0, 3650, n)
    log = pd.DataFrame({"customer_id": rng.integers(0, 300, n) * (1 << 31) - (1 << 45),
                        "date": pd.Timestamp("2010-01-01") + pd.to_timedelta(days, unit="D"),
                        "amount": np.round(rng.gamma(2.0, 10.0, n), 2)})
    codes, _ = kernel.customer_codes(log["customer_id"])
    assert int(codes.max()).bit_length() + 1 + 12 + 12 > 63
    kw = dict(amount="amount", observation_end="2020-01-01", calibration_end="2016-01-01")
    got = summarize(log, engine="pandas", **kw)
    ref = summarize(log, engine="duckdb", **kw)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12)
    assert got.index.dtype == log["customer_id"].dtype and len(got) == 300
    assert (got["frequency_holdout"] > 0).any() and (got["frequency_cal"] > 0).any()
