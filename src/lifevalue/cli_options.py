"""The options of ``lifevalue fit`` as one click decorator (the ``[fit]`` section of a
job file takes the same names; see :mod:`lifevalue.jobs`)."""

from __future__ import annotations

import click

from lifevalue import pipeline as pl


def fit_options(f):
    """Add the model, method, sampler, strictness, progress and MLflow options to ``f``."""
    for opt in reversed([
        click.option("--model", type=click.Choice(pl.VALUED_MODELS), default="bgnbd",
                     show_default=True, help="Transaction model: BG/NBD, MBG/NBD (one-time "
                     "buyers may have churned) or Pareto/NBD (customers may churn at any "
                     "time); see compare-models."),
        click.option("--method", type=click.Choice(["mcmc", "map", "laplace"]), default="mcmc",
                     show_default=True, help="NUTS, posterior mode, or Laplace + PSIS (falls "
                     "back to NUTS when Pareto k-hat > 0.7)."),
        click.option("--draws", type=int, default=None,
                     help="Draws per chain [default: the library's, 500]."),
        click.option("--tune", type=int, default=None,
                     help="Tuning steps per chain [default: the library's, 300]."),
        click.option("--chains", type=int, default=None,
                     help="MCMC chains [default: the library's, 4]."),
        click.option("--sampler", type=click.Choice(["compiled", "pymc", "nutpie", "numpyro"]),
                     default=None, help="NUTS implementation for --method mcmc [default: the "
                     "library's, 'compiled']."),
        click.option("--purchase-covariates", default=None,
                     help="Attribute columns (comma-separated) with an effect on the purchase "
                     "rate; needs --attributes."),
        click.option("--dropout-covariates", default=None,
                     help="Attribute columns (comma-separated) with an effect on dropout; "
                     "needs --attributes."),
        click.option("--seed", "fit_seed", type=int, default=0, show_default=True,
                     help="Random seed of the fit."),
        click.option("--strict", is_flag=True,
                     help="Exit with code 4, saving nothing, if the fit did not converge."),
        click.option("--progress/--no-progress", default=True, show_default=True,
                     help="Show the sampler's progress."),
        click.option("--mlflow", "mlflow_uri", default=None,
                     help="Log parameters, diagnostics and the model files to this MLflow "
                     "tracking URI (needs 'pip install lifevalue[mlflow]')."),
        click.option("--mlflow-experiment", default="lifevalue", show_default=True,
                     help="MLflow experiment name."),
    ]):
        f = opt(f)
    return f
