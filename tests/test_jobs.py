"""Job files: strict checks with messages naming the key, and `lifevalue run` end to end."""

import json
import signal
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from lifevalue import cli, jobs
from lifevalue.errors import JobFileError

GOOD = """
[input]
transactions = "log.csv"
observation_end = 1998-06-30
[fit]
out = "model"
method = "map"
[value]
margin = 0.3
max_draws = 1
"""


@pytest.fixture(scope="module", autouse=True)
def keep_sigterm():
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def test_a_good_job_gets_its_defaults_and_paths(tmp_path):
    job = jobs.parse_job(GOOD, base=tmp_path)
    assert job["input"]["transactions"] == str(tmp_path / "log.csv")
    assert job["input"]["observation_end"] == "1998-06-30"  # a TOML date
    assert job["fit"]["method"] == "map" and job["value"]["margin"] == 0.3
    assert job["value"]["horizon"] == 12 and "score" not in job
    assert job["input"]["attributes"] is None and job["fit"]["purchase_covariates"] == []
    with_covariates = jobs.parse_job(GOOD.replace('method = "map"', 'method = "map"\n'
                                                  'dropout_covariates = ["web", "tier"]')
                                     .replace("[fit]", 'attributes = "a.csv"\n[fit]'),
                                     base=tmp_path)
    assert with_covariates["fit"]["dropout_covariates"] == ["web", "tier"]
    assert with_covariates["input"]["attributes"] == str(tmp_path / "a.csv")


@pytest.mark.parametrize("edit, message", [
    (("max_draws = 1", "max_drawz = 1"),
     "job.toml: unknown key 'value.max_drawz' (known in [value]: margin, development_cost"),
    (('method = "map"', 'method = "nuts"'),
     "job.toml: 'fit.method' must be one of 'mcmc', 'map', 'laplace', got 'nuts'"),
    (('method = "map"', 'method = "map"\nmodel = "bgbb"'),
     "job.toml: 'fit.model' must be one of 'bgnbd', 'mbgnbd', 'paretonbd', got 'bgbb'"),
    (("max_draws = 1", 'max_draws = "1"'),
     "job.toml: 'value.max_draws' must be an integer, got '1' (str)"),
    (("max_draws = 1", "max_draws = true"),
     "job.toml: 'value.max_draws' must be an integer, got True (bool)"),
    (("margin = 0.3", ""), "job.toml: missing required key 'value.margin'"),
    (('out = "model"', ""), "job.toml: missing required key 'fit.out'"),
    (("[value]", "[valeu]"), "job.toml: unknown section [valeu] (known: input, fit, value"),
    (("[fit]", "[score]\nout = 's.csv'\n[fit]"), None),
    (("margin = 0.3", "margin = 0.3\nmargin = 0.4"), "job.toml is not valid TOML:"),
    (('method = "map"', 'method = "map"\npurchase_covariates = "web"'),
     "job.toml: 'fit.purchase_covariates' must be a list of column names, got 'web' (str)"),
])
def test_bad_job_files_name_the_key(edit, message):
    text = GOOD.replace(*edit)
    if message is None:
        assert jobs.parse_job(text, name="job.toml")["score"]["out"].endswith("s.csv")
        return
    with pytest.raises(JobFileError) as info:
        jobs.parse_job(text, name="job.toml")
    assert str(info.value).startswith(message)


def test_missing_section_and_missing_file(tmp_path):
    with pytest.raises(JobFileError, match=r"^job.toml: missing required section \[input\]$"):
        jobs.parse_job('[fit]\nout = "m"\n[value]\nmargin = 1\n', name="job.toml")
    with pytest.raises(JobFileError, match="does not exist"):
        jobs.load_job(tmp_path / "nope.toml")


def test_an_invalid_job_exits_3(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text(GOOD.replace("max_draws = 1", "max_drawz = 1"))
    proc = subprocess.run([sys.executable, "-m", "lifevalue.cli", "run", path],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert f"{path}: unknown key 'value.max_drawz'" in proc.stderr


def test_run_fits_scores_reports_and_compares(tmp_path, cdnow_log):
    cdnow_log[["customer_id", "date", "amount"]].to_csv(tmp_path / "log.csv", index=False)
    job = tmp_path / "job.toml"
    job.write_text(GOOD + '[score]\nout = "scores.csv"\n[report]\nout = "report.html"\n'
                   'currency = "EUR"\n'
                   '[compare]\nprevious = "scores.csv"\nout = "changes.csv"\n')
    runner = CliRunner()
    first = runner.invoke(cli.main, ["run", str(job)])
    assert first.exit_code == 0, first.stderr
    assert "compare.previous" in first.stderr and "a first run?" in first.stderr
    scores = pd.read_csv(tmp_path / "scores.csv", index_col=0)
    assert len(scores) == 2357 and (tmp_path / "report.html").exists()
    assert "Amounts are in EUR." in (tmp_path / "report.html").read_text()
    # comparisons by default: rank intervals, P(top 20%), level probabilities
    levels = scores[["p_top", "p_big", "p_medium", "p_small", "p_inactive"]].sum(axis=1)
    assert levels.round(9).eq(1.0).all()
    assert (scores["rank_param_lo"] <= scores["rank_param_hi"]).all()
    assert scores["most_likely_level"].isin(["top", "big", "medium", "small",
                                             "inactive"]).all()
    info = json.loads((tmp_path / "model" / "fit.json").read_text())
    assert info["options"]["value"]["margin"] == 0.3  # saved with the model
    second = runner.invoke(cli.main, ["run", str(job)])
    assert second.exit_code == 0, second.stderr
    assert "compare: customers: 2,357 in both runs, 0 new, 0 gone" in second.stderr
    assert len(pd.read_csv(tmp_path / "changes.csv")) == 2357
    # score reuses the value options saved by the job: no --margin needed
    out = tmp_path / "again.csv"
    again = runner.invoke(cli.main, ["score", str(tmp_path / "model"),
                                     str(tmp_path / "log.csv"), "--out", str(out)])
    assert again.exit_code == 0, again.stderr
    assert "value option margin = 0.3: as saved with the model at fit" in again.stderr
    pd.testing.assert_series_equal(pd.read_csv(out, index_col=0)["current_mean"],
                                   scores["current_mean"])


def test_run_values_with_the_transaction_model_of_the_job(tmp_path, cdnow_log):
    cdnow_log[["customer_id", "date", "amount"]].to_csv(tmp_path / "log.csv", index=False)
    job = tmp_path / "job.toml"
    job.write_text(GOOD.replace('method = "map"', 'method = "map"\nmodel = "mbgnbd"')
                   + 'comparisons = false\n[score]\nout = "scores.csv"\n')
    result = CliRunner().invoke(cli.main, ["run", str(job)])
    assert result.exit_code == 0, result.stderr
    assert "fitting ModifiedBetaGeo by map" in result.stderr
    scores = pd.read_csv(tmp_path / "scores.csv", index_col=0)
    # under the MBG/NBD a customer without repeat purchases is not certainly alive
    assert len(scores) == 2357 and scores["p_alive_mean"].max() < 1


def test_run_without_comparisons_writes_no_rank_columns(tmp_path, cdnow_log):
    cdnow_log[["customer_id", "date", "amount"]].to_csv(tmp_path / "log.csv", index=False)
    job = tmp_path / "job.toml"
    job.write_text(GOOD + 'comparisons = false\n[score]\nout = "scores.csv"\n')
    result = CliRunner().invoke(cli.main, ["run", str(job)])
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "scores.csv", index_col=0)
    assert len(scores) == 2357 and "p_develop" in scores
    assert not scores.columns.str.startswith(("rank_", "p_top")).any()
