"""MLflow logging against a local file store (no server)."""

import os
import signal

import pytest
from click.testing import CliRunner

from lifevalue import cli, pipeline, tracking

if os.environ.get("CI", "").lower() == "true":
    import mlflow  # in CI the mlflow extra must be installed: fail, do not skip
else:
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")



@pytest.fixture(autouse=True)
def file_store(monkeypatch):
    # MLflow 3 keeps the file store (what these tests use, no server) behind this switch
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::FutureWarning", "ignore::UserWarning")


def test_log_run_records_params_metrics_and_model_files(cdnow_cal, tmp_path):
    bg, gg = pipeline.fit_models(cdnow_cal, "map")
    info = {"options": {"data": {"time_unit": "W"}, "fit": {"method": "map"}},
            "observation_end": "1997-09-30"}
    model = pipeline.write_bundle(tmp_path / "model", bg, gg, info)
    result = pipeline.evaluate(bg, gg, cdnow_cal, dict(pipeline.VALUE_DEFAULTS, margin=0.3,
                                                       max_draws=1))
    uri = (tmp_path / "mlruns").as_uri()
    run_id = tracking.log_run(uri, model_dir=model, models=(bg, gg), info=info, value=result,
                              experiment="tests", run_name="cdnow")
    run = mlflow.MlflowClient(uri).get_run(run_id)
    assert run.data.params["fit.method"] == "map"
    assert run.data.metrics["BetaGeo.r"] == pytest.approx(bg.point_estimate()["r"])
    assert run.data.metrics["base.current.mean"] == pytest.approx(result.base.loc["current",
                                                                                  "mean"])
    assert run.data.tags["lifevalue.observation_end"] == "1997-09-30"
    files = {f.path for f in mlflow.MlflowClient(uri).list_artifacts(run_id, "model")}
    assert files == {"model/fit.json", "model/spend_model.nc", "model/transactions_model.nc"}


def test_fit_logs_to_mlflow(cdnow_log, tmp_path):
    log = tmp_path / "log.csv"
    cdnow_log[["customer_id", "date", "amount"]].to_csv(log, index=False)
    uri = (tmp_path / "mlruns").as_uri()
    before = signal.getsignal(signal.SIGTERM)
    try:
        out = CliRunner().invoke(cli.main, ["fit", str(log), "--out", str(tmp_path / "m"),
                                            "--method", "map", "--no-progress", "--mlflow",
                                            uri])
    finally:
        signal.signal(signal.SIGTERM, before)
    assert out.exit_code == 0, out.stderr
    assert "logged to MLflow" in out.stderr
    runs = mlflow.search_runs(experiment_names=["lifevalue"], output_format="list")
    assert len(runs) == 1 and runs[0].data.params["data.customer_id"] == "customer_id"
