"""The command line end to end on CDNOW: exit codes, files, options saved at fit, bad rows,
stderr. Commands run in this process (click's runner) so that the scoring kernels compile
once; test_files.py runs real child processes for kills and races."""

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import lifevalue
from lifevalue import cli, pipeline
from lifevalue.errors import ModelError
from lifevalue.models import BetaGeo

DATES = ("--calibration-end", "1997-09-30", "--observation-end", "1998-06-30")


@pytest.fixture(scope="module", autouse=True)
def keep_sigterm():
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def run(*args, code=0):
    result = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert result.exit_code == code, result.stderr + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory, cdnow_log):
    path = tmp_path_factory.mktemp("cli") / "cdnow.csv"
    cdnow_log[["customer_id", "date", "amount"]].rename(
        columns={"customer_id": "cust", "amount": "spend"}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(cdnow_csv):
    out = cdnow_csv.parent / "model"
    result = run("fit", cdnow_csv, "--out", out, *DATES, "--method", "map", "--customer-id",
                 "cust", "--amount", "spend", "--no-progress")
    assert result.stdout.strip() == str(out)
    assert "fitting BetaGeo by map" in result.stderr  # logging goes to stderr
    return out


def test_fit_writes_a_model_folder_with_its_options(model_dir):
    assert model_dir.is_symlink()  # swapped in atomically
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(cli.BUNDLE_FILES)
    info = json.loads((model_dir / "fit.json").read_text())
    assert info["calibration_end"] == "1997-09-30" and info["customers"] == 2357
    assert info["options"]["data"]["customer_id"] == "cust"
    assert info["options"]["data"]["calibration_end"] == "1997-09-30"
    bg, gg, _ = cli.load_bundle(model_dir)
    assert round(bg.point_estimate()["r"], 3) == 0.243
    assert round(gg.point_estimate()["p"], 2) == 6.25


def test_score_reuses_the_options_saved_at_fit(model_dir, cdnow_csv, tmp_path):
    out = tmp_path / "scores.csv"
    result = run("score", model_dir, cdnow_csv, "--margin", "0.3", "--max-draws", "1",
                 "--out", out)
    assert "customer_id = 'cust': as saved with the model at fit" in result.stderr
    assert "calibration_end = '1997-09-30': as saved with the model at fit" in result.stderr
    scores = pd.read_csv(out, index_col="cust")
    assert len(scores) == 2357 and scores.index.is_unique
    assert {"current_mean", "current_pred_lo", "cell", "pyramid"} <= set(scores)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # readable by others


def test_score_overrides_and_scenario_file(model_dir, cdnow_csv, tmp_path):
    out = tmp_path / "scores.parquet"
    toml = tmp_path / "push.toml"
    toml.write_text('name = "push"\npurchase_rate = 1.2\n')
    run("score", model_dir, cdnow_csv, "--calibration-end", "none", "--margin", "0.3",
        "--retention-cost", "0.5", "--scenario", toml, "--max-draws", "1", "--out", out)
    scores = pd.read_parquet(out)
    assert len(scores) == 2357 and (scores["growth_mean"] >= -1e-9).all()


def test_margin_must_be_given(model_dir, cdnow_csv, tmp_path):
    result = run("score", model_dir, cdnow_csv, "--out", tmp_path / "s.csv", code=3)
    assert ("--margin: the margin is required (a fraction of revenue in [0, 1]; give 1 to "
            "value revenue rather than profit) and was neither given nor saved with the "
            "model") in result.stderr
    assert not (tmp_path / "s.csv").exists()


def test_report_command(model_dir, cdnow_csv, tmp_path):
    out = tmp_path / "r.html"
    run("report", model_dir, cdnow_csv, "--margin", "1", "--max-draws", "1",
        "--calibration-end", "none", "--out", out)
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "Customer relationship matrix" in text
    assert "http://" not in text and "https://" not in text  # self-contained
    assert "Amounts are in the data's currency units" in text  # no --currency
    assert "Not checked against held-out data" in text  # --calibration-end none


def test_report_names_the_currency_and_checks_the_holdout(model_dir, cdnow_csv, tmp_path):
    out = tmp_path / "r.html"
    run("report", model_dir, cdnow_csv, "--margin", "0.3", "--max-draws", "50",
        "--currency", "EUR", "--out", out)
    text = out.read_text()
    assert "Amounts are in EUR" in text and " EUR over the next 12 months" in text
    assert "Holdout check: over the 39 weeks after the data" in text  # calibration end saved
    assert text.count("data:text/csv;charset=utf-8;base64,") == 3


@pytest.mark.parametrize("name,cls,label", [("mbgnbd", "ModifiedBetaGeo", "MBG/NBD"),
                                            ("paretonbd", "ParetoNBD", "Pareto/NBD")])
def test_fit_score_and_report_with_another_model(cdnow_csv, tmp_path, name, cls, label):
    """--model is saved in fit.json; score and report value with that model, whose
    one-time buyers may have churned."""
    from lifevalue import models

    out = tmp_path / name
    run("fit", cdnow_csv, "--out", out, *DATES, "--method", "map", "--customer-id", "cust",
        "--amount", "spend", "--model", name, "--no-progress")
    assert json.loads((out / "fit.json").read_text())["options"]["fit"]["model"] == name
    model, _, _ = cli.load_bundle(out)
    assert type(model) is getattr(models, cls)
    scores = tmp_path / "scores.csv"
    run("score", out, cdnow_csv, "--margin", "0.3", "--max-draws", "1", "--out", scores)
    frame = pd.read_csv(scores, index_col="cust")
    summary = lifevalue.calibration_part(lifevalue.summarize(
        pd.read_csv(cdnow_csv), customer_id="cust", amount="spend",
        calibration_end="1997-09-30", observation_end="1998-06-30"))
    one_time = summary.index[summary["frequency"] == 0]
    assert len(frame) == 2357 and (frame.loc[one_time, "p_alive_mean"] < 1).all()
    pd.testing.assert_series_equal(frame["p_alive_mean"].sort_index(), model.p_alive(
        summary)["p_alive_mean"].sort_index(), check_names=False, rtol=1e-9)
    report = tmp_path / "r.html"
    run("report", out, cdnow_csv, "--margin", "0.3", "--max-draws", "20", "--out", report)
    assert f"Purchases and dropout ({label})" in report.read_text()


def test_a_model_folder_naming_an_unknown_model_is_refused(model_dir, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(model_dir.resolve(), copy)
    info = json.loads((copy / "fit.json").read_text())
    info["options"]["fit"]["model"] = "bgbb"
    (copy / "fit.json").write_text(json.dumps(info))
    with pytest.raises(lifevalue.validation.InputError, match=r"fit\.json names the "
                       r"transaction model 'bgbb', which lifevalue cannot value \(known: "
                       r"bgnbd, mbgnbd, paretonbd\)$"):
        cli.load_bundle(copy)


def test_demo_uses_the_defaults_and_lists_every_file_it_wrote(tmp_path, monkeypatch):
    calls = []
    real = pipeline.fit_models

    def fit_models(summary, method="mcmc", draws=None, tune=None, chains=None, sampler=None,
                   *args):
        calls.append((method, draws, tune, chains, sampler))
        return real(summary, method, draws, tune, chains, sampler, *args)

    monkeypatch.setattr(pipeline, "fit_models", fit_models)
    result = run("demo", "--out-dir", tmp_path / "out", "--no-progress")
    assert calls == [("mcmc", None, None, None, None)]  # the library's defaults
    for n in range(1, 7):
        assert f"[{n}/6" in result.stdout
    listed = result.stdout.split("Files written:")[1].split()
    names = sorted(p.split("/")[-1] for p in listed)
    assert names == sorted(["transactions_model.nc", "spend_model.nc", "fit.json",
                            "cdnow_scores.csv", "cdnow_report.html"])
    for path in listed:
        assert Path(path).is_absolute() and Path(path).is_file()
    out = tmp_path / "out"
    written = sorted(p.name for folder in (out, out / "cdnow_model") for p in folder.iterdir()
                     if p.is_file() and not p.name.startswith("."))
    assert written == names  # nothing written that is not listed
    report = (tmp_path / "out" / "cdnow_report.html").read_text()
    assert "Amounts are in USD" in report
    # the three purchase models, compared on the holdout period
    models = report.split('id="models"')[1]
    assert all(name in models for name in ("BG/NBD", "MBG/NBD", "Pareto/NBD"))
    # and which of them the values use, and how to use another
    assert "The values in this report use the BG/NBD. To value with another model" in models


def test_bad_input_exits_3_and_names_the_column(tmp_path, model_dir):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\n1,2024-01-01,5\n2,2024-01-02,abc\n")
    result = run("fit", bad, "--out", tmp_path / "m", "--method", "map", code=3)
    assert "column 'amount'" in result.stderr
    assert not (tmp_path / "m").exists()
    result = run("score", tmp_path / "nowhere", bad, "--out", tmp_path / "s.csv", code=3)
    assert "lacks 'transactions_model.nc'" in result.stderr
    result = run("score", model_dir, bad, "--out", tmp_path / "s.txt", code=3)
    assert "write scores to a .csv or .parquet file" in result.stderr
    result = run("score", model_dir, bad, "--margin", "1", "--out", tmp_path / "s.csv",
                 "--scenario", "heroic", code=3)
    assert "scenario preset 'heroic' is not one of" in result.stderr
    result = run("fit", bad, code=2)  # usage: --out is required
    assert "Missing option '--out'" in result.stderr


def test_a_model_that_cannot_value_the_customers_exits_5(model_dir, cdnow_csv, tmp_path,
                                                         monkeypatch):
    def infinite(*args, **kwargs):
        from lifevalue.models.predictions import expected_spend

        return expected_spend(1.0, 0.5, 10.0, 0, 0.0)  # p x + q = 0.5 <= 1

    with pytest.raises(ModelError, match="expected spend is infinite"):
        infinite()
    monkeypatch.setattr(pipeline, "evaluate", infinite)
    result = run("score", model_dir, cdnow_csv, "--margin", "1", "--out", tmp_path / "s.csv",
                 code=5)
    assert "the model cannot value these customers: expected spend is infinite" \
        in result.stderr


def test_rejected_rows_go_to_the_rejects_file(model_dir, cdnow_csv, tmp_path, monkeypatch):
    real = lifevalue.summarize

    def summarize(transactions, *, on_bad_rows="error", **kwargs):  # the contract
        frame = pd.read_csv(transactions)
        bad = frame.index[:3]
        summary = real(frame.drop(bad), **kwargs)
        if on_bad_rows == "reject":
            summary.attrs["rejected_rows"] = frame.loc[bad].assign(reason="negative amount")
            summary.attrs["row_rules"] = {"negative amount": 3}
        return summary

    monkeypatch.setattr(lifevalue, "summarize", summarize)
    out = tmp_path / "s.csv"
    result = run("score", model_dir, cdnow_csv, "--margin", "1", "--max-draws", "1",
                 "--calibration-end", "none", "--on-bad-rows", "reject", "--out", out)
    rejects = pd.read_csv(tmp_path / "s.csv.rejects.csv")
    assert len(rejects) == 3 and list(rejects.columns) == ["cust", "date", "spend", "reason"]
    assert "row rule negative amount: 3 rows" in result.stderr
    assert "3 rejected rows written to" in result.stderr
    run("score", model_dir, cdnow_csv, "--margin", "1", "--max-draws", "1", "--on-bad-rows",
        "reject", "--calibration-end", "none", "--rejects", tmp_path / "bad.csv", "--out", out)
    assert len(pd.read_csv(tmp_path / "bad.csv")) == 3


def test_strict_fit_that_did_not_converge_exits_4_and_keeps_the_old_model(cdnow_csv,
                                                                            tmp_path):
    out = tmp_path / "model"
    args = ("--customer-id", "cust", "--amount", "spend", "--no-progress")
    run("fit", cdnow_csv, "--out", out, "--method", "map", *args)
    before = (out / "transactions_model.nc").read_bytes()
    result = run("fit", cdnow_csv, "--out", out, "--draws", "30", "--tune", "30", "--strict",
                 *args, code=4)
    assert "not converged (--strict)" in result.stderr and "ESS" in result.stderr
    assert (out / "transactions_model.nc").read_bytes() == before
    assert BetaGeo.load(out / "transactions_model.nc").metadata_["method"] == "map"


def test_failed_write_leaves_no_partial_bundle(tmp_path, cdnow_cal):
    bg = BetaGeo().fit(cdnow_cal, method="map")

    class Broken:
        def save(self, path):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cli._write_bundle(tmp_path / "model", bg, Broken(), {})
    assert list(tmp_path.iterdir()) == []


def test_score_a_summary_file(model_dir, cdnow_cal, tmp_path):
    path = tmp_path / "summary.csv"
    cdnow_cal.rename_axis("cust").to_csv(path)
    out = tmp_path / "scores.csv"
    run("score", model_dir, path, "--summary", "--margin", "1", "--max-draws", "1",
        "--scenario", "neutral", "--out", out)
    scores = pd.read_csv(out, index_col="cust")
    assert len(scores) == 2357
    assert (scores["growth_mean"].abs() < 1e-9).all()  # neutral: potential == current


def test_every_option_is_documented():
    for name, command in cli.main.commands.items():
        assert command.help, name
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{name} {param.opts}"
    proc = subprocess.run([sys.executable, "-m", "lifevalue.cli", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "5 the model cannot value these customers" in proc.stdout
    for name in ("fit", "score", "report", "run", "compare", "compare-models", "demo"):
        assert name in proc.stdout


def test_cdnow_master_log_goes_through_fit_score_report(tmp_path):
    """The whole CDNOW master log (23,570 customers) as delivered, with its $0.00 repeat
    purchase (customer 10244): fit, score and report run with no manual cleaning, and
    every customer comes out."""
    log = lifevalue.datasets.load_cdnow_transactions("master")
    csv = tmp_path / "master.csv"
    log[["customer_id", "date", "amount"]].to_csv(csv, index=False)
    model = tmp_path / "model"
    fitted = run("fit", csv, "--out", model, "--observation-end", "1998-06-30", "--method",
                 "map", "--no-progress")
    assert "1 repeat customer with a mean spend of 0 left out of the Gamma-Gamma fit" in \
        fitted.stderr and "10244" in fitted.stderr
    scores = tmp_path / "scores.csv"
    run("score", model, csv, "--margin", "0.3", "--retention-cost", "0.5", "--max-draws",
        "50", "--out", scores)
    table = pd.read_csv(scores, index_col=0)
    assert len(table) == 23570 and table.index.is_unique
    assert pd.api.types.is_numeric_dtype(table["current_mean"])
    assert table["current_mean"].notna().all() and 10244 in table.index
    report = tmp_path / "report.html"
    run("report", model, csv, "--margin", "0.3", "--max-draws", "50", "--out", report)
    assert report.stat().st_size > 10_000 and "23,570" in report.read_text()


def test_compare_models_ranks_the_transaction_models(cdnow_csv, tmp_path):
    out = tmp_path / "models.csv"
    result = run("compare-models", cdnow_csv, *DATES, "--customer-id", "cust", "--amount",
                 "spend", "--method", "map", "--out", out)
    table = pd.read_csv(out, index_col=0)
    assert sorted(table.index) == ["bgnbd", "mbgnbd", "paretonbd"]
    assert table["rank"].tolist() == [1, 2, 3] and table["mae"].is_monotonic_increasing
    assert table["actual_total"].eq(1882).all()  # CDNOW's holdout purchases
    assert result.stdout.splitlines()[0].split()[:2] == ["rank", "elpd_loo"]
    assert "fitting ParetoNBD by map" in result.stderr


def test_compare_models_needs_a_holdout_and_named_models(cdnow_csv):
    result = run("compare-models", cdnow_csv, "--customer-id", "cust", "--amount", "spend",
                 "--method", "map", code=3)
    assert ("compare-models needs --calibration-end: the models are scored on the holdout "
            "period after it") in result.stderr
    run("compare-models", cdnow_csv, "--model", "nbd", code=2)


def test_covariates_from_an_attributes_file(cdnow_csv, tmp_path):
    """--attributes joins the customers' attributes; the covariates are saved with the
    model and score reuses the attributes file saved at fit. Scores equal the Python
    API's on the same joined summary."""
    import numpy as np

    ids = pd.read_csv(cdnow_csv)["cust"].unique()
    attrs = pd.DataFrame({"cust": ids, "web": (np.arange(len(ids)) % 3 == 0).astype(int)})
    attrs_path = tmp_path / "attrs.csv"
    attrs.to_csv(attrs_path, index=False)
    out = tmp_path / "cov"
    run("fit", cdnow_csv, "--out", out, *DATES, "--method", "map", "--customer-id", "cust",
        "--amount", "spend", "--attributes", attrs_path, "--purchase-covariates", "web",
        "--dropout-covariates", "web", "--no-progress")
    info = json.loads((out / "fit.json").read_text())["options"]
    assert info["fit"]["purchase_covariates"] == ["web"]
    assert info["data"]["attributes"] == str(attrs_path)
    model, spend, _ = cli.load_bundle(out)
    assert model.param_names[4:] == ("alpha[web]", "a[web]", "b[web]")
    scores = tmp_path / "scores.csv"
    run("score", out, cdnow_csv, "--margin", "0.3", "--max-draws", "1", "--no-comparisons",
        "--out", scores)
    frame = pd.read_csv(scores, index_col="cust")
    summary = lifevalue.calibration_part(lifevalue.summarize(
        pd.read_csv(cdnow_csv), customer_id="cust", amount="spend",
        calibration_end="1997-09-30", observation_end="1998-06-30"))
    summary = lifevalue.join_attributes(summary, attrs.set_index("cust"))
    expected = lifevalue.CustomerValue(model, spend, margin=0.3, max_draws=1).evaluate(summary)
    pd.testing.assert_series_equal(frame["current_mean"].sort_index(),
                                   expected.customers["current_mean"].sort_index(),
                                   check_names=False, rtol=1e-9)
    # a customer without attributes: exit 3, the id named
    attrs.iloc[1:].to_csv(attrs_path, index=False)
    result = run("score", out, cdnow_csv, "--margin", "0.3", "--out", scores, code=3)
    assert "1 row with a customer without attributes" in result.stderr
    assert f"\n{ids[0]} " in result.stderr
    result = run("fit", cdnow_csv, "--out", tmp_path / "no", "--method", "map",
                 "--purchase-covariates", "web", "--customer-id", "cust", "--amount", "spend",
                 code=3)
    assert "covariates need the customers' attributes: give --attributes FILE" in result.stderr
