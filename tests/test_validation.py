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
    _raises([1, 2, 3], r"^transactions must be a pandas DataFrame or a path", "duckdb")


def test_bad_observation_end_option():
    _raises(_log(), r"^observation_end 'soon' is not a date$", "pandas", observation_end="soon")


# ------------------------------------------------ observation end, readers, bad rows

HINT = "observation_end was not given and would be inferred from the last date"


@pytest.mark.parametrize("engine", ENGINES)
def test_future_date_refuses_an_inferred_observation_end(engine):
    log = _log(date=([5], "2099-03-15"))
    err = _raises(log, r"^column 'date': 1 row with a date after today \d{4}-\d\d-\d\d; "
                  r"offending rows", engine, v.InvalidValueError)
    assert err.column == "date" and list(err.rows.index) == [5]
    assert str(err).endswith(v.INFERRED_END_HINT) and HINT in str(err)
    summarize(log, amount="amount", engine=engine, observation_end="2099-03-15")


@pytest.mark.parametrize("engine", ENGINES)
def test_isolated_last_date_refuses_an_inferred_observation_end(engine):
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(2000) % 300, unit="D")
    log = pd.DataFrame({"customer_id": np.arange(2000) % 50, "date": days, "amount": 1.0})
    log.loc[1999, "date"] = pd.Timestamp("2024-06-01")
    err = _raises(log, r"^column 'date': 1 row with a date isolated far after the rest of the "
                  r"log \(99\.9% of the rows are dated 2020-10-2\d or earlier\)", engine,
                  v.InvalidValueError)
    assert list(err.rows.index) == [1999]
    out = summarize(log, amount="amount", engine=engine, observation_end="2024-06-01")
    assert out.attrs["observation_end_inferred"] is False


@pytest.mark.parametrize("engine", ENGINES)
def test_inferred_observation_end_is_said(engine, caplog):
    with caplog.at_level("WARNING", logger="lifevalue.data.summary"):
        out = summarize(_log(), amount="amount", engine=engine)
    assert "observation_end not given: inferred as 2024-02-01" in caplog.text
    assert out.attrs["observation_end_inferred"] is True
    assert (out["observation_end"] == "2024-02-01").all() and (out["time_unit"] == "W").all()


@pytest.mark.parametrize("engine", ENGINES)
def test_reader_errors_are_lifevalues(engine, tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("customer_id,date\n1,2024-01-01\n")
    _raises(path, r"^missing column 'amount': the transactions have columns "
            r"\['customer_id', 'date'\]$", engine, v.MissingColumnError)
    path.write_text("")
    _raises(path, r"^transactions file '.*log.csv' is empty: no header and no rows$", engine,
            v.EmptyInputError)
    path.write_text("customer_id,date,amount\n1,2024-01-01,3\n2,2024-01-02,4,5\n")
    _raises(path, r"^transactions file '.*log.csv', line 3 \(data row 1\): 4 fields where the "
            r"header has 3 \(\['customer_id', 'date', 'amount'\]\); fix or remove the line$",
            engine, v.InvalidValueError)


@pytest.mark.parametrize("engine", ENGINES)
def test_reject_bad_rows(engine, caplog):
    log = _log(amount=([1], -2.0), customer_id=([2], None))
    log["note"] = list("abcdef")
    with caplog.at_level("WARNING", logger="lifevalue.data.summary"):
        out = summarize(log, amount="amount", engine=engine, on_bad_rows="reject",
                        observation_end="2024-01-20")
    rej = out.attrs["rejected_rows"]
    assert list(rej.index) == [1, 2, 5]
    assert list(rej["reason"]) == ["negative amount", "missing customer id",
                                   "date after observation_end 2024-01-20"]
    assert list(rej["note"]) == ["b", "c", "f"]
    assert out.attrs["row_rules"] == {"missing customer id": 1, "negative amount": 1,
                                      "date after observation_end 2024-01-20": 1}
    assert "3 rows rejected" in caplog.text
    assert list(out.index) == [1, 3] and list(out["frequency"]) == [0, 1]


def test_every_row_rejected():
    _raises(_log(amount=([0, 1, 2, 3, 4, 5], -1.0)), r"^every row of the transactions was "
            r"rejected \(6 negative amount\): no rows to summarise$", "pandas",
            v.EmptyInputError, on_bad_rows="reject")


def test_refunds():
    log = pd.DataFrame({"customer_id": [1, 1, 1, 2, 2], "amount": [10.0, -4.0, 8.0, 5.0, -5.0],
                        "date": ["2024-01-01", "2024-01-03", "2024-01-08", "2024-01-02",
                                 "2024-01-04"]})
    netted = summarize(log, amount="amount", refunds="net", observation_end="2024-01-15",
                       time_unit="D")
    # customer 1: the refund nets into 01-01; customer 2's only purchase is refunded in full
    assert list(netted.index) == [1] and netted.loc[1, "frequency"] == 1
    assert netted.attrs["row_rules"] == {}
    rejected = summarize(log, amount="amount", refunds="reject", observation_end="2024-01-15")
    assert rejected.attrs["row_rules"] == {"refund (negative amount)": 2}
    with pytest.raises(v.InvalidValueError, match="a refund before any purchase"):
        summarize(log.iloc[[1, 2]], amount="amount", refunds="net",
                  observation_end="2024-01-15")
    _raises(log, r"^refunds 'net' needs engine 'pandas' \(or 'auto'\)$", "duckdb",
            v.InvalidOptionError, refunds="net")
    _raises(log, r"^on_bad_rows 'drop' is not one of 'error', 'reject'$", "pandas",
            v.InvalidOptionError, on_bad_rows="drop")


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_calibration_summary(engine):
    _raises(_log(), r"^no customer bought on or before calibration_end 2023-12-01: all 3 "
            r"customers first bought after it, so the calibration summary would be empty; "
            r"choose a later calibration_end$", engine, v.EmptyInputError,
            calibration_end="2023-12-01", observation_end="2024-02-01")


def test_split_summary_needs_a_choice_and_the_unit_survives_csv(tmp_path):
    import lifevalue as lv

    split = summarize(_log(), amount="amount", calibration_end="2024-01-10",
                      observation_end="2024-02-01")
    with pytest.raises(v.MissingColumnError, match=r"^the summary is a calibration/holdout "
                       r"split .*as of calibration_end 2024-01-10\. Choose: "
                       r"lifevalue\.calibration_part\(summary\)"):
        v.check_summary(split, ("frequency", "recency", "T"))
    cal = lv.calibration_part(split)
    assert cal.attrs["calibration_end"] == "2024-01-10" and "frequency" in cal
    path = tmp_path / "s.csv"
    cal.to_csv(path)
    back = pd.read_csv(path, index_col=0)
    assert v.require_time_unit(back) == "W"
    back.attrs["time_unit"] = "D"
    with pytest.raises(v.InvalidOptionError, match=r"^the summary's attrs\['time_unit'\] is 'D' "
                       r"but its 'time_unit' column says 'W'"):
        v.summary_time_unit(back)
    bare = back.drop(columns=["time_unit"])
    bare.attrs = {}
    with pytest.raises(v.InvalidOptionError, match=r"^the summary does not say its time unit"):
        v.require_time_unit(bare)
    with pytest.raises(v.InvalidOptionError, match=r"^the summary does not say its time unit"):
        v.check_time_unit_matches(bare, "W")
    with pytest.raises(v.InvalidOptionError, match=r"^this BetaGeo has no time unit"):
        v.model_time_unit(lv.BetaGeo.from_params(dict(r=1, alpha=1, a=1, b=1)))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, np.random.RandomState(0)])
def test_random_seed_must_be_a_whole_number_a_generator_or_none(bad):
    with pytest.raises(v.InvalidOptionError, match=r"^random_seed must be a whole number >= "
                       r"0, a numpy\.random\.Generator or None, got "):
        v.check_random_seed(bad)


def test_random_seed_from_a_generator_or_none():
    assert v.check_random_seed(np.int64(5)) == 5
    gen = np.random.default_rng(3)
    first, second = v.check_random_seed(gen), v.check_random_seed(gen)
    assert first != second  # a generator moves on, as in NumPy
    assert first == v.check_random_seed(np.random.default_rng(3))
    assert v.check_random_seed(None, none_ok=True) is None
    fresh = {v.check_random_seed(None) for _ in range(3)}
    assert len(fresh) == 3 and all(isinstance(s, int) and s >= 0 for s in fresh)



# ------------------------------------------------------------------ attributes


def _attribute_summary():
    summary = pd.DataFrame({"frequency": [0, 2, 1], "recency": [0.0, 5.0, 2.0],
                            "T": [9.0, 9.0, 8.0]},
                           index=pd.Index([11, 12, 13], name="customer_id"))
    summary.attrs["time_unit"] = "W"
    return summary


def test_attributes_join_by_customer_id():
    summary = _attribute_summary()
    attrs = pd.DataFrame({"customer_id": [13, 11, 12, 99], "web": [1.0, 0.0, 1.0, 0.0],
                          "age": [3, 4, 5, 6]})
    out = v.join_attributes(summary, attrs, columns=["web"])
    assert out["web"].tolist() == [0.0, 1.0, 1.0]
    assert "age" not in out and out.attrs["time_unit"] == "W"
    assert summary.columns.tolist() == ["frequency", "recency", "T"]  # a copy


def test_attributes_must_cover_every_customer_once():
    summary = _attribute_summary()
    with pytest.raises(v.InvalidValueError, match=(
            r"^column 'customer_id': 1 row with a customer without attributes; offending "
            r"rows \(up to 5\):\n(.|\n)*\n12 (.|\n)*every customer of the summary needs a "
            r"row of attributes$")):
        v.join_attributes(summary, pd.DataFrame({"web": [1.0, 0.0]}, index=[11, 13]))
    with pytest.raises(v.InvalidValueError, match=(
            r"^column 'customer_id': 2 rows with a customer id listed twice in the "
            r"attributes")):
        v.join_attributes(summary, pd.DataFrame({"web": [1.0, 0.0, 1.0, 1.0]},
                                                index=[11, 12, 13, 13]))
    with pytest.raises(v.InvalidOptionError, match=r"^the summary already has a column 'T'; "
                       r"drop it or rename the attribute$"):
        v.join_attributes(summary, pd.DataFrame({"T": [1.0, 0.0, 1.0]}, index=[11, 12, 13]))
    with pytest.raises(v.MissingColumnError, match=r"^attributes have no column 'age'$"):
        v.join_attributes(summary, pd.DataFrame({"web": [1.0] * 3}, index=[11, 12, 13]),
                          columns=["age"])
    with pytest.raises(v.InputError, match=r"^attributes must be a pandas DataFrame indexed "
                       r"by customer id, not dict$"):
        v.join_attributes(summary, {"web": [1.0]})


def test_covariates_are_numbers_for_every_customer():
    summary = _attribute_summary().assign(web=[True, False, True], score=[1, 2, 3])
    np.testing.assert_array_equal(v.check_covariates(summary, ["web", "score"]),
                                  [[1.0, 1.0], [0.0, 2.0], [1.0, 3.0]])
    with pytest.raises(v.InvalidValueError, match=(
            r"^column 'score': 1 row with a missing or infinite value of a covariate; "
            r"offending rows \(up to 5\):\n(.|\n)*\ncovariates must be numbers for every "
            r"customer: encode categories as 0/1 columns and fill or drop the missing "
            r"values first$")):
        v.check_covariates(summary.assign(score=[1.0, np.inf, 2.0]), ["score"])
