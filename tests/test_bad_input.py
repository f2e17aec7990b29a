"""The bad-input catalogue (docs/bad_input.md): summaries, value options, scenarios,
model files and command-line arguments. Each kind gets an InputError whose message
names the column or option and the rows; the tests match the messages exactly.

Transaction-log errors are in tests/test_validation.py, model-file errors also in
tests/models/test_base.py; this file covers the rest of the catalogue and the paths
through which a user meets them (fit, scoring, value, CLI).
"""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import lifevalue as lv
from lifevalue import cli
from lifevalue import validation as v
from lifevalue.value import Scenario

HEAD = r"; offending rows \(up to 5\):\n"


def _summary(changes=None):
    s = pd.DataFrame({
        "frequency": [0, 2, 1, 4, 0, 3],
        "recency": [0.0, 5.0, 3.0, 8.0, 0.0, 6.0],
        "T": [10.0, 10.0, 8.0, 12.0, 4.0, 9.0],
        "monetary_value": [0.0, 3.0, 4.0, 10.0, 0.0, 7.5],
    }, index=pd.Index(["a", "b", "c", "d", "e", "f"], name="customer_id"))
    for (col, row), value in (changes or {}).items():
        s[col] = s[col].astype(object if isinstance(value, str) else "float64")
        s.loc[row, col] = value
    s.attrs["time_unit"] = "W"
    return s


@pytest.fixture(scope="module")
def maps(cdnow_cal):
    return lv.BetaGeo().fit(cdnow_cal, method="map"), lv.GammaGamma().fit(cdnow_cal,
                                                                          method="map")


# (summary, message, offending row labels); every one goes through fit, p_alive and value
SUMMARY_CASES = {
    "duplicated customer": (
        pd.concat([_summary(), _summary().iloc[[1]]]),
        r"^column 'customer_id': 2 rows with a duplicated customer id" + HEAD, ["b", "b"]),
    "recency greater than T": (
        _summary({("recency", "c"): 9.0}),
        r"^column 'recency': 1 row with a recency greater than T" + HEAD, ["c"]),
    "frequency not a whole number": (
        _summary({("frequency", "b"): 2.5, ("frequency", "d"): 0.1}),
        r"^column 'frequency': 2 rows with a frequency that is not a whole number" + HEAD,
        ["b", "d"]),
    "negative monetary value": (
        _summary({("monetary_value", "f"): -3.0}),
        r"^column 'monetary_value': 1 row with a negative value" + HEAD, ["f"]),
    "negative value": (
        _summary({("T", "e"): -4.0}),
        r"^column 'T': 1 row with a negative value" + HEAD, ["e"]),
    "missing or infinite value": (
        _summary({("recency", "b"): np.nan, ("recency", "d"): np.inf}),
        r"^column 'recency': 2 rows with a missing \(NaN\) or infinite value" + HEAD,
        ["b", "d"]),
    "non-numeric value": (
        _summary({("T", "a"): "ten"}),
        r"^column 'T': 1 row with a non-numeric value" + HEAD, ["a"]),
    "recency without a repeat purchase": (
        _summary({("recency", "a"): 2.0}),
        r"^column 'recency': 1 row with a non-zero recency but no repeat purchase" + HEAD,
        ["a"]),
}


@pytest.mark.parametrize("kind", list(SUMMARY_CASES))
def test_bad_summary_everywhere(kind, maps):
    summary, match, rows = SUMMARY_CASES[kind]
    bg, gg = maps
    calls = {
        "CustomerValue.evaluate": lambda: lv.CustomerValue(bg, gg, max_draws=1).evaluate(
            summary),
    }
    if kind != "negative monetary value":  # BG/NBD reads no spend
        calls["BetaGeo.fit"] = lambda: lv.BetaGeo().fit(summary, method="map")
        calls["p_alive"] = lambda: bg.p_alive(summary)
        calls["expected_purchases"] = lambda: bg.expected_purchases(summary, 4.0)
    if kind in ("frequency not a whole number", "negative monetary value",
                "duplicated customer"):  # Gamma-Gamma reads frequency and spend only
        calls["GammaGamma.fit"] = lambda: lv.GammaGamma().fit(summary, method="map")
        calls["expected_spend"] = lambda: gg.expected_spend(summary)
    for where, call in calls.items():
        with pytest.raises(v.InvalidValueError, match=match) as info:
            call()
        err = info.value
        assert list(err.rows.index) == rows, where
        assert err.column == match.split("'")[1], where


def test_empty_summary_and_missing_column(maps):
    bg, _ = maps
    with pytest.raises(v.EmptyInputError, match=r"^the summary is empty: no customers$"):
        bg.p_alive(_summary().iloc[:0])
    with pytest.raises(v.MissingColumnError, match=r"^missing column 'recency': the summary "
                       r"have columns \['frequency', 'T', 'monetary_value'\]$") as info:
        lv.BetaGeo().fit(_summary().drop(columns="recency"), method="map")
    assert info.value.column == "recency"
    with pytest.raises(v.InputError, match=r"^the summary must be a pandas DataFrame, not "
                       r"list$"):
        bg.p_alive([[0, 0.0, 1.0]])


def test_summary_in_another_time_unit_than_the_model(maps):
    bg, gg = maps  # fitted on CDNOW in weeks
    days = _summary()
    days.attrs["time_unit"] = "D"
    match = (r"^the summary is in time_unit 'D' \(days\) but the model was fitted in 'W' "
             r"\(weeks\); summarise again with the model's time_unit$")
    for call in (lambda: bg.p_alive(days), lambda: bg.expected_purchases(days, 4.0),
                 lambda: lv.CustomerValue(bg, gg, max_draws=1).evaluate(days)):
        with pytest.raises(v.InvalidOptionError, match=match) as info:
            call()
        assert info.value.column == "time_unit"


def test_gamma_gamma_without_repeat_customers():
    s = _summary()
    s["frequency"], s["recency"], s["monetary_value"] = 0, 0.0, 0.0
    with pytest.raises(v.InputError, match=r"Gamma-Gamma needs repeat customers"):
        lv.GammaGamma().fit(s, method="map")


@pytest.mark.parametrize("kwargs,match,column", [
    (dict(margin=1.2), r"^margin must be a fraction in \[0, 1\], got 1.2$", "margin"),
    (dict(margin=[0.3] * 11 + [-0.1]), r"^margin must be a fraction in \[0, 1\], got \[0.3, ",
     "margin"),
    (dict(development_cost=-5.0), r"^development_cost must be >= 0, got -5.0$",
     "development_cost"),
    (dict(annual_discount_rate=-0.02),
     r"^annual_discount_rate must be a finite number >= 0, got -0.02$", "annual_discount_rate"),
    (dict(horizon=0), r"^horizon must be a whole number of periods >= 1, got 0$", "horizon"),
    (dict(period="D"), r"^period 'D' is not one of 'W' \(weeks\), 'M' \(months\), "
     r"'Q' \(quarters\), 'Y' \(years\)$", "period"),
    (dict(ci=0.0), r"^ci must be a number strictly between 0 and 1, got 0.0$", "ci"),
])
def test_bad_value_options(maps, kwargs, match, column):
    with pytest.raises(v.InvalidOptionError, match=match) as info:
        lv.CustomerValue(*maps, **kwargs)
    assert info.value.column == column


def test_bad_per_customer_settings(maps):
    s = _summary()
    bg, gg = maps
    s.attrs["time_unit"] = "W"
    with pytest.raises(v.InvalidValueError, match=r"^column 'cost': 1 row with a missing, "
                       r"non-numeric or negative value" + HEAD) as info:
        lv.CustomerValue(bg, gg, retention_cost="cost", max_draws=1).evaluate(
            s.assign(cost=[0.1, 0.2, -0.3, 0.0, 0.1, 0.1]))
    assert list(info.value.rows.index) == ["c"]
    margin = pd.Series(0.3, index=["a", "b", "c"])
    with pytest.raises(v.InvalidValueError, match=r"^column 'margin': 3 rows with no value "
                       r"for this customer" + HEAD) as info:
        lv.CustomerValue(bg, gg, margin=margin, max_draws=1).evaluate(s)
    assert list(info.value.rows["customer"]) == ["d", "e", "f"]


@pytest.mark.parametrize("spec,match,column", [
    ({"purchase_rate": 1.1, "loyalty": 2}, r"^scenario names unknown field 'loyalty'; fields "
     r"are \['benchmark_rate', 'benchmark_retention', 'benchmark_spend', 'development_cost', ",
     "loyalty"),
    ({"name": "x", "spend": "lots"}, None, None),  # a column name: checked at evaluation
    ({"name": "x", "margin": -0.5}, r"^scenario 'x': margin must be a number >= 0, a Series "
     r"or a column name, got -0.5$", "margin"),
    ({"name": "x", "purchase_rate": 0}, r"^scenario 'x': purchase_rate must be > 0$",
     "purchase_rate"),
    ({"name": "x", "target_share_of_wallet": 0}, r"^scenario 'x': target_share_of_wallet must "
     r"be in \(0, 1\], got 0$", "target_share_of_wallet"),
    ({"preset": "optimistic"}, r"^scenario preset 'optimistic' is not one of \['ambitious', "
     r"'defensive', 'neutral', 'realistic'\]$", "scenario"),
])
def test_bad_scenarios(spec, match, column, maps):
    if match is None:
        scenario = Scenario.from_dict(spec)
        with pytest.raises(v.MissingColumnError, match=r"^missing column 'lots' named by "
                           r"scenario spend$"):
            lv.CustomerValue(*maps, max_draws=1).evaluate(_summary(), scenario)
        return
    with pytest.raises(v.InvalidOptionError, match=match) as info:
        Scenario.from_dict(spec)
    assert info.value.column == column


# ------------------------------------------------------------------ command line


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, maps):
    out = tmp_path_factory.mktemp("bad_cli") / "model"
    cli._write_bundle(out, *maps, {"time_unit": "W"})
    return out


def _cli(*args):
    args = [str(a) for a in args]
    if args[0] in ("score", "report") and "--margin" not in args:
        args += ["--margin", "0.3"]  # required: lifevalue does not assume value = revenue
    result = CliRunner().invoke(cli.main, args)
    return result.exit_code, result.stderr


@pytest.fixture(scope="module")
def summary_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad_cli_data") / "summary.csv"
    _summary().to_csv(path)
    return path


def test_cli_bad_value_options_exit_3(bundle, summary_csv, tmp_path):
    out = tmp_path / "s.csv"
    for option, value, message in [
        ("--margin", "1.5", "margin must be a fraction in [0, 1], got 1.5"),
        ("--horizon", "0", "horizon must be a whole number of periods >= 1, got 0"),
        ("--discount-rate", "-0.1", "annual_discount_rate must be a finite number >= 0, got "
         "-0.1"),
        ("--ci", "1.5", "ci must be a number strictly between 0 and 1, got 1.5"),
        ("--retention-cost", "-1", "retention_cost must be >= 0, got -1.0"),
    ]:
        code, err = _cli("score", bundle, summary_csv, "--summary", "--max-draws", "1",
                         option, value, "--out", out)
        assert code == cli.EXIT_INPUT, (option, err)
        assert message in err, option
        assert not out.exists()


def test_cli_bad_summary_and_time_unit_exit_3(bundle, tmp_path):
    bad = tmp_path / "bad.csv"
    _summary({("recency", "c"): 9.0}).to_csv(bad)
    out = tmp_path / "s.csv"
    code, err = _cli("score", bundle, bad, "--summary", "--max-draws", "1", "--out", out)
    assert code == cli.EXIT_INPUT
    assert "column 'recency': 1 row with a recency greater than T; offending rows" in err
    assert "\nc " in err  # the row, by customer id
    good = tmp_path / "good.csv"
    _summary().to_csv(good)
    code, err = _cli("score", bundle, good, "--summary", "--time-unit", "D", "--max-draws",
                     "1", "--out", out)
    assert code == cli.EXIT_INPUT
    assert "the summary is in time_unit 'D' (days) but the model was fitted in 'W'" in err
    code, err = _cli("score", bundle, tmp_path / "none.csv", "--summary", "--out", out)
    assert code == cli.EXIT_INPUT and "summary file" in err and "does not exist" in err


def test_cli_bad_scenario_file_exit_3(bundle, summary_csv, tmp_path):
    toml = tmp_path / "push.toml"
    toml.write_text('name = "push"\nloyalty = 2\n')
    code, err = _cli("score", bundle, summary_csv, "--summary", "--scenario", toml,
                     "--out", tmp_path / "s.csv")
    assert code == cli.EXIT_INPUT
    assert "scenario names unknown field 'loyalty'" in err
    toml.write_text("name = \n")
    code, err = _cli("score", bundle, summary_csv, "--summary", "--scenario", toml,
                     "--out", tmp_path / "s.csv")
    assert code == cli.EXIT_INPUT and "is not valid TOML" in err


def test_cli_truncated_or_foreign_model_exit_3(bundle, summary_csv, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    data = (broken / "spend_model.nc").read_bytes()
    (broken / "spend_model.nc").write_bytes(data[: len(data) // 3])
    code, err = _cli("score", broken, summary_csv, "--summary", "--out", tmp_path / "s.csv")
    assert code == cli.EXIT_INPUT
    assert "spend_model.nc' is truncated, corrupt or not a lifevalue model" in err
    # the two files swapped: a BetaGeo where the GammaGamma belongs
    shutil.copy(bundle / "transactions_model.nc", broken / "spend_model.nc")
    code, err = _cli("score", broken, summary_csv, "--summary", "--out", tmp_path / "s.csv")
    assert code == cli.EXIT_INPUT and "holds a BetaGeo, not a GammaGamma" in err
    # a model saved by an incompatible version of lifevalue
    bg = lv.BetaGeo.load(bundle / "transactions_model.nc")
    old = bg.idata_.copy()
    old.posterior.attrs["lifevalue_metadata"] = json.dumps(dict(bg.metadata_,
                                                               format_version=99))
    shutil.copy(bundle / "spend_model.nc", broken / "spend_model.nc")
    (broken / "transactions_model.nc").unlink()
    old.to_netcdf(broken / "transactions_model.nc")
    code, err = _cli("score", broken, summary_csv, "--summary", "--out", tmp_path / "s.csv")
    assert code == cli.EXIT_INPUT and "in format 99; this lifevalue" in err


def test_cli_usage_errors_exit_2(bundle, summary_csv, tmp_path):
    code, err = _cli("score", bundle, summary_csv, "--summary", "--period", "D", "--out",
                     tmp_path / "s.csv")
    assert code == 2 and "Invalid value for '--period'" in err
    code, err = _cli("fit", summary_csv, "--time-unit", "Q", "--out", tmp_path / "m")
    assert code == 2 and "Invalid value for '--time-unit'" in err
    code, err = _cli("score", bundle, summary_csv, "--horizon", "twelve", "--out",
                     tmp_path / "s.csv")
    assert code == 2 and "'twelve' is not a valid integer" in err
