"""What every transaction model on (frequency, recency, T) shares: its sufficient
statistics and the per-customer prediction frames.

:class:`TransactionModel` is the common base of :class:`~lifevalue.models.BetaGeo`,
:class:`~lifevalue.models.ModifiedBetaGeo` and :class:`~lifevalue.models.ParetoNBD`.
It takes optional time-invariant covariates on purchase rate and dropout
(:mod:`lifevalue.models.covariates`): customers with the same attributes share their
parameters, and every prediction is the model's own, per attribute profile
(:meth:`TransactionModel.for_profile`). It turns a model's closed forms (functions of
population draws of shape ``(S, 1)`` and customers' histories of shape ``(k,)``) into
frames with parameter intervals, and its per-customer simulator into predictive
intervals, chunked and threaded the same
way for every model. A model supplies the hooks ``_p_alive_draws``,
``_expected_draws``, ``_no_purchase_draws``, ``_new_customer_draws`` and
``_simulate_counts``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models import covariates as cov
from lifevalue.models import customer_posterior as cp
from lifevalue.models import scoring as sc
from lifevalue.models.base import BaseModel
from lifevalue.models.inference import _posterior_tree
from lifevalue.models.likelihoods import BGNBDStats, compress_bgnbd, thin_bgnbd


class TransactionModel(BaseModel):
    """Base of the models of purchases and dropout fitted on (frequency, recency, T)."""

    summary_names: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    observed_name: ClassVar[str] = "purchases"
    #: For the BG/NBD family, the purchase at which a customer first may drop out: 1
    #: (after the first repeat purchase, BG/NBD) or 0 (right after the first purchase,
    #: MBG/NBD).
    first_dropout: ClassVar[float | None] = None
    #: How a customer drops out: ``"purchase"`` (the BG/NBD family: only right after a
    #: purchase) or ``"lifetime"`` (Pareto/NBD: at any time).
    #: :class:`~lifevalue.value.CustomerValue` values the models that set it.
    dropout_process: ClassVar[str | None] = None
    #: Which scale parameters the purchase and dropout covariates act on, with the sign
    #: of the effect in the exponent (see :mod:`lifevalue.models.covariates`).
    covariate_targets: ClassVar[dict] = {}

    def __init__(self, priors: dict[str, dict] | None = None, *,
                 purchase_covariates=(), dropout_covariates=()):
        self._design = cov.make_design(type(self), purchase_covariates, dropout_covariates)
        if self._design is not None:
            self.param_names = self._design.names
        super().__init__(priors)

    @property
    def covariates(self) -> dict[str, tuple[str, ...]]:
        """The covariate columns on purchase rate and on dropout (empty without)."""
        d = self._design
        return {"purchase": d.purchase if d else (), "dropout": d.dropout if d else ()}

    # ------------------------------------------------------ sufficient statistics

    def _stats(self, columns):
        return compress_bgnbd(columns["frequency"], columns["recency"], columns["T"],
                              counts=columns.get(v.COUNT_COLUMN))

    def _thin(self, stats, fraction, rng):
        return thin_bgnbd(stats, fraction, rng)

    def _observed(self, stats):
        return {"frequency": stats.x, "recency": stats.t_x, "T": stats.T, "count": stats.count}

    @staticmethod
    def _mean_T(stats: BGNBDStats) -> float:
        return float(np.sum(stats.count * stats.T) / np.sum(stats.count))

    # ------------------------------------------------------------ model hooks

    def _p_alive_draws(self, d, x, t_x, T):  # pragma: no cover - abstract
        """P(alive) for draws ``d`` (name -> ``(S, 1)``) and rows ``(k,)``: ``(S, k)``."""
        raise NotImplementedError

    def _expected_draws(self, d, x, t_x, T, t):  # pragma: no cover - abstract
        """Conditional expected purchases in (T, T+t], ``(S, k)``."""
        raise NotImplementedError

    def _no_purchase_draws(self, d, x, t_x, T, t):  # pragma: no cover - abstract
        """Probability of no purchase in (T, T+t], ``(S, k)``."""
        raise NotImplementedError

    def _new_customer_draws(self, d, t):  # pragma: no cover - abstract
        """Expected purchases in (0, t] of a new customer for draws ``(S, 1)`` and
        horizons ``(1, H)``: ``(S, H)``."""
        raise NotImplementedError

    def _simulate_counts(self, params, x, t_x, T, horizon,
                         rng: cp.BlockRNG):  # pragma: no cover - abstract
        """Simulated purchases in (T, T+horizon], one future per population draw.

        ``params`` holds arrays ``(S,)``, ``x, t_x, T`` arrays ``(n,)``. Returns
        ``counts`` (int, ``(S, n)``) and ``active`` (bool, ``(S, n)``: still active at
        ``T + horizon``).
        """
        raise NotImplementedError

    # ----------------------------------------------------------- covariates

    def for_profile(self, profile) -> TransactionModel:
        """The fitted model of the customers with attributes ``profile``: a model of the
        same class without covariates whose posterior draws are that profile's
        parameters, draw by draw (``alpha exp(-z . alpha[...])``, ...). It predicts,
        values and simulates like any fitted model.

        ``profile`` is a mapping from covariate name to value (missing ones are 0) or a
        sequence in the order of ``covariates``.

        Examples
        --------
        >>> import numpy as np
        >>> from lifevalue import BetaGeo, datasets
        >>> s = datasets.load_cdnow_summary()
        >>> s["web"] = (np.arange(len(s)) % 3 == 0).astype(float)
        >>> bg = BetaGeo(purchase_covariates=["web"]).fit(s, method="map")
        >>> bg.param_names
        ('r', 'alpha', 'a', 'b', 'alpha[web]')
        >>> est, web = bg.point_estimate(), bg.for_profile({"web": 1.0}).point_estimate()
        >>> bool(np.isclose(web["alpha"], est["alpha"] * np.exp(-est["alpha[web]"])))
        True
        """
        self._check_fitted()
        d = self._design
        if d is None:
            return self
        z = profile_vector(d.columns, profile)
        values = self._values()
        per = d.profile_params(values, z[None, :])[:, 0]  # (draws, n_base)
        post = self.idata_["posterior"]
        shape = (post.sizes["chain"], post.sizes["draw"])
        view = type(self)()
        view.idata_ = _posterior_tree({n: per[:, i].reshape(shape)
                                       for i, n in enumerate(d.base_names)})
        view.metadata_ = {**{k: val for k, val in self.metadata_.items()
                             if k != "covariates"},
                          "profile": dict(zip(d.columns, z.tolist(), strict=True))}
        view.diagnostics_ = {"method": self.diagnostics_.get("method")}
        return view

    def covariate_effects(self, ci: float = 0.9) -> pd.DataFrame:
        """What one unit more of each covariate does, the others held at 0, as ratios
        with their parameter intervals (over the posterior draws).

        ``purchase_rate_ratio``: of the population's mean purchase rate ``r / alpha``
        (``exp`` of the purchase coefficient). ``dropout_ratio``: of the population's
        mean dropout, the probability ``a / (a + b)`` of dropping out after a purchase
        (BG/NBD family) or the rate ``s / beta`` (Pareto/NBD). NaN where the covariate
        has no effect in the model. Columns ``<ratio>_mean``, ``<ratio>_lo``,
        ``<ratio>_hi``; one row per covariate.
        """
        self._check_fitted()
        d = self._design
        if d is None:
            raise v.InvalidOptionError(f"this {type(self).__name__} has no covariates",
                                       column="covariates")
        lo_q, hi_q = sc.quantile_bounds(ci)
        base = self.for_profile({}).draws()
        rows = {}
        for col in d.columns:
            own = self.for_profile({col: 1.0}).draws()
            ratios = {
                "purchase_rate_ratio": (base["alpha"] / own["alpha"]) if col in d.purchase
                else None,
                "dropout_ratio": None if col not in d.dropout else (
                    (own["s"] / own["beta"]) / (base["s"] / base["beta"])
                    if self.dropout_process == "lifetime" else
                    (own["a"] / (own["a"] + own["b"])) / (base["a"] / (base["a"] + base["b"])))}
            rows[col] = {f"{name}_{k}": (np.nan if r is None else float(f(r)))
                         for name, r in ratios.items()
                         for k, f in (("mean", np.mean), ("lo", lambda a: np.quantile(a, lo_q)),
                                      ("hi", lambda a: np.quantile(a, hi_q)))}
        out = pd.DataFrame.from_dict(rows, orient="index").rename_axis("covariate")
        out.attrs["ci"] = ci
        return out

    def _by_profile(self, summary, method: str, kwargs, rng: bool = False) -> pd.DataFrame:
        """``method`` of each attribute profile's model on its customers, in the
        summary's order. With ``rng``, each profile's customers get random streams of
        their own (a block-aligned ``rng_offset`` after the previous profile's)."""
        self._check_fitted()
        profiles, positions = cov.profile_groups(self._design, summary)
        offsets = cov.profile_offsets(map(len, positions), sc.check_rng_offset(
            kwargs.get("rng_offset", 0)) if rng else 0)
        parts = []
        for z, pos, offset in zip(profiles, positions, offsets, strict=True):
            if rng:
                kwargs = {**kwargs, "rng_offset": offset}
            parts.append(getattr(self.for_profile(z), method)(summary.iloc[pos], **kwargs))
        out = pd.concat(parts).reindex(summary.index)
        out.attrs.update(parts[0].attrs)
        return out

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
        """``fn(draws, x, t_x, T)`` on the unique histories, reduced over the draws to
        a mean and a parameter interval per customer."""
        x, t_x, T = self._customers(summary)
        d = self._param_draws(max_draws)
        # rows sorted by (x, T, t_x): a chunk of rows shares few distinct (x, T)
        mean, lo, hi = sc.per_unique_rows(
            [x, T, t_x],
            lambda xs, Ts, ts: fn(d, xs, ts, Ts),
            lambda values: sc.reduce_draws(values, ci),
            n_draws=len(d[self.param_names[0]]), n_threads=sc.check_threads(None),
        )
        return sc.interval_frame(name, mean, lo, hi, "param", summary.index, ci)

    def p_alive(self, summary: pd.DataFrame, *, ci: float = 0.9,
                max_draws: int | None = None) -> pd.DataFrame:
        """P(alive) per customer with its parameter interval.

        The probability that the customer has not dropped out by the end of their
        observation period, given their history, at every posterior draw.

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
        """
        if self._design is not None:
            return self._by_profile(summary, "p_alive", {"ci": ci, "max_draws": max_draws})
        return self._closed_form_frame(summary, "p_alive", self._p_alive_draws, ci,
                                       max_draws)

    def prob_no_purchase(self, summary: pd.DataFrame, t: float, *, ci: float = 0.9,
                         max_draws: int | None = None) -> pd.DataFrame:
        """Probability of no purchase in (T, T+t], with its parameter interval.

        Columns ``p_no_purchase_mean``, ``p_no_purchase_param_lo``/``_hi``.
        """
        check_horizon(t)
        if self._design is not None:
            return self._by_profile(summary, "prob_no_purchase",
                                    {"t": t, "ci": ci, "max_draws": max_draws})
        return self._closed_form_frame(
            summary, "p_no_purchase",
            lambda d, x, tx, T: self._no_purchase_draws(d, x, tx, T, float(t)), ci, max_draws)

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
        """Expected purchases in (T, T+t] given each customer's history, with both
        intervals.

        Returns ``purchases_mean`` and its parameter interval
        ``purchases_param_lo``/``_hi``; with ``predictive=True`` also the predictive
        interval ``purchases_pred_lo``/``_hi`` of the count the customer will actually
        make, simulated from the per-customer posterior (one simulation per draw).
        ``rng_offset`` is as in :meth:`simulate_purchases`.
        """
        check_horizon(t)
        random_seed = v.check_random_seed(random_seed)
        if self._design is not None:
            return self._by_profile(summary, "expected_purchases", {
                "t": t, "ci": ci, "predictive": predictive, "random_seed": random_seed,
                "max_draws": max_draws, "chunk_size": chunk_size, "rng_offset": rng_offset},
                rng=True)
        out = self._closed_form_frame(
            summary, "purchases",
            lambda d, x, tx, T: self._expected_draws(d, x, tx, T, float(t)), ci, max_draws)
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

        Each simulation draws the customer's latent state from its posterior given
        their history at one population draw, then lives out the future. Returns
        ``purchases_sim_mean`` (the simulation's mean, which converges to the closed
        form of :meth:`expected_purchases`) and the predictive interval
        ``purchases_pred_lo``/``_hi`` of the total over all periods, and
        ``active_end_mean``, the share of simulations in which the customer is still
        active at the end.

        Random numbers follow the customers sorted by id, one stream per block of
        :data:`~lifevalue.models.customer_posterior.RNG_BLOCK` customers.
        ``rng_offset`` is the position, in that order, of this summary's first customer
        within a larger population (a multiple of the block): scoring the customers
        ``[k, k + n)`` of the sorted population with ``rng_offset=k`` gives exactly
        the numbers of scoring the whole (the Spark scorer relies on it). Chunks run on
        ``n_threads`` threads (default ``min(4, CPUs)``) with identical results.
        """
        if self._design is not None:
            return self._by_profile(summary, "simulate_purchases", {
                "lengths": lengths, "ci": ci, "random_seed": random_seed,
                "max_draws": max_draws, "chunk_size": chunk_size, "rng_offset": rng_offset,
                "n_threads": n_threads}, rng=True)
        x, t_x, T = self._customers(summary)
        random_seed = v.check_random_seed(random_seed)
        lengths = np.atleast_1d(np.asarray(lengths, dtype="float64"))
        for length in lengths:
            check_horizon(length)
        offset = sc.check_rng_offset(rng_offset)
        params = sc.simulation_draws(self.draws(max_draws))
        order = sc.canonical_order(summary.index)
        n_draws = len(params[self.param_names[0]])
        cols = {k: np.empty(len(x)) for k in
                ("purchases_sim_mean", "purchases_pred_lo", "purchases_pred_hi",
                 "active_end_mean")}
        threads = sc.check_threads(n_threads)

        def one_chunk(sl):  # fills the chunk's customers of cols
            idx = order[sl]
            rng = cp.BlockRNG(random_seed, offset + sl.start, offset + sl.stop)
            total, active = self._simulate_counts(params, x[idx], t_x[idx], T[idx],
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

    def expected_purchases_new_customer(self, t, *, ci: float = 0.9,
                                        profile=None) -> pd.DataFrame:
        """Expected purchases in (0, t] of a newly acquired customer.

        ``t`` may be a sequence; the frame is indexed by t, with ``purchases_mean`` and
        the parameter interval ``purchases_param_lo``/``_hi``. A model with covariates
        needs the new customer's ``profile`` (see :meth:`for_profile`).
        """
        self._check_fitted()
        if self._design is not None:
            if profile is None:
                raise v.InvalidOptionError(
                    "this model has covariates: give the new customer's profile=, e.g. "
                    f"{dict.fromkeys(self._design.columns, 0.0)}", column="profile")
            return self.for_profile(profile).expected_purchases_new_customer(t, ci=ci)
        ts = np.atleast_1d(np.asarray(t, dtype="float64"))
        for h in ts:
            check_horizon(h)
        values = self._new_customer_draws(self._param_draws(None), ts[None, :])
        mean, lo, hi = sc.reduce_draws(values, ci)
        return sc.interval_frame("purchases", mean, lo, hi, "param",
                                 pd.Index(ts, name="t"), ci)


def profile_vector(columns, profile) -> np.ndarray:
    """A profile (mapping or sequence) as the covariates' values in ``columns`` order."""
    if isinstance(profile, dict | pd.Series):
        unknown = sorted(set(profile) - set(columns))
        if unknown:
            raise v.InvalidOptionError(
                f"profile names {unknown[0]!r}, not a covariate of this model "
                f"({list(columns)})", column="profile")
        z = [profile.get(c, 0.0) for c in columns]
    else:
        z = list(np.atleast_1d(profile))
        if len(z) != len(columns):
            raise v.InvalidOptionError(
                f"profile has {len(z)} values; the model's covariates are {list(columns)}",
                column="profile")
    if not all(v.is_finite_number(x) for x in z):
        raise v.InvalidOptionError(f"profile values must be finite numbers, got {z!r}",
                                   column="profile")
    return np.asarray(z, dtype="float64")


def check_horizon(t) -> None:
    """Refuse a horizon that is not a positive, finite time."""
    if not v.is_finite_number(t) or float(t) <= 0:
        raise v.InvalidOptionError(f"t must be a positive, finite time, got {t!r}", column="t")
