"""Time-invariant covariates on purchase rate and dropout.

A transaction model with covariates has, for a customer with attributes ``z``, the
population parameters of the model without them with log-linear effects on their
scale parameters, as pymc-marketing 1.3 and CLVTools write them:

* BG/NBD and MBG/NBD: ``alpha(z) = alpha exp(-z_p . beta_alpha)``,
  ``a(z) = a exp(z_d . beta_a)``, ``b(z) = b exp(z_d . beta_b)``
  (pymc-marketing's ``BetaGeoModel``: one coefficient per covariate for each);
* Pareto/NBD: ``alpha(z) = alpha exp(-z_p . beta_alpha)``,
  ``beta(z) = beta exp(-z_d . beta_beta)`` (Fader & Hardie 2007, "Incorporating
  time-invariant covariates into the Pareto/NBD and BG/NBD models", eqs. 1-2).

``z_p`` are the purchase covariates, ``z_d`` the dropout covariates. A positive purchase
coefficient raises the purchase rate (alpha is the rate's inverse scale). The shape
parameters (r, s) are shared. With every covariate 0 a customer has the parameters
``alpha, a, b`` (or ``alpha, beta``) themselves: the model without covariates.

Customers with the same attributes share their parameters, so the likelihood is the
sum, over the distinct attribute **profiles**, of the model's own likelihood on that
profile's sufficient statistics at the profile's parameters. In ``theta`` (log shape
and scale parameters, coefficients as they are) each profile's log parameters are a
linear map of theta, so the gradient and Hessian are sums of the model's own, mapped:
``g = sum_g L_g' g_g`` and ``H = sum_g L_g' H_g L_g``. Every fit route (MAP, compiled
NUTS, Laplace, the PyMC model) and every prediction therefore reuses the model's own
kernels and closed forms, per profile. Their number is bounded
(:data:`MAX_PROFILES`): bin a continuous covariate (e.g. into quantiles) first.

:class:`LikelihoodRoutes` is the mixin of :class:`lifevalue.models.base.BaseModel`
through which the inference engine reaches a likelihood, with or without covariates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models.random_streams import RNG_BLOCK
from lifevalue.models.rows import unique_rows

#: Most distinct covariate profiles a model takes (every route costs one pass of the
#: model's kernels per profile).
MAX_PROFILES = 500

#: Default prior of a coefficient: weakly informative on the log scale of a parameter
#: (an effect of 3 multiplies it by 20).
COEFFICIENT_PRIOR = {"dist": "Normal", "mu": 0.0, "sigma": 3.0}


@dataclass(frozen=True)
class Design:
    """Which covariates act on which parameter.

    ``effects`` lists ``(coefficient name, covariate, target parameter, sign)``; the
    coefficients follow the model's own parameters in ``names``.
    """

    base_names: tuple[str, ...]
    purchase: tuple[str, ...]
    dropout: tuple[str, ...]
    effects: tuple[tuple[str, str, str, float], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The covariate columns, purchase ones first, each once."""
        return tuple(dict.fromkeys(self.purchase + self.dropout))

    @property
    def names(self) -> tuple[str, ...]:
        return self.base_names + tuple(e[0] for e in self.effects)

    @property
    def positive(self) -> np.ndarray:
        """True for the model's own (positive, log-transformed) parameters."""
        return np.arange(len(self.names)) < len(self.base_names)

    def linear_maps(self, profiles: np.ndarray) -> np.ndarray:
        """``L`` of shape ``(G, n_base, n_params)``: a profile's log parameters are
        ``L[g] @ theta``."""
        nb, cols = len(self.base_names), self.columns
        out = np.zeros((len(profiles), nb, len(self.names)))
        out[:, np.arange(nb), np.arange(nb)] = 1.0
        for k, (_, col, target, sign) in enumerate(self.effects):
            out[:, self.base_names.index(target), nb + k] = sign * profiles[:, cols.index(col)]
        return out

    def profile_params(self, values: np.ndarray, profiles: np.ndarray,
                       maps: np.ndarray | None = None) -> np.ndarray:
        """The model's own parameters of each profile from ``values`` (``(..., P)``,
        coefficients as they are): shape ``(..., G, n_base)``. Computed as the parameter
        times ``exp`` of the effects, so a profile of zeros has the parameters exactly.
        ``maps``: :meth:`linear_maps` of ``profiles``, when already at hand."""
        values = np.asarray(values, dtype="float64")
        nb = len(self.base_names)
        maps = self.linear_maps(profiles) if maps is None else maps
        effect = np.einsum("gbk,...k->...gb", maps[:, :, nb:], values[..., nb:])
        return values[..., None, :nb] * np.exp(effect)


def make_design(model_cls, purchase, dropout) -> Design | None:
    """The design of ``model_cls`` with these covariates; None without any."""
    purchase = v.check_covariate_names(purchase, "purchase_covariates")
    dropout = v.check_covariate_names(dropout, "dropout_covariates")
    if not purchase and not dropout:
        return None
    targets = model_cls.covariate_targets
    effects = tuple((f"{target}[{col}]", col, target, sign)
                    for kind, cols in (("purchase", purchase), ("dropout", dropout))
                    for target, sign in targets[kind] for col in cols)
    return Design(tuple(model_cls.param_names), purchase, dropout, effects)


def to_theta(values: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Parameters to the sampler's coordinates: logs of the positive ones."""
    values = np.asarray(values, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive, np.log(np.where(positive, values, 1.0)), values)


def to_values(theta: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_theta`."""
    theta = np.asarray(theta, dtype="float64")
    return np.where(positive, np.exp(np.where(positive, theta, 0.0)), theta)


@dataclass
class CovariateStats:
    """Sufficient statistics per covariate profile: ``groups[g]`` are the model's own
    statistics of the customers with attributes ``profiles[g]``; ``pooled`` those of all
    customers (for default priors and a starting point)."""

    groups: list
    profiles: np.ndarray
    pooled: object

    @property
    def n_unique(self) -> int:
        return int(sum(s.n_unique for s in self.groups))

    @property
    def n_customers(self) -> int:
        return int(sum(s.n_customers for s in self.groups))


def split_profiles(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``Z`` (sorted) and each row's profile number; refuses more than
    :data:`MAX_PROFILES`."""
    if Z.shape[1] == 0:
        return np.zeros((1, 0)), np.zeros(len(Z), dtype="int64")
    *cols, _, index = unique_rows(*Z.T, return_inverse=True)
    profiles = np.column_stack(cols)
    if len(profiles) > MAX_PROFILES:
        raise v.InvalidOptionError(
            f"the covariates take {len(profiles)} distinct combinations; lifevalue fits up "
            f"to {MAX_PROFILES} (customers with the same attributes share their parameters): "
            "bin continuous covariates, e.g. into quantiles, or use fewer", column="covariates")
    return profiles, np.asarray(index, dtype="int64")


def profile_groups(design: Design, summary: pd.DataFrame):
    """``(profiles, positions)``: the distinct attribute rows of the summary's customers
    and, per profile, the positions of its customers in the summary."""
    Z = v.check_covariates(summary, design.columns)
    profiles, index = split_profiles(Z)
    return profiles, [np.flatnonzero(index == g) for g in range(len(profiles))]


def profile_offsets(sizes, start: int = 0) -> list[int]:
    """The random-number position of each profile's first customer when profiles of
    ``sizes`` customers are scored one after the other from ``start`` (a multiple of
    :data:`~lifevalue.models.random_streams.RNG_BLOCK`): each starts on a whole block, so
    that scoring a profile alone, from its offset, gives it the same streams."""
    out = []
    for n in sizes:
        out.append(start)
        start += -(-int(n) // RNG_BLOCK) * RNG_BLOCK
    return out


def compress(model, columns: dict, Z: np.ndarray) -> CovariateStats:
    """:class:`CovariateStats` of the customers' columns (incl. an optional count)."""
    profiles, index = split_profiles(Z)
    groups = []
    for g in range(len(profiles)):
        keep = index == g
        groups.append(model._stats({k: np.asarray(a)[keep] for k, a in columns.items()}))
    return CovariateStats(groups, profiles, model._stats(columns))


def fitted_profiles(design: Design, stats: CovariateStats) -> dict:
    """What a covariate fit records in ``metadata_["covariates"]``: the covariates and
    the profiles of the fitted customers with their counts (the population a new
    customer is drawn from when no profile is given)."""
    return {"purchase": list(design.purchase), "dropout": list(design.dropout),
            "columns": list(design.columns),
            "profiles": stats.profiles.tolist(),
            "counts": [int(s.n_customers) for s in stats.groups]}


class LikelihoodRoutes:
    """How the inference engine reaches a model's likelihood: the model's own hooks on
    its statistics, or their sum over covariate profiles (a mixin of ``BaseModel``).
    ``values`` are the parameters themselves, coefficients included; the sampler's
    coordinates ``theta`` log the positive ones (see :func:`to_theta`)."""

    _design: Design | None = None

    def _positive(self) -> np.ndarray:
        return np.ones(len(self.param_names), dtype=bool) if self._design is None \
            else self._design.positive

    def _values_of(self, theta):
        return to_values(theta, self._positive())

    def _theta_of(self, values):
        return to_theta(values, self._positive())

    def _ll_derivs(self, values: np.ndarray, stats):
        """Total log-likelihood with its gradient and Hessian in the parameters
        (coefficients included)."""
        if not isinstance(stats, CovariateStats):
            return self._loglik_derivs(values, stats)
        maps = self._design.linear_maps(stats.profiles)
        own = self._design.profile_params(values, stats.profiles, maps)
        n = len(values)
        ll, g, h = 0.0, np.zeros(n), np.zeros((n, n))
        for L, u, part in zip(maps, own, stats.groups, strict=True):
            ll_g, g_u, h_u = self._loglik_derivs(u, part)  # in the profile's own parameters
            g_l = g_u * u  # in the profile's log parameters, linear in theta
            h_l = h_u * np.outer(u, u) + np.diag(g_l)
            ll, g, h = ll + ll_g, g + L.T @ g_l, h + L.T @ h_l @ L
        # from theta back to the parameters: d/dv = d/dtheta / v for the positive ones
        pos = self._positive()
        dv = np.where(pos, values, 1.0)
        h = (h - np.diag(g * pos)) / np.outer(dv, dv)
        return ll, g / dv, h

    def _ll_kernel(self, stats):
        """``values -> (log-likelihood, gradient in the parameters)``, compiled kernels
        inside."""
        if not isinstance(stats, CovariateStats):
            fn, data = self._kernel(stats)

            def f(values):
                return fn(*values, *data)
            return f
        design, profiles = self._design, stats.profiles
        maps = design.linear_maps(profiles)
        parts = [self._kernel(s) for s in stats.groups]
        pos = self._positive()

        def f_cov(values):  # once per leapfrog step: the profiles' kernels, then one map
            # fresh buffers per call: the chains call it from several threads at once
            own = design.profile_params(values, profiles, maps)
            lls, grads = np.empty(len(parts)), np.empty(maps.shape[:2])
            for g, (fn, data) in enumerate(parts):
                lls[g], grads[g] = fn(*own[g], *data)
            grad = np.einsum("gbp,gb->p", maps, grads * own)
            return float(lls.sum()), grad / np.where(pos, values, 1.0)
        return f_cov

    def _ll_draws(self, values: np.ndarray, stats, workers: int = 1) -> np.ndarray:
        """Total log-likelihood at each row of ``values`` (draws x parameters)."""
        if not isinstance(stats, CovariateStats):
            return self._loglik_draws(values, stats, workers=workers)
        per = self._design.profile_params(values, stats.profiles)  # (S, G, n_base)
        return sum(self._loglik_draws(np.ascontiguousarray(per[:, g]), part, workers=workers)
                   for g, part in enumerate(stats.groups))

    def _ll_pointwise(self, values: np.ndarray, stats, start: int, stop: int) -> np.ndarray:
        """Log-likelihood of unique rows ``start:stop`` (profiles one after the other)."""
        if not isinstance(stats, CovariateStats):
            return self._pointwise_loglik(values, stats, start, stop)
        per = self._design.profile_params(values, stats.profiles)
        out, first = [], 0
        for g, part in enumerate(stats.groups):
            lo, hi = max(start, first), min(stop, first + part.n_unique)
            if lo < hi:
                out.append(self._pointwise_loglik(per[:, g], part, lo - first, hi - first))
            first += part.n_unique
        return np.concatenate(out, axis=1)

    def _ll_observed(self, stats) -> dict[str, np.ndarray]:
        """The unique rows (with the covariates of their profile) for ``observed_data``."""
        if not isinstance(stats, CovariateStats):
            return self._observed(stats)
        parts = [self._observed(s) for s in stats.groups]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        for j, col in enumerate(self._design.columns):
            out[col] = np.concatenate([np.full(s.n_unique, stats.profiles[g, j])
                                       for g, s in enumerate(stats.groups)])
        return out

    def _ll_thin(self, stats, fraction: float, rng):
        if not isinstance(stats, CovariateStats):
            return self._thin(stats, fraction, rng)
        groups = [self._thin(s, fraction, rng) for s in stats.groups]
        keep = [g for g, s in enumerate(groups) if s.n_unique > 0]
        return CovariateStats([groups[g] for g in keep], stats.profiles[keep],
                              self._thin(stats.pooled, fraction, rng))

    def _ll_start(self, stats) -> np.ndarray:
        """Where the posterior mode search starts, in theta."""
        if not isinstance(stats, CovariateStats):
            return np.log(self._map_start(stats))
        base = np.log(self._map_start(stats.pooled))
        return np.concatenate([base, np.zeros(len(self._design.effects))])

    def _ll_total(self, params: dict, stats, xp):
        """Total log-likelihood at named parameters (NumPy numbers or PyTensor
        variables, coefficients included)."""
        if not isinstance(stats, CovariateStats):
            return self._loglik(params, stats, xp)
        d = self._design
        total = 0.0
        for g, part in enumerate(stats.groups):
            own = dict(params)
            for coef, col, target, sign in d.effects:
                z = float(stats.profiles[g, d.columns.index(col)])
                if z != 0.0:
                    own[target] = own[target] * xp.exp(sign * z * params[coef])
            total = total + self._loglik(own, part, xp)
        return total

