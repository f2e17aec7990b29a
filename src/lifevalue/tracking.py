"""Optional MLflow logging of a run (``pip install 'lifevalue[mlflow]'``).

:func:`log_run` records, in one MLflow run: the options of the fit as parameters, the
convergence diagnostics and the base value (mean and interval) as metrics, and the
model folder's files as artifacts (under ``model/``). ``lifevalue fit --mlflow URI``
and the ``[mlflow]`` section of a job file call it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

log = logging.getLogger("lifevalue")


def _mlflow():
    try:
        import mlflow
    except ImportError:
        from lifevalue.errors import InvalidOptionError

        raise InvalidOptionError("MLflow logging needs mlflow: pip install 'lifevalue[mlflow]'",
                                 column="mlflow") from None
    return mlflow


def _flat(prefix: str, options: dict) -> dict:
    return {f"{prefix}.{k}": ("" if v is None else str(v))[:500] for k, v in options.items()}


def run_metrics(models=(), value=None) -> dict:
    """Diagnostics of the fitted models and the base value, as MLflow metrics."""
    out = {}
    for model in models:
        name = type(model).__name__
        out[f"{name}.converged"] = float(model.converged)
        for key, val in (model.diagnostics_ or {}).items():
            if isinstance(val, int | float) and not isinstance(val, bool) and math.isfinite(val):
                out[f"{name}.{key}"] = float(val)
        for param, est in model.point_estimate().items():
            out[f"{name}.{param}"] = float(est)
    if value is not None:
        for scenario, row in value.base.iterrows():
            for col, val in row.items():
                out[f"base.{scenario}.{col}"] = float(val)
        out["customers"] = float(len(value.customers))
    return out


def log_run(tracking_uri: str, *, model_dir=None, models=(), info: dict | None = None,
            value=None, experiment: str = "lifevalue", run_name: str | None = None,
            params: dict | None = None) -> str:
    """Log a lifevalue run to MLflow.

    Parameters
    ----------
    tracking_uri : str
        MLflow tracking URI, e.g. ``"file:/srv/mlruns"`` or ``"http://mlflow:5000"``.
    model_dir : path-like, optional
        Model folder whose files are logged as artifacts under ``model/``.
    models : sequence of fitted models
        Their diagnostics and point estimates are logged as metrics.
    info : dict, optional
        The ``fit.json`` content; its ``options`` are logged as parameters
        (``data.*``, ``fit.*``, ``value.*``).
    value : ValueResult, optional
        Its base value is logged as ``base.<scenario>.<mean|param_lo|...>``.
    experiment, run_name : str
        MLflow experiment and run name.
    params : dict, optional
        More parameters.

    Returns
    -------
    str
        The MLflow run id.
    """
    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.set_experiment(experiment)
    except mlflow.exceptions.MlflowException as err:
        from lifevalue.errors import InvalidOptionError

        raise InvalidOptionError(f"MLflow tracking URI {tracking_uri!r}: {err}",
                                 column="mlflow") from None
    options = (info or {}).get("options") or {}
    all_params = {}
    for section, opts in options.items():
        all_params.update(_flat(section, opts or {}))
    all_params.update({k: str(v) for k, v in (params or {}).items()})
    with mlflow.start_run(run_name=run_name) as run:
        if all_params:
            mlflow.log_params(all_params)
        metrics = run_metrics(models, value)
        if metrics:
            mlflow.log_metrics(metrics)
        for key in ("observation_end", "calibration_end", "lifevalue_version"):
            if info and info.get(key) is not None:
                mlflow.set_tag(f"lifevalue.{key}", str(info[key]))
        if model_dir is not None:
            mlflow.log_artifacts(str(Path(model_dir).resolve()), artifact_path="model")
        run_id = run.info.run_id
    log.info("logged to MLflow %s: experiment %r, run %s", tracking_uri, experiment, run_id)
    return run_id
