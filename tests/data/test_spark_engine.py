"""Tests of lifevalue.data.spark_engine: a Spark log gives the same summary as pandas,
and bad input the same errors, computed in Spark (local[2]), on Spark classic and on
Spark Connect, one session of each kind for the module."""

import pandas as pd
import pytest

from helpers import random_log
from lifevalue import validation as v
from lifevalue.data.spark_engine import summary_attrs
from lifevalue.data.summary import summarize
from lifevalue.spark import local_session


@pytest.fixture(scope="module", params=["classic", "connect"])
def spark(request):
    """A local session of each kind: classic and Spark Connect (``remote("local[2]")``)."""
    session = local_session(request.param)
    yield session
    session.stop()


def _local(spark_summary, index_name="customer_id"):
    return spark_summary.toPandas().set_index(index_name).sort_index()


def test_cdnow_calibration_holdout_equals_pandas(spark, cdnow_log):
    kw = dict(amount="amount", calibration_end="1997-09-30", observation_end="1998-06-30")
    ref = summarize(cdnow_log, **kw)
    out = summarize(spark.createDataFrame(cdnow_log), **kw)
    got = _local(out)
    assert list(got.columns) == list(ref.columns)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12, atol=1e-12)
    assert summary_attrs(out) == {k: ref.attrs[k] for k in
                                  ("time_unit", "occasion", "observation_end", "calibration_end")}


@pytest.mark.parametrize("occasion,time_unit", [("D", "D"), ("W", "W"), ("M", "M")])
def test_random_logs_equal_pandas(spark, rng, occasion, time_unit):
    log = random_log(rng, n_customers=40)
    log["date"] = log["date"].dt.strftime("%d/%m/%Y")
    kw = dict(amount="amount", occasion=occasion, time_unit=time_unit,
              date_format="%d/%m/%Y", observation_end="2021-03-01")
    ref = summarize(log, **kw)
    got = _local(summarize(spark.createDataFrame(log), **kw))
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12, atol=1e-12)


def test_customers_new_in_holdout_are_counted(spark):
    log = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [1.0, 2.0, 3.0],
                        "date": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-10"])})
    with pytest.warns(UserWarning, match="^1 customers first bought after calibration_end"):
        out = summarize(spark.createDataFrame(log), amount="amount",
                        calibration_end="2024-02-01", observation_end="2024-03-01")
    assert _local(out).index.tolist() == [1]


def test_bad_amount_named_with_rows(spark):
    log = pd.DataFrame({"customer_id": ["a", "b", "c"], "date": ["2024-01-01"] * 3,
                        "amount": ["1.5", "x", "-2"]})
    with pytest.raises(v.InvalidValueError,
                       match=r"^column 'amount': 1 row with a non-numeric amount") as info:
        summarize(spark.createDataFrame(log), amount="amount")
    assert info.value.rows["customer_id"].tolist() == ["b"]
    log.loc[1, "amount"] = "3"
    with pytest.raises(v.InvalidValueError, match=r"^column 'amount': 1 row with a negative "):
        summarize(spark.createDataFrame(log), amount="amount")


def test_date_errors(spark):
    log = pd.DataFrame({"customer_id": [1, 2], "date": ["2024-01-01", "2024-13-45"]})
    with pytest.raises(v.InvalidValueError,
                       match=r"^column 'date': 1 row with an unparsable or missing date"):
        summarize(spark.createDataFrame(log))
    log.loc[1, "date"] = "2024-03-01"
    with pytest.raises(v.InvalidValueError,
                       match=r"^column 'date': 1 row with a date after observation_end 2024-02-01"):
        summarize(spark.createDataFrame(log), observation_end="2024-02-01")


def test_missing_column_and_empty(spark):
    log = pd.DataFrame({"customer_id": [1], "date": ["2024-01-01"]})
    with pytest.raises(v.MissingColumnError, match=r"^missing column 'amount'"):
        summarize(spark.createDataFrame(log), amount="amount")
    with pytest.raises(v.EmptyInputError, match=r"^the transactions are empty"):
        summarize(spark.createDataFrame(log).limit(0))


def test_engine_and_input_must_agree(spark):
    log = pd.DataFrame({"customer_id": [1], "date": ["2024-01-01"]})
    with pytest.raises(v.InvalidOptionError, match=r"^engine 'spark' summarises a Spark "):
        summarize(log, engine="spark")
    with pytest.raises(v.InvalidOptionError, match=r"got engine 'duckdb' and a DataFrame$"):
        summarize(spark.createDataFrame(log), engine="duckdb")


def test_java_date_pattern():
    assert v.java_date_pattern("%Y-%m-%dT%H:%M:%S") == "yyyy-MM-dd'T'HH:mm:ss"
    with pytest.raises(v.InvalidOptionError, match=r"directive %a is not supported"):
        v.java_date_pattern("%a %d")
    assert v.java_date_pattern("%d.%m.%y") == "dd.MM.yy"
    assert v.java_date_pattern("%Y%m%d at %H") == "yyyyMMdd' at 'HH"


def test_an_inferred_observation_end_is_checked_as_locally(spark, cdnow_log):
    """The CDNOW sample plus one row dated 2031-03-15, no observation_end: Spark refuses
    it as the local engines do, instead of moving the end of the data to 2031."""
    future = pd.concat([cdnow_log, pd.DataFrame({"customer_id": [1], "date": [
        pd.Timestamp("2031-03-15")], "amount": [10.0]})], ignore_index=True)
    for frame in (future, spark.createDataFrame(future)):
        with pytest.raises(v.InvalidValueError, match=r"^column 'date': 1 row with a date after "
                           r"today \d{4}-\d\d-\d\d; offending rows") as info:
            summarize(frame, amount="amount")
        assert str(info.value).endswith(v.INFERRED_END_HINT)
    # a last date far after the bulk of the log (but not in the future) is refused too
    isolated = future.copy()
    isolated.loc[isolated.index[-1], "date"] = pd.Timestamp("2019-03-15")
    for frame in (isolated, spark.createDataFrame(isolated)):
        with pytest.raises(v.InvalidValueError, match=r"^column 'date': 1 row with a date "
                           r"isolated far after the rest of the log"):
            summarize(frame, amount="amount")


@pytest.mark.parametrize("kind", ["text", "text with %z"])
def test_days_are_the_logs_own_local_days(spark, kind):
    """Dates written with a UTC offset give the days as written, as in the other engines
    (Spark alone would convert them to the session's time zone)."""
    from helpers import LOCAL_DAYS, local_inputs

    frame, fmt = local_inputs(kind)
    out = summarize(spark.createDataFrame(frame), amount="amount",
                    observation_end="2024-07-20", time_unit="D", date_format=fmt)
    pd.testing.assert_frame_equal(_local(out)[["frequency", "recency", "T"]], LOCAL_DAYS,
                                  check_names=False, check_dtype=False)
