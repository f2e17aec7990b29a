"""The ``lifevalue`` command line, for retraining scripts and schedulers.

Commands: ``fit``, ``score``, ``report``, ``run`` (a job file), ``compare`` and
``demo``. Logging goes to stderr. Files are written atomically with the permissions
the umask allows; a model folder is swapped in with one atomic step; SIGTERM and
Ctrl-C during a save remove the partial file and exit (see :mod:`lifevalue.files`).

Exit codes:

* 0 - success;
* 1 - an unexpected error (a bug: please report it);
* 2 - a usage error (unknown option, missing argument);
* 3 - bad input: the message names the column, option, job-file key or file;
* 4 - ``fit --strict`` and the fit did not converge: MCMC diagnostics, or the
  importance-sampling ESS of a Laplace fit (the model is not saved);
* 5 - the model cannot value these customers (e.g. a Gamma-Gamma posterior with
  ``p x + q <= 1``: no finite expected spend); refit, not a data error;
* 143 - terminated by SIGTERM (130 for Ctrl-C); partial files were removed.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from lifevalue import pipeline as pl
from lifevalue.cli_options import fit_options
from lifevalue.pipeline import BUNDLE_FILES, load_bundle  # noqa: F401 - public names

EXIT_UNEXPECTED, EXIT_INPUT, EXIT_NOT_CONVERGED, EXIT_MODEL = 1, 3, 4, 5
EXIT_SIGTERM = 128 + signal.SIGTERM

log = logging.getLogger("lifevalue")


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s lifevalue %(levelname)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM so that saves in progress clean up."""


def _on_sigterm(signum, frame):
    raise Terminated(EXIT_SIGTERM)


def install_signal_handlers() -> None:
    """Turn SIGTERM into :class:`Terminated` (exit code 143) so that ``finally`` blocks
    and the cleanup of partial files run."""
    signal.signal(signal.SIGTERM, _on_sigterm)


class _Command(click.Command):
    """Maps lifevalue's errors to exit codes and clear one-line messages."""

    def invoke(self, ctx):
        from lifevalue.errors import InputError, ModelError, NotFittedError

        try:
            return super().invoke(ctx)
        except ModelError as err:
            log.error("the model cannot value these customers: %s", err)
            ctx.exit(EXIT_MODEL)
        except (InputError, NotFittedError) as err:
            log.error("%s", err)
            ctx.exit(EXIT_INPUT)
        except Terminated:
            log.error("terminated by SIGTERM")
            raise
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception:  # noqa: BLE001 - the catch-all of a CLI
            log.exception("unexpected error")
            ctx.exit(EXIT_UNEXPECTED)


SAVED = " [default: as saved at fit, else {}]"


def _data_options(saved: bool):
    """Column, date and bad-row options; for score/report their default is what the
    fit was given (``saved``)."""
    d = pl.DATA_DEFAULTS

    def default(key):
        return SAVED.format(d[key]) if saved else f" [default: {d[key]}]"

    def deco(f):
        for opt in reversed([
            click.option("--customer-id", default=None,
                         help="Customer id column." + default("customer_id")),
            click.option("--date", "date_col", default=None,
                         help="Transaction date column." + default("date")),
            click.option("--amount", default=None,
                         help="Transaction amount column." + default("amount")),
            click.option("--date-format", default=None,
                         help="strftime format of text dates [default: inferred]."),
            click.option("--observation-end", default=None,
                         help="End of the observation period [default: "
                         + ("as saved at fit, else " if saved else "")
                         + "the last transaction]; 'none' clears a saved date."),
            click.option("--calibration-end", default=None,
                         help="Use transactions up to this date; the rest is holdout "
                         "[default: " + ("as saved at fit, else " if saved else "")
                         + "none]; 'none' clears a saved date."),
            click.option("--time-unit", type=click.Choice(["D", "W", "M"]), default=None,
                         help="Unit of recency and T." + default("time_unit")),
            click.option("--on-bad-rows", type=click.Choice(["error", "reject"]), default=None,
                         help="'error' stops at the first rule a row breaks (exit 3); "
                         "'reject' drops such rows, writes them to --rejects and logs the "
                         "count per rule." + default("on_bad_rows")),
            click.option("--rejects", type=click.Path(), default=None,
                         help="CSV of rejected rows (with a 'reason' column) "
                         "[default: <out>.rejects.csv]."),
            click.option("--attributes", type=click.Path(), default=None,
                         help="Customers' attributes (CSV or Parquet, one row per customer "
                         "with the customer id column), joined to the summary for the "
                         "covariates" + (" [default: as saved at fit]." if saved else ".")),
        ]):
            f = opt(f)
        return f

    return deco


def _value_options(f):
    d = pl.VALUE_DEFAULTS
    for opt in reversed([
        click.option("--margin", type=float, default=None,
                     help="Net margin M on revenue, a fraction in [0, 1]. Required unless "
                     "saved with the model: give 1 to value revenue, not profit."),
        click.option("--development-cost", type=float, default=None,
                     help="Development cost O per customer and period."
                     + SAVED.format(d["development_cost"])),
        click.option("--retention-cost", type=float, default=None,
                     help="Retention cost R per customer and period."
                     + SAVED.format(d["retention_cost"])),
        click.option("--costs-stop-at-churn/--costs-run-all-horizon", default=None,
                     help="Weight costs by P(active), or run them all horizon "
                     "[default: as saved at fit, else all horizon]."),
        click.option("--period", type=click.Choice(["W", "M", "Q", "Y"]), default=None,
                     help="Length of a value period." + SAVED.format(d["period"])),
        click.option("--horizon", type=int, default=None,
                     help="Number of periods." + SAVED.format(d["horizon"])),
        click.option("--discount-rate", type=float, default=None,
                     help="Annual cost of capital." + SAVED.format(d["discount_rate"])),
        click.option("--scenario", default=None,
                     help="Potential scenario: a preset name or a TOML file."
                     + SAVED.format(d["scenario"])),
        click.option("--ci", type=float, default=None,
                     help="Interval level." + SAVED.format(d["ci"])),
        click.option("--max-draws", type=int, default=None,
                     help="Posterior draws used for values and intervals."
                     + SAVED.format(d["max_draws"])),
        click.option("--seed", type=int, default=None,
                     help="Random seed of the predictive simulation."
                     + SAVED.format(d["seed"])),
        click.option("--comparisons/--no-comparisons", default=None,
                     help="Rank the customers at every draw: rank intervals, P(top 20%), "
                     "pyramid level probabilities [default: as saved at fit, else on]."),
    ]):
        f = opt(f)
    return f


def _data_given(kw: dict) -> dict:
    return {"customer_id": kw.pop("customer_id"), "date": kw.pop("date_col"),
            "amount": kw.pop("amount"), "date_format": kw.pop("date_format"),
            "observation_end": kw.pop("observation_end"),
            "calibration_end": kw.pop("calibration_end"), "time_unit": kw.pop("time_unit"),
            "on_bad_rows": kw.pop("on_bad_rows"), "attributes": kw.pop("attributes")}


def _value_given(kw: dict) -> dict:
    return {k: kw.pop(k) for k in pl.VALUE_DEFAULTS}


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.version_option(package_name="lifevalue")
def main(verbose: bool) -> None:
    """lifevalue: Bayesian customer lifetime value from a transaction log.

    Exit codes: 0 success; 1 unexpected error (a bug); 2 usage error; 3 bad input
    (data, option, job file or model folder); 4 'fit --strict' did not converge;
    5 the model cannot value these customers; 143 terminated by SIGTERM.
    """
    _setup_logging(verbose)
    install_signal_handlers()


# -------------------------------------------------------------------------- commands


@main.command(cls=_Command)
@click.argument("transactions", type=click.Path(dir_okay=True))
@_data_options(saved=False)
@click.option("--out", required=True, type=click.Path(),
              help="Model folder to write (a link to a versioned folder, swapped atomically).")
@fit_options
def fit(transactions, out, rejects, **kw):
    """Summarise TRANSACTIONS (CSV or Parquet), fit both models, save them to --out.

    The options given here (columns, date format, dates, time unit, --on-bad-rows) are
    saved in the model folder's fit.json and reused by score and report.
    """
    from lifevalue import jobs

    data = _data_given(kw)
    data = {k: (v if v is not None else pl.DATA_DEFAULTS[k]) for k, v in data.items()}
    fit_opts = {k: kw[k] for k in ("model", "method", "draws", "tune", "chains", "sampler",
                                   "strict", "progress")}
    for kind in ("purchase", "dropout"):
        names = kw[f"{kind}_covariates"]
        fit_opts[f"{kind}_covariates"] = [c.strip() for c in names.split(",") if c.strip()] \
            if names else []
    fit_opts["seed"] = kw["fit_seed"]
    mlflow = ({"tracking_uri": kw["mlflow_uri"], "experiment": kw["mlflow_experiment"]}
              if kw["mlflow_uri"] else None)
    step = jobs.fit_step(transactions, out, data, fit_opts, None,
                         pl.rejects_path(rejects, out), mlflow)
    if isinstance(step, int):
        sys.exit(step)
    click.echo(str(out))


def _score_inputs(model_dir, data, kw, rejects, out, is_summary=False):
    given_data, given_value = _data_given(kw), _value_given(kw)
    bg, gg, info = load_bundle(model_dir)
    data_opts = pl.resolve(given_data, pl.saved_options(info, "data"), pl.DATA_DEFAULTS, "data")
    value_opts = pl.resolve(given_value, pl.saved_options(info, "value"), pl.VALUE_DEFAULTS,
                            "value")
    pl.check_margin_given(value_opts, "--margin")
    if value_opts["margin"] == 1 and given_value.get("margin") is None:
        log.warning("margin 1 (as saved at fit): values are revenue, not profit")
    pl.scenario(str(value_opts["scenario"]))  # options first: fail before any heavy work
    pl.warn_if_not_converged((bg, gg))
    if is_summary:
        summary = pl.read_summary_file(data, data_opts["customer_id"], data_opts["time_unit"])
        if data_opts.get("attributes"):
            summary = pl.join_attributes_file(summary, data_opts["attributes"],
                                              data_opts["customer_id"])
    else:
        summary = pl.summarize_input(data, data_opts, pl.rejects_path(rejects, out))
    return bg, gg, summary, data_opts, value_opts


@main.command(cls=_Command)
@click.argument("model_dir", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--summary", "is_summary", is_flag=True,
              help="DATA is an RFM summary (from lifevalue), not a transaction log.")
@_data_options(saved=True)
@_value_options
@click.option("--out", required=True, type=click.Path(), help="Scores file, .csv or .parquet.")
def score(model_dir, data, is_summary, out, rejects, **kw):
    """Score every customer in DATA with the model in MODEL_DIR; write --out.

    Columns, dates and options not given are those saved with the model at fit.
    """
    pl.check_table_path(out)
    bg, gg, summary, _, value_opts = _score_inputs(model_dir, data, kw, rejects, out,
                                                   is_summary)
    result = pl.evaluate(bg, gg, summary, value_opts)
    pl.write_table(pl.score_frame(result), out)
    log.info("scores written to %s", out)
    click.echo(str(out))


@main.command("compare-models", cls=_Command)
@click.argument("transactions", type=click.Path(dir_okay=True))
@_data_options(saved=False)
@click.option("--model", "names", multiple=True, type=click.Choice(list(pl.TRANSACTION_MODELS)),
              help="A transaction model to compare (repeat the option) [default: all three].")
@click.option("--method", type=click.Choice(["mcmc", "map", "laplace"]), default="mcmc",
              show_default=True, help="How each model is fitted (LOO needs posterior draws).")
@click.option("--draws", type=int, default=None, help="Draws per chain [default: the "
              "library's, 500].")
@click.option("--tune", type=int, default=None, help="Tuning steps per chain [default: the "
              "library's, 300].")
@click.option("--chains", type=int, default=None, help="Chains [default: the library's, 4].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--progress/--no-progress", default=False, show_default=True,
              help="Show the sampler's progress.")
@click.option("--out", type=click.Path(), default=None,
              help="Also write the comparison table, .csv or .parquet.")
def compare_models(transactions, names, method, draws, tune, chains, seed, progress, out,
                   rejects, **kw):
    """Fit transaction models on the calibration period of TRANSACTIONS and rank them.

    Needs --calibration-end: each model is fitted on the transactions up to it and
    scored on the holdout period after it (per-customer and aggregate error, calibration
    by decile, coverage of the predictive intervals), beside its PSIS-LOO on the
    calibration data. Best first.
    """
    if out:
        pl.check_table_path(out)
    data = {k: (v if v is not None else pl.DATA_DEFAULTS[k])
            for k, v in _data_given(kw).items()}
    summary = pl.summarize_input(transactions, data, pl.rejects_path(rejects, out or "models"))
    table = pl.compare_transaction_models(summary, names or list(pl.TRANSACTION_MODELS),
                                          method, draws, tune, chains, seed, progress)
    shown = ["rank", "elpd_loo", "elpd_diff", "diff_se", "mae", "rmse", "bias",
             "aggregate_error", "coverage_0.9", "expected_coverage_0.9"]
    click.echo(table[shown].round(3).to_string())
    if out:
        pl.write_table(table, out)
        log.info("comparison written to %s", out)


CURRENCY_HELP = ("Currency of the amounts, named on every amount of the report: a symbol "
                 "('$') goes before them, a code ('USD') after [default: none; the report "
                 "says amounts are in the data's currency units].")


@main.command(cls=_Command)
@click.argument("model_dir", type=click.Path())
@click.argument("transactions", type=click.Path())
@_data_options(saved=True)
@_value_options
@click.option("--out", required=True, type=click.Path(), help="HTML file to write.")
@click.option("--title", default="Customer value report", show_default=True,
              help="Title of the report.")
@click.option("--currency", default=None, help=CURRENCY_HELP)
@click.option("--compare-models", "compare", is_flag=True,
              help="Also fit MBG/NBD and Pareto/NBD (by MAP) beside BG/NBD on the "
              "calibration period and show which predicts the holdout best (needs "
              "--calibration-end).")
def report(model_dir, transactions, out, title, currency, compare, rejects, **kw):
    """Write a self-contained HTML report of the customers in TRANSACTIONS.

    Columns, dates and options not given are those saved with the model at fit.
    """
    from lifevalue.report import write_report

    bg, gg, summary, data_opts, value_opts = _score_inputs(model_dir, transactions, kw,
                                                           rejects, out)
    comparison = pl.compare_transaction_models(
        summary, list(pl.TRANSACTION_MODELS), method="map") if compare else None
    result = pl.evaluate(bg, gg, summary, value_opts)
    write_report(out, summary=summary, transactions_model=bg, spend_model=gg, value=result,
                 transactions=pl.report_log_frame(transactions, data_opts), title=title,
                 currency=currency, scenario=pl.scenario(str(value_opts["scenario"])),
                 model_comparison=comparison)
    log.info("report written to %s", out)
    click.echo(str(out))


@main.command(cls=_Command)
@click.argument("job_file", type=click.Path())
def run(job_file):
    """Run fit, score and report from one TOML JOB_FILE (see docs/cli.md).

    Sections: [input] (transactions, columns, dates, time_unit, on_bad_rows, rejects),
    [fit] (out, model, method, draws, tune, chains, sampler, seed, strict, progress), [value]
    (margin - required - and the other value options), [score] (out), [report] (out,
    title), [compare] (previous), [mlflow] (tracking_uri, experiment, run_name). Paths
    are relative to the job file. An invalid job file exits with code 3.
    """
    from lifevalue import jobs

    code = jobs.run_job(jobs.load_job(job_file))
    if code:
        sys.exit(code)


@main.command(cls=_Command)
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@click.option("--data", type=click.Path(), default=None,
              help="Transaction log to value with both models when OLD and NEW are model "
              "folders (gives the interval of the change in base value).")
@click.option("--top", type=int, default=10, show_default=True,
              help="How many of the largest movers to show.")
@click.option("--out", type=click.Path(), default=None,
              help="Write the per-customer comparison to this .csv or .parquet file.")
@click.option("--margin", type=float, default=None,
              help="With model folders: the margin [default: as saved at fit].")
def compare(old, new, data, top, out, margin):
    """Compare two runs: two score files, or two model folders and --data.

    Prints customers new and gone, movement between matrix cells and pyramid levels,
    the change in base value (with its interval when model folders are compared) and
    the largest movers.
    """
    from lifevalue import runs

    if out:
        pl.check_table_path(out)
    comparison = runs.compare_paths(old, new, data=data, top=top, margin=margin)
    click.echo(comparison.to_text())
    if out:
        pl.write_table(comparison.customers, out)
        log.info("comparison written to %s", out)


@main.command(cls=_Command)
@click.option("--out-dir", default="reports", show_default=True, type=click.Path(),
              help="Where the demo writes its model, scores and report.")
@click.option("--draws", type=int, default=None,
              help="Draws per chain [default: the library's, 500].")
@click.option("--tune", type=int, default=None,
              help="Tuning steps per chain [default: the library's, 300].")
@click.option("--currency", default="USD", show_default=True,
              help="Currency named in the report (the CDNOW amounts are US dollars).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show the sampler's progress bars (the steps are always listed).")
def demo(out_dir, draws, tune, currency, progress):
    """Run the whole pipeline on the bundled CDNOW sample and write the report.

    Fits both models with the library's defaults, saves them, scores every customer
    and writes the HTML report, then lists every file it wrote.
    """
    import time

    from lifevalue import datasets
    from lifevalue.report import write_report

    start = time.perf_counter()

    def step(number, text):
        click.echo(f"[{number}/6 {time.perf_counter() - start:5.1f} s] {text}")

    out_dir = Path(out_dir)
    step(1, "reading the bundled CDNOW sample (Fader, Hardie & Lee 2005)")
    log_frame = datasets.load_cdnow_transactions("sample")
    summary = datasets.load_cdnow_summary("sample")
    repeaters = summary["frequency"] > 0
    click.echo(f"      {len(summary):,} customers; {int(repeaters.sum()):,} made "
               f"{int(summary['frequency'].sum()):,} repeat purchases in the 39-week "
               f"calibration period, spending {currency} "
               f"{summary.loc[repeaters, 'monetary_value'].mean():.2f} on average")
    step(2, "fitting BG/NBD and Gamma-Gamma with the library's defaults")
    bg, gg = pl.fit_models(summary, "mcmc", draws, tune, None, None, 1, progress)
    for model in (bg, gg):
        status = "converged" if model.converged else (
            "did NOT converge: " + "; ".join(model.convergence_problems()))
        click.echo(f"      {type(model).__name__}: {status}")
    step(3, "saving the model folder")
    value = dict(pl.VALUE_DEFAULTS, margin=0.3, retention_cost=0.5)
    model_dir = pl.write_bundle(out_dir / "cdnow_model", bg, gg,
                                {"dataset": "CDNOW sample", "time_unit": "W",
                                 "options": {"data": {"time_unit": "W"}, "value": value}})
    written = [Path(model_dir) / name for name in pl.BUNDLE_FILES]
    step(4, "valuing every customer over the next 12 months (margin 30%, retention cost "
            f"0.50 {currency} a month, 10% a year)")
    result = pl.evaluate(bg, gg, summary, value)
    written.append(pl.write_table(pl.score_frame(result), out_dir / "cdnow_scores.csv"))
    base = result.base.loc["current"]
    click.echo(f"      current value of the base: {base['mean']:,.0f} {currency} "
               f"(parameter interval {base['param_lo']:,.0f} to {base['param_hi']:,.0f})")
    step(5, "comparing BG/NBD with MBG/NBD and Pareto/NBD (MAP) on the 39-week holdout")
    comparison = pl.compare_transaction_models(summary, list(pl.TRANSACTION_MODELS),
                                               method="map")
    click.echo(f"      best forecast of the holdout: {comparison.index[0]}")
    step(6, "writing the report (with a holdout check of the model)")
    written.append(write_report(out_dir / "cdnow_report.html", summary=summary,
                                transactions_model=bg, spend_model=gg, value=result,
                                transactions=log_frame, title="CDNOW sample: customer value",
                                currency=currency, scenario=pl.scenario(value["scenario"]),
                                model_comparison=comparison))
    click.echo(f"\nDone in {time.perf_counter() - start:.1f} s. Files written:")
    for path in written:
        click.echo(f"  {Path(path).absolute()}")


# kept for callers of the earlier private helpers
_write_bundle = pl.write_bundle

if __name__ == "__main__":
    main()
