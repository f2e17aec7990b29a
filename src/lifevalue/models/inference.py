"""How a model's posterior is computed: its PyMC model, the posterior mode (MAP) by
Newton steps, NUTS (lifevalue's compiled log density sampled by nutpie, or a PyMC model
sampled by PyMC, nutpie or numpyro), and the Laplace approximation corrected by PSIS.

:class:`Inference` is a mixin of :class:`lifevalue.models.base.BaseModel`: its
methods use the model's hooks (likelihood, its derivatives, kernels, parameter names)
and return an ``xarray.DataTree`` with the posterior.
"""

from __future__ import annotations

import logging
import math
import os
import warnings

import numpy as np
import xarray as xr

from lifevalue import validation as v
from lifevalue.errors import LaplaceFallbackWarning  # noqa: F401 - raised here, public name

#: NUTS implementations ``fit(method="mcmc", sampler=...)`` accepts: ``"compiled"``
#: samples lifevalue's compiled log density (:mod:`lifevalue.models.kernels`) with
#: nutpie's NUTS; the others sample the PyMC model with that library's NUTS.
SAMPLERS = ("compiled", "pymc", "nutpie", "numpyro")

#: The sampler of ``fit(method="mcmc")`` when none is named, where nutpie is installed
#: (``"pymc"`` where it is not: see :func:`default_sampler`).
DEFAULT_SAMPLER = "compiled"

#: Above this many unique rows the posterior mode search starts from the mode of a
#: subsample of about ``THIN_TO`` customers.
THIN_ABOVE = 50_000
THIN_TO = 50_000

log = logging.getLogger("lifevalue")



class Inference:
    """The routes from a model's log density to its posterior (a mixin of ``BaseModel``)."""

    def _pymc_model(self, stats, priors):
        import pymc as pm

        from lifevalue.models.likelihoods import pytensor_namespace

        with pm.Model() as model:
            params = {}
            for name in self.param_names:
                spec = dict(priors[name])
                dist = getattr(pm, spec.pop("dist"))
                params[name] = dist(name, **spec)
            pm.Potential("loglik", self._ll_total(params, stats, pytensor_namespace()))
        return model

    def _log_posterior(self, theta: np.ndarray, stats, specs, *, jacobian: bool):
        """Log posterior of ``theta`` (logs of the positive parameters, covariate
        coefficients as they are) with its gradient and Hessian in theta.

        Likelihood plus prior log densities; with ``jacobian`` also the sum of the
        logged thetas, the log Jacobian of ``params = exp(theta)``, which makes it the
        density of theta itself (what the Laplace approximation approximates). Without
        it, its mode is the mode of the density of the parameters (MAP).
        """
        from lifevalue.models.priors import logp_grad_hess

        positive = self._positive()
        values = self._values_of(theta)
        ll, g, h = self._ll_derivs(values, stats)
        for i, spec in enumerate(specs):
            lp, d1, d2 = logp_grad_hess(spec, values[i])
            ll, g[i], h[i, i] = ll + lp, g[i] + d1, h[i, i] + d2
        # chain rule: d/dtheta_i = v_i d/dv_i for the logged parameters
        dv = np.where(positive, values, 1.0)
        g_theta = g * dv
        h_theta = h * np.outer(dv, dv) + np.diag(g_theta * positive)
        if jacobian:
            ll, g_theta = ll + float(np.sum(theta[positive])), g_theta + positive
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
            small = self._ll_thin(stats, fraction, np.random.default_rng(0))
            theta = self._mode(small, priors, jacobian=jacobian,
                               start=self._ll_start(small))[0]
        else:
            theta = self._ll_start(stats)
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

    def _nuts_map(self, stats, priors, start=None):
        """The affine map of the compiled sampler's coordinates: ``theta = mode + S z``.

        ``theta = log(params)`` (coefficients as they are) carries the log posterior
        plus the log Jacobian ``sum(theta)`` (the density :meth:`_fit_laplace`
        approximates). ``mode`` is the mode of that density and ``S S' = (-H)^-1`` from
        its Hessian ``H`` there (eigenvalue magnitudes, floored, where ``-H`` is not
        positive definite; the identity where it is not finite, and the MAP's mode and
        Hessian where theta's density has no mode to find): a fixed affine map, so the
        log density of z is that of theta plus a constant, and at a million customers it
        is close to a standard normal. ``start`` (parameter values), when given,
        replaces the mode as the chains' starting point.

        Returns
        -------
        mode : ndarray
        scale : ndarray
            ``S``.
        z_start : ndarray
        """
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
        z_start = np.zeros(len(mode))
        if start is not None:
            theta0 = self._theta_of([float(start[k]) for k in self.param_names])
            z_start = np.linalg.solve(scale, theta0 - mode)
        return mode, scale, z_start

    def _compiled_log_density(self, stats, priors, start=None):
        """The log density that ``sampler="compiled"`` samples, in the coordinates ``z``
        of :meth:`_nuts_map`, as a Python function around the model's kernel (the route
        of a model without a C density, see :mod:`lifevalue.models.nuts_density`, which
        the tests compare with this one).

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
        fn = self._ll_kernel(stats)
        positive = self._positive()
        dv_ones = np.ones(len(specs))
        mode, scale, z_start = self._nuts_map(stats, priors, start)
        scale_t = np.ascontiguousarray(scale.T)
        n = len(specs)

        def logp(z):
            # called once per leapfrog step, holding the GIL: scalar Python around one
            # kernel call (which releases it)
            with np.errstate(all="ignore"):
                theta = mode + scale @ z
                values = np.where(positive, np.exp(theta), theta)
                ll, grad = fn(values)
                for i, value in enumerate(values.tolist()):
                    lp, d1 = logp_and_grad(specs[i], value)
                    ll += lp
                    grad[i] += d1
                ll += sum(theta[positive].tolist())  # the log Jacobian
                grad_z = scale_t @ (grad * np.where(positive, values, dv_ones) + positive)
                check = float(ll) + float(grad_z @ grad_z)
            if not math.isfinite(check):
                return -math.inf, np.zeros(n)
            return float(ll), grad_z

        def to_params(z):
            return self._values_of(mode + scale @ z)

        return logp, to_params, z_start

    def _nuts_model(self, stats, priors, initvals):
        """The model nutpie samples: the C log density of :mod:`.nuts_density` where the
        model has one, else :meth:`_compiled_log_density` through Python. Returns
        ``(model, "c" or "python")``."""
        from nutpie.compiled_pyfunc import from_pyfunc

        from lifevalue.models import nuts_density

        names = list(self.param_names)
        n = len(names)
        body = self._density()
        if body is not None:
            mode, scale, z_start = self._nuts_map(stats, priors, initvals)
            if self._design is None:
                maps, data = np.eye(n)[None], [self._kernel(stats)[1]]
            else:
                maps = self._design.linear_maps(stats.profiles)
                data = [self._kernel(part)[1] for part in stats.groups]
            model = nuts_density.compiled_model(
                body, names, mode, scale, self._positive(), [priors[k] for k in names],
                maps, data, _jittered(z_start))
            if model is not None:
                return model, "c"
        logp, to_params, z_start = self._compiled_log_density(stats, priors, start=initvals)

        def make_expand_fn(seed1, seed2, chain):
            def expand(z):
                values = to_params(np.asarray(z))
                return {name: np.asarray(values[i]) for i, name in enumerate(names)}
            return expand

        model = from_pyfunc(n, lambda: logp, make_expand_fn, [np.dtype("float64")] * n,
                            [()] * n, names, make_initial_point_fn=_jittered(z_start))
        return model, "python"

    def _fit_compiled(self, stats, priors, *, draws, tune, chains, random_seed, progressbar,
                      initvals=None, **kwargs) -> xr.DataTree:
        """NUTS by nutpie on the log density of :meth:`_nuts_model` (``sampler=
        "compiled"``).

        The chains run in nutpie's threads, two at a time on two cores. Each chain
        starts at the mode (or ``initvals``) plus a uniform jitter of up to one unit of
        z, i.e. about one posterior sd, per direction. The result has the groups of the
        other samplers: ``posterior`` with each of ``param_names`` over (chain, draw),
        and nutpie's ``sample_stats`` (``diverging``, ``n_steps``, ``depth``,
        ``step_size``, ...), tuning draws left out; ``self._nuts_density`` says which
        log density ran.
        """
        # ArviZ's base first, here: importing nutpie imports it through a chain of six
        # modules, and at that depth arviz_base's probe for optional backends (which walks
        # the call stack) took 0.8-1 s of a fit; imported directly, 0.1-0.2 s
        import arviz_base  # noqa: F401

        try:
            import nutpie
        except ImportError as err:
            raise ImportError("sampler='compiled' runs nutpie's NUTS: pip install nutpie "
                              "(or choose sampler='pymc')") from err

        model, self._nuts_density = self._nuts_model(stats, priors, initvals)
        return nutpie.sample(model, draws=draws, tune=tune, chains=chains,
                             cores=min(chains, os.cpu_count() or 1), seed=random_seed,
                             progress_bar=progressbar, save_warmup=False, **kwargs)

    def _fit_map(self, stats, priors) -> xr.DataTree:
        """Posterior mode by Newton steps in log parameters, on the NumPy likelihood with
        its analytic gradient and Hessian plus the priors' log densities (no Jacobian: the
        mode is that of the density of the parameters themselves). Nothing is compiled."""
        theta, logp, hess, nit = self._mode(stats, priors, jacobian=False)
        values = self._values_of(theta)
        # asymptotic standard errors: the inverse curvature of the log posterior at the
        # mode, in log parameters, times the parameters (the delta method, exact there:
        # the gradient is 0); nan where the curvature is not negative definite
        with np.errstate(invalid="ignore"):
            try:
                var = np.diag(np.linalg.inv(-hess))
            except np.linalg.LinAlgError:
                var = np.full(len(values), np.nan)
            se = np.where(self._positive(), values, 1.0) * np.sqrt(
                np.where(var > 0, var, np.nan))
        # built directly: arviz's from_dict costs more than the Newton steps at 100k
        posterior = xr.Dataset(
            {n: (("chain", "draw"), np.array([[val]]))
             for n, val in zip(self.param_names, values, strict=True)},
            coords={"chain": [0], "draw": [0]})
        tree = xr.DataTree.from_dict({"posterior": posterior})
        tree.attrs.update({"map_logp": float(logp), "map_iterations": nit,
                           "map_se": [float(s) for s in se]})
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

        positive = self._positive()

        def log_density(thetas):
            values = self._values_of(thetas)
            out = self._ll_draws(values, stats, workers=workers)
            for i, spec in enumerate(specs):
                out = out + logp_and_grad(spec, values[:, i])[0]
            return out + thetas[:, positive].sum(axis=1)

        n_out = chains * draws
        rng = np.random.default_rng(random_seed)
        res = lp.laplace_psis(log_density, theta, hess,
                              n_proposals=proposals or max(n_out // 2, lp.MIN_PROPOSALS),
                              n_out=n_out, rng=rng)
        mode = {n: float(val) for n, val in zip(self.param_names, self._values_of(theta),
                                                 strict=True)}
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
        values = self._values_of(res.theta).reshape(chains, draws, -1)
        idata = _posterior_tree({n: values[..., i] for i, n in enumerate(self.param_names)})
        idata.attrs.update({"method": "laplace+psis", "pareto_k": res.khat,
                            "importance_ess": res.ess, "proposals": res.n_proposals})
        return idata, diag


#: Options of ``pymc.sample``'s NUTS step that it takes as keywords.
_PYMC_STEP_OPTIONS = ("target_accept", "max_treedepth", "early_max_treedepth", "step_scale")
#: Options lifevalue sets itself (``fit``'s own arguments).
_SET_BY_FIT = ("draws", "tune", "chains", "cores", "seed", "random_seed", "progress_bar",
               "progressbar", "save_warmup", "nuts_sampler", "compiled_model", "model",
               "compute_convergence_checks", "return_inferencedata")


def _jittered(z_start):
    """``seed -> z``: a chain's start, ``z_start`` plus a uniform jitter of up to one unit
    of z (about one posterior sd) per direction."""
    def initial_point(seed):
        return z_start + np.random.default_rng(seed).uniform(-1.0, 1.0, len(z_start))
    return initial_point


def check_sampler_options(method: str, sampler: str, options: dict) -> None:
    """Refuse sampler options that the fit would ignore or the sampler does not know,
    before any work: a typo must not pass silently.

    ``method="map"`` takes none; NUTS (``"mcmc"``, and ``"laplace"``, which may fall back
    to it) takes the options of the sampler that runs it: nutpie's settings for
    ``sampler="compiled"``, ``pymc.sample``'s arguments and NUTS step options otherwise.
    """
    import inspect

    if not options:
        return
    name = sorted(options)[0]
    if method == "map":
        raise v.InvalidOptionError(
            f"fit(method='map') takes no sampler options; got {name!r}", column=name)
    for key in sorted(options):
        if key in _SET_BY_FIT:
            raise v.InvalidOptionError(
                f"sampler option {key!r} is set by fit itself; use fit's own arguments",
                column=key)
        if sampler == "compiled":
            import nutpie
            from nutpie import _lib

            named = set(inspect.signature(nutpie.sample).parameters) - {"kwargs"}
            if key in named or key == "initvals":  # initvals: the chains' start
                continue
            try:
                _lib.PyNutsSettings.Diag(0).update({key: options[key]})
            except AttributeError:
                raise v.InvalidOptionError(
                    f"sampler option {key!r} is not an option of nutpie's NUTS "
                    f"(sampler='compiled')", column=key) from None
            except (TypeError, ValueError):
                continue  # a known option with a bad value: nutpie's own error says why
        else:
            import pymc as pm

            known = (set(inspect.signature(pm.sample).parameters) - {"kwargs"}) | set(
                _PYMC_STEP_OPTIONS)
            if key not in known:
                raise v.InvalidOptionError(
                    f"sampler option {key!r} is not an option of pymc.sample "
                    f"(sampler={sampler!r})", column=key)


def default_sampler() -> str:
    """:data:`DEFAULT_SAMPLER` where nutpie, which runs it, is installed; else ``"pymc"``."""
    import importlib.util

    return DEFAULT_SAMPLER if importlib.util.find_spec("nutpie") is not None else "pymc"


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
