"""Bayesian Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b,
"RFM and CLV"; Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

Each transaction of a customer is ``Gamma(p, nu)``; across customers
``nu ~ Gamma(q, gamma)``. It fits on repeat customers (x > 0) and assumes spend is
independent of purchase frequency: ``fit`` measures that correlation and reports it.

Fader, Hardie & Lee (2005b) introduced the model to pair it with the Pareto/NBD model of
purchases; lifevalue pairs it with the BG/NBD. Either pairing assumes that a customer's
spend is independent of their purchase process.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numba
import numpy as np
import pandas as pd
from scipy import stats as st

from lifevalue import validation as v
from lifevalue.errors import SpendFrequencyCorrelationWarning, ZeroSpendWarning  # noqa: F401
from lifevalue.models import customer_posterior as cp
from lifevalue.models import predictions as pr
from lifevalue.models import scoring as sc
from lifevalue.models.base import SHAPE_SIGMA, BaseModel
from lifevalue.models.customer_posterior import gamma_constants
from lifevalue.models.likelihoods import (
    GammaGammaStats,
    compress_gamma_gamma,
    gamma_gamma_rows_loglik,
    gamma_gamma_total_loglik,
    gamma_gamma_total_loglik_derivs,
    gamma_gamma_total_loglik_draws,
    gamma_gamma_total_loglik_grad,
    thin_gamma_gamma,
)
from lifevalue.models.order_statistics import row_quantiles
from lifevalue.models.random_streams import (
    RNG_BLOCK,
    _gamma_dc_s,
    _gamma_s,
    _load,
    seed_stream,
)

#: |Spearman correlation| of frequency and spend above which ``fit`` warns.
CORRELATION_WARN = 0.3


class GammaGamma(BaseModel):
    """Bayesian Gamma-Gamma model of spend per transaction.

    Parameters
    ----------
    priors : dict, optional
        Overrides of the defaults:

        * ``p, q ~ HalfNormal(sigma=300)``;
        * ``gamma ~ HalfNormal(sigma=100 * mean spend)``, in the currency of the data.

    Attributes
    ----------
    idata_, metadata_, diagnostics_ : see :class:`~lifevalue.models.base.BaseModel`.
    spend_frequency_correlation_ : dict
        Pearson and Spearman correlation of x and mean spend among repeat customers,
        with the Spearman p-value. The model assumes there is none.

    Examples
    --------
    >>> from lifevalue.datasets import load_cdnow_summary
    >>> model = GammaGamma().fit(load_cdnow_summary(), method="map")
    >>> {k: round(val, 2) for k, val in model.point_estimate().items()}
    {'p': 6.25, 'q': 3.74, 'gamma': 15.44}
    """

    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    summary_names: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")
    observed_name: ClassVar[str] = "spend"

    def default_priors(self, stats: GammaGammaStats) -> dict[str, dict]:
        mean_m = float(np.sum(stats.count * stats.m) / np.sum(stats.count))
        return {
            "p": {"dist": "HalfNormal", "sigma": SHAPE_SIGMA},
            "q": {"dist": "HalfNormal", "sigma": SHAPE_SIGMA},
            "gamma": {"dist": "HalfNormal", "sigma": float(f"{100.0 * mean_m:.6g}")},
        }

    def _stats(self, columns):
        # a mean spend of 0 (e.g. free repeat purchases) has no Gamma density: such
        # customers stay out of the likelihood (fit says so), not out of the valuation
        rep = (columns["frequency"] > 0) & (columns["monetary_value"] > 0)
        if not rep.any():
            raise v.InputError("Gamma-Gamma needs repeat customers (frequency > 0) with a "
                               "mean spend above 0; the summary has none",
                               column="frequency")
        counts = columns.get(v.COUNT_COLUMN)
        return compress_gamma_gamma(columns["frequency"][rep], columns["monetary_value"][rep],
                                    counts=None if counts is None else counts[rep])

    def _loglik(self, params, stats, xp):
        return gamma_gamma_total_loglik(params["p"], params["q"], params["gamma"], stats, xp)

    def _loglik_grad(self, values, stats):
        return gamma_gamma_total_loglik_grad(*values, stats)

    def _loglik_derivs(self, values, stats):
        return gamma_gamma_total_loglik_derivs(*values, stats)

    def _loglik_draws(self, values, stats, workers=1):
        return gamma_gamma_total_loglik_draws(values, stats, workers=workers)

    def _kernel(self, stats):
        from lifevalue.models import kernels

        return kernels.gamma_gamma_loglik_grad, kernels.gamma_gamma_kernel_data(stats)

    def _density(self):
        from lifevalue.models import kernels

        return kernels.gamma_gamma_density

    def _thin(self, stats, fraction, rng):
        return thin_gamma_gamma(stats, fraction, rng)

    def _observed(self, stats):
        return {"frequency": stats.x, "monetary_value": stats.m, "count": stats.count}

    def _pointwise_loglik(self, values, stats, start, stop):
        p, q, gamma = (values[:, i:i + 1] for i in range(3))
        return gamma_gamma_rows_loglik(p, q, gamma, stats, start, stop)

    def _map_start(self, stats):
        mean_m = float(np.sum(stats.count * stats.m) / np.sum(stats.count))
        return np.array([1.0, 2.0, mean_m])

    def fit(self, summary: pd.DataFrame, **kwargs):
        """Fit as :meth:`BaseModel.fit`, and measure the spend-frequency correlation.

        Repeat customers whose mean spend is 0 cannot enter the Gamma-Gamma likelihood:
        they are left out of the fit with a :class:`ZeroSpendWarning` that counts them
        and shows up to five ids (``metadata_["zero_spend_customers"]`` holds the
        count). Their spend is still predicted and valued: given the population
        parameters, a customer's ``nu`` has the posterior ``Gamma(p x + q, gamma + x m)``
        (Fader & Hardie 2013), defined for ``m = 0`` too.
        """
        cols = v.check_summary(summary, self.summary_names)
        counts = v.check_counts(summary)
        zero = (cols["frequency"] > 0) & (cols["monetary_value"] == 0)
        n_zero = int(zero.sum() if counts is None else counts[zero].sum())
        rep = (cols["frequency"] > 0) & ~zero
        x, m = cols["frequency"][rep], cols["monetary_value"][rep]
        if counts is not None:  # sufficient statistics: one row per customer again
            x, m = np.repeat(x, counts[rep]), np.repeat(m, counts[rep])
        corr = {"pearson": np.nan, "spearman": np.nan, "spearman_pvalue": np.nan,
                "n": len(x)}
        if len(x) > 2 and np.ptp(x) > 0 and np.ptp(m) > 0:
            rho, pval = _spearman(x, m)
            corr.update(pearson=float(np.corrcoef(x, m)[0, 1]), spearman=float(rho),
                        spearman_pvalue=float(pval))
        self.spend_frequency_correlation_ = corr
        if n_zero:
            ids = ", ".join(str(i) for i in summary.index[zero][:5])
            warnings.warn(
                f"{n_zero} repeat customer{'s' if n_zero > 1 else ''} with a mean spend of 0 "
                f"left out of the Gamma-Gamma fit (their spend has no Gamma density); they "
                f"are still valued. Customer ids (up to 5): {ids}",
                ZeroSpendWarning, stacklevel=2)
        super().fit(summary, **kwargs)
        self.metadata_["spend_frequency_correlation"] = corr
        self.metadata_["zero_spend_customers"] = n_zero
        if abs(corr["spearman"]) > CORRELATION_WARN:
            warnings.warn(
                f"spend and purchase frequency are correlated (Spearman {corr['spearman']:.2f}"
                f" over {corr['n']} repeat customers); Gamma-Gamma assumes they are "
                "independent, so its spend predictions may be biased",
                SpendFrequencyCorrelationWarning,
                stacklevel=2,
            )
        return self

    @classmethod
    def load(cls, path):
        model = super().load(path)
        model.spend_frequency_correlation_ = model.metadata_.get("spend_frequency_correlation")
        return model

    @classmethod
    def from_lifetimes(cls, fitter, *, time_unit: str | None = None) -> GammaGamma:
        """A point-estimate GammaGamma from a fitted ``lifetimes.GammaGammaFitter``
        (lifetimes' ``v`` is ``gamma``).

        ``time_unit`` is recorded as :meth:`BetaGeo.from_lifetimes
        <lifevalue.models.BetaGeo.from_lifetimes>` records it; spend per purchase
        does not depend on it.
        """
        params = getattr(fitter, "params_", None)
        if params is None:
            raise v.NotFittedError("the lifetimes GammaGammaFitter is not fitted")
        names = {"p": "p", "q": "q", "gamma": "v"}
        return cls.from_params({k: float(params[names[k]]) for k in cls.param_names},
                               time_unit=time_unit)

    # -------------------------------------------------------------- predictions

    def expected_spend(
        self,
        summary: pd.DataFrame,
        *,
        ci: float = 0.9,
        predictive: bool = True,
        random_seed: int = 0,
        max_draws: int | None = None,
        chunk_size: int | None = None,
        rng_offset: int = 0,
    ) -> pd.DataFrame:
        """Expected spend per transaction (Fader & Hardie 2013, eq. 5) with both intervals.

        ``spend_mean`` and its parameter interval ``spend_param_lo``/``_hi``; with
        ``predictive=True`` also ``spend_pred_lo``/``_hi``, the predictive interval
        of the amount of this customer's next transaction. Customers without repeat
        purchases get the population mean and interval. ``rng_offset`` is as in
        :meth:`lifevalue.models.beta_geo.BetaGeo.simulate_purchases`.
        """
        self._check_fitted()
        cols = v.check_summary(summary, self.summary_names)
        x, m = cols["frequency"], np.where(cols["frequency"] > 0, cols["monetary_value"], 0.0)
        d = self.draws(max_draws)
        dd = {k: a[:, None] for k, a in d.items()}
        mean, lo, hi = sc.per_unique_rows(
            [x, m], lambda xs, ms: pr.expected_spend(dd["p"], dd["q"], dd["gamma"], xs, ms),
            lambda values: sc.reduce_draws(values, ci),
            n_draws=len(d["p"]), n_threads=sc.check_threads(None),
        )
        out = sc.interval_frame("spend", mean, lo, hi, "param", summary.index, ci)
        if predictive:
            random_seed = v.check_random_seed(random_seed)
            lo_p, hi_p = np.empty(len(x)), np.empty(len(x))
            offset = sc.check_rng_offset(rng_offset)
            order = sc.canonical_order(summary.index)
            sims = sc.simulation_draws(d)
            p_d, p_c = gamma_constants(sims["p"])
            lo_q, hi_q = sc.quantile_bounds(ci)

            def one_chunk(sl):
                idx = order[sl]
                seeds = cp.BlockRNG(random_seed, offset + sl.start, offset + sl.stop
                                    ).stream_seeds()
                amounts = np.empty((len(idx), len(sims["p"])))
                _next_amounts(seeds, sims["p"], p_d, p_c, sims["q"], sims["gamma"],
                              np.ascontiguousarray(x[idx], dtype="float64"),
                              np.ascontiguousarray(m[idx], dtype="float64"), amounts)
                lo_p[idx], hi_p[idx] = row_quantiles(amounts, lo_q, hi_q)

            for _ in sc.map_threads(sc.check_threads(None), one_chunk,
                                    sc.iter_chunks(len(x), chunk_size, len(sims["p"]))):
                pass
            out["spend_pred_lo"] = lo_p
            out["spend_pred_hi"] = hi_p
        return out


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _next_amounts(seeds, p, p_d, p_c, q, gam, x, m, out):
    """``out[i, j]``: customer ``i``'s next transaction amount in simulation ``j`` (at
    draw ``j % S``): ``nu ~ Gamma(p x + q, gamma + x m)``, the posterior of the
    customer's spend rate given x transactions of mean m (Fader & Hardie 2013), then
    ``Gamma(p, nu)``. Customer ``i`` draws from stream ``i mod RNG_BLOCK`` of its
    block's seed words (see :func:`lifevalue.models.random_streams.seed_stream`), so
    the amounts do not depend on chunking or threads."""
    S = len(p)
    start = np.empty(4, dtype=np.uint64)
    for i in range(len(x)):
        seed_stream(seeds[i // RNG_BLOCK], i % RNG_BLOCK, start)
        st_ = _load(start)
        rate = x[i] * m[i]
        s = -1
        for j in range(out.shape[1]):
            s += 1  # the draw j % S, without a division
            if s == S:
                s = 0
            g, st_ = _gamma_s(st_, p[s] * x[i] + q[s])
            nu = g / (gam[s] + rate)
            if p_d[s] > 0.0:  # Gamma(p), p >= 1: its Marsaglia-Tsang constants given
                a, st_ = _gamma_dc_s(st_, p_d[s], p_c[s])
            else:
                a, st_ = _gamma_s(st_, p[s])
            out[i, j] = a / nu


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (``scipy.stats.rankdata``), from the
    sorted distinct values and their counts."""
    from lifevalue.models.rows import _sorted_codes

    codes, distinct = _sorted_codes(values)
    counts = np.bincount(codes, minlength=len(distinct)).astype("float64")
    before = np.cumsum(counts) - counts
    return (before + (counts + 1.0) / 2.0)[codes]


def _spearman(x: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value, as ``scipy.stats.spearmanr`` gives them
    (Pearson correlation of average ranks; p from Student's t with n - 2 degrees of
    freedom), in about half its time on a million customers."""
    rx, rm = _average_ranks(x), _average_ranks(m)
    rx -= rx.mean()
    rm -= rm.mean()
    rho = float(np.einsum("i,i->", rx, rm)
                / np.sqrt(np.einsum("i,i->", rx, rx) * np.einsum("i,i->", rm, rm)))
    rho = min(1.0, max(-1.0, rho))
    if abs(rho) == 1.0:  # a perfectly monotone relation: t is infinite
        return rho, 0.0
    dof = len(x) - 2
    t = rho * np.sqrt(dof / ((1.0 - rho) * (1.0 + rho)))
    return rho, float(2.0 * st.t.sf(abs(t), dof))

