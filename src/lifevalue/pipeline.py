"""The steps of a run (summarise, fit, save, load, value, score, report), shared by the
CLI commands and by ``lifevalue run`` job files.

A model folder holds ``transactions_model.nc``, ``spend_model.nc`` and ``fit.json``;
``fit.json`` keeps the options the fit was given (columns, date format, dates, time
unit, bad-row handling and, from a job file, the value options) so that scoring and
reporting reuse them unless told otherwise.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import time
import warnings
from pathlib import Path

from lifevalue.files import atomic_folder, atomic_write

log = logging.getLogger("lifevalue")

BUNDLE_FILES = ("transactions_model.nc", "spend_model.nc", "fit.json")

#: Data options: how to read and summarise a transaction log (saved at fit).
DATA_DEFAULTS = {"customer_id": "customer_id", "date": "date", "amount": "amount",
                 "date_format": None, "observation_end": None, "calibration_end": None,
                 "time_unit": "W", "on_bad_rows": "error", "attributes": None}
#: Value options (saved at fit when a job file gives them). ``margin`` has no default.
VALUE_DEFAULTS = {"margin": None, "development_cost": 0.0, "retention_cost": 0.0,
                  "costs_stop_at_churn": False, "period": "M", "horizon": 12,
                  "discount_rate": 0.10, "scenario": "realistic", "ci": 0.9,
                  "max_draws": 1000, "seed": 0, "comparisons": True}
#: The literal that clears a date saved at fit (``--calibration-end none``).
NO_DATE = "none"


def resolve(given: dict, saved: dict, defaults: dict, what: str) -> dict:
    """Options to use: those given, else those saved at fit (logged), else defaults."""
    out = {}
    for key, default in defaults.items():
        if given.get(key) is not None:
            out[key] = given[key]
        elif saved.get(key) is not None:
            out[key] = saved[key]
            log.info("%s option %s = %r: as saved with the model at fit", what, key,
                     saved[key])
        else:
            out[key] = default
    for key in ("observation_end", "calibration_end"):
        if isinstance(out.get(key), str) and out[key].lower() == NO_DATE:
            out[key] = None
    return out


def rejects_path(rejects, out) -> Path:
    """``rejects`` if given, else ``<out>.rejects.csv`` beside the output."""
    if rejects:
        return Path(rejects)
    out = Path(out)
    return out.with_name(f"{out.name}.rejects.csv")


def summarize_input(data, opts: dict, rejects: Path | None = None):
    """Summarise the transaction log ``data`` with the data options ``opts``.

    With ``on_bad_rows="reject"`` the rejected rows (original columns and ``reason``) go
    to ``rejects`` and the count per rule is logged.
    """
    from lifevalue import summarize
    from lifevalue.validation import InvalidOptionError

    mode = opts.get("on_bad_rows") or "error"
    if mode not in ("error", "reject"):
        raise InvalidOptionError(f"on_bad_rows must be 'error' or 'reject', got {mode!r}",
                                 column="on_bad_rows")
    kwargs = {}
    if "on_bad_rows" in inspect.signature(summarize).parameters:
        kwargs["on_bad_rows"] = mode
    elif mode == "reject":
        raise InvalidOptionError("on_bad_rows 'reject' is not supported by this lifevalue's "
                                 "summarize: upgrade lifevalue or use 'error'",
                                 column="on_bad_rows")
    start = time.perf_counter()
    summary = summarize(data, customer_id=opts["customer_id"], date=opts["date"],
                        amount=opts["amount"], observation_end=opts["observation_end"],
                        calibration_end=opts["calibration_end"], time_unit=opts["time_unit"],
                        date_format=opts["date_format"], **kwargs)
    log.info("summarised %s customers in %.1f s", f"{len(summary):,}",
             time.perf_counter() - start)
    rules = summary.attrs.get("row_rules") or {}
    for reason, count in rules.items():
        log.info("row rule %s: %s rows", reason, f"{int(count):,}")
    if opts.get("attributes"):
        summary = join_attributes_file(summary, opts["attributes"], opts["customer_id"])
    if mode == "reject":
        rejected = summary.attrs.get("rejected_rows")
        if rejected is not None and rejects is not None:
            atomic_write(rejects, lambda tmp: rejected.to_csv(tmp, index=False))
            log.info("%s rejected rows written to %s", f"{len(rejected):,}", rejects)
    return summary


def join_attributes_file(summary, path, customer_id: str):
    """The summary with the customers' attributes (covariates) from the CSV or Parquet
    file ``path``: one row per customer, keyed by the ``customer_id`` column. Columns the
    summary already has are left as they are."""
    import pandas as pd

    from lifevalue.data import join_attributes
    from lifevalue.validation import MissingColumnError

    path = Path(path)
    attrs = _read_table(path, "attributes file", column="attributes")
    if customer_id not in attrs.columns:
        raise MissingColumnError(f"attributes file {str(path)!r} has no customer id column "
                                 f"{customer_id!r} (columns: {list(attrs.columns)})",
                                 column=customer_id)
    ids = attrs[customer_id]
    try:  # the ids as the summary holds them (a CSV reads 007 as 7)
        ids = ids.astype(summary.index.dtype)
    except (TypeError, ValueError):
        ids = ids.astype(str)
    attrs = attrs.drop(columns=[customer_id]).set_index(pd.Index(ids, name=summary.index.name))
    new = [c for c in attrs.columns if c not in summary.columns]
    if not new:
        return summary
    out = join_attributes(summary, attrs, columns=new)
    log.info("joined %d attribute columns from %s", len(new), path)
    return out


def as_of_calibration_end(summary):
    """A calibration/holdout split becomes its calibration part: customers as of the
    calibration end (the CLI's ``--calibration-end`` asks for exactly that)."""
    if "frequency_cal" not in summary.columns:
        return summary
    from lifevalue import calibration_part

    log.info("fitting and valuing customers as of the calibration end %s",
             summary.attrs.get("calibration_end"))
    part = calibration_part(summary)
    part.attrs = {**summary.attrs, **part.attrs}
    return part


def fit_models(summary, method="mcmc", draws=None, tune=None, chains=None, sampler=None,
               seed=0, progress=False, model="bgnbd", purchase_covariates=(),
               dropout_covariates=()):
    """Fit the transaction model ``model`` (a name of :data:`VALUED_MODELS`), with the
    covariates named (columns of the summary), and Gamma-Gamma; the models' warnings
    (convergence, customers left out of a fit, spend-frequency correlation) are logged,
    not raised."""
    from lifevalue.models import (
        ConvergenceWarning,
        GammaGamma,
        SpendFrequencyCorrelationWarning,
        ZeroSpendWarning,
    )

    summary = as_of_calibration_end(summary)
    models = []
    with warnings.catch_warnings(record=True) as caught:
        for kind in (ConvergenceWarning, ZeroSpendWarning, SpendFrequencyCorrelationWarning):
            warnings.simplefilter("always", kind)
        covariates = {"purchase_covariates": purchase_covariates or (),
                      "dropout_covariates": dropout_covariates or ()}
        for cls in (transaction_model_class(model), GammaGamma):
            start = time.perf_counter()
            log.info("fitting %s by %s", cls.__name__, method)
            fitted = cls(**covariates) if cls is not GammaGamma else cls()
            model = fitted.fit(summary, method=method, draws=draws, tune=tune, chains=chains,
                               sampler=sampler, random_seed=seed, progressbar=progress)
            log.info("%s fitted in %.1f s: %s", cls.__name__, time.perf_counter() - start,
                     model)
            models.append(model)
    for w in caught:
        log.warning("%s", w.message)
    return models


def fit_info(summary, data, data_opts: dict, fit_opts: dict, value_opts: dict | None,
             converged: bool) -> dict:
    """What ``fit.json`` records: the resolved dates and, under ``options``, the options
    as given (reused by score and report)."""
    from lifevalue import __version__

    return {"transactions": str(data), "customer_id": data_opts["customer_id"],
            "date": data_opts["date"], "amount": data_opts["amount"],
            "date_format": data_opts["date_format"], "time_unit": data_opts["time_unit"],
            "observation_end": summary.attrs.get("observation_end"),
            "calibration_end": summary.attrs.get("calibration_end"),
            "customers": len(summary), "converged": converged,
            "row_rules": dict(summary.attrs.get("row_rules") or {}),
            "lifevalue_version": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "options": {"data": data_opts, "fit": fit_opts,
                        "value": {k: v for k, v in (value_opts or {}).items()
                                  if v is not None}}}


def write_bundle(out, bg, gg, info: dict) -> Path:
    """Save both models and ``fit.json`` to the model folder ``out``, swapped in
    atomically (see :func:`lifevalue.files.atomic_folder`)."""
    def write(tmp: Path) -> None:
        bg.save(tmp / "transactions_model.nc")
        gg.save(tmp / "spend_model.nc")
        atomic_write(tmp / "fit.json",
                     lambda t: Path(t).write_text(json.dumps(info, indent=2, default=str)))

    return atomic_folder(out, write)


def load_bundle(path):
    """Load the models and fit information saved by ``lifevalue fit``.

    Returns
    -------
    tuple
        ``(transaction model, GammaGamma, info)``, ``info`` the content of ``fit.json``;
        the transaction model is the one named at fit (BG/NBD for folders that name none).
    """
    from lifevalue.models import GammaGamma
    from lifevalue.validation import InputError

    # read every file from the version the link points to now, even if a concurrent
    # save swaps the link meanwhile
    path = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    missing = [f for f in BUNDLE_FILES if not (path / f).exists()]
    if missing:
        raise InputError(f"model directory {str(path)!r} lacks {missing[0]!r}: it is not a "
                         "model written by 'lifevalue fit'", column="model")
    try:
        info = json.loads((path / "fit.json").read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"model directory {str(path)!r}: fit.json is not valid JSON "
                         f"({err})", column="model") from None
    if not isinstance(info, dict):
        raise InputError(f"model directory {str(path)!r}: fit.json does not hold an object",
                         column="model")
    name = ((info.get("options") or {}).get("fit") or {}).get("model") or "bgnbd"
    if name not in VALUED_MODELS:
        raise InputError(f"model directory {str(path)!r}: fit.json names the transaction "
                         f"model {name!r}, which lifevalue cannot value (known: "
                         f"{', '.join(VALUED_MODELS)})", column="model")
    return (transaction_model_class(name).load(path / "transactions_model.nc"),
            GammaGamma.load(path / "spend_model.nc"), info)


def saved_options(info: dict, section: str) -> dict:
    """Options saved at fit (``section`` 'data' or 'value'); older models saved only
    the columns, date format and time unit."""
    opts = (info.get("options") or {}).get(section)
    if opts is not None:
        return dict(opts)
    if section == "data":
        return {k: info[k] for k in ("customer_id", "date", "amount", "date_format",
                                     "time_unit") if info.get(k) is not None}
    return {}


def warn_if_not_converged(models) -> None:
    """Say so on stderr when a saved fit did not converge (scores still follow)."""
    for model in models:
        if not model.converged:
            log.warning("%s in the model directory did NOT converge: %s; its intervals cannot "
                        "be trusted (refit with more tuning and draws)", type(model).__name__,
                        "; ".join(model.convergence_problems()))


def read_summary_file(path, customer_id: str, time_unit: str):
    summary = _read_table(Path(path), "summary file")
    if customer_id in summary.columns:
        summary = summary.set_index(customer_id)
    summary.attrs["time_unit"] = time_unit
    return summary


def _read_table(path: Path, what: str, column: str | None = None):
    """A CSV or Parquet file (by its suffix) as a frame; ``what`` names it if missing."""
    import pandas as pd

    from lifevalue.validation import InputError

    if not path.exists():
        raise InputError(f"{what} {str(path)!r} does not exist", column=column)
    return (pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq")
            else pd.read_csv(path))


def scenario(spec: str):
    from lifevalue.value import PRESETS, Scenario

    if spec in PRESETS:
        return Scenario.preset(spec)
    if spec.endswith(".toml") or Path(spec).exists():
        return Scenario.from_toml(spec)
    return Scenario.preset(spec)  # raises the clear "not one of" error


def check_margin_given(opts: dict, where: str) -> None:
    from lifevalue.validation import InvalidOptionError

    if opts.get("margin") is None:
        raise InvalidOptionError(
            f"{where}: the margin is required (a fraction of revenue in [0, 1]; give 1 to value "
            "revenue rather than profit) and was neither given nor saved with the model",
            column="margin")


def evaluate(bg, gg, summary, opts: dict):
    """Value every customer with the value options ``opts`` (see VALUE_DEFAULTS)."""
    from lifevalue.value import CustomerValue

    cv = CustomerValue(bg, gg, period=opts["period"], horizon=opts["horizon"],
                       annual_discount_rate=opts["discount_rate"], margin=opts["margin"],
                       development_cost=opts["development_cost"],
                       retention_cost=opts["retention_cost"],
                       costs_stop_at_churn=opts["costs_stop_at_churn"], ci=opts["ci"],
                       max_draws=opts["max_draws"], random_seed=opts["seed"])
    summary = as_of_calibration_end(summary)
    start = time.perf_counter()
    result = cv.evaluate(summary, scenario(str(opts["scenario"])),
                         comparisons=bool(opts["comparisons"]))
    log.info("valued %s customers in %.1f s", f"{len(summary):,}", time.perf_counter() - start)
    return result


def score_frame(result):
    """The scores table of a :class:`~lifevalue.value.ValueResult`: its customers'
    columns (with comparisons: ranks, P(top 20%) and the level probabilities), and the
    pyramid level of the expected values (``pyramid``) beside the matrix ``cell``."""
    from lifevalue.segments import customer_pyramid

    scores = result.customers.copy()
    scores["pyramid"] = customer_pyramid(scores["current_mean"], scores["p_alive_mean"])
    for col in ("cell", "most_likely_cell", "pyramid", "most_likely_level"):
        if col in scores:
            scores[col] = scores[col].astype(str)
    return scores


def check_table_path(out, option: str = "--out") -> None:
    from lifevalue.validation import InputError

    if Path(out).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError(f"{option} {str(out)!r}: write scores to a .csv or .parquet file",
                         column="out")


def write_table(frame, out) -> Path:
    out = Path(out)
    check_table_path(out)
    if out.suffix.lower() == ".csv":
        return atomic_write(out, lambda tmp: frame.to_csv(tmp))
    return atomic_write(out, lambda tmp: frame.to_parquet(tmp))


def report_log_frame(transactions, opts: dict):
    """The (customer, date) columns of the log for the report's figures, or None."""
    import pandas as pd

    path = Path(transactions)
    cols = [opts["customer_id"], opts["date"]]
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, usecols=cols)
    elif path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path, columns=cols)
    else:
        return None
    frame[opts["date"]] = pd.to_datetime(frame[opts["date"]], format=opts["date_format"])
    return frame.rename(columns={opts["customer_id"]: "customer_id", opts["date"]: "date"})


#: The transaction models ``lifevalue compare-models`` can fit, by their CLI name.
TRANSACTION_MODELS = {"bgnbd": "BetaGeo", "mbgnbd": "ModifiedBetaGeo", "paretonbd": "ParetoNBD"}
#: Those that ``fit`` can fit and ``score``/``report`` value: all of them.
VALUED_MODELS = tuple(TRANSACTION_MODELS)


def transaction_model_class(name: str):
    """The class of the transaction model with CLI name ``name``."""
    from lifevalue import models as lm

    return getattr(lm, TRANSACTION_MODELS[name])


def compare_transaction_models(summary, names, method="mcmc", draws=None, tune=None,
                               chains=None, seed=0, progress=False, max_draws=1000):
    """Fit each named transaction model on the calibration part of a calibration/holdout
    ``summary`` and compare them (:func:`lifevalue.models.scorecard.compare_models`)."""
    from lifevalue.models.base import ConvergenceWarning
    from lifevalue.models.scorecard import compare_models
    from lifevalue.validation import InvalidOptionError

    if "frequency_holdout" not in summary.columns:
        raise InvalidOptionError(
            "compare-models needs --calibration-end: the models are scored on the holdout "
            "period after it", column="calibration_end")
    part = as_of_calibration_end(summary)
    fitted = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for name in names:
            cls = transaction_model_class(name)
            start = time.perf_counter()
            log.info("fitting %s by %s", cls.__name__, method)
            fitted[name] = cls().fit(part, method=method, draws=draws, tune=tune,
                                     chains=chains, random_seed=seed, progressbar=progress)
            log.info("%s fitted in %.1f s: %s", cls.__name__, time.perf_counter() - start,
                     fitted[name])
    for w in caught:
        log.warning("%s", w.message)
    return compare_models(fitted, summary, max_draws=max_draws, random_seed=seed)
