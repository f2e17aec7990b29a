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

import logging
import time
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.errors import ConvergenceWarning  # noqa: F401 - raised here, public name
from lifevalue.files import atomic_write  # noqa: F401 - moved to lifevalue.files; re-exported
from lifevalue.models import covariates as cov
from lifevalue.models import diagnostics as dg
from lifevalue.models.covariates import COEFFICIENT_PRIOR, LikelihoodRoutes
from lifevalue.models.datatree import (  # noqa: F401 - public names
    FORMAT_VERSION,
    LOGLIK_MAX_VALUES,
    FitTree,
    _version,
)
from lifevalue.models.diagnostics import ESS_MIN, RHAT_MAX  # noqa: F401 - public names
from lifevalue.models.inference import (  # noqa: F401 - public names
    DEFAULT_SAMPLER,
    SAMPLERS,
    Inference,
    LaplaceFallbackWarning,
    check_sampler_options,
    default_sampler,
)
from lifevalue.models.priors import POSITIVE_PRIORS, REAL_PRIORS, check_prior

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



class BaseModel(Inference, FitTree, LikelihoodRoutes):
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
    #: Tuning steps per chain when ``fit`` is not told. The compiled sampler starts at
    #: the mode in whitened coordinates, where 300 steps tune its step size: on 1M
    #: simulated customers 4 x (300 + 500) gives R-hat 1.004 and a tail ESS near 1500,
    #: and a tuning step costs more than a draw (tune 500 took 52 s for BG/NBD, 250 took
    #: 37 s, same ESS); on CDNOW the ESS and R-hat do not change either.
    default_tune: ClassVar[int] = 300

    def __init__(self, priors: dict[str, dict] | None = None):
        priors = dict(priors or {})
        unknown = sorted(set(priors) - set(self.param_names))
        if unknown:
            raise v.InvalidOptionError(
                f"priors name unknown parameter {unknown[0]!r}; {type(self).__name__} has "
                f"{list(self.param_names)}",
                column="priors",
            )
        positive = dict(zip(self.param_names, self._positive(), strict=True))
        for name, spec in priors.items():
            check_prior(name, spec, POSITIVE_PRIORS if positive[name] else REAL_PRIORS)
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

    def _density(self):
        """The C log density of :mod:`lifevalue.models.nuts_density` that unpacks
        ``_kernel``'s data (e.g. :func:`lifevalue.models.kernels.bgnbd_density`), or
        None: NUTS then calls the kernel through Python."""
        return None

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
        if self._design is not None:
            return cov.compress(self, columns, v.check_covariates(summary, self._design.columns))
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
        """The default priors for these data, overridden by the user's (a covariate
        coefficient's default is :data:`~lifevalue.models.covariates.COEFFICIENT_PRIOR`)."""
        coefficients = {} if self._design is None else {
            e[0]: dict(COEFFICIENT_PRIOR) for e in self._design.effects}
        return {**self.default_priors(getattr(stats, "pooled", stats)), **coefficients,
                **self.priors}

    def build_model(self, summary: pd.DataFrame):
        """The PyMC model of the population parameters given ``summary``."""
        stats = self._prepare(summary)
        return self._pymc_model(stats, self.resolved_priors(stats))

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
            ``default_tune`` and ``default_chains``: 4 chains of 500 draws after 300
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
        random_seed : int, numpy.random.Generator or None
            Seed of the sampler (a generator gives one number); None lets the sampler
            seed itself.
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
        check_sampler_options(method, sampler, sampler_kwargs)
        random_seed = v.check_random_seed(random_seed, none_ok=True)
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
            # the compiled sampler's log density: "c" (nutpie calls it without Python)
            # or "python" (see Inference._nuts_model)
            "nuts_density": self.__dict__.pop("_nuts_density", None),
            "priors": priors,
            "time_unit": v.summary_time_unit(summary),
            "n_customers": int(stats.n_customers),
            "n_unique": int(stats.n_unique),
            "fit_seconds": round(time.perf_counter() - start, 3),
        }
        if self._design is not None:
            self.metadata_["covariates"] = cov.fitted_profiles(self._design, stats)
        self.diagnostics_ = self._diagnostics()
        if laplace_diag:
            self.diagnostics_.update(laplace_diag)
        if draws_from in ("nuts", "laplace+psis"):
            self.diagnostics_["prior_sensitivity"] = dg.prior_sensitivity(
                dg.posterior_dataset(self.idata_), self.idata_["log_prior"].to_dataset(),
                self._total_loglik_draws(stats))
            self._warn_if_not_converged()
        return self

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
        return float(self._ll_total(params, self._prepare(summary), NUMPY))

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
            above 0.05: the prior shapes the posterior). After MAP: ``mean``, the
            estimate, and ``se``, its asymptotic standard error (the inverse curvature
            of the log posterior at the mode; with flat priors the maximum-likelihood
            standard error ``lifetimes`` reports); not a credible interval. After
            ``from_params`` only ``mean``. ``attrs["ci"]`` holds the interval width;
            after ``fit(method="laplace")`` ``attrs`` also hold ``pareto_k`` and
            ``importance_ess``.
        """
        import arviz as az

        self._check_fitted()
        v.check_probability(ci, "ci")
        post = self.idata_["posterior"]
        if post.sizes["draw"] * post.sizes["chain"] < 2:
            out = pd.DataFrame({"mean": self.point_estimate()}).rename_axis("parameter")
            if "map_se" in self.idata_.attrs:
                out["se"] = np.asarray(self.idata_.attrs["map_se"], dtype="float64")
            return out
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

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"{type(self).__name__}(not fitted)"
        est = ", ".join(f"{k}={val:.4g}" for k, val in self.point_estimate().items())
        return f"{type(self).__name__}({est}; {self.metadata_['method']})"
