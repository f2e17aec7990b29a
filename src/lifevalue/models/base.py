"""The shared engine of lifevalue's models: priors, fit (MCMC or MAP), diagnostics,
summaries and persistence. :class:`~lifevalue.models.beta_geo.BetaGeo` and
:class:`~lifevalue.models.gamma_gamma.GammaGamma` are thin subclasses that supply
their data, likelihood and default priors.

Every fit, whatever the route, leaves an ``xarray.DataTree`` (ArviZ 1's result type)
in ``idata_`` with a ``posterior`` group of dims ``(chain, draw)``; MAP and point
estimates are one chain of one draw. A fit also stores the groups ArviZ expects:
``observed_data`` (the unique rows of the sufficient statistics and their ``count`` of
customers), ``log_prior``, ``log_likelihood`` (per unique row, see :meth:`BaseModel.loo`)
and, from NUTS, ``sample_stats``. Downstream code reads draws through
:meth:`BaseModel.draws` and does not care how they were made.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from lifevalue import validation as v
from lifevalue.files import atomic_write  # noqa: F401 - moved to lifevalue.files; re-exported
from lifevalue.models import diagnostics as dg
from lifevalue.models.diagnostics import ESS_MIN, RHAT_MAX  # noqa: F401 - public names

#: Bumped when the saved file layout changes; :meth:`BaseModel.load` refuses others.
#: 1: ArviZ 0.x ``InferenceData`` (lifevalue 0.1); 2: ``xarray.DataTree`` (ArviZ 1).
FORMAT_VERSION = 2

#: The pointwise log-likelihood (one value per unique row and draw) is stored in
#: ``idata_`` up to this many values (160 MB); :meth:`BaseModel.loo` computes it in
#: chunks beyond.
LOGLIK_MAX_VALUES = 20_000_000

#: Positive-support PyMC distributions a prior may use.
POSITIVE_PRIORS = (
    "HalfNormal", "HalfCauchy", "HalfStudentT", "Gamma", "Exponential", "LogNormal",
    "Weibull", "InverseGamma", "HalfFlat",
)

#: NUTS implementations ``fit(method="mcmc", sampler=...)`` accepts: ``"compiled"``
#: samples lifevalue's compiled log density (:mod:`lifevalue.models.kernels`) with
#: nutpie's NUTS; the others sample the PyMC model with that library's NUTS.
SAMPLERS = ("compiled", "pymc", "nutpie", "numpyro")

#: The sampler of ``fit(method="mcmc")`` when none is named, where nutpie is installed
#: (``"pymc"`` where it is not: see :func:`default_sampler`).
DEFAULT_SAMPLER = "compiled"

#: Fit methods: NUTS, the posterior mode, or Laplace + PSIS with a NUTS fallback.
METHODS = ("mcmc", "map", "laplace")

log = logging.getLogger("lifevalue")

#: Scale of the HalfNormal default prior on the shape parameters r, p and q. Vague on
#: purpose: the data dominate (Gamma-Gamma's likelihood has a long flat ridge in p, q
#: and gamma that a tighter prior, e.g. sigma=10, visibly pulls along).
SHAPE_SIGMA = 300.0

#: Scale of the HalfNormal default prior on BG/NBD's a and b. With few repeat purchases
#: the data cannot tell a homogeneous dropout probability (a and b both large) from a
#: moderately varied one, and under sigma=300 the posterior drifted to the prior's
#: scale (b near 300 on 300 CDNOW customers); sigma=10 keeps them at the scale of
#: published fits. On all of CDNOW its power-scaling sensitivity is 0.02 (< 0.05: it
#: does not bind) and the posterior means move by under 0.1 sd.
DROPOUT_SIGMA = 10.0

#: Above this many unique rows the posterior mode search starts from the mode of a
#: subsample of about ``THIN_TO`` customers.
THIN_ABOVE = 50_000
THIN_TO = 50_000


class ConvergenceWarning(UserWarning):
    """An MCMC fit shows divergences, rank-normalised r-hat > 1.01, or bulk or tail ESS
    < 400 (or a Laplace fit an importance-sampling ESS < 400)."""


class LaplaceFallbackWarning(UserWarning):
    """``fit(method="laplace")``: Pareto k-hat > 0.7, so the posterior was sampled by NUTS."""


class BaseModel:
    """Common machinery of lifevalue's Bayesian models.

    Subclasses define ``param_names``, ``summary_names``, :meth:`default_priors`,
    :meth:`_stats` and :meth:`_loglik`.
    """

    param_names: ClassVar[tuple[str, ...]] = ()
    summary_names: ClassVar[tuple[str, ...]] = ()
    #: Name of the observed variable in ``observed_data`` and ``log_likelihood``.
    observed_name: ClassVar[str] = "y"
    #: Chains when ``fit`` is not told: four, as ArviZ and Stan advise for R-hat.
    default_chains: ClassVar[int] = 4
    #: Draws per chain when ``fit`` is not told: 4 x 500 draws give a bulk and a tail
    #: ESS over 1000 on CDNOW with the default (whitened, compiled) sampler.
    default_draws: ClassVar[int] = 500
    #: Tuning steps per chain when ``fit`` is not told: the compiled sampler starts at
    #: the mode in whitened coordinates, so 500 steps tune its step size amply.
    default_tune: ClassVar[int] = 500

    def __init__(self, priors: dict[str, dict] | None = None):
        priors = dict(priors or {})
        unknown = sorted(set(priors) - set(self.param_names))
        if unknown:
            raise v.InvalidOptionError(
                f"priors name unknown parameter {unknown[0]!r}; {type(self).__name__} has "
                f"{list(self.param_names)}",
                column="priors",
            )
        for name, spec in priors.items():
            _check_prior(name, spec)
        self.priors = priors

    # ------------------------------------------------------------- subclass hooks

    def default_priors(self, stats) -> dict[str, dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stats(self, columns: dict[str, np.ndarray]):  # pragma: no cover - abstract
        raise NotImplementedError

    def _loglik(self, params: dict, stats, xp):  # pragma: no cover - abstract
        raise NotImplementedError

    def _loglik_grad(self, values: np.ndarray, stats):  # pragma: no cover - abstract
        """Total log-likelihood and its gradient at ``values`` (in ``param_names`` order)."""
        raise NotImplementedError

    def _loglik_derivs(self, values: np.ndarray, stats):  # pragma: no cover - abstract
        """Total log-likelihood, gradient and Hessian at ``values``."""
        raise NotImplementedError

    def _loglik_draws(self, values: np.ndarray, stats,
                      workers: int = 1):  # pragma: no cover - abstract
        """Total log-likelihood at each row of ``values`` (draws x parameters)."""
        raise NotImplementedError

    def _map_start(self, stats) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _observed(self, stats) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        """The unique rows of the sufficient statistics, one array per column."""
        raise NotImplementedError

    def _pointwise_loglik(self, values: np.ndarray, stats, start: int,
                          stop: int) -> np.ndarray:  # pragma: no cover - abstract
        """Log-likelihood of unique rows ``start:stop`` at each row of ``values``
        (draws x parameters), shape ``(draws, stop - start)``."""
        raise NotImplementedError

    def _kernel(self, stats):  # pragma: no cover - abstract
        """``(fn, data)``: ``fn(*values, *data)`` is the compiled total log-likelihood
        and its gradient at ``values`` (see :mod:`lifevalue.models.kernels`)."""
        raise NotImplementedError

    def _thin(self, stats, fraction: float, rng):  # pragma: no cover - abstract
        """A random subsample of the customers' statistics (see ``likelihoods.thin_*``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------- fitting

    def _prepare(self, summary: pd.DataFrame):
        # a summary without a time unit can be fitted (the parameters are then in no
        # stated unit); valuing with such a model is refused (CustomerValue)
        columns = v.check_summary(summary, self.summary_names)
        counts = v.check_counts(summary)
        if counts is not None:  # rows that stand for several customers each
            columns[v.COUNT_COLUMN] = counts
        return self._stats(columns)

    @classmethod
    def flat_priors(cls) -> dict[str, dict]:
        """Flat priors on every parameter: ``fit(method="map", priors=...)`` with them is
        the maximum-likelihood estimate (what the papers and ``lifetimes`` report).

        Examples
        --------
        >>> from lifevalue import BetaGeo
        >>> BetaGeo.flat_priors()["r"]
        {'dist': 'HalfFlat'}
        """
        return {n: {"dist": "HalfFlat"} for n in cls.param_names}

    def resolved_priors(self, stats) -> dict[str, dict]:
        """The default priors for these data, overridden by the user's."""
        return {**self.default_priors(stats), **self.priors}

    def build_model(self, summary: pd.DataFrame):
        """The PyMC model of the population parameters given ``summary``."""
        stats = self._prepare(summary)
        return self._pymc_model(stats, self.resolved_priors(stats))

    def _pymc_model(self, stats, priors):
        import pymc as pm

        from lifevalue.models.likelihoods import pytensor_namespace

        with pm.Model() as model:
            params = {}
            for name in self.param_names:
                spec = dict(priors[name])
                dist = getattr(pm, spec.pop("dist"))
                params[name] = dist(name, **spec)
            pm.Potential("loglik", self._loglik(params, stats, pytensor_namespace()))
        return model

    def fit(
        self,
        summary: pd.DataFrame,
        *,
        method: str = "mcmc",
        draws: int | None = None,
        tune: int | None = None,
        chains: int | None = None,
        sampler: str | None = None,
        random_seed: int | None = None,
        progressbar: bool = False,
        proposals: int | None = None,
        **sampler_kwargs,
    ):
        """Fit the population parameters to an RFM summary.

        Parameters
        ----------
        summary : pandas.DataFrame
            From :func:`lifevalue.summarize`; calibration columns (``*_cal``) are used
            when the plain ones are absent.
        method : {'mcmc', 'map', 'laplace'}
            ``'mcmc'`` samples the posterior with NUTS; ``'map'`` finds the posterior
            mode (in the parameters' own scale, without Jacobian) by Newton trust-region
            steps in log parameters with the analytic gradient and Hessian;
            ``'laplace'`` draws from a Student-t Laplace approximation of the posterior
            of the log parameters, corrected by Pareto-smoothed importance sampling
            (:mod:`lifevalue.models.laplace`), and falls back to
            NUTS with a :class:`LaplaceFallbackWarning` when Pareto k-hat > 0.7.
            ``metadata_["draws_from"]`` says which produced the draws, and
            ``diagnostics_`` holds k-hat and the importance-sampling ESS.
        draws, tune, chains : int, optional
            NUTS settings, per chain; default the model's ``default_draws``,
            ``default_tune`` and ``default_chains``: 4 chains of 500 draws after 500
            tuning steps (four chains, as ArviZ and Stan advise for R-hat).
            ``'laplace'`` returns ``chains x draws`` resampled draws; ``tune`` only
            matters after a fallback to NUTS.
        sampler : {'compiled', 'pymc', 'nutpie', 'numpyro'}, optional
            NUTS implementation (default :func:`default_sampler`: ``'compiled'`` where
            nutpie is installed, else ``'pymc'``). ``'compiled'`` runs
            nutpie's NUTS (Rust, chains in threads) on lifevalue's own log density:
            the likelihood kernels of :mod:`lifevalue.models.kernels` (value and
            gradient in one vectorised pass over the unique rows, compiled by numba and
            cached) plus the priors, in ``theta = log(params)`` with its Jacobian,
            affinely whitened by the curvature at the mode of theta (the chains start
            there, jittered by up to one posterior sd per direction). Whitening is a
            fixed change of variables, so the draws are exact NUTS draws of the same
            posterior; it leaves NUTS about 3 gradient evaluations per draw. Extra
            keyword arguments go to ``nutpie.sample`` (e.g. ``target_accept``,
            ``maxdepth``), and ``initvals`` (a dict of parameter values) moves the start.
            ``'pymc'``, ``'nutpie'`` and ``'numpyro'`` sample the PyMC model (a
            PyTensor graph of the same likelihood) with that library's NUTS. See
            ``bench/bench_samplers.py`` and ``bench/bench_models.py`` for measurements.
        random_seed : int, optional
        progressbar : bool
            Show the sampler's progress (the CLI turns it on).
        proposals : int, optional
            ``'laplace'`` only: number of proposal draws, i.e. likelihood evaluations
            (default half of ``chains x draws``, at least 1000, which k-hat needs; the
            design's "about a thousand likelihood evaluations"). With the nearly equal
            weights of a large data set each proposal is resampled about twice.

        Returns
        -------
        self
        """
        if method not in METHODS:
            raise v.InvalidOptionError(
                f"method {method!r} is not one of {', '.join(repr(m) for m in METHODS)}",
                column="method")
        sampler = default_sampler() if sampler is None else sampler
        if sampler not in SAMPLERS:
            raise v.InvalidOptionError(f"sampler {sampler!r} is not one of {list(SAMPLERS)}",
                                       column="sampler")
        if proposals is not None and (not isinstance(proposals, int | np.integer)
                                      or proposals < 100):
            raise v.InvalidOptionError(
                f"proposals must be a whole number of at least 100, got {proposals!r}",
                column="proposals")
        stats = self._prepare(summary)
        priors = self.resolved_priors(stats)
        draws = self.default_draws if draws is None else draws
        tune = self.default_tune if tune is None else tune
        chains = self.default_chains if chains is None else chains
        for name, val, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
            if not isinstance(val, int | np.integer) or isinstance(val, bool) or val < low:
                raise v.InvalidOptionError(
                    f"{name} must be a whole number of at least {low}, got {val!r}",
                    column=name)
        start = time.perf_counter()
        laplace_diag: dict[str, Any] = {}
        draws_from = {"mcmc": "nuts", "map": "mode", "laplace": "laplace+psis"}[method]
        if method == "map":
            idata = self._fit_map(stats, priors)
        elif method == "laplace":
            idata, laplace_diag = self._fit_laplace(
                stats, priors, draws=draws, chains=chains, proposals=proposals,
                random_seed=random_seed)
            if laplace_diag["fallback"]:
                draws_from = "nuts"
                if "mode" in laplace_diag:
                    sampler_kwargs.setdefault("initvals", laplace_diag["mode"])
                idata = self._fit_nuts(stats, priors, draws=draws, tune=tune, chains=chains,
                                       sampler=sampler, random_seed=random_seed,
                                       progressbar=progressbar, **sampler_kwargs)
            laplace_diag.pop("mode", None)
        else:
            if sampler != "compiled":
                # chains start (jittered) at the posterior mode, found cheaply on the
                # compressed statistics, instead of at the vague priors' centres
                mode = self._fit_map(stats, priors)["posterior"]
                initvals = {n: float(mode[n].values.ravel()[0]) for n in self.param_names}
                sampler_kwargs.setdefault("initvals", initvals)
            idata = self._fit_nuts(stats, priors, draws=draws, tune=tune, chains=chains,
                                   sampler=sampler, random_seed=random_seed,
                                   progressbar=progressbar, **sampler_kwargs)
        self.idata_ = self._complete(idata, stats, priors)
        self.metadata_ = {
            "model": type(self).__name__,
            "format_version": FORMAT_VERSION,
            "lifevalue_version": _version(),
            "method": method,
            "draws_from": draws_from,
            "sampler": sampler if draws_from == "nuts" else None,
            "priors": priors,
            "time_unit": v.summary_time_unit(summary),
            "n_customers": int(stats.n_customers),
            "n_unique": int(stats.n_unique),
            "fit_seconds": round(time.perf_counter() - start, 3),
        }
        self.diagnostics_ = self._diagnostics()
        if laplace_diag:
            self.diagnostics_.update(laplace_diag)
        if draws_from in ("nuts", "laplace+psis"):
            self.diagnostics_["prior_sensitivity"] = dg.prior_sensitivity(
                dg.posterior_dataset(self.idata_), self.idata_["log_prior"].to_dataset(),
                self._total_loglik_draws(stats))
            self._warn_if_not_converged()
        return self

    # ------------------------------------------------------- the DataTree of a fit

    def _values(self) -> np.ndarray:
        """Posterior draws as (draws, parameters), chains pooled, ``param_names`` order."""
        post = self.idata_["posterior"]
        return np.column_stack([np.asarray(post[n].values, dtype="float64").reshape(-1)
                                for n in self.param_names])

    def _total_loglik_draws(self, stats) -> np.ndarray:
        """Total log-likelihood of all customers at each draw, shape (chain, draw)."""
        post = self.idata_["posterior"]
        shape = (post.sizes["chain"], post.sizes["draw"])
        return self._loglik_draws(self._values(), stats).reshape(shape)

    def _complete(self, idata, stats, priors) -> xr.DataTree:
        """Add the groups ArviZ expects to the posterior of a fit: ``observed_data``
        (unique rows of the sufficient statistics with their ``count``), ``log_prior``
        and, up to :data:`LOGLIK_MAX_VALUES` values, ``log_likelihood`` per unique row."""
        from lifevalue.models.priors import logp_and_grad

        post = idata["posterior"].to_dataset()
        coords = {d: post[d].values for d in dg.SAMPLE_DIMS}
        groups = {k: idata[k].to_dataset() for k in idata.children}
        observed = self._observed(stats)
        groups["observed_data"] = xr.Dataset(
            {k: ("row", np.asarray(a, dtype="float64")) for k, a in observed.items()},
            coords={"row": np.arange(stats.n_unique)})
        groups["log_prior"] = xr.Dataset(
            {n: (dg.SAMPLE_DIMS, np.asarray(logp_and_grad(priors[n], post[n].values)[0],
                                            dtype="float64")
                 * np.ones(post[n].shape))
             for n in self.param_names}, coords=coords)
        n_draws = post.sizes["chain"] * post.sizes["draw"]
        if stats.n_unique * n_draws <= LOGLIK_MAX_VALUES and n_draws > 1:
            values = np.column_stack([post[n].values.reshape(-1) for n in self.param_names])
            ll = self._pointwise_loglik(values, stats, 0, stats.n_unique)
            groups["log_likelihood"] = xr.Dataset(
                {self.observed_name: ((*dg.SAMPLE_DIMS, "row"),
                                      ll.reshape(*post[self.param_names[0]].shape, -1))},
                coords={**coords, "row": np.arange(stats.n_unique)})
        tree = xr.DataTree.from_dict(groups)
        tree.attrs.update(idata.attrs)
        return tree

    def loo(self):
        """PSIS leave-one-out cross-validation of every customer.

        Equal to ``arviz.loo`` on a log-likelihood with one row per customer, computed
        on the unique rows of the sufficient statistics (customers with the same history
        have the same leave-one-out term) and weighted by their counts, in chunks of
        rows: memory does not grow with the number of customers. Pass results of several
        models fitted on the same summary to ``arviz.compare`` to rank them.

        ``arviz.loo(model.idata_)`` also works, but treats each unique row as one
        observation (the weights are in ``idata_.observed_data["count"]``).

        Returns
        -------
        arviz.ELPDDataLOO
            ``elpd``, its ``se``, ``p`` (effective number of parameters), pointwise
            ``elpd_i`` and ``pareto_k`` over dim ``customer`` (customers in the order
            of their unique rows).

        Examples
        --------
        >>> from lifevalue import BetaGeo, datasets
        >>> bg = BetaGeo().fit(datasets.load_cdnow_summary(), draws=200, tune=200,
        ...                    random_seed=1)  # doctest: +SKIP
        >>> bg.loo().elpd  # doctest: +SKIP
        -9583.9...
        """
        self._check_fitted()
        post = self.idata_["posterior"]
        if post.sizes["chain"] * post.sizes["draw"] < 2:
            raise v.InvalidOptionError(
                "loo() needs posterior draws; this model is a point estimate "
                f"({self.metadata_['method']}): fit it with method='mcmc' or 'laplace'",
                column="method")
        obs = self.idata_["observed_data"]
        counts = obs["count"].values
        if "log_likelihood" in self.idata_.children:
            ll = self.idata_["log_likelihood"][self.observed_name].values

            def rows(start, stop):
                return ll[..., start:stop]
        else:
            stats = self._stats_from_observed(obs.to_dataset())
            values = self._values()
            shape = (post.sizes["chain"], post.sizes["draw"])

            def rows(start, stop):
                return self._pointwise_loglik(values, stats, start, stop).reshape(*shape, -1)
        return dg.weighted_loo(dg.posterior_dataset(self.idata_), rows, counts,
                               var_name=self.observed_name)

    def _stats_from_observed(self, observed: xr.Dataset):
        """Sufficient statistics rebuilt from the ``observed_data`` group."""
        columns = {k: observed[k].values for k in observed.data_vars if k != "count"}
        columns[v.COUNT_COLUMN] = observed["count"].values
        return self._stats(columns)

    def _log_posterior(self, theta: np.ndarray, stats, specs, *, jacobian: bool):
        """Log posterior of ``theta = log(params)`` with its gradient and Hessian in theta.

        Likelihood plus prior log densities; with ``jacobian`` also ``sum(theta)``, the
        log Jacobian of ``params = exp(theta)``, which makes it the density of theta
        itself (what the Laplace approximation approximates). Without it, its mode is the
        mode of the density of the parameters (MAP).
        """
        from lifevalue.models.priors import logp_grad_hess

        values = np.exp(theta)
        ll, g, h = self._loglik_derivs(values, stats)
        for i, spec in enumerate(specs):
            lp, d1, d2 = logp_grad_hess(spec, values[i])
            ll, g[i], h[i, i] = ll + lp, g[i] + d1, h[i, i] + d2
        # chain rule: d/dtheta_i = v_i d/dv_i
        g_theta = g * values
        h_theta = h * np.outer(values, values) + np.diag(g_theta)
        if jacobian:
            ll, g_theta = ll + float(np.sum(theta)), g_theta + 1.0
        return ll, g_theta, h_theta

    def _mode(self, stats, priors, *, jacobian: bool, start: np.ndarray | None = None,
              max_iter: int = 200, tol: float = 1e-10):
        """Maximise :meth:`_log_posterior` by damped Newton steps with the analytic
        Hessian; each step is one pass over the unique rows for value, gradient and
        Hessian together.

        Where the Hessian is not negative definite (far from the mode) the step uses
        its eigenvalues' magnitudes (a saddle-free Newton step); steps are capped at one
        unit of log parameter and halved until the log density rises enough (Armijo).
        It stops when the Newton decrement ``g' (-H)^-1 g / 2``, the predicted gain in
        log density, is below ``tol`` (a criterion that does not depend on the number
        of customers), or when the gradient in log parameters is below ``1e-8 (1 + |f|)``.
        Usually 5-15 iterations (2-4 on all customers after a start from a subsample's
        mode). Where Newton steps stall (a flat ridge on a handful of customers) BFGS
        finishes from where they stopped.

        Returns
        -------
        theta, log density, Hessian (in theta), iterations
        """
        specs = [priors[n] for n in self.param_names]

        def derivs(theta):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                out = self._log_posterior(theta, stats, specs, jacobian=jacobian)
            ll, g, h = out
            if not (np.isfinite(ll) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
                return -np.inf, g, h
            return out

        if start is not None:
            theta = np.asarray(start, dtype=float)
        elif stats.n_unique > THIN_ABOVE:
            # the mode of a subsample of about THIN_TO customers is a few cheap steps
            # away, and from it the full data need 2-4 Newton steps instead of 6-10
            fraction = THIN_TO / max(stats.n_customers, 1)
            small = self._thin(stats, fraction, np.random.default_rng(0))
            theta = self._mode(small, priors, jacobian=jacobian,
                               start=np.log(self._map_start(small)))[0]
        else:
            theta = np.log(self._map_start(stats))
        f, g, h = derivs(theta)
        if not np.isfinite(f):
            raise RuntimeError("MAP optimisation failed: the log density is not finite at "
                               "the start")
        for it in range(1, max_iter + 1):
            eig, vec = np.linalg.eigh(-h)
            eig = np.maximum(np.abs(eig), 1e-10 * max(np.max(np.abs(eig)), 1e-300))
            step = vec @ ((vec.T @ g) / eig)
            decrement = float(g @ step)
            # a flat direction (a mode at the boundary, e.g. b -> 0 on a handful of
            # customers) keeps the decrement up while the gradient in log parameters
            # vanishes: stop there too, as BFGS would
            if decrement / 2 < tol or np.max(np.abs(g)) < 1e-8 * (1.0 + abs(f)):
                return theta, f, h, it - 1
            step *= min(1.0, 1.0 / np.max(np.abs(step)))
            t = 1.0
            for _ in range(60):
                f_new, g_new, h_new = derivs(theta + t * step)
                if f_new >= f + 1e-4 * t * float(g @ step):
                    break
                t /= 2
            else:
                if decrement < 1e-6:  # at the mode up to rounding
                    return theta, f, h, it - 1
                break
            theta, f, g, h = theta + t * step, f_new, g_new, h_new
        # Newton stalled (a long flat ridge on a handful of customers): finish with BFGS
        # on the gradient alone, as MAP did before it took Newton steps
        return self._mode_bfgs(theta, derivs, max_iter)

    @staticmethod
    def _mode_bfgs(theta, derivs, newton_steps):
        from scipy import optimize

        def objective(t):
            f, g, _ = derivs(t)
            return (1e300, np.zeros_like(t)) if not np.isfinite(f) else (-f, -g)

        res = optimize.minimize(objective, theta, jac=True, method="BFGS",
                                options={"maxiter": 5000, "gtol": 1e-8})
        if not np.isfinite(res.fun) or res.fun >= 1e300:
            raise RuntimeError(f"MAP optimisation failed: {res.message}")
        f, _, h = derivs(res.x)
        return res.x, f, h, newton_steps + int(res.nit)

    def _fit_nuts(self, stats, priors, *, sampler, **kwargs) -> xr.DataTree:
        """NUTS draws of the posterior with the named sampler (see :meth:`fit`)."""
        if sampler == "compiled":
            return self._fit_compiled(stats, priors, **kwargs)
        return _fit_mcmc(self._pymc_model(stats, priors), sampler=sampler, **kwargs)

    def _compiled_log_density(self, stats, priors, start=None):
        """The log density that ``sampler="compiled"`` samples, and its parametrisation.

        ``theta = log(params)`` carries the log posterior plus the log Jacobian
        ``sum(theta)`` (the density :meth:`_fit_laplace` approximates). NUTS samples
        ``z`` with ``theta = mode + S z``, where ``mode`` is the mode of that density and
        ``S S' = (-H)^-1`` from its Hessian ``H`` there (eigenvalue magnitudes, floored,
        where ``-H`` is not positive definite; the identity where it is not finite, and
        the MAP's mode and Hessian where theta's density has no mode to find): a fixed
        affine map, so the log density of z is that of theta plus a constant, and at a
        million customers it is close to a standard normal. ``start`` (parameter
        values), when given, replaces the mode as the chains' starting point.

        Returns
        -------
        logp : callable
            ``z -> (log density, gradient in z)``; ``(-inf, 0)`` where not finite, which
            NUTS treats as a divergence.
        to_params : callable
            ``z -> params`` (ndarray, ``param_names`` order).
        z_start : ndarray
        """
        from lifevalue.models.priors import logp_and_grad

        specs = [priors[n] for n in self.param_names]
        fn, data = self._kernel(stats)
        try:
            mode, _, hess, _ = self._mode(stats, priors, jacobian=True)
        except RuntimeError:  # no mode of theta's density: the MAP's will do as a centre
            mode, _, hess, _ = self._mode(stats, priors, jacobian=False)
        if np.all(np.isfinite(hess)):
            eigval, eigvec = np.linalg.eigh(-hess)
            eigval = np.abs(eigval)
            eigval = np.maximum(eigval, 1e-12 * max(float(eigval.max()), 1e-300))
            scale = eigvec / np.sqrt(eigval)  # S, with S S' = (-H)^-1
        else:  # nutpie's mass matrix adaptation is left to find the scales
            scale = np.eye(len(mode))
        scale_t = np.ascontiguousarray(scale.T)
        n = len(specs)

        def logp(z):
            # called once per leapfrog step, holding the GIL: scalar Python around one
            # kernel call (which releases it)
            with np.errstate(all="ignore"):
                theta = mode + scale @ z
                values = np.exp(theta)
                ll, grad = fn(*values, *data)
                for i, value in enumerate(values.tolist()):
                    lp, d1 = logp_and_grad(specs[i], value)
                    ll += lp
                    grad[i] += d1
                ll += sum(theta.tolist())
                grad_z = scale_t @ (grad * values + 1.0)
                check = float(ll) + float(grad_z @ grad_z)
            if not math.isfinite(check):
                return -math.inf, np.zeros(n)
            return float(ll), grad_z

        def to_params(z):
            return np.exp(mode + scale @ z)

        z_start = np.zeros(n)
        if start is not None:
            theta0 = np.log([float(start[k]) for k in self.param_names])
            z_start = np.linalg.solve(scale, theta0 - mode)
        return logp, to_params, z_start

    def _fit_compiled(self, stats, priors, *, draws, tune, chains, random_seed, progressbar,
                      initvals=None, **kwargs) -> xr.DataTree:
        """NUTS by nutpie on :meth:`_compiled_log_density` (``sampler="compiled"``).

        The chains run in threads; the kernels release the GIL, so two chains use two
        cores. Each chain starts at the mode (or ``initvals``) plus a uniform jitter of
        up to one unit of z, i.e. about one posterior sd, per direction. The result has
        the groups of the other samplers: ``posterior`` with each of ``param_names``
        over (chain, draw), and nutpie's ``sample_stats`` (``diverging``, ``n_steps``,
        ``depth``, ``step_size``, ...), tuning draws left out.
        """
        try:
            import nutpie
            from nutpie.compiled_pyfunc import from_pyfunc
        except ImportError as err:
            raise ImportError("sampler='compiled' runs nutpie's NUTS: pip install nutpie "
                              "(or choose sampler='pymc')") from err

        logp, to_params, z_start = self._compiled_log_density(stats, priors, start=initvals)
        names = list(self.param_names)
        n = len(names)

        def make_logp_fn():
            return logp

        def make_expand_fn(seed1, seed2, chain):
            def expand(z):
                values = to_params(np.asarray(z))
                return {name: np.asarray(values[i]) for i, name in enumerate(names)}
            return expand

        def initial_point(seed):
            jitter = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
            return z_start + jitter

        compiled = from_pyfunc(n, make_logp_fn, make_expand_fn, [np.dtype("float64")] * n,
                               [()] * n, names, make_initial_point_fn=initial_point)
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains,
                              cores=min(chains, os.cpu_count() or 1), seed=random_seed,
                              progress_bar=progressbar, save_warmup=False, **kwargs)
        return idata

    def _fit_map(self, stats, priors) -> xr.DataTree:
        """Posterior mode by Newton steps in log parameters, on the NumPy likelihood with
        its analytic gradient and Hessian plus the priors' log densities (no Jacobian: the
        mode is that of the density of the parameters themselves). Nothing is compiled."""
        theta, logp, _, nit = self._mode(stats, priors, jacobian=False)
        values = np.exp(theta)
        # built directly: arviz's from_dict costs more than the Newton steps at 100k
        posterior = xr.Dataset(
            {n: (("chain", "draw"), np.array([[val]]))
             for n, val in zip(self.param_names, values, strict=True)},
            coords={"chain": [0], "draw": [0]})
        tree = xr.DataTree.from_dict({"posterior": posterior})
        tree.attrs.update({"map_logp": float(logp), "map_iterations": nit})
        return tree

    def _fit_laplace(self, stats, priors, *, draws, chains, proposals, random_seed):
        """Laplace approximation at the mode of the log parameters' posterior, corrected
        by PSIS (:func:`lifevalue.models.laplace.laplace_psis`) and resampled to
        ``chains x draws`` draws; the diagnostics say whether to fall back to NUTS."""
        from lifevalue.models import laplace as lp
        from lifevalue.models.priors import logp_and_grad

        specs = [priors[n] for n in self.param_names]
        try:
            theta, _, hess, nit = self._mode(stats, priors, jacobian=True)
            np.linalg.cholesky(-hess)
        except (RuntimeError, np.linalg.LinAlgError) as err:
            msg = (f"{type(self).__name__} Laplace fit: no proper mode of the posterior "
                   f"({err}); sampling the posterior with NUTS instead")
            log.warning(msg)
            warnings.warn(msg, LaplaceFallbackWarning, stacklevel=3)
            return None, {"pareto_k": float("inf"), "importance_ess": 0.0, "proposals": 0,
                          "fallback": True}
        workers = max(1, min(2, os.cpu_count() or 1))

        def log_density(thetas):
            values = np.exp(thetas)
            out = self._loglik_draws(values, stats, workers=workers)
            for i, spec in enumerate(specs):
                out = out + logp_and_grad(spec, values[:, i])[0]
            return out + thetas.sum(axis=1)

        n_out = chains * draws
        rng = np.random.default_rng(random_seed)
        res = lp.laplace_psis(log_density, theta, hess,
                              n_proposals=proposals or max(n_out // 2, lp.MIN_PROPOSALS),
                              n_out=n_out, rng=rng)
        mode = {n: float(val) for n, val in zip(self.param_names, np.exp(theta), strict=True)}
        diag = {"pareto_k": res.khat, "importance_ess": res.ess, "proposals": res.n_proposals,
                "proposal_df": res.proposal.df, "mode_iterations": nit,
                "fallback": not res.reliable, "mode": mode}
        if not res.reliable:
            msg = (f"{type(self).__name__} Laplace fit: Pareto k-hat {res.khat:.2f} > "
                   f"{lp.KHAT_MAX}, the importance weights are unreliable; sampling the "
                   "posterior with NUTS instead")
            log.warning(msg)
            warnings.warn(msg, LaplaceFallbackWarning, stacklevel=3)
            return None, diag
        values = np.exp(res.theta).reshape(chains, draws, -1)
        idata = _posterior_tree({n: values[..., i] for i, n in enumerate(self.param_names)})
        idata.attrs.update({"method": "laplace+psis", "pareto_k": res.khat,
                            "importance_ess": res.ess, "proposals": res.n_proposals})
        return idata, diag

    # ------------------------------------------------------------ fitted results

    def _check_fitted(self):
        if not hasattr(self, "idata_"):
            raise v.NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(summary) or load(path) "
                "first"
            )

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "idata_")

    def draws(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """Posterior draws of each parameter, chains pooled, as 1-D float arrays.

        ``max_draws`` thins evenly to at most that many draws.
        """
        self._check_fitted()
        post = self.idata_["posterior"]
        out = {n: np.asarray(post[n].values, dtype="float64").reshape(-1)
               for n in self.param_names}
        n = len(out[self.param_names[0]])
        if max_draws is not None and n > max_draws:
            keep = np.linspace(0, n - 1, max_draws).round().astype(int)
            out = {k: a[keep] for k, a in out.items()}
        return out

    def point_estimate(self) -> dict[str, float]:
        """Posterior mean of each parameter (the estimate itself after MAP)."""
        return {k: float(a.mean()) for k, a in self.draws().items()}

    def loglik(self, summary: pd.DataFrame, params: dict[str, float] | None = None) -> float:
        """Total log-likelihood of ``summary`` at ``params`` (default: posterior mean)."""
        from lifevalue.models.likelihoods import NUMPY

        params = self.point_estimate() if params is None else params
        return float(self._loglik(params, self._prepare(summary), NUMPY))

    def summary(self, ci: float = 0.9) -> pd.DataFrame:
        """Posterior summary of each population parameter.

        Parameters
        ----------
        ci : float
            Width of the equal-tailed credible interval (the kind every lifevalue
            interval is).

        Returns
        -------
        pandas.DataFrame
            One row per parameter: ``mean``, ``sd``, the interval ``lo``/``hi``, the
            Monte-Carlo standard error of the mean ``mcse_mean``, ``ess_bulk`` and
            ``ess_tail`` (effective sample sizes of the centre and of the 5% and 95%
            quantiles), rank-normalised ``r_hat`` and the power-scaling sensitivity of
            the posterior to the prior and to the likelihood (``prior_sensitivity``
            above 0.05: the prior shapes the posterior). After MAP or ``from_params``
            only ``mean``, the estimate. ``attrs["ci"]`` holds the interval width;
            after ``fit(method="laplace")`` ``attrs`` also hold ``pareto_k`` and
            ``importance_ess``.
        """
        import arviz as az

        self._check_fitted()
        v.check_probability(ci, "ci")
        post = self.idata_["posterior"]
        if post.sizes["draw"] * post.sizes["chain"] < 2:
            est = self.point_estimate()
            return pd.DataFrame({"mean": est}).rename_axis("parameter")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # r-hat of a single chain
            raw = az.summary(dg.posterior_dataset(self.idata_)[list(self.param_names)],
                             ci_prob=ci, ci_kind="eti", round_to="none")
        lo, hi = (c for c in raw.columns if c.startswith("eti"))
        out = raw.rename(columns={lo: "lo", hi: "hi"})[
            ["mean", "sd", "lo", "hi", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"]]
        sens = self.diagnostics_.get("prior_sensitivity")
        if sens:
            out["prior_sensitivity"] = [sens[n]["prior"] for n in out.index]
            out["likelihood_sensitivity"] = [sens[n]["likelihood"] for n in out.index]
        out = out.rename_axis("parameter")
        out.attrs["ci"] = ci
        if self.diagnostics_.get("method") == "laplace":
            # resampled importance draws: their r-hat and ESS describe the resampling;
            # the fit's own checks are k-hat and the ESS of the importance weights
            out.attrs.update({k: self.diagnostics_[k] for k in ("pareto_k", "importance_ess")})
        return out

    def _diagnostics(self) -> dict[str, Any]:
        post = self.idata_["posterior"]
        route = self.metadata_.get("draws_from")
        method = {"nuts": "mcmc", "laplace+psis": "laplace"}.get(route, self.metadata_["method"])
        diag: dict[str, Any] = {"method": method}
        if route == "laplace+psis":
            diag["draws"] = int(post.sizes["chain"] * post.sizes["draw"])
            diag["chains"] = int(post.sizes["chain"])
            return diag
        if post.sizes["chain"] * post.sizes["draw"] < 2 or "sample_stats" not in \
                self.idata_.children:
            return diag
        diag.update(dg.convergence(self.idata_, self.param_names))
        return diag

    @property
    def converged(self) -> bool:
        """False when the MCMC fit failed a convergence check (see ``diagnostics_``)."""
        return not self.convergence_problems()

    def convergence_problems(self) -> list[str]:
        """The convergence checks this fit fails, in words (empty when it passes):
        divergences, rank-normalised r-hat > 1.01, bulk or tail ESS < 400."""
        self._check_fitted()
        return dg.convergence_problems(self.diagnostics_)

    def prior_sensitivity_problems(self) -> list[str]:
        """Parameters whose posterior the prior shapes (power-scaling sensitivity > 0.05),
        in words; empty when no prior binds (or for MAP and point estimates)."""
        self._check_fitted()
        return dg.sensitivity_problems(self.diagnostics_.get("prior_sensitivity") or {})

    def _warn_if_not_converged(self):
        problems = self.convergence_problems()
        route = "Laplace/PSIS" if self.diagnostics_.get("method") == "laplace" else "MCMC"
        if problems:
            warnings.warn(
                f"{type(self).__name__} {route} did not converge: {'; '.join(problems)}. Do not "
                "trust its intervals; sample longer (more tune/draws) or check the data.",
                ConvergenceWarning,
                stacklevel=3,
            )

    # --------------------------------------------------------------- persistence

    @classmethod
    def from_params(cls, params: dict[str, float], *, time_unit: str | None = None):
        """A point-estimate model: one draw at ``params``, usable everywhere downstream.

        ``time_unit`` ('D', 'W' or 'M') is the unit of the data the parameters were
        estimated on; a transaction model without it cannot be valued (lifevalue does
        not guess a unit).
        """
        if time_unit is not None:
            v.check_time_unit(time_unit)
        missing = [n for n in cls.param_names if n not in params]
        if missing:
            raise v.InvalidOptionError(f"params lack {missing[0]!r}", column="params")
        model = cls()
        model.idata_ = _posterior_tree({n: np.array([[float(params[n])]])
                                        for n in cls.param_names})
        model.metadata_ = {
            "model": cls.__name__, "format_version": FORMAT_VERSION,
            "lifevalue_version": _version(), "method": "point", "sampler": None,
            "priors": {}, "time_unit": time_unit,
        }
        model.diagnostics_ = {"method": "point"}
        return model

    def save(self, path) -> Path:
        """Save to one netCDF file, atomically: the ``DataTree`` of :attr:`idata_` (its
        groups as netCDF groups, readable by ``xarray.open_datatree`` and
        ``arviz.from_netcdf``) with lifevalue's metadata and diagnostics as JSON in the
        root attributes ``lifevalue_metadata`` and ``lifevalue_diagnostics``."""
        self._check_fitted()
        path = Path(path)
        tree = self.idata_.copy()
        tree.attrs["lifevalue_metadata"] = json.dumps(self.metadata_)
        tree.attrs["lifevalue_diagnostics"] = json.dumps(self.diagnostics_)
        atomic_write(path, tree.to_netcdf)
        return path

    @classmethod
    def load(cls, path):
        """Load a model saved by :meth:`save`; refuses foreign or incompatible files."""
        path = Path(path)
        if not path.exists():
            raise v.InputError(f"model file {str(path)!r} does not exist", column="model")
        try:
            with xr.open_datatree(path) as opened:
                tree = opened.load()
            # lifevalue 0.1 (format 1) kept its metadata in the posterior's attributes
            attrs = tree.attrs if "lifevalue_metadata" in tree.attrs \
                else tree["posterior"].attrs
            meta = json.loads(attrs["lifevalue_metadata"])
            diag = json.loads(attrs.get("lifevalue_diagnostics", "{}"))
        except Exception as err:  # noqa: BLE001 - any failure means the same to the user
            raise v.InputError(
                f"model file {str(path)!r} is truncated, corrupt or not a lifevalue model "
                f"({type(err).__name__})",
                column="model",
            ) from err
        if meta.get("format_version") != FORMAT_VERSION:
            old = meta.get("format_version")
            raise v.InputError(
                f"model file {str(path)!r} was saved by lifevalue "
                f"{meta.get('lifevalue_version')} in format {old}"
                f"{' (ArviZ 0.x InferenceData)' if old == 1 else ''}; this lifevalue "
                f"({_version()}) reads format {FORMAT_VERSION} (ArviZ 1 DataTree). Refit "
                "the model on its summary and save it again: `lifevalue fit ...`, or "
                "`model.fit(summary).save(path)`.",
                column="model",
            )
        if meta.get("model") != cls.__name__:
            raise v.InputError(
                f"model file {str(path)!r} holds a {meta.get('model')}, not a {cls.__name__}",
                column="model",
            )
        for key in ("lifevalue_metadata", "lifevalue_diagnostics"):
            tree.attrs.pop(key, None)
        model = cls(priors=None)
        model.idata_ = tree
        model.metadata_ = meta
        model.diagnostics_ = diag
        return model

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"{type(self).__name__}(not fitted)"
        est = ", ".join(f"{k}={val:.4g}" for k, val in self.point_estimate().items())
        return f"{type(self).__name__}({est}; {self.metadata_['method']})"


# ----------------------------------------------------------------------- helpers


def _check_prior(name: str, spec) -> None:
    if not isinstance(spec, dict) or "dist" not in spec:
        raise v.InvalidOptionError(
            f"prior of {name!r} must be a dict like {{'dist': 'HalfNormal', 'sigma': 10}}, "
            f"got {spec!r}",
            column="priors",
        )
    if spec["dist"] not in POSITIVE_PRIORS:
        raise v.InvalidOptionError(
            f"prior of {name!r}: {spec['dist']!r} is not one of the positive distributions "
            f"{list(POSITIVE_PRIORS)}",
            column="priors",
        )


def default_sampler() -> str:
    """:data:`DEFAULT_SAMPLER` where nutpie, which runs it, is installed; else ``"pymc"``."""
    import importlib.util

    return DEFAULT_SAMPLER if importlib.util.find_spec("nutpie") is not None else "pymc"


def _version() -> str:
    from lifevalue import __version__

    return __version__


def _posterior_tree(values: dict[str, np.ndarray]) -> xr.DataTree:
    """A DataTree whose ``posterior`` holds ``values``, each of shape (chain, draw)."""
    shape = next(iter(values.values())).shape
    posterior = xr.Dataset({n: (("chain", "draw"), np.asarray(a, dtype="float64"))
                            for n, a in values.items()},
                           coords={"chain": np.arange(shape[0]), "draw": np.arange(shape[1])})
    return xr.DataTree.from_dict({"posterior": posterior})


def _fit_mcmc(model, *, draws, tune, chains, sampler, random_seed, progressbar,
              **kwargs) -> xr.DataTree:
    import pymc as pm

    with model, warnings.catch_warnings():
        # a leapfrog step that overflows (far out on Gamma-Gamma's ridge, early in
        # tuning) is rejected by the sampler as a divergence; after tuning it would
        # count in diagnostics_["divergences"] and raise ConvergenceWarning
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
        return pm.sample(
            draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
            random_seed=random_seed, progressbar=progressbar, nuts_sampler=sampler,
            compute_convergence_checks=False, **kwargs,
        )
