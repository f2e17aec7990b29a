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
from lifevalue.models import scoring as sc
from lifevalue.models.base import DROPOUT_SIGMA, SHAPE_SIGMA, BaseModel
from lifevalue.models.compiled_closed_forms import p_alive_draws, purchases_and_survival
from lifevalue.models.likelihoods import (
    BGNBDStats,
    bgnbd_loglik,
    bgnbd_total_loglik,
    bgnbd_total_loglik_derivs,
    bgnbd_total_loglik_draws,
    bgnbd_total_loglik_grad,
    compress_bgnbd,
    thin_bgnbd,
    unique_rows,
)


class BetaGeo(BaseModel):
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
    summary_names: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    observed_name: ClassVar[str] = "purchases"

    def default_priors(self, stats: BGNBDStats) -> dict[str, dict]:
        mean_T = float(np.sum(stats.count * stats.T) / np.sum(stats.count))
        return {
            "r": {"dist": "HalfNormal", "sigma": SHAPE_SIGMA},
            "alpha": {"dist": "HalfNormal", "sigma": round(10.0 * max(mean_T, 1.0), 6)},
            "a": {"dist": "HalfNormal", "sigma": DROPOUT_SIGMA},
            "b": {"dist": "HalfNormal", "sigma": DROPOUT_SIGMA},
        }

    def _stats(self, columns):
        return compress_bgnbd(columns["frequency"], columns["recency"], columns["T"],
                              counts=columns.get(v.COUNT_COLUMN))

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

    def _thin(self, stats, fraction, rng):
        return thin_bgnbd(stats, fraction, rng)

    def _observed(self, stats):
        return {"frequency": stats.x, "recency": stats.t_x, "T": stats.T, "count": stats.count}

    def _pointwise_loglik(self, values, stats, start, stop):
        r, alpha, a, b = (values[:, i:i + 1] for i in range(4))
        return bgnbd_loglik(r, alpha, a, b, stats.x[start:stop], stats.t_x[start:stop],
                            stats.T[start:stop])

    def _map_start(self, stats):
        mean_T = float(np.sum(stats.count * stats.T) / np.sum(stats.count))
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

    def _customers(self, summary: pd.DataFrame):
        self._check_fitted()
        v.check_time_unit_matches(summary, self.metadata_.get("time_unit"))
        cols = v.check_summary(summary, self.summary_names)
        return cols["frequency"], cols["recency"], cols["T"]

    def _param_draws(self, max_draws):
        d = self.draws(max_draws)
        return {k: a[:, None] for k, a in d.items()}

    def _closed_form_frame(self, summary, name, fn, ci, max_draws):
        x, t_x, T = self._customers(summary)
        d = self._param_draws(max_draws)
        # rows sorted by (x, T, t_x): a chunk of rows shares few distinct (x, T)
        mean, lo, hi = sc.per_unique_rows(
            [x, T, t_x],
            lambda xs, Ts, ts: fn(d["r"], d["alpha"], d["a"], d["b"], xs, ts, Ts),
            lambda values: sc.reduce_draws(values, ci),
            n_draws=len(d["r"]), n_threads=sc.check_threads(None),
        )
        return sc.interval_frame(name, mean, lo, hi, "param", summary.index, ci)

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
        at time 0, is the usual remedy; lifevalue does not offer it yet.
        """
        return self._closed_form_frame(summary, "p_alive", _p_alive, ci, max_draws)

    def prob_no_purchase(self, summary: pd.DataFrame, t: float, *, ci: float = 0.9,
                         max_draws: int | None = None) -> pd.DataFrame:
        """Probability of no purchase in (T, T+t], with its parameter interval.

        Columns ``p_no_purchase_mean``, ``p_no_purchase_param_lo``/``_hi``.
        """
        _check_horizon(t)
        return self._closed_form_frame(
            summary, "p_no_purchase",
            lambda r, al, a, b, x, tx, T: pr.prob_no_purchase(r, al, a, b, x, tx, T, t),
            ci, max_draws)

    def expected_purchases(
        self,
        summary: pd.DataFrame,
        t: float,
        *,
        ci: float = 0.9,
        predictive: bool = True,
        random_seed: int = 0,
        max_draws: int | None = None,
        chunk_size: int | None = None,
        rng_offset: int = 0,
    ) -> pd.DataFrame:
        """Expected purchases in (T, T+t] (FHL 2005a, eq. 10), with both intervals.

        Returns ``purchases_mean`` and its parameter interval
        ``purchases_param_lo``/``_hi``; with ``predictive=True`` also the predictive
        interval ``purchases_pred_lo``/``_hi`` of the count the customer will actually
        make, simulated from the per-customer posterior (one simulation per draw).
        ``rng_offset`` is as in :meth:`simulate_purchases`.
        """
        _check_horizon(t)
        out = self._closed_form_frame(
            summary, "purchases",
            lambda r, al, a, b, x, tx, T: _expected_purchases(r, al, a, b, x, tx, T, t),
            ci, max_draws)
        if predictive:
            sims = self.simulate_purchases(summary, [t], random_seed=random_seed,
                                           max_draws=max_draws, chunk_size=chunk_size, ci=ci,
                                           rng_offset=rng_offset)
            out["purchases_pred_lo"] = sims["purchases_pred_lo"].to_numpy()
            out["purchases_pred_hi"] = sims["purchases_pred_hi"].to_numpy()
        return out

    def simulate_purchases(
        self,
        summary: pd.DataFrame,
        lengths,
        *,
        ci: float = 0.9,
        random_seed: int = 0,
        max_draws: int | None = None,
        chunk_size: int | None = None,
        rng_offset: int = 0,
        n_threads: int | None = None,
    ) -> pd.DataFrame:
        """Simulate total purchases over future periods of the given ``lengths``.

        Returns ``purchases_sim_mean`` (the simulation's mean, which converges to the
        closed form) and the predictive interval ``purchases_pred_lo``/``_hi`` of the
        total over all periods, and ``active_end_mean``, the share of simulations in
        which the customer is still active at the end.

        Random numbers follow the customers sorted by id, one stream per block of
        :data:`~lifevalue.models.customer_posterior.RNG_BLOCK` customers.
        ``rng_offset`` is the position, in that order, of this summary's first customer
        within a larger population (a multiple of the block): scoring the customers
        ``[k, k + n)`` of the sorted population with ``rng_offset=k`` gives exactly
        the numbers of scoring the whole (the Spark scorer relies on it). Chunks run on
        ``n_threads`` threads (default ``min(4, CPUs)``) with identical results.
        """
        x, t_x, T = self._customers(summary)
        lengths = np.atleast_1d(np.asarray(lengths, dtype="float64"))
        for length in lengths:
            _check_horizon(length)
        offset = sc.check_rng_offset(rng_offset)
        params = sc.simulation_draws(self.draws(max_draws))
        order = sc.canonical_order(summary.index)
        n_draws = len(params["r"])
        cols = {k: np.empty(len(x)) for k in
                ("purchases_sim_mean", "purchases_pred_lo", "purchases_pred_hi",
                 "active_end_mean")}
        threads = sc.check_threads(n_threads)

        def one_chunk(sl):  # fills the chunk's customers of cols
            idx = order[sl]
            rng = cp.BlockRNG(random_seed, offset + sl.start, offset + sl.stop)
            total, active = cp.simulate_purchase_counts(params, x[idx], t_x[idx], T[idx],
                                                        float(lengths.sum()), rng)
            mean, lo, hi = sc.reduce_draws(total, ci, discrete=True)
            cols["purchases_sim_mean"][idx] = mean
            cols["purchases_pred_lo"][idx] = lo
            cols["purchases_pred_hi"][idx] = hi
            cols["active_end_mean"][idx] = active.mean(axis=0)

        chunks = sc.iter_chunks(len(x), chunk_size, n_draws, len(lengths))
        for _ in sc.map_threads(threads, one_chunk, chunks):
            pass
        out = pd.DataFrame(cols, index=summary.index)
        out.attrs["ci"] = ci
        return out

    def expected_purchases_new_customer(self, t, *, ci: float = 0.9) -> pd.DataFrame:
        """Expected purchases in (0, t] of a newly acquired customer (FHL 2005a, eq. 9).

        ``t`` may be a sequence; the frame is indexed by t.
        """
        self._check_fitted()
        ts = np.atleast_1d(np.asarray(t, dtype="float64"))
        for h in ts:
            _check_horizon(h)
        d = self._param_draws(None)
        values = pr.expected_purchases_new_customer(d["r"], d["alpha"], d["a"], d["b"],
                                                    ts[None, :])
        mean, lo, hi = sc.reduce_draws(values, ci)
        return sc.interval_frame("purchases", mean, lo, hi, "param",
                                 pd.Index(ts, name="t"), ci)


def _p_alive(r, alpha, a, b, x, t_x, T):
    """P(alive) (Fader, Hardie & Lee 2008) for draws ``(S, 1)`` and rows ``(k,)``, compiled."""
    return p_alive_draws(r[:, 0], alpha[:, 0], a[:, 0], b[:, 0], x, t_x, T)


def _expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """FHL (2005a) eq. (10) for draws ``(S, 1)`` and rows ``(k,)``: P(alive) on each
    (x, t_x, T) row times the expected purchases if alive, which depend on (x, T) only
    and are summed as one series per draw and distinct (x, T)."""
    r, alpha, a, b = r[:, 0], alpha[:, 0], a[:, 0], b[:, 0]
    ux, uT, _, row = unique_rows(x, T, return_inverse=True)
    one = np.ones(len(ux))
    if_alive = purchases_and_survival(r, alpha, a, b, ux, uT, one, one,
                                      np.array([float(t)]))[0][:, :, 0]
    return p_alive_draws(r, alpha, a, b, x, t_x, T) * if_alive[:, row]


def _check_horizon(t) -> None:
    if not v.is_finite_number(t) or float(t) <= 0:
        raise v.InvalidOptionError(f"t must be a positive, finite time, got {t!r}", column="t")
