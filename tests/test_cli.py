"""The command line end to end on CDNOW: exit codes, files, atomic writes, stderr."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from lifevalue import cli
from lifevalue.models import BetaGeo


def run(*args, check_code=None):
    proc = subprocess.run([sys.executable, "-m", "lifevalue.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)
    if check_code is not None:
        assert proc.returncode == check_code, proc.stderr
    return proc


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory, cdnow_log):
    path = tmp_path_factory.mktemp("cli") / "cdnow.csv"
    cdnow_log[["customer_id", "date", "amount"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(cdnow_csv):
    out = cdnow_csv.parent / "model"
    proc = run("fit", cdnow_csv, "--out", out, "--calibration-end", "1997-09-30",
               "--observation-end", "1998-06-30", "--method", "map", check_code=0)
    assert proc.stdout.strip() == str(out)
    assert "fitting BetaGeo by map" in proc.stderr  # logging goes to stderr
    return out


def test_fit_writes_a_model_bundle(model_dir):
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(cli.BUNDLE_FILES)
    info = json.loads((model_dir / "fit.json").read_text())
    assert info["calibration_end"] == "1997-09-30" and info["customers"] == 2357
    bg, gg, _ = cli.load_bundle(model_dir)
    assert round(bg.point_estimate()["r"], 3) == 0.243
    assert round(gg.point_estimate()["p"], 2) == 6.25


def test_score_writes_every_customer(model_dir, cdnow_csv, tmp_path):
    out = tmp_path / "scores.parquet"
    toml = tmp_path / "push.toml"
    toml.write_text('name = "push"\npurchase_rate = 1.2\n')
    run("score", model_dir, cdnow_csv, "--calibration-end", "1997-09-30",
        "--observation-end", "1998-06-30", "--margin", "0.3", "--retention-cost", "0.5",
        "--scenario", toml, "--max-draws", "1", "--out", out, check_code=0)
    scores = pd.read_parquet(out)
    assert len(scores) == 2357 and scores.index.is_unique
    assert {"current_mean", "current_pred_lo", "potential_param_hi", "cell"} <= set(scores)
    assert (scores["growth_mean"] >= -1e-9).all()
    csv = tmp_path / "scores.csv"
    run("score", model_dir, cdnow_csv, "--calibration-end", "1997-09-30", "--max-draws", "1",
        "--out", csv, check_code=0)
    assert len(pd.read_csv(csv)) == 2357


def test_report_command(model_dir, cdnow_csv, tmp_path):
    out = tmp_path / "r.html"
    run("report", model_dir, cdnow_csv, "--calibration-end", "1997-09-30",
        "--observation-end", "1998-06-30", "--max-draws", "1", "--out", out, check_code=0)
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "Customer relationship matrix" in text
    assert "http://" not in text and "https://" not in text  # self-contained


def test_bad_input_exits_3_and_names_the_column(tmp_path, model_dir):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\n1,2024-01-01,5\n2,2024-01-02,-3\n")
    proc = run("fit", bad, "--out", tmp_path / "m", "--method", "map", check_code=3)
    assert "column 'amount': 1 row with a negative amount" in proc.stderr
    assert not (tmp_path / "m").exists()
    proc = run("score", tmp_path / "nowhere", bad, "--out", tmp_path / "s.csv", check_code=3)
    assert "lacks 'transactions_model.nc'" in proc.stderr
    proc = run("score", model_dir, bad, "--out", tmp_path / "s.txt", "--max-draws", "1",
               check_code=3)
    assert "write scores to a .csv or .parquet file" in proc.stderr
    proc = run("score", model_dir, bad, "--out", tmp_path / "s.csv", "--scenario", "heroic",
               check_code=3)
    assert "scenario preset 'heroic' is not one of" in proc.stderr
    proc = run("fit", bad, check_code=2)  # usage: --out is required
    assert "Missing option '--out'" in proc.stderr


def test_strict_fit_that_did_not_converge_exits_4_and_keeps_the_old_model(cdnow_csv,
                                                                            tmp_path):
    out = tmp_path / "model"
    run("fit", cdnow_csv, "--out", out, "--method", "map", check_code=0)
    before = (out / "transactions_model.nc").read_bytes()
    proc = run("fit", cdnow_csv, "--out", out, "--draws", "30", "--tune", "30", "--strict",
               "--no-progress", check_code=4)
    assert "not converged (--strict)" in proc.stderr and "ESS" in proc.stderr
    assert (out / "transactions_model.nc").read_bytes() == before
    assert BetaGeo.load(out / "transactions_model.nc").metadata_["method"] == "map"


def test_failed_write_leaves_no_partial_bundle(tmp_path, monkeypatch, cdnow_cal):
    bg = BetaGeo().fit(cdnow_cal, method="map")

    class Broken:
        def save(self, path):
            raise OSError("disk full")

    out = tmp_path / "model"
    with pytest.raises(OSError, match="disk full"):
        cli._write_bundle(out, bg, Broken(), {})
    assert list(tmp_path.iterdir()) == []


def test_score_a_summary_file(model_dir, cdnow_cal, tmp_path):
    path = tmp_path / "summary.csv"
    cdnow_cal.to_csv(path)
    out = tmp_path / "scores.csv"
    run("score", model_dir, path, "--summary", "--max-draws", "1", "--scenario", "neutral",
        "--out", out, check_code=0)
    scores = pd.read_csv(out, index_col="customer_id")
    assert len(scores) == 2357
    assert (scores["growth_mean"].abs() < 1e-9).all()  # neutral: potential == current
