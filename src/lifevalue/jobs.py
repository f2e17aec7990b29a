"""Job files for ``lifevalue run``: fit, score and report from one TOML file.

A job file has the sections ``[input]``, ``[fit]`` and ``[value]`` (required) and
``[score]``, ``[report]``, ``[compare]`` and ``[mlflow]`` (each optional: the step runs
when its section is there). Every key is checked before any work starts: an unknown
key, a value of the wrong type or outside its choices, or a missing required key is a
:class:`~lifevalue.errors.JobFileError` naming the key (the CLI exits with code 3).
Relative paths are relative to the job file's folder.

Examples
--------
>>> job = parse_job('''
... [input]
... transactions = "log.csv"
... [fit]
... out = "model"
... method = "map"
... [value]
... margin = 0.3
... ''', base="/data")
>>> job["fit"]["out"], job["value"]["horizon"]
('/data/model', 12)
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from pathlib import Path

from lifevalue import pipeline as pl
from lifevalue.errors import JobFileError

log = logging.getLogger("lifevalue")

STR, INT, NUM, BOOL, DATE = "a string", "an integer", "a number", "true or false", "a date"
NAMES = "a list of column names"
METHODS, SAMPLERS = ("mcmc", "map", "laplace"), ("compiled", "pymc", "nutpie", "numpyro")

#: section -> key -> (kind, required, choices or None, default). Paths are marked "path".
SCHEMA: dict[str, dict[str, tuple]] = {
    "input": {
        "transactions": ("path", True, None, None),
        "customer_id": (STR, False, None, "customer_id"),
        "date": (STR, False, None, "date"),
        "amount": (STR, False, None, "amount"),
        "date_format": (STR, False, None, None),
        "observation_end": (DATE, False, None, None),
        "calibration_end": (DATE, False, None, None),
        "time_unit": (STR, False, ("D", "W", "M"), "W"),
        "on_bad_rows": (STR, False, ("error", "reject"), "error"),
        "rejects": ("path", False, None, None),
        "attributes": ("path", False, None, None),
    },
    "fit": {
        "out": ("path", True, None, None),
        "model": (STR, False, pl.VALUED_MODELS, "bgnbd"),
        "method": (STR, False, METHODS, "mcmc"),
        "draws": (INT, False, None, None),
        "tune": (INT, False, None, None),
        "chains": (INT, False, None, None),
        "sampler": (STR, False, SAMPLERS, None),
        "purchase_covariates": (NAMES, False, None, []),
        "dropout_covariates": (NAMES, False, None, []),
        "seed": (INT, False, None, 0),
        "strict": (BOOL, False, None, False),
        "progress": (BOOL, False, None, False),
    },
    "value": {
        "margin": (NUM, True, None, None),
        "development_cost": (NUM, False, None, 0.0),
        "retention_cost": (NUM, False, None, 0.0),
        "costs_stop_at_churn": (BOOL, False, None, False),
        "period": (STR, False, ("W", "M", "Q", "Y"), "M"),
        "horizon": (INT, False, None, 12),
        "discount_rate": (NUM, False, None, 0.10),
        "scenario": (STR, False, None, "realistic"),
        "ci": (NUM, False, None, 0.9),
        "max_draws": (INT, False, None, 1000),
        "seed": (INT, False, None, 0),
        "comparisons": (BOOL, False, None, True),
    },
    "score": {"out": ("path", True, None, None)},
    "report": {"out": ("path", True, None, None),
               "title": (STR, False, None, "Customer value report"),
               "compare_models": (BOOL, False, None, False),
               "currency": (STR, False, None, None)},
    "compare": {"previous": ("path", True, None, None), "out": ("path", False, None, None),
                "top": (INT, False, None, 10)},
    "mlflow": {"tracking_uri": (STR, True, None, None),
               "experiment": (STR, False, None, "lifevalue"),
               "run_name": (STR, False, None, None)},
}
REQUIRED_SECTIONS = ("input", "fit", "value")


def load_job(path) -> dict:
    """Read and check the job file at ``path``; see :func:`parse_job`."""
    path = Path(path)
    if not path.is_file():
        raise JobFileError(f"job file {str(path)!r} does not exist", column="job")
    return parse_job(path.read_text(encoding="utf-8"), base=path.parent, name=str(path))


def parse_job(text: str, base=".", name: str = "job file") -> dict:
    """Check a job file's TOML text and fill in the defaults.

    Parameters
    ----------
    text : str
        The TOML text.
    base : str or path-like
        Folder that relative paths are relative to.
    name : str
        How messages name the file.

    Returns
    -------
    dict
        section -> key -> value, with every key of the sections present.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise JobFileError(f"{name} is not valid TOML: {err}", column="job") from None
    for section in raw:
        if section not in SCHEMA:
            raise JobFileError(f"{name}: unknown section [{section}] (known: "
                               f"{', '.join(SCHEMA)})", column=section)
        if not isinstance(raw[section], dict):
            raise JobFileError(f"{name}: {section!r} must be a table [{section}]",
                               column=section)
    for section in REQUIRED_SECTIONS:
        if section not in raw:
            raise JobFileError(f"{name}: missing required section [{section}]",
                               column=section)
    job = {}
    for section, table in raw.items():
        job[section] = _check_section(section, table, Path(base), name)
    return job


def _check_section(section: str, table: dict, base: Path, name: str) -> dict:
    schema = SCHEMA[section]
    for key in table:
        if key not in schema:
            raise JobFileError(f"{name}: unknown key '{section}.{key}' (known in [{section}]: "
                               f"{', '.join(schema)})", column=f"{section}.{key}")
    out = {}
    for key, (kind, required, choices, default) in schema.items():
        full = f"{section}.{key}"
        if key not in table:
            if required:
                raise JobFileError(f"{name}: missing required key '{full}'", column=full)
            out[key] = default
            continue
        out[key] = _check_value(table[key], kind, choices, full, base, name)
    return out


def _check_value(value, kind, choices, full: str, base: Path, name: str):
    ok = {STR: isinstance(value, str), "path": isinstance(value, str),
          INT: isinstance(value, int) and not isinstance(value, bool),
          NUM: isinstance(value, int | float) and not isinstance(value, bool),
          BOOL: isinstance(value, bool),
          DATE: isinstance(value, str | dt.date),
          NAMES: isinstance(value, list) and all(isinstance(x, str) for x in value)}[kind]
    if not ok:
        what = "a string (a path)" if kind == "path" else kind
        raise JobFileError(f"{name}: '{full}' must be {what}, got {value!r} "
                           f"({type(value).__name__})", column=full)
    if choices is not None and value not in choices:
        raise JobFileError(f"{name}: '{full}' must be one of "
                           f"{', '.join(repr(c) for c in choices)}, got {value!r}", column=full)
    if kind == "path":
        return str(base / Path(value).expanduser())
    if kind == DATE and isinstance(value, dt.date):
        return value.isoformat()
    if kind == NUM:
        return float(value)
    return value


# --------------------------------------------------------------------------- steps


def fit_step(transactions, out, data_opts: dict, fit_opts: dict, value_opts: dict | None,
             rejects, mlflow: dict | None, summary=None):
    """Summarise (unless ``summary`` is given), fit, and save the model folder.

    Returns
    -------
    tuple or int
        ``(bg, gg, summary, info)``, or the exit code 4 when ``strict`` and the fit did
        not converge (nothing saved).
    """
    if (fit_opts.get("purchase_covariates") or fit_opts.get("dropout_covariates")) and \
            not data_opts.get("attributes"):
        from lifevalue.validation import InvalidOptionError

        raise InvalidOptionError(
            "covariates need the customers' attributes: give --attributes FILE (a job file's "
            "input.attributes), one row per customer with the customer id column",
            column="attributes")
    if summary is None:
        summary = pl.summarize_input(transactions, data_opts, Path(rejects) if rejects
                                     else None)
    bg, gg = pl.fit_models(summary, fit_opts["method"], fit_opts["draws"], fit_opts["tune"],
                           fit_opts["chains"], fit_opts["sampler"], fit_opts["seed"],
                           fit_opts["progress"], fit_opts.get("model", "bgnbd"),
                           fit_opts.get("purchase_covariates"),
                           fit_opts.get("dropout_covariates"))
    problems = [f"{type(m).__name__}: {'; '.join(m.convergence_problems())}"
                for m in (bg, gg) if not m.converged]
    if problems and fit_opts["strict"]:
        log.error("not converged (--strict): %s; nothing saved", " | ".join(problems))
        return 4
    info = pl.fit_info(summary, transactions, data_opts, fit_opts, value_opts, not problems)
    pl.write_bundle(out, bg, gg, info)
    log.info("model saved to %s", out)
    if mlflow and value_opts is None:  # with value options, run_job logs after valuing
        from lifevalue import tracking

        tracking.log_run(mlflow["tracking_uri"], model_dir=out, models=(bg, gg), info=info,
                         experiment=mlflow.get("experiment") or "lifevalue",
                         run_name=mlflow.get("run_name"))
    return bg, gg, summary, info


def write_report_file(out, transactions, summary, bg, gg, result, data_opts, value_opts,
                      report_opts):
    from lifevalue.report import write_report

    write_report(out, summary=summary, transactions_model=bg, spend_model=gg, value=result,
                 transactions=pl.report_log_frame(transactions, data_opts),
                 title=report_opts["title"], currency=report_opts["currency"],
                 scenario=pl.scenario(str(value_opts["scenario"])),
                 model_comparison=pl.compare_transaction_models(
                     summary, list(pl.TRANSACTION_MODELS), method="map")
                 if report_opts["compare_models"] else None)
    log.info("report written to %s", out)


def run_job(job: dict) -> int:
    """Run a checked job (from :func:`load_job`): fit, save, then score, report, compare
    and log to MLflow as the job asks. Returns the exit code (0, or 4 with ``strict``)."""
    inp, fit_opts, value_opts = job["input"], job["fit"], job["value"]
    data_opts = {k: inp[k] for k in pl.DATA_DEFAULTS}
    pl.scenario(str(value_opts["scenario"]))  # fail before any heavy work
    for section in ("score", "compare"):
        if section in job and job[section].get("out"):
            pl.check_table_path(job[section]["out"], f"{section}.out")
    previous = None
    if "compare" in job:  # read before the new scores may overwrite it
        previous = _read_scores(job["compare"]["previous"])
    rejects = pl.rejects_path(inp["rejects"], fit_opts["out"])
    step = fit_step(inp["transactions"], fit_opts["out"], data_opts, fit_opts, value_opts,
                    rejects, None)
    if isinstance(step, int):
        return step
    bg, gg, summary, info = step
    result = pl.evaluate(bg, gg, summary, value_opts)
    scores = pl.score_frame(result)
    if "score" in job:
        pl.write_table(scores, job["score"]["out"])
        log.info("scores written to %s", job["score"]["out"])
    if "report" in job:
        write_report_file(job["report"]["out"], inp["transactions"], summary, bg, gg, result,
                          data_opts, value_opts, job["report"])
    if previous is not None:
        from lifevalue import runs

        comparison = runs.compare_runs(previous, scores, top=job["compare"]["top"])
        for line in comparison.to_text().splitlines():
            log.info("compare: %s", line)
        if job["compare"]["out"]:
            pl.write_table(comparison.customers, job["compare"]["out"])
    if "mlflow" in job:
        from lifevalue import tracking

        ml = job["mlflow"]
        tracking.log_run(ml["tracking_uri"], model_dir=fit_opts["out"], models=(bg, gg),
                         info=info, value=result, experiment=ml["experiment"],
                         run_name=ml["run_name"])
    return 0


def _read_scores(path):
    import pandas as pd

    path = Path(path)
    if not path.exists():
        log.warning("compare.previous %s does not exist (a first run?): nothing to compare",
                    path)
        return None
    pl.check_table_path(path, "compare.previous")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, index_col=0)
    return pd.read_parquet(path)
