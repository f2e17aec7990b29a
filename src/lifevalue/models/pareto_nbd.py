"""Bayesian Pareto/NBD model (Schmittlein, Morrison & Colombo 1987, "Counting your
customers: who are they and what will they do next?").

While active, a customer buys as a Poisson process with rate lambda and stays active
for an exponentially distributed lifetime with rate mu, which may end at any time (not
only after a purchase, as in the BG/NBD). Across customers ``lambda ~ Gamma(r, alpha)``
and ``mu ~ Gamma(s, beta)``. The closed forms are in
:mod:`lifevalue.models.pareto_nbd_formulas`, the likelihood's derivatives in
:mod:`lifevalue.models.pareto_nbd_kernel`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from lifevalue.models import pareto_nbd_formulas as pf
from lifevalue.models.base import SHAPE_SIGMA
from lifevalue.models.likelihoods import BGNBDStats
from lifevalue.models.pareto_nbd_kernel import (
    pareto_nbd_density,
    pareto_nbd_kernel_data,
    pareto_nbd_loglik_grad_compiled,
    pareto_nbd_total_loglik_derivs,
    pareto_nbd_total_loglik_grad,
)
from lifevalue.models.transaction import TransactionModel

#: Scale of the HalfNormal default prior on s. The Pareto/NBD likelihood stays nearly
#: flat as s and beta grow together with s/beta fixed (towards one dropout rate for
#: all customers): on CDNOW the profile log-likelihood falls by only 5 from the MLE
#: (s = 0.61) to s = infinity, so the prior decides how far along that ridge the
#: posterior reaches. With sigma=10 it reached s near 20 and NUTS mixed poorly along the
#: ridge (divergences, bulk ESS under 100 of 1000 draws); sigma=2 keeps the posterior
#: where heterogeneity in dropout is visible (CDNOW: s 1.2 +/- 0.8, no divergences).
#: ``summary()`` shows that it binds there (prior sensitivity about 0.25).
DROPOUT_SHAPE_SIGMA = 2.0


class ParetoNBD(TransactionModel):
    """Bayesian Pareto/NBD model of purchase frequency and dropout.

    Parameters
    ----------
    priors : dict, optional
        Overrides of the default priors (see :class:`~lifevalue.models.BetaGeo`);
        :meth:`~lifevalue.models.base.BaseModel.flat_priors` gives the
        maximum-likelihood estimate by MAP. Defaults, weakly informative:

        * ``r ~ HalfNormal(sigma=300)``;
        * ``alpha, beta ~ HalfNormal(sigma=10 * mean(T))``: both are in the summary's
          time unit, so their scale follows the data;
        * ``s ~ HalfNormal(sigma=2)``: the data seldom tell a population of alike
          lifetimes (s and beta both large) from a varied one, and a vaguer prior lets
          the posterior drift far along that ridge (see
          :data:`DROPOUT_SHAPE_SIGMA`). On CDNOW this prior binds: ``summary()`` shows
          a prior sensitivity of s and beta near 0.25 (over the 0.05 that flags a
          prior), and the posterior of s is wide (1.2 +/- 0.8 against an MLE of 0.61).
    purchase_covariates, dropout_covariates : sequence of str, optional
        Covariates (see :class:`~lifevalue.models.BetaGeo`): ``alpha(z) = alpha exp(-z .
        alpha[...])`` and ``beta(z) = beta exp(-z . beta[...])`` (Fader & Hardie 2007),
        so a positive ``beta[col]`` shortens the lifetimes of customers with ``col``.

    Notes
    -----
    Fit routes. ``method="map"`` takes Newton steps on the likelihood of
    :mod:`lifevalue.models.pareto_nbd_kernel` (value, gradient and Hessian by
    Gauss-Legendre quadrature of the integral behind the hypergeometric terms; it
    agrees with the hypergeometric reference to about 1e-12). ``method="mcmc"`` with
    the default ``sampler="compiled"`` runs nutpie's NUTS on the same value and
    gradient, compiled by numba
    (:func:`~lifevalue.models.pareto_nbd_kernel.pareto_nbd_loglik_grad_compiled`);
    ``sampler="pymc"`` (or ``"nutpie"``,
    ``"numpyro"``) samples a PyMC model built on the hypergeometric form with
    PyTensor's ``hyp2f1`` and its gradient. ``loglik`` reports the hypergeometric
    reference (:func:`~lifevalue.models.pareto_nbd_formulas.pareto_nbd_total_loglik`).

    Examples
    --------
    >>> from lifevalue.datasets import load_cdnow_summary
    >>> mle = ParetoNBD(priors=ParetoNBD.flat_priors()).fit(load_cdnow_summary(),
    ...                                                     method="map")
    >>> {k: round(val, 3) for k, val in mle.point_estimate().items()}
    {'r': 0.553, 'alpha': 10.578, 's': 0.606, 'beta': 11.669}
    """

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    dropout_process: ClassVar[str] = "lifetime"
    covariate_targets: ClassVar[dict] = {"purchase": (("alpha", -1.0),),
                                          "dropout": (("beta", -1.0),)}

    def default_priors(self, stats: BGNBDStats) -> dict[str, dict]:
        scale = round(10.0 * max(self._mean_T(stats), 1.0), 6)
        return {
            "r": {"dist": "HalfNormal", "sigma": SHAPE_SIGMA},
            "alpha": {"dist": "HalfNormal", "sigma": scale},
            "s": {"dist": "HalfNormal", "sigma": DROPOUT_SHAPE_SIGMA},
            "beta": {"dist": "HalfNormal", "sigma": scale},
        }

    def _loglik(self, params, stats, xp):
        return pf.pareto_nbd_total_loglik(params["r"], params["alpha"], params["s"],
                                          params["beta"], stats, xp)

    def _loglik_grad(self, values, stats):
        return pareto_nbd_total_loglik_grad(*values, stats)

    def _loglik_derivs(self, values, stats):
        return pareto_nbd_total_loglik_derivs(*values, stats)

    def _loglik_draws(self, values, stats, workers=1):
        return pf.pareto_nbd_total_loglik_draws(values, stats, workers=workers)

    def _kernel(self, stats):
        return pareto_nbd_loglik_grad_compiled, pareto_nbd_kernel_data(stats)

    def _density(self):
        return pareto_nbd_density

    def _pointwise_loglik(self, values, stats, start, stop):
        r, alpha, s, beta = (values[:, i:i + 1] for i in range(4))
        return pf.pareto_nbd_loglik(r, alpha, s, beta, stats.x[start:stop],
                                    stats.t_x[start:stop], stats.T[start:stop])

    def _map_start(self, stats):
        mean_T = max(self._mean_T(stats), 1e-3)
        return np.array([1.0, mean_T, 1.0, mean_T])

    # -------------------------------------------------------------- predictions

    def _p_alive_draws(self, d, x, t_x, T):
        return pf.p_alive(d["r"], d["alpha"], d["s"], d["beta"], x, t_x, T)

    def _expected_draws(self, d, x, t_x, T, t):
        return pf.expected_purchases(d["r"], d["alpha"], d["s"], d["beta"], x, t_x, T, t)

    def _no_purchase_draws(self, d, x, t_x, T, t):
        return pf.prob_no_purchase(d["r"], d["alpha"], d["s"], d["beta"], x, t_x, T, t)

    def _new_customer_draws(self, d, t):
        return pf.expected_purchases_new_customer(d["r"], d["alpha"], d["s"], d["beta"], t)

    def _simulate_counts(self, params, x, t_x, T, horizon, rng):
        return pf.simulate_counts(params, x, t_x, T, horizon, rng)
