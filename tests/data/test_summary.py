"""Tests of lifevalue.data.summary: RFM summaries equal lifetimes', both engines agree."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from helpers import LOCAL_DAYS, LOCAL_LOG, local_inputs, random_log
from lifevalue.data.summary import summarize

LIFETIMES_FREQ = {  # (occasion, time_unit) -> lifetimes (freq, freq_multiplier)
    ("D", "D"): ("D", 1),
    ("D", "W"): ("D", 7),
    ("W", "W"): ("W", 1),
}


def _lifetimes_summary(log, occasion, time_unit, observation_end, **kw):
    freq, mult = LIFETIMES_FREQ[(occasion, time_unit)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' own pandas deprecations
        return summary_data_from_transaction_data(
            log, "customer_id", "date", monetary_value_col="amount",
            observation_period_end=observation_end, freq=freq, freq_multiplier=mult, **kw
        )


def _assert_matches_lifetimes(ours, ref, columns):
    ref = ref.loc[ours.index]
    for col in columns:
        np.testing.assert_allclose(ours[col].to_numpy(float), ref[col].to_numpy(float),
                                   rtol=1e-12, atol=1e-12, err_msg=col)


@pytest.mark.parametrize("occasion,time_unit", sorted(LIFETIMES_FREQ))
def test_cdnow_summary_equals_lifetimes(cdnow_log, occasion, time_unit):
    ours = summarize(cdnow_log, amount="amount", observation_end="1998-06-30",
                     occasion=occasion, time_unit=time_unit)
    ref = _lifetimes_summary(cdnow_log, occasion, time_unit, "1998-06-30")
    assert len(ours) == len(ref) == 2357
    _assert_matches_lifetimes(ours, ref, ["frequency", "recency", "T", "monetary_value"])


def test_cdnow_calibration_holdout_equals_lifetimes(cdnow_log, cdnow_cal):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = calibration_and_holdout_data(
            cdnow_log, "customer_id", "date", calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30", freq="D", freq_multiplier=7,
            monetary_value_col="amount",
        )
    assert len(cdnow_cal) == len(ref) == 2357
    _assert_matches_lifetimes(
        cdnow_cal.rename(columns=lambda c: c if c.endswith("holdout") else f"{c}_cal"), ref,
        ["frequency_cal", "recency_cal", "T_cal", "monetary_value_cal", "frequency_holdout",
         "duration_holdout"],
    )


def test_holdout_monetary_value_is_mean_of_occasion_totals():
    # lifetimes averages raw holdout lines; we average purchase occasions, as in calibration
    log = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a"],
        "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01", "2024-02-10"]),
        "amount": [5.0, 10.0, 20.0, 6.0],
    })
    out = summarize(log, amount="amount", calibration_end="2024-01-31",
                    observation_end="2024-02-29", time_unit="D")
    row = out.loc["a"]
    assert row["frequency_holdout"] == 2
    assert row["monetary_value_holdout"] == pytest.approx((30.0 + 6.0) / 2)
    assert row["duration_holdout"] == 29.0
    assert row["T_cal"] == 30.0 and row["frequency_cal"] == 0


def test_same_day_transactions_are_one_occasion_and_add_up():
    log = pd.DataFrame({
        "customer_id": [7, 7, 7, 7],
        "date": ["2024-03-01 09:00", "2024-03-05 10:00", "2024-03-05 18:30", "2024-03-12"],
        "amount": [1.0, 2.0, 3.0, 10.0],
    })
    out = summarize(log, amount="amount", observation_end="2024-03-15", time_unit="D")
    assert out.loc[7].iloc[:-2].tolist() == [2, 11.0, 14.0, (5.0 + 10.0) / 2]


def test_monthly_occasions_count_calendar_months():
    log = pd.DataFrame({
        "customer_id": ["x", "x", "x", "y"],
        "date": ["2023-01-31", "2023-02-01", "2023-02-27", "2023-03-15"],
        "amount": [1.0, 2.0, 3.0, 4.0],
    })
    out = summarize(log, amount="amount", observation_end="2023-06-01",
                    occasion="M", time_unit="M")
    assert out.loc["x"].iloc[:-2].tolist() == [1, 1.0, 5.0, 5.0]
    assert out.loc["y"].iloc[:-2].tolist() == [0, 0.0, 3.0, 0.0]
    days = summarize(log, amount="amount", observation_end="2023-06-01",
                     occasion="D", time_unit="M")
    assert days.loc["x", "T"] == pytest.approx(121 / 30.4375)


def test_weekly_occasions_start_on_monday():
    # 2024-01-07 is a Sunday, 2024-01-08 a Monday
    log = pd.DataFrame({"customer_id": [1, 1, 1],
                        "date": ["2024-01-01", "2024-01-07", "2024-01-08"]})
    out = summarize(log, occasion="W", time_unit="W", observation_end="2024-01-21")
    assert out.loc[1].iloc[:-2].tolist() == [1, 1.0, 2.0]
    assert "monetary_value" not in out


def test_summary_records_its_units(cdnow_cal):
    assert cdnow_cal.attrs["time_unit"] == "W"
    assert cdnow_cal.attrs["occasion"] == "D"
    assert cdnow_cal.attrs["calibration_end"] == "1997-09-30"
    assert cdnow_cal.attrs["observation_end"] == "1998-06-30"


def test_customer_first_seen_in_holdout_is_reported_not_lost():
    log = pd.DataFrame({
        "customer_id": ["old", "old", "new"],
        "date": ["2024-01-01", "2024-02-10", "2024-02-15"],
        "amount": [1.0, 2.0, 3.0],
    })
    with pytest.warns(UserWarning, match="1 customers first bought after calibration_end"):
        out = summarize(log, amount="amount", calibration_end="2024-01-31")
    assert list(out.index) == ["old"]
    assert out.attrs["new_in_holdout"] == ["new"]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_every_customer_comes_out_once(rng, engine):
    log = random_log(rng, n_customers=200)
    out = summarize(log, amount="amount", engine=engine)
    assert sorted(out.index) == sorted(log["customer_id"].unique())
    assert out.index.is_unique


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_files_give_the_frame_summary(tmp_path, rng, fmt, engine):
    log = random_log(rng, n_customers=50)
    expected = summarize(log, amount="amount", engine="pandas", calibration_end="2020-08-01")
    path = tmp_path / f"log.{fmt}"
    if fmt == "csv":
        log.to_csv(path, index=False)
    else:
        log.to_parquet(path)
    got = summarize(path, amount="amount", engine=engine, calibration_end="2020-08-01")
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_engines_agree_on_cdnow(cdnow_log):
    kw = dict(amount="amount", observation_end="1998-06-30", calibration_end="1997-09-30")
    a = summarize(cdnow_log, engine="pandas", **kw)
    b = summarize(cdnow_log, engine="duckdb", **kw)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    assert a.attrs == b.attrs


def test_cdnow_date_integers_parse_with_format(tmp_path, cdnow_log):
    raw = cdnow_log.assign(date=cdnow_log["date"].dt.strftime("%Y%m%d").astype(int))
    path = tmp_path / "cdnow.csv"
    raw.to_csv(path, index=False)
    expected = summarize(cdnow_log, amount="amount")
    for engine in ("pandas", "duckdb"):
        got = summarize(path, amount="amount", date_format="%Y%m%d", engine=engine)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


log_rows = st.lists(
    st.tuples(
        st.integers(0, 12),                       # customer
        st.integers(0, 120),                      # day offset
        st.floats(0, 500, allow_nan=False).map(lambda a: round(a, 2)),
    ),
    min_size=1, max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=log_rows, occasion_unit=st.sampled_from(sorted(LIFETIMES_FREQ)),
       tail=st.integers(0, 30))
def test_random_logs_match_lifetimes_and_engines_agree(rows, occasion_unit, tail):
    occasion, time_unit = occasion_unit
    log = pd.DataFrame(rows, columns=["customer_id", "day", "amount"])
    log["date"] = pd.Timestamp("2021-03-01") + pd.to_timedelta(log.pop("day"), unit="D")
    end = log["date"].max() + pd.Timedelta(days=tail)
    ours = summarize(log, amount="amount", observation_end=end, occasion=occasion,
                     time_unit=time_unit, engine="pandas")
    ref = _lifetimes_summary(log, occasion, time_unit, end)
    assert sorted(ours.index) == sorted(log["customer_id"].unique())
    _assert_matches_lifetimes(ours, ref, ["frequency", "recency", "T"])
    # lifetimes' mean of repeat amounts, by its own float arithmetic
    np.testing.assert_allclose(ours["monetary_value"], ref.loc[ours.index, "monetary_value"],
                               rtol=1e-9, atol=1e-9)
    duck = summarize(log, amount="amount", observation_end=end, occasion=occasion,
                     time_unit=time_unit, engine="duckdb")
    pd.testing.assert_frame_equal(ours, duck, check_exact=False, rtol=1e-12)


# ------------------------------------------------------------- local calendar days

@pytest.mark.parametrize("kind", ["text", "text, one without offset", "text with %z",
                                  "pandas, aware", "arrow, aware", "polars, aware"])
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_days_are_the_logs_own_local_days(kind, engine, tmp_path):
    """A UTC offset after the time, or a column's time zone, says where the purchase was
    recorded, not on which day: every engine takes the calendar day as recorded (before
    this, pandas took the UTC day and DuckDB the local one)."""
    frame, fmt = local_inputs(kind)
    got = summarize(frame, amount="amount", observation_end="2024-07-20", time_unit="D",
                    engine=engine, date_format=fmt)
    pd.testing.assert_frame_equal(got[["frequency", "recency", "T"]], LOCAL_DAYS,
                                  check_names=False, check_dtype=False)
    if kind in ("text", "pandas, aware"):  # a CSV file, and a Parquet file with its zone
        path = tmp_path / ("log.csv" if kind == "text" else "log.parquet")
        frame.to_csv(path, index=False) if kind == "text" else frame.to_parquet(path)
        from_file = summarize(path, amount="amount", observation_end="2024-07-20",
                              time_unit="D", engine=engine)
        pd.testing.assert_frame_equal(from_file[["frequency", "recency", "T"]], LOCAL_DAYS,
                                      check_names=False, check_dtype=False)


def test_an_observation_end_with_an_offset_is_its_own_day():
    got = summarize(LOCAL_LOG, amount="amount", observation_end="2024-07-20T23:00:00-05:00",
                    time_unit="D")
    assert got.attrs["observation_end"] == "2024-07-20"
