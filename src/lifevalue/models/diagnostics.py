"""Convergence, prior sensitivity and leave-one-out cross-validation of a fitted model.

These work on the ``xarray.DataTree`` of a fit (:attr:`BaseModel.idata_`), through
ArviZ 1 (``arviz-stats``):

* convergence as ArviZ and Stan advise (Vehtari et al. 2021, "Rank-normalization,
  folding, and localization: an improved R-hat for assessing convergence of MCMC"):
  rank-normalised split R-hat, bulk ESS **and tail ESS** (the 5% and 95% quantiles are
  what lifevalue's intervals report), and divergent transitions;
* power-scaling prior and likelihood sensitivity (Kallioinen et al. 2024, "Detecting
  and diagnosing prior and likelihood sensitivity with power-scaling", Stat. Comput.
  34, 57), ArviZ's ``psense``;
* PSIS-LOO (Vehtari, Gelman & Gabry 2017, "Practical Bayesian model evaluation using
  leave-one-out cross-validation and WAIC") on the unique rows of the sufficient
  statistics, weighted by the number of customers in each row. Customers with the same
  statistics have the same log-likelihood in every draw, so their leave-one-out terms
  are equal: the weighted sums are exactly the customer-level LOO.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

#: Convergence thresholds; a fit beyond them raises ``ConvergenceWarning``.
RHAT_MAX = 1.01
ESS_MIN = 400
#: Power-scaling sensitivity above this flags a parameter (ArviZ's default threshold).
PSENSE_THRESHOLD = 0.05

SAMPLE_DIMS = ("chain", "draw")


def posterior_dataset(idata) -> xr.Dataset:
    """The ``posterior`` group of a fit as a plain ``xarray.Dataset``."""
    return idata["posterior"].to_dataset()


def convergence(idata, names) -> dict[str, Any]:
    """R-hat, bulk and tail ESS and divergences of a sampled posterior.

    Parameters
    ----------
    idata : xarray.DataTree
        With a ``posterior`` group over ``(chain, draw)`` and, from NUTS, a
        ``sample_stats`` group with ``diverging``.
    names : sequence of str
        The parameters to check.

    Returns
    -------
    dict
        ``rhat_max`` (rank-normalised split R-hat), ``ess_bulk_min``, ``ess_tail_min``,
        ``divergences``, ``draws`` and ``chains``.

    Examples
    --------
    >>> import arviz as az
    >>> rng = np.random.default_rng(0)
    >>> dt = az.from_dict({"posterior": {"r": rng.normal(size=(4, 500))}})
    >>> d = convergence(dt, ["r"])
    >>> d["rhat_max"] < 1.01, d["ess_tail_min"] > 400, d["chains"]
    (True, True, 4)
    """
    import arviz as az

    post = posterior_dataset(idata)[list(names)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # r-hat of a single chain
        rhat = az.rhat(post, method="rank")
        bulk = az.ess(post, method="bulk")
        tail = az.ess(post, method="tail")
    out: dict[str, Any] = {
        "rhat_max": float(max(float(rhat[n]) for n in names)),
        "ess_bulk_min": float(min(float(bulk[n]) for n in names)),
        "ess_tail_min": float(min(float(tail[n]) for n in names)),
    }
    div = idata["sample_stats"]["diverging"] if _has(idata, "sample_stats", "diverging") \
        else None
    out["divergences"] = int(np.asarray(div).sum()) if div is not None else 0
    out["draws"] = int(post.sizes["chain"] * post.sizes["draw"])
    out["chains"] = int(post.sizes["chain"])
    return out


def _has(idata, group: str, var: str | None = None) -> bool:
    if group not in idata.children:
        return False
    return var is None or var in idata[group].data_vars


def convergence_problems(diag: dict) -> list[str]:
    """Plain-words list of the checks a fit fails (empty when it passes them all).

    Examples
    --------
    >>> convergence_problems({"rhat_max": 1.02, "ess_bulk_min": 900, "ess_tail_min": 150,
    ...                       "divergences": 0})
    ['r-hat 1.020 > 1.01', 'tail ESS 150 < 400']
    """
    problems = []
    if diag.get("divergences", 0) > 0:
        problems.append(f"{diag['divergences']} divergent transitions")
    if diag.get("rhat_max", 1.0) > RHAT_MAX:
        problems.append(f"r-hat {diag['rhat_max']:.3f} > {RHAT_MAX}")
    if diag.get("ess_bulk_min", np.inf) < ESS_MIN:
        problems.append(f"bulk ESS {diag['ess_bulk_min']:.0f} < {ESS_MIN}")
    if diag.get("ess_tail_min", np.inf) < ESS_MIN:
        problems.append(f"tail ESS {diag['ess_tail_min']:.0f} < {ESS_MIN}")
    if diag.get("method") == "laplace" and diag.get("importance_ess", np.inf) < ESS_MIN:
        problems.append(f"importance-sampling ESS {diag['importance_ess']:.0f} < {ESS_MIN}")
    return problems


def prior_sensitivity(posterior: xr.Dataset, log_prior: xr.Dataset,
                      total_loglik: np.ndarray) -> dict[str, dict[str, float]]:
    """Power-scaling sensitivity of each parameter to its prior and to the likelihood.

    ArviZ's ``psense`` power-scales the prior (``log_prior`` group) and the likelihood
    (the sum of the ``log_likelihood`` group) by 0.99 and 1.01 and measures by PSIS how
    far each marginal posterior moves (cumulative Jensen-Shannon distance per unit of
    log power). A prior sensitivity above 0.05 means the prior shapes the posterior; a
    likelihood sensitivity below 0.05 means the data say little about that parameter.

    Parameters
    ----------
    posterior, log_prior : xarray.Dataset
        Over ``(chain, draw)``; ``log_prior`` holds each prior's log density.
    total_loglik : ndarray, shape (chain, draw)
        The log-likelihood of all customers at each draw (counts applied). lifevalue
        stores the pointwise log-likelihood per unique row of the sufficient statistics,
        whose plain sum would miss the counts, so the total is passed here.

    Returns
    -------
    dict
        ``{parameter: {"prior": float, "likelihood": float}}``.
    """
    import arviz as az

    tree = xr.DataTree.from_dict({
        "posterior": posterior,
        "log_prior": log_prior,
        "log_likelihood": xr.Dataset(
            {"total": (SAMPLE_DIMS, np.asarray(total_loglik, dtype="float64"))},
            coords={d: posterior[d] for d in SAMPLE_DIMS}),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PSIS k-hat notes on the power-scaled weights
        prior = az.psense(tree, group="prior")
        like = az.psense(tree, group="likelihood")
    return {str(n): {"prior": float(prior[n]), "likelihood": float(like[n])}
            for n in posterior.data_vars}


def sensitivity_problems(sens: dict[str, dict[str, float]]) -> list[str]:
    """The parameters whose posterior the prior shapes, in words (psense diagnosis):
    with a strong likelihood this is a prior-data conflict; with a weak one the data
    say little about the parameter and the prior fills in.

    Examples
    --------
    >>> sensitivity_problems({"b": {"prior": 0.09, "likelihood": 0.02},
    ...                       "r": {"prior": 0.01, "likelihood": 0.3}})
    ['b: prior sensitivity 0.090 > 0.05, likelihood sensitivity 0.020 (weak data)']
    """
    out = []
    for name, s in sens.items():
        if s["prior"] > PSENSE_THRESHOLD:
            kind = "weak data" if s["likelihood"] < PSENSE_THRESHOLD else "prior-data conflict"
            out.append(f"{name}: prior sensitivity {s['prior']:.3f} > {PSENSE_THRESHOLD}, "
                       f"likelihood sensitivity {s['likelihood']:.3f} ({kind})")
    return out


def weighted_loo(posterior: xr.Dataset, log_lik_rows, counts: np.ndarray, *,
                 var_name: str, chunk_rows: int = 2048):
    """PSIS-LOO of every customer from the log-likelihood of the unique rows.

    Parameters
    ----------
    posterior : xarray.Dataset
        The posterior draws (ArviZ takes the relative efficiency of the importance
        ratios from them, as :func:`arviz.loo` does).
    log_lik_rows : callable
        ``log_lik_rows(start, stop) -> ndarray (chain, draw, stop - start)``, the
        log-likelihood of rows ``start:stop`` at every draw: rows are evaluated a chunk
        at a time, so memory stays bounded whatever the number of customers.
    counts : ndarray
        Customers in each unique row.
    var_name : str
        Name of the observed variable (the name ``az.compare`` shows).

    Returns
    -------
    arviz.ELPDDataLOO
        Identical to ``arviz.loo`` on one row per customer (customers in the order of
        their unique rows): ``elpd_i`` and ``pareto_k`` over dim ``customer``.
    """
    import arviz as az
    from scipy.special import logsumexp

    counts = np.asarray(counts)
    reps = np.rint(counts).astype("int64")
    n_rows = len(counts)
    n_samples = int(posterior.sizes["chain"] * posterior.sizes["draw"])
    elpd_r, k_r, p_r = (np.empty(n_rows) for _ in range(3))
    coords = {d: posterior[d] for d in SAMPLE_DIMS}
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        ll = np.asarray(log_lik_rows(start, stop), dtype="float64")
        tree = xr.DataTree.from_dict({
            "posterior": posterior,
            "log_likelihood": xr.Dataset({var_name: ((*SAMPLE_DIMS, "row"), ll)},
                                         coords=coords),
        })
        with warnings.catch_warnings():
            # ArviZ warns per chunk about large k-hat; the result's ``warning`` says it once
            warnings.simplefilter("ignore")
            res = az.loo(tree, pointwise=True, var_name=var_name)
        elpd_r[start:stop] = res.elpd_i.values
        k_r[start:stop] = res.pareto_k.values
        lppd = logsumexp(ll.reshape(n_samples, -1), axis=0) - np.log(n_samples)
        p_r[start:stop] = lppd - res.elpd_i.values
    elpd_i = xr.DataArray(np.repeat(elpd_r, reps), dims=["customer"], name=var_name)
    p_i = xr.DataArray(np.repeat(p_r, reps), dims=["customer"])
    pareto_k = xr.DataArray(np.repeat(k_r, reps), dims=["customer"], name=var_name)
    elpd, se, p_loo, _ = elpd_i.azstats.loo_summary(p_i)
    good_k = min(1 - 1 / np.log10(n_samples), 0.7) if n_samples > 1 else 0.7
    return az.ELPDDataLOO(
        elpd=elpd, se=se, p=p_loo, n_samples=n_samples, n_data_points=int(reps.sum()),
        scale="log", warning=bool(np.any(k_r > good_k)), good_k=good_k,
        elpd_i=elpd_i, pareto_k=pareto_k, approx_posterior=False, p_loo_i=p_i,
    )
