"""Bayesian MBG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical validation
and comparison of models for customer base analysis").

The BG/NBD in which a customer may drop out at time 0 too, right after the first
purchase, and not only after each repeat purchase: a customer who never came back is
then not certainly alive. While active, purchases follow a Poisson process with rate
``lambda ~ Gamma(r, alpha)``; at time 0 and after each purchase the customer drops out
with probability ``p ~ Beta(a, b)``. The closed forms are in
:mod:`lifevalue.models.modified_beta_geo_formulas`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from lifevalue.models import modified_beta_geo_formulas as mf
from lifevalue.models.base import DROPOUT_SIGMA, SHAPE_SIGMA
from lifevalue.models.compiled_closed_forms import p_alive_draws, purchases_if_alive_rows
from lifevalue.models.likelihoods import BGNBDStats, bgnbd_rows_loglik
from lifevalue.models.transaction import TransactionModel


class ModifiedBetaGeo(TransactionModel):
    """Bayesian MBG/NBD model of purchase frequency and dropout.

    Use it rather than :class:`~lifevalue.models.BetaGeo` when one-time buyers must
    be allowed to have churned: under the BG/NBD a customer without repeat purchases
    has P(alive) = 1 however long ago they bought.

    Parameters
    ----------
    priors : dict, optional
        Overrides of the default priors, as for :class:`~lifevalue.models.BetaGeo`,
        whose defaults it shares: ``r ~ HalfNormal(300)``,
        ``alpha ~ HalfNormal(10 * mean(T))``, ``a, b ~ HalfNormal(10)``.
    purchase_covariates, dropout_covariates : sequence of str, optional
        Covariates, as for :class:`~lifevalue.models.BetaGeo` (the same parameters).

    Notes
    -----
    Fit routes. ``method="map"`` takes Newton steps on the analytic gradient and
    Hessian (the BG/NBD's, :func:`lifevalue.models.bg_family.bg_family_derivs`).
    ``method="mcmc"`` with the default ``sampler="compiled"`` runs nutpie's NUTS on the
    BG/NBD's numba kernel fed the MBG/NBD's statistics, plus its extra terms per
    distinct x (:func:`~lifevalue.models.modified_beta_geo_formulas.mbgnbd_loglik_grad_compiled`);
    ``sampler="pymc"`` samples a
    PyMC model of :func:`~lifevalue.models.modified_beta_geo_formulas.mbgnbd_total_loglik`.

    Examples
    --------
    >>> from lifevalue.datasets import load_cdnow_summary
    >>> summary = load_cdnow_summary()
    >>> mle = ModifiedBetaGeo(priors=ModifiedBetaGeo.flat_priors()).fit(summary,
    ...                                                                 method="map")
    >>> {k: round(val, 3) for k, val in mle.point_estimate().items()}
    {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614}
    >>> one_time = summary[summary["frequency"] == 0]
    >>> float(mle.p_alive(one_time)["p_alive_mean"].max()) < 1
    True
    """

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    first_dropout: ClassVar[float] = 0.0
    dropout_process: ClassVar[str] = "purchase"
    covariate_targets: ClassVar[dict] = {"purchase": (("alpha", -1.0),),
                                          "dropout": (("a", 1.0), ("b", 1.0))}

    def default_priors(self, stats: BGNBDStats) -> dict[str, dict]:
        return {
            "r": {"dist": "HalfNormal", "sigma": SHAPE_SIGMA},
            "alpha": {"dist": "HalfNormal",
                      "sigma": round(10.0 * max(self._mean_T(stats), 1.0), 6)},
            "a": {"dist": "HalfNormal", "sigma": DROPOUT_SIGMA},
            "b": {"dist": "HalfNormal", "sigma": DROPOUT_SIGMA},
        }

    def _loglik(self, params, stats, xp):
        return mf.mbgnbd_total_loglik(params["r"], params["alpha"], params["a"],
                                      params["b"], stats, xp)

    def _loglik_grad(self, values, stats):
        return mf.mbgnbd_total_loglik_grad(*values, stats)

    def _loglik_derivs(self, values, stats):
        return mf.mbgnbd_total_loglik_derivs(*values, stats)

    def _loglik_draws(self, values, stats, workers=1):
        return mf.mbgnbd_total_loglik_draws(values, stats, workers=workers)

    def _kernel(self, stats):
        return mf.mbgnbd_loglik_grad_compiled, mf.mbgnbd_kernel_data(stats)

    def _density(self):
        return mf.mbgnbd_density

    def _pointwise_loglik(self, values, stats, start, stop):
        r, alpha, a, b = (values[:, i:i + 1] for i in range(4))
        return bgnbd_rows_loglik(r, alpha, a, b, stats, start, stop, modified=True,
                                 x_terms=mf._x_terms)

    def _map_start(self, stats):
        return np.array([1.0, max(self._mean_T(stats), 1e-3), 1.0, 1.0])

    # -------------------------------------------------------------- predictions

    def _p_alive_draws(self, d, x, t_x, T):
        return mf.p_alive(d["r"], d["alpha"], d["a"], d["b"], x, t_x, T)

    def _expected_draws(self, d, x, t_x, T, t):
        """Batislam et al. (2007): P(alive) times the BG/NBD's expected purchases if alive
        at ``b + 1`` (:func:`lifevalue.models.modified_beta_geo_formulas.expected_purchases`,
        compiled and on the table grid in T: within 1e-7 relative)."""
        r, alpha, a, b = (d[k][:, 0] for k in ("r", "alpha", "a", "b"))
        return (p_alive_draws(r, alpha, a, b + 1.0, x, t_x, T, first_dropout=0.0)
                * purchases_if_alive_rows(r, alpha, a, b + 1.0, x, T, t))

    def _no_purchase_draws(self, d, x, t_x, T, t):
        return mf.prob_no_purchase(d["r"], d["alpha"], d["a"], d["b"], x, t_x, T, t)

    def _new_customer_draws(self, d, t):
        return mf.expected_purchases_new_customer(d["r"], d["alpha"], d["a"], d["b"], t)

    def _simulate_counts(self, params, x, t_x, T, horizon, rng):
        return mf.simulate_counts(params, x, t_x, T, horizon, rng)
