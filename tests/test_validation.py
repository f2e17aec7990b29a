"""Every bad transaction log gets a clear InputError naming the column and the rows."""

import numpy as np
import pandas as pd
import pytest

from lifevalue import validation as v
from lifevalue.data.summary import summarize

ENGINES = ["pandas", "duckdb"]


def _log(**overrides):
    log = pd.DataFrame({
        "customer_id": [1, 1, 2, 3, 3, 3],
        "date": ["2024-01-01", "2024-01-09", "2024-01-03", "2024-01-02", "2024-01-05",
                 "2024-02-01"],
        "amount": [10.0, 12.5, 3.0, 8.0, 9.0, 1.0],
    })
    for col, (rows, value) in overrides.items():
        log[col] = log[col].astype(object)
        for r in rows:
            log.loc[r, col] = value
    return log


def _raises(log, match, engine, cls=v.InputError, **kw):
    kw.setdefault("amount", "amount")
    with pytest.raises(cls, match=match) as info:
        summarize(log, engine=engine, **kw)
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_column(engine):
    err = _raises(_log().drop(columns="amount"), r"^missing column 'amount': the transactions "
                  r"have columns \['customer_id', 'date'\]", engine, v.MissingColumnError)
    assert err.column == "amount"


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_input(engine):
    _raises(_log().iloc[:0], r"^the transactions are empty: no rows to summarise$", engine,
            v.EmptyInputError)


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_customer_id(engine):
    err = _raises(_log(customer_id=([2, 4], None)),
                  r"^column 'customer_id': 2 rows with a missing customer id", engine)
    assert list(err.rows.index) == [2, 4]


@pytest.mark.parametrize("engine", ENGINES)
def test_unparsable_date(engine):
    err = _raises(_log(date=([3], "2024-13-45")),
                  r"^column 'date': 1 row with an unparsable or missing date", engine)
    assert "2024-13-45" in str(err) and list(err.rows.index) == [3]


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_date(engine):
    _raises(_log(date=([0], None)), r"^column 'date': 1 row with an unparsable or missing date",
            engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_date_after_observation_end(engine):
    err = _raises(_log(), r"^column 'date': 2 rows with a date after observation_end 2024-01-05",
                  engine, observation_end="2024-01-05 12:00")
    assert list(err.rows.index) == [1, 5]


@pytest.mark.parametrize("engine", ENGINES)
def test_calibration_end_after_observation_end(engine):
    _raises(_log(), r"^calibration_end 2024-03-01 is after observation_end 2024-02-01$", engine,
            v.InvalidOptionError, calibration_end="2024-03-01", observation_end="2024-02-01")
    # also when observation_end defaults to the last transaction
    _raises(_log(), r"^calibration_end 2024-03-01 is after observation_end 2024-02-01$", engine,
            v.InvalidOptionError, calibration_end="2024-03-01")


@pytest.mark.parametrize("engine", ENGINES)
def test_negative_amount(engine):
    err = _raises(_log(amount=([1, 5], -2.0)), r"^column 'amount': 2 rows with a negative amount",
                  engine)
    assert list(err.rows.index) == [1, 5]


@pytest.mark.parametrize("engine", ENGINES)
def test_nan_amount(engine):
    _raises(_log(amount=([2], np.nan)),
            r"^column 'amount': 1 row with a missing \(NaN\) or infinite amount", engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_non_numeric_amount(engine):
    err = _raises(_log(amount=([0, 3], "ten")), r"^column 'amount': 2 rows with a non-numeric "
                  r"amount", engine)
    assert "ten" in str(err)


@pytest.mark.parametrize("engine", ENGINES)
def test_unknown_time_unit(engine):
    _raises(_log(), r"^time_unit 'Q' is not one of 'D' \(days\), 'W' \(weeks\), 'M' \(months\)$",
            engine, v.InvalidOptionError, time_unit="Q")
    _raises(_log(), r"^occasion 'H' is not one of", engine, v.InvalidOptionError, occasion="H")


def test_unknown_engine():
    _raises(_log(), r"^engine 'dask' is not one of 'auto', 'pandas', 'duckdb', 'spark'$",
            "dask")


def test_message_shows_at_most_five_rows():
    log = _log(amount=([0, 1, 2, 3, 4, 5], -1.0))
    err = _raises(log, r"^column 'amount': 6 rows with a negative amount; offending rows "
                  r"\(up to 5\):", "pandas")
    assert len(err.rows) == 5
    assert len(str(err).splitlines()) == 1 + 1 + 5  # headline, header, five rows


def test_offending_rows_of_a_file_count_data_rows_from_zero(tmp_path):
    path = tmp_path / "log.csv"
    _log(amount=([4], -3.0)).to_csv(path, index=False)
    for engine in ENGINES:
        err = _raises(path, r"^column 'amount': 1 row with a negative amount", engine)
        assert list(err.rows.index) == [4]


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.csv", r"^transactions file .*nope.csv' does not exist$", "duckdb")
    _raises(tmp_path / "nope.csv", r"^transactions file .*nope.csv' does not exist$", "pandas")


def test_not_a_frame():
    _raises([1, 2, 3], r"^transactions must be a pandas DataFrame or a path", "pandas")


def test_bad_observation_end_option():
    _raises(_log(), r"^observation_end 'soon' is not a date$", "pandas", observation_end="soon")
