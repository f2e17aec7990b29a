"""Bayesian BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the
easy way").

While active, a customer buys as a Poisson process with rate lambda; after each
purchase the customer drops out with probability p. Across customers
``lambda ~ Gamma(r, alpha)`` and ``p ~ Beta(a, b)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models import customer_posterior as cp
from lifevalue.models import predictions as pr
from lifevalue.models.base import DROPOUT_SIGMA, SHAPE_SIGMA
from lifevalue.models.compiled_closed_forms import p_alive_draws, purchases_if_alive_rows
from lifevalue.models.likelihoods import (
    BGNBDStats,
    bgnbd_rows_loglik,
    bgnbd_total_loglik,
    bgnbd_total_loglik_derivs,
    bgnbd_total_loglik_draws,
    bgnbd_total_loglik_grad,
)
from lifevalue.models.transaction import TransactionModel


class BetaGeo(TransactionModel):
    """Bayesian BG/NBD model of purchase frequency and dropout.

    Parameters
    ----------
    priors : dict, optional
        Overrides of the default priors, e.g.
        ``{"r": {"dist": "Gamma", "alpha": 1, "beta": 1}}``;
        :meth:`~lifevalue.models.base.BaseModel.flat_priors` gives the maximum-likelihood
        estimate by MAP. Defaults, weakly informative:

        * ``r ~ HalfNormal(sigma=300)``;
        * ``alpha ~ HalfNormal(sigma=10 * mean(T))``: alpha is in the summary's time
          unit, so its scale follows the data;
        * ``a, b ~ HalfNormal(sigma=10)``. With few repeat purchases the data cannot
          tell a population whose dropout probability hardly varies (a and b both
          large) from a moderately varied one, and a vaguer prior lets the posterior
          drift to the prior's own scale. On CDNOW this prior does not bind (its
          power-scaling sensitivity, in ``summary()``, is 0.02, under the 0.05 that
          flags a prior); on a small data set ``summary()`` shows when it does.

        A covariate coefficient's default is Normal(0, 3).
    purchase_covariates, dropout_covariates : sequence of str, optional
        Numeric summary columns (customers' attributes, see
        :func:`lifevalue.join_attributes`) with a log-linear effect on the purchase
        rate's scale ``alpha(z) = alpha exp(-z . alpha[...])`` and on dropout ``a(z) = a
        exp(z . a[...])``, ``b(z) = b exp(z . b[...])`` (Fader & Hardie 2007); their
        coefficients are the parameters ``alpha[col]``, ``a[col]``, ``b[col]``. See
        :mod:`lifevalue.models.covariates`.

    Attributes
    ----------
    idata_ : xarray.DataTree
        The posterior of ``r, alpha, a, b`` and the groups ArviZ expects
        (``sample_stats``, ``observed_data``, ``log_prior``, ``log_likelihood``): see
        :class:`~lifevalue.models.base.BaseModel`.
    metadata_ : dict
        Fit method, sampler, priors used, time unit, sizes.
    diagnostics_ : dict
        r-hat, ESS and divergences of an MCMC fit.

    Examples
    --------
    >>> from lifevalue.datasets import load_cdnow_summary
    >>> mle = BetaGeo(priors=BetaGeo.flat_priors()).fit(load_cdnow_summary(), method="map")
    >>> {k: round(val, 3) for k, val in mle.point_estimate().items()}
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    first_dropout: ClassVar[float] = 1.0
    dropout_process: ClassVar[str] = "purchase"
    covariate_targets: ClassVar[dict] = {"purchase": (("alpha", -1.0),),
                                          "dropout": (("a", 1.0), ("b", 1.0))}

    def default_priors(self, stats: BGNBDStats) -> dict[str, dict]:
        mean_T = self._mean_T(stats)
        return {
            "r": {"dist": "HalfNormal", "sigma": SHAPE_SIGMA},
            "alpha": {"dist": "HalfNormal", "sigma": round(10.0 * max(mean_T, 1.0), 6)},
            "a": {"dist": "HalfNormal", "sigma": DROPOUT_SIGMA},
            "b": {"dist": "HalfNormal", "sigma": DROPOUT_SIGMA},
        }

    def _loglik(self, params, stats, xp):
        return bgnbd_total_loglik(params["r"], params["alpha"], params["a"], params["b"],
                                  stats, xp)

    def _loglik_grad(self, values, stats):
        return bgnbd_total_loglik_grad(*values, stats)

    def _loglik_derivs(self, values, stats):
        return bgnbd_total_loglik_derivs(*values, stats)

    def _loglik_draws(self, values, stats, workers=1):
        return bgnbd_total_loglik_draws(values, stats, workers=workers)

    def _kernel(self, stats):
        from lifevalue.models import kernels

        return kernels.bgnbd_loglik_grad, kernels.bgnbd_kernel_data(stats)

    def _density(self):
        from lifevalue.models import kernels

        return kernels.bgnbd_density

    def _pointwise_loglik(self, values, stats, start, stop):
        r, alpha, a, b = (values[:, i:i + 1] for i in range(4))
        return bgnbd_rows_loglik(r, alpha, a, b, stats, start, stop)

    def _map_start(self, stats):
        mean_T = self._mean_T(stats)
        return np.array([1.0, max(mean_T, 1e-3), 1.0, 1.0])

    @classmethod
    def from_lifetimes(cls, fitter, *, time_unit: str | None = None) -> BetaGeo:
        """A point-estimate BetaGeo from a fitted ``lifetimes.BetaGeoFitter``.

        ``time_unit`` is the unit of the data the fitter saw ('D', 'W' or 'M'): lifetimes
        does not record it, and without it the model cannot be valued.
        """
        params = getattr(fitter, "params_", None)
        if params is None:
            raise v.NotFittedError("the lifetimes BetaGeoFitter is not fitted")
        return cls.from_params({k: float(params[k]) for k in cls.param_names},
                               time_unit=time_unit)

    # -------------------------------------------------------------- predictions

    def _p_alive_draws(self, d, x, t_x, T):
        return _p_alive(d["r"], d["alpha"], d["a"], d["b"], x, t_x, T)

    def _expected_draws(self, d, x, t_x, T, t):
        """FHL (2005a), eq. (10)."""
        return _expected_purchases(d["r"], d["alpha"], d["a"], d["b"], x, t_x, T, t)

    def _no_purchase_draws(self, d, x, t_x, T, t):
        return pr.prob_no_purchase(d["r"], d["alpha"], d["a"], d["b"], x, t_x, T, t)

    def _new_customer_draws(self, d, t):
        """FHL (2005a), eq. (9)."""
        return pr.expected_purchases_new_customer(d["r"], d["alpha"], d["a"], d["b"], t)

    def _simulate_counts(self, params, x, t_x, T, horizon, rng):
        """The per-customer posterior of FHL (2005a), section 3, lived out compiled
        (:func:`lifevalue.models.customer_posterior.simulate_purchase_counts`)."""
        return cp.simulate_purchase_counts(params, x, t_x, T, horizon, rng)

    def p_alive(self, summary: pd.DataFrame, *, ci: float = 0.9,
                max_draws: int | None = None) -> pd.DataFrame:
        """P(alive) per customer with its parameter interval.

        The probability that the customer has not dropped out by the end of their
        observation period, given their history (Fader, Hardie & Lee 2008, "Computing
        P(alive) using the BG/NBD model"), at every posterior draw.

        Parameters
        ----------
        summary : pandas.DataFrame
            An RFM summary from :func:`lifevalue.summarize` (its calibration columns
            when it has a holdout period), with the time unit the model was fitted in.
        ci : float, default 0.9
            Mass of the central parameter interval.
        max_draws : int, optional
            Use at most this many posterior draws (thinned evenly); all by default.

        Returns
        -------
        pandas.DataFrame
            One row per customer (the summary's index): ``p_alive_mean`` and the
            parameter interval ``p_alive_param_lo``, ``p_alive_param_hi``.

        Notes
        -----
        In the BG/NBD a customer can drop out only right after a purchase, so a
        customer with no repeat purchase (``frequency == 0``) has P(alive) = 1
        exactly, however long ago their first purchase was: the interval is [1, 1].
        Their expected purchases do fall with time, but a rule such as "P(alive) < 0.5
        means inactive" never marks a one-time buyer inactive. The MBG/NBD model
        (Batislam, Denizel & Filiztekin 2007), in which a customer may also drop out
        at time 0, is the usual remedy: :class:`~lifevalue.models.ModifiedBetaGeo`.
        """
        return super().p_alive(summary, ci=ci, max_draws=max_draws)


def _p_alive(r, alpha, a, b, x, t_x, T):
    """P(alive) (Fader, Hardie & Lee 2008) for draws ``(S, 1)`` and rows ``(k,)``, compiled."""
    return p_alive_draws(r[:, 0], alpha[:, 0], a[:, 0], b[:, 0], x, t_x, T)


def _expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """FHL (2005a) eq. (10) for draws ``(S, 1)`` and rows ``(k,)``: P(alive) on each
    (x, t_x, T) row times the expected purchases if alive, which depend on (x, T) only
    (:func:`lifevalue.models.compiled_closed_forms.purchases_if_alive_rows`: on the table
    grid in T, within 1e-7 relative)."""
    r, alpha, a, b = r[:, 0], alpha[:, 0], a[:, 0], b[:, 0]
    return (p_alive_draws(r, alpha, a, b, x, t_x, T)
            * purchases_if_alive_rows(r, alpha, a, b, x, T, t))
