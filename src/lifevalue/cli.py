"""The ``lifevalue`` command line, for retraining scripts and schedulers.

Commands: ``fit``, ``score``, ``report`` and ``demo``. Logging goes to stderr; files
are written atomically (a failed run never leaves a half-written or overwritten
model, score or report file).

Exit codes:

* 0 - success;
* 1 - an unexpected error (a bug: please report it);
* 2 - a usage error (unknown option, missing argument);
* 3 - bad input: the message names the column, option or file and the rows;
* 4 - ``fit --strict`` and the fit did not converge: MCMC diagnostics, or the
  importance-sampling ESS of a Laplace fit (the model is not saved).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import click

EXIT_UNEXPECTED, EXIT_INPUT, EXIT_NOT_CONVERGED = 1, 3, 4
BUNDLE_FILES = ("transactions_model.nc", "spend_model.nc", "fit.json")

log = logging.getLogger("lifevalue")


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s lifevalue %(levelname)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


class _Command(click.Command):
    """Maps lifevalue's errors to exit codes and clear one-line messages."""

    def invoke(self, ctx):
        from lifevalue.validation import InputError, NotFittedError

        try:
            return super().invoke(ctx)
        except (InputError, NotFittedError) as err:
            log.error("%s", err)
            ctx.exit(EXIT_INPUT)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception:  # noqa: BLE001 - the catch-all of a CLI
            log.exception("unexpected error")
            ctx.exit(EXIT_UNEXPECTED)


def _columns(f):
    for opt in reversed([
        click.option("--customer-id", default="customer_id", show_default=True,
                     help="Customer id column."),
        click.option("--date", "date_col", default="date", show_default=True,
                     help="Transaction date column."),
        click.option("--amount", default="amount", show_default=True,
                     help="Transaction amount column."),
        click.option("--date-format", default=None, help="strftime format of text dates."),
        click.option("--observation-end", default=None,
                     help="End of the observation period (default: last transaction)."),
        click.option("--calibration-end", default=None,
                     help="Fit on transactions up to this date; the rest is holdout."),
        click.option("--time-unit", type=click.Choice(["D", "W", "M"]), default="W",
                     show_default=True, help="Unit of recency and T."),
    ]):
        f = opt(f)
    return f


def _value_options(f):
    for opt in reversed([
        click.option("--margin", type=float, default=1.0, show_default=True,
                     help="Net margin M on revenue, a fraction in [0, 1]."),
        click.option("--development-cost", type=float, default=0.0, show_default=True,
                     help="Development cost O per customer and period."),
        click.option("--retention-cost", type=float, default=0.0, show_default=True,
                     help="Retention cost R per customer and period."),
        click.option("--costs-stop-at-churn", is_flag=True,
                     help="Weight costs by P(active) instead of running them all horizon."),
        click.option("--period", type=click.Choice(["W", "M", "Q", "Y"]), default="M",
                     show_default=True),
        click.option("--horizon", type=int, default=12, show_default=True,
                     help="Number of periods."),
        click.option("--discount-rate", type=float, default=0.10, show_default=True,
                     help="Annual cost of capital."),
        click.option("--scenario", default="realistic", show_default=True,
                     help="Potential scenario: a preset name or a TOML file."),
        click.option("--ci", type=float, default=0.9, show_default=True,
                     help="Interval level."),
        click.option("--max-draws", type=int, default=1000, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
    ]):
        f = opt(f)
    return f


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.version_option(package_name="lifevalue")
def main(verbose: bool) -> None:
    """lifevalue: Bayesian customer lifetime value from a transaction log."""
    _setup_logging(verbose)


# --------------------------------------------------------------------------- bundle


def _write_bundle(out: Path, bg, gg, info: dict) -> None:
    """Write the model directory next to ``out`` and swap it into place."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        bg.save(tmp / "transactions_model.nc")
        gg.save(tmp / "spend_model.nc")
        (tmp / "fit.json").write_text(json.dumps(info, indent=2, default=str))
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_bundle(path):
    """Load the models and fit information saved by ``lifevalue fit``."""
    from lifevalue.models import BetaGeo, GammaGamma
    from lifevalue.validation import InputError

    path = Path(path)
    missing = [f for f in BUNDLE_FILES if not (path / f).exists()]
    if missing:
        raise InputError(f"model directory {str(path)!r} lacks {missing[0]!r}: it is not a "
                         "model written by 'lifevalue fit'", column="model")
    info = json.loads((path / "fit.json").read_text())
    return (BetaGeo.load(path / "transactions_model.nc"),
            GammaGamma.load(path / "spend_model.nc"), info)


def _summarize(transactions, customer_id, date_col, amount, date_format, observation_end,
               calibration_end, time_unit):
    from lifevalue import summarize

    start = time.perf_counter()
    summary = summarize(transactions, customer_id=customer_id, date=date_col, amount=amount,
                        observation_end=observation_end, calibration_end=calibration_end,
                        time_unit=time_unit, date_format=date_format)
    log.info("summarised %s customers in %.1f s", f"{len(summary):,}",
             time.perf_counter() - start)
    return summary


def _fit_models(summary, method, draws, tune, chains, sampler, seed, progress):
    from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma

    models = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for cls in (BetaGeo, GammaGamma):
            start = time.perf_counter()
            log.info("fitting %s by %s", cls.__name__, method)
            model = cls().fit(summary, method=method, draws=draws, tune=tune, chains=chains,
                              sampler=sampler, random_seed=seed, progressbar=progress)
            log.info("%s fitted in %.1f s: %s", cls.__name__, time.perf_counter() - start,
                     model)
            models.append(model)
    for w in caught:
        log.warning("%s", w.message)
    return models


# -------------------------------------------------------------------------- commands


@main.command(cls=_Command)
@click.argument("transactions", type=click.Path(dir_okay=True))
@_columns
@click.option("--out", required=True, type=click.Path(), help="Model directory to write.")
@click.option("--method", type=click.Choice(["mcmc", "map", "laplace"]), default="mcmc",
              show_default=True, help="NUTS, posterior mode, or Laplace + PSIS (falls back to "
              "NUTS when Pareto k-hat > 0.7).")
@click.option("--draws", type=int, default=None,
              help="Draws per chain [default: the library's, 500].")
@click.option("--tune", type=int, default=None,
              help="Tuning steps per chain [default: the library's, 500].")
@click.option("--chains", type=int, default=None,
              help="MCMC chains [default: the library's, 4].")
@click.option("--sampler", type=click.Choice(["compiled", "pymc", "nutpie", "numpyro"]),
              default=None, help="NUTS implementation for --method mcmc (default: the "
              "library's, 'compiled').")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--strict", is_flag=True,
              help="Exit with code 4, saving nothing, if the fit did not converge.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show the sampler's progress.")
def fit(transactions, customer_id, date_col, amount, date_format, observation_end,
        calibration_end, time_unit, out, method, draws, tune, chains, sampler, seed, strict,
        progress):
    """Summarise TRANSACTIONS (CSV or Parquet), fit both models, save them to --out."""
    summary = _summarize(transactions, customer_id, date_col, amount, date_format,
                         observation_end, calibration_end, time_unit)
    bg, gg = _fit_models(summary, method, draws, tune, chains, sampler, seed, progress)
    problems = [f"{type(m).__name__}: {'; '.join(m.convergence_problems())}"
                for m in (bg, gg) if not m.converged]
    if problems and strict:
        log.error("not converged (--strict): %s; nothing saved", " | ".join(problems))
        sys.exit(EXIT_NOT_CONVERGED)
    info = {"transactions": str(transactions), "customer_id": customer_id, "date": date_col,
            "amount": amount, "date_format": date_format, "time_unit": time_unit,
            "observation_end": summary.attrs["observation_end"],
            "calibration_end": summary.attrs["calibration_end"], "customers": len(summary),
            "converged": not problems}
    _write_bundle(Path(out), bg, gg, info)
    log.info("model saved to %s", out)
    click.echo(str(out))


def _value(bg, gg, margin, development_cost, retention_cost, costs_stop_at_churn, period,
           horizon, discount_rate, ci, max_draws, seed):
    from lifevalue.value import CustomerValue

    return CustomerValue(bg, gg, period=period, horizon=horizon,
                         annual_discount_rate=discount_rate, margin=margin,
                         development_cost=development_cost, retention_cost=retention_cost,
                         costs_stop_at_churn=costs_stop_at_churn, ci=ci, max_draws=max_draws,
                         random_seed=seed)


def _scenario(spec: str):
    from lifevalue.value import PRESETS, Scenario

    if spec in PRESETS:
        return Scenario.preset(spec)
    if spec.endswith(".toml") or Path(spec).exists():
        return Scenario.from_toml(spec)
    return Scenario.preset(spec)  # raises the clear "not one of" error


def _warn_if_not_converged(models) -> None:
    """Say so on stderr when a saved fit did not converge (scores still follow)."""
    for model in models:
        if not model.converged:
            log.warning("%s in the model directory did NOT converge: %s; its intervals cannot "
                        "be trusted (refit with more tuning and draws)", type(model).__name__,
                        "; ".join(model.convergence_problems()))


def _load_input(model_dir, data, is_summary, customer_id, date_col, amount, date_format,
                observation_end, calibration_end, time_unit):
    bg, gg, _ = load_bundle(model_dir)
    _warn_if_not_converged((bg, gg))
    if is_summary:
        import pandas as pd

        from lifevalue.validation import InputError

        path = Path(data)
        if not path.exists():
            raise InputError(f"summary file {str(path)!r} does not exist")
        summary = (pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq")
                   else pd.read_csv(path))
        if customer_id in summary.columns:
            summary = summary.set_index(customer_id)
        summary.attrs["time_unit"] = time_unit
        return bg, gg, summary
    summary = _summarize(data, customer_id, date_col, amount, date_format, observation_end,
                         calibration_end, time_unit)
    return bg, gg, summary


def _check_table_path(out: Path) -> None:
    from lifevalue.validation import InputError

    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError(f"--out {str(out)!r}: write scores to a .csv or .parquet file",
                         column="out")


def _write_table(frame, out: Path) -> None:
    from lifevalue.models.base import atomic_write

    _check_table_path(out)
    if out.suffix.lower() == ".csv":
        atomic_write(out, lambda tmp: frame.to_csv(tmp))
    else:
        atomic_write(out, lambda tmp: frame.to_parquet(tmp))


@main.command(cls=_Command)
@click.argument("model_dir", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--summary", "is_summary", is_flag=True,
              help="DATA is an RFM summary (from lifevalue), not a transaction log.")
@_columns
@_value_options
@click.option("--out", required=True, type=click.Path(), help="Scores file, .csv or .parquet.")
def score(model_dir, data, is_summary, customer_id, date_col, amount, date_format,
          observation_end, calibration_end, time_unit, margin, development_cost,
          retention_cost, costs_stop_at_churn, period, horizon, discount_rate, scenario, ci,
          max_draws, seed, out):
    """Score every customer in DATA with the model in MODEL_DIR; write --out."""
    _check_table_path(Path(out))
    potential = _scenario(scenario)  # options first: fail before any heavy work
    bg, gg, summary = _load_input(model_dir, data, is_summary, customer_id, date_col, amount,
                                  date_format, observation_end, calibration_end, time_unit)
    cv = _value(bg, gg, margin, development_cost, retention_cost, costs_stop_at_churn, period,
                horizon, discount_rate, ci, max_draws, seed)
    start = time.perf_counter()
    result = cv.evaluate(summary, potential)
    log.info("scored %s customers in %.1f s", f"{len(summary):,}", time.perf_counter() - start)
    scores = result.customers.copy()
    for col in ("cell", "most_likely_cell"):
        scores[col] = scores[col].astype(str)
    _write_table(scores, Path(out))
    log.info("scores written to %s", out)
    click.echo(str(out))


@main.command(cls=_Command)
@click.argument("model_dir", type=click.Path())
@click.argument("transactions", type=click.Path())
@_columns
@_value_options
@click.option("--out", required=True, type=click.Path(), help="HTML file to write.")
@click.option("--title", default="Customer value report", show_default=True)
def report(model_dir, transactions, customer_id, date_col, amount, date_format,
           observation_end, calibration_end, time_unit, margin, development_cost,
           retention_cost, costs_stop_at_churn, period, horizon, discount_rate, scenario, ci,
           max_draws, seed, out, title):
    """Write a self-contained HTML report of the customers in TRANSACTIONS."""
    import pandas as pd

    from lifevalue.report import write_report

    potential = _scenario(scenario)
    bg, gg, summary = _load_input(model_dir, transactions, False, customer_id, date_col,
                                  amount, date_format, observation_end, calibration_end,
                                  time_unit)
    cv = _value(bg, gg, margin, development_cost, retention_cost, costs_stop_at_churn, period,
                horizon, discount_rate, ci, max_draws, seed)
    result = cv.evaluate(summary, potential)
    log_frame = None
    path = Path(transactions)
    if path.suffix.lower() == ".csv":
        log_frame = pd.read_csv(path, usecols=[customer_id, date_col])
    elif path.suffix.lower() in (".parquet", ".pq"):
        log_frame = pd.read_parquet(path, columns=[customer_id, date_col])
    if log_frame is not None:
        log_frame[date_col] = pd.to_datetime(log_frame[date_col], format=date_format)
        log_frame = log_frame.rename(columns={customer_id: "customer_id", date_col: "date"})
    write_report(out, summary=summary, transactions_model=bg, spend_model=gg, value=result,
                 transactions=log_frame, title=title)
    log.info("report written to %s", out)
    click.echo(str(out))


@main.command(cls=_Command)
@click.option("--out-dir", default="reports", show_default=True, type=click.Path(),
              help="Where the demo writes its model, scores and report.")
@click.option("--draws", type=int, default=None,
              help="Draws per chain [default: the library's, 500].")
@click.option("--tune", type=int, default=None,
              help="Tuning steps per chain [default: the library's, 500].")
@click.option("--progress/--no-progress", default=False, show_default=True,
              help="Show the sampler's progress.")
def demo(out_dir, draws, tune, progress):
    """Run the whole pipeline on the bundled CDNOW sample and write the report."""
    from lifevalue import datasets
    from lifevalue.report import write_report

    out_dir = Path(out_dir)
    log_frame = datasets.load_cdnow_transactions("sample")
    summary = datasets.load_cdnow_summary("sample")
    repeaters = summary["frequency_cal"] > 0
    click.echo("lifevalue demo: the CDNOW sample (Fader, Hardie & Lee 2005)")
    n_repeat = int(summary["frequency_cal"].sum())
    click.echo(f"customers: {len(summary):,}; repeat customers in the 39-week calibration: "
               f"{int(repeaters.sum()):,}; repeat purchases: {n_repeat:,}; mean repeat spend: "
               f"${summary.loc[repeaters, 'monetary_value_cal'].mean():.2f}")
    bg, gg = _fit_models(summary, "mcmc", draws, tune, None, None, 1, progress)
    for model in (bg, gg):
        click.echo(f"\n{type(model).__name__} posterior (mean, sd, 90% interval, "
                   "convergence):")
        click.echo(model.summary()[["mean", "sd", "lo", "hi", "r_hat", "ess_bulk", "ess_tail"]]
                   .round(3).to_string())
    _write_bundle(out_dir / "cdnow_model", bg, gg, {"dataset": "CDNOW sample",
                                                    "time_unit": "W"})
    cv = _value(bg, gg, 0.3, 0.0, 0.5, False, "M", 12, 0.10, 0.9, 1000, 0)
    result = cv.evaluate(summary, _scenario("realistic"))
    _write_table(result.customers.astype({"cell": str, "most_likely_cell": str}),
                 out_dir / "cdnow_scores.csv")
    click.echo("\nValue of the base over 12 months (margin 30%, retention cost 0.50 a month, "
               "10% a year):")
    click.echo(result.base.round(0).to_string())
    path = write_report(out_dir / "cdnow_report.html", summary=summary, transactions_model=bg,
                        spend_model=gg, value=result, transactions=log_frame,
                        title="CDNOW sample: customer value")
    click.echo(f"\nreport: {path.resolve()}")


if __name__ == "__main__":
    main()
