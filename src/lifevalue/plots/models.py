"""Plots of the transaction models: the frequency/recency matrices, calibration and
holdout, tracking, the posterior, repeat purchases and the PIT histogram."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.plots._common import _axes


def _one_profile(model, profile, what: str):
    """The model of the customers with attributes ``profile`` (a model with covariates
    needs one: its customers do not share one set of parameters)."""
    design = getattr(model, "_design", None)
    if design is None:
        if profile is not None:
            raise v.InvalidOptionError(f"{what}: profile= needs a model with covariates",
                                       column="profile")
        return model
    if profile is None:
        raise v.InvalidOptionError(
            f"{what} shows customers with one set of parameters, and this model has "
            f"covariates: give profile=, e.g. {dict.fromkeys(design.columns, 0.0)}",
            column="profile")
    return model.for_profile(profile)


def _matrix(model, fn, max_frequency, max_recency, T):
    est = {k: np.array([[value]]) for k, value in model.point_estimate().items()}
    x = np.arange(max_frequency + 1, dtype="float64")[:, None]
    t_x = np.linspace(0, max_recency, 40)[None, :]
    T_arr = np.full_like(t_x, float(T if T is not None else max_recency))
    shape = (x.shape[0], t_x.shape[1])
    # the model's own closed form on the flattened grid (one "draw": the point estimate)
    values = fn(est, *(np.broadcast_to(a, shape).ravel() for a in (x, t_x, T_arr)))
    values = np.asarray(values, dtype="float64").reshape(shape)
    values = np.where(t_x <= T_arr, values, np.nan)
    values[0, 1:] = np.nan  # x = 0 has recency 0 only
    return x.ravel(), t_x.ravel(), values


def plot_frequency_recency_matrix(model, *, t: float = 1.0, max_frequency: int = 20,
                                  max_recency: float | None = None, T: float | None = None,
                                  profile=None, ax=None):
    """Expected purchases in the next ``t`` by frequency (rows) and recency (columns).

    At the posterior-mean parameters, for customers of age ``T`` (default: the
    largest recency shown), with the model's own formula (BG/NBD: FHL 2005a eq. 10).
    A model with covariates shows the customers with attributes ``profile``.
    """
    ax = _axes(ax)
    model = _one_profile(model, profile, "plot_frequency_recency_matrix")
    T = T if T is not None else (max_recency or 52.0)
    max_recency = max_recency or T
    x, t_x, values = _matrix(
        model, lambda e, x, tx, TT: model._expected_draws(e, x, tx, TT, t),
        max_frequency, max_recency, T)
    image = ax.imshow(values, aspect="auto", origin="lower", cmap="viridis",
                      extent=(0, max_recency, -0.5, max_frequency + 0.5))
    ax.figure.colorbar(image, ax=ax, label=f"expected purchases in next {t:g}")
    ax.set_xlabel("recency (time of last purchase)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(f"Expected purchases, customers of age T={T:g}")
    return ax


def plot_probability_alive_matrix(model, *, max_frequency: int = 20,
                                  max_recency: float | None = None, T: float | None = None,
                                  profile=None, ax=None):
    """P(alive) by frequency and recency at the posterior-mean parameters, with the
    model's own formula (BG/NBD: Fader, Hardie & Lee 2008). A model with covariates
    shows the customers with attributes ``profile``."""
    ax = _axes(ax)
    model = _one_profile(model, profile, "plot_probability_alive_matrix")
    T = T if T is not None else (max_recency or 52.0)
    max_recency = max_recency or T
    x, t_x, values = _matrix(
        model, lambda e, x, tx, TT: model._p_alive_draws(e, x, tx, TT),
        max_frequency, max_recency, T)
    image = ax.imshow(values, aspect="auto", origin="lower", cmap="magma", vmin=0, vmax=1,
                      extent=(0, max_recency, -0.5, max_frequency + 0.5))
    ax.figure.colorbar(image, ax=ax, label="P(alive)")
    ax.set_xlabel("recency (time of last purchase)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(f"Probability alive, customers of age T={T:g}")
    return ax


def calibration_holdout_table(model, summary: pd.DataFrame, *, max_frequency: int = 7
                              ) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency: actual and predicted.

    Frequencies at or above ``max_frequency`` are pooled into one ``'7+'`` group.
    The prediction is the posterior mean of eq. (10) with its parameter interval.
    ``summary`` is a calibration/holdout split from ``summarize(..., calibration_end=)``
    or its :func:`~lifevalue.calibration_part`.
    """
    from lifevalue.data import calibration_part

    for col in ("frequency_holdout", "duration_holdout"):
        if col not in summary.columns:
            raise v.MissingColumnError(
                f"missing column {col!r}: the calibration/holdout plot needs a summary made "
                "with calibration_end", column=col)
    summary = calibration_part(summary)
    duration = float(summary["duration_holdout"].iloc[0])
    pred = model.expected_purchases(summary, duration, predictive=False)
    group = summary["frequency"].clip(upper=max_frequency).astype(int)
    frame = pd.DataFrame({"group": group, "actual": summary["frequency_holdout"],
                          "predicted": pred["purchases_mean"],
                          "lo": pred["purchases_param_lo"], "hi": pred["purchases_param_hi"]})
    out = frame.groupby("group").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                     predicted=("predicted", "mean"), param_lo=("lo", "mean"),
                                     param_hi=("hi", "mean"))
    out.index = [f"{i}+" if i == max_frequency else str(i) for i in out.index]
    out.index.name = "frequency_cal"
    return out


def plot_calibration_holdout(model, summary: pd.DataFrame, *, max_frequency: int = 7, ax=None):
    """Mean holdout purchases by calibration frequency, actual vs model."""
    ax = _axes(ax)
    table = calibration_holdout_table(model, summary, max_frequency=max_frequency)
    pos = np.arange(len(table))
    ax.plot(pos, table["actual"], "o-", color="black", label="actual")
    ax.plot(pos, table["predicted"], "s--", color="tab:blue", label="model (posterior mean)")
    ax.fill_between(pos, table["param_lo"], table["param_hi"], color="tab:blue", alpha=0.25,
                    label="parameter interval")
    ax.set_xticks(pos, table.index)
    ax.set_xlabel("purchases in calibration period")
    ax.set_ylabel("mean purchases in holdout period")
    ax.set_title("Calibration vs holdout")
    ax.legend()
    return ax


def tracking_table(model, transactions: pd.DataFrame, *, customer_id="customer_id",
                   date="date", time_unit="W", occasion="D", step: float = 1.0
                   ) -> pd.DataFrame:
    """Repeat purchases per time step of the whole cohort: actual and model.

    The model's cumulative repeat purchases at time tau is the sum over customers of the
    expected purchases of a new customer (BG/NBD: FHL 2005a eq. 9) at ``tau - first
    purchase``, at the posterior-mean parameters, with the model's own formula. With
    covariates, a new customer is drawn from the fitted customers' profiles in their
    proportions (the log does not carry the attributes).
    """
    from lifevalue.data.summary import occasion_index

    dates = pd.to_datetime(transactions[date])
    day = np.asarray(dates.to_numpy(), dtype="datetime64[D]").astype("int64")
    occ = occasion_index(day, dates, occasion)
    frame = pd.DataFrame({"cid": transactions[customer_id].to_numpy(), "occ": occ, "day": day})
    frame = frame.drop_duplicates(["cid", "occ"]).sort_values(["cid", "day"])
    first = frame.groupby("cid")["day"].transform("min")
    unit = v.DAYS_PER_UNIT[time_unit]
    start = day.min()
    repeat_t = (frame.loc[frame["day"] > first, "day"].to_numpy() - start) / unit
    births = (frame.groupby("cid")["day"].min().to_numpy() - start) / unit
    end = (day.max() - start) / unit
    grid = np.arange(step, end + step, step)
    actual = np.searchsorted(np.sort(repeat_t), grid, side="right")
    age = np.clip(grid[:, None] - births[None, :], 0.0, None)
    populations = [(model, 1.0)]
    if getattr(model, "_design", None) is not None:
        fitted = model.metadata_["covariates"]
        shares = np.asarray(fitted["counts"], dtype="float64")
        populations = [(model.for_profile(z), w) for z, w in
                       zip(fitted["profiles"], shares / shares.sum(), strict=True)]
    expected = 0.0
    for own, share in populations:
        est = {k: np.array([[value]]) for k, value in own.point_estimate().items()}
        # the model's own expectation for a new customer (BG/NBD: FHL 2005a eq. 9)
        new = own._new_customer_draws(est, np.where(age > 0, age, 1.0).reshape(1, -1))
        expected = expected + share * np.where(age > 0, new.reshape(age.shape), 0.0)
    expected = expected.sum(axis=1)
    return pd.DataFrame({"time": grid, "actual_cumulative": actual.astype(float),
                         "model_cumulative": expected,
                         "actual": np.diff(np.r_[0.0, actual]),
                         "model": np.diff(np.r_[0.0, expected])})


def plot_tracking(model, transactions: pd.DataFrame, *, cumulative: bool = True,
                  calibration_end: float | None = None, ax=None, **kwargs):
    """Cumulative (or incremental) repeat purchases over time, actual vs model.

    ``calibration_end`` (in model time since the first transaction) draws a line.
    Other keyword arguments go to :func:`tracking_table`.
    """
    ax = _axes(ax)
    table = tracking_table(model, transactions, **kwargs)
    kind = "_cumulative" if cumulative else ""
    ax.plot(table["time"], table[f"actual{kind}"], color="black", label="actual")
    ax.plot(table["time"], table[f"model{kind}"], "--", color="tab:blue", label="model")
    if calibration_end is not None:
        ax.axvline(calibration_end, color="grey", linestyle=":", label="end of calibration")
    ax.set_xlabel(f"time ({v.TIME_UNIT_NAMES[kwargs.get('time_unit', 'W')]})")
    ax.set_ylabel(("cumulative " if cumulative else "") + "repeat purchases")
    ax.set_title(("Cumulative" if cumulative else "Incremental") + " repeat purchases")
    ax.legend()
    return ax


def _posterior_draws(model, what: str):
    """The posterior group of a fit with draws; a point estimate has nothing to plot."""
    model._check_fitted()
    post = model.idata_.posterior
    if post.sizes["chain"] * post.sizes["draw"] < 2:
        raise v.InvalidOptionError(
            f"{what} needs posterior draws, but this {type(model).__name__} holds a point "
            f"estimate (method {model.metadata_.get('method')!r}): fit it with MCMC or "
            "method='laplace'", column="model")
    return post.to_dataset()[list(model.param_names)]


def _collection_on(data, axes, dims=(), aes=None):
    """An arviz-plots ``PlotCollection`` that draws ``data``'s variables on given Axes.

    ``axes[i]`` holds variable i's plot (an array along ``dims`` when there are
    any); this is the layout ``PlotCollection.wrap``/``grid`` would create, with the
    caller's Axes in place of a new figure's.
    """
    import xarray as xr
    from arviz_plots import PlotCollection

    axes = np.asarray(axes, dtype=object)
    names = list(data.data_vars)
    shape = tuple(data.sizes[d] for d in dims)
    if axes.shape != (len(names), *shape):
        raise v.InvalidOptionError(
            f"ax must hold {'x'.join(str(n) for n in (len(names), *shape))} Axes (one "
            f"{'row' if dims else 'Axes'} per parameter: {', '.join(names)}), got shape "
            f"{axes.shape}", column="ax")
    coords = {d: data[d].to_numpy() for d in dims}
    plot, row, col = {}, {}, {}
    for i, name in enumerate(names):
        cell = np.empty(shape, dtype=object)
        cell[...] = axes[i]
        plot[name] = xr.DataArray(cell, dims=dims)
        row[name] = xr.DataArray(np.full(shape, i), dims=dims)
        col[name] = xr.DataArray(np.arange(shape[0]) if dims else np.array(0), dims=dims)
    viz = xr.DataTree.from_dict({
        "/": xr.Dataset({"figure": np.array(axes.flat[0].figure, dtype=object)}),
        "plot": xr.Dataset(plot, coords=coords),
        "row_index": xr.Dataset(row, coords=coords),
        "col_index": xr.Dataset(col, coords=coords),
    })
    return PlotCollection(data, viz, aes=aes or {}, backend="matplotlib")


def _axes_of(collection, names, dims=()) -> np.ndarray:
    plot = collection.viz["plot"]
    first = plot[names[0]].transpose(*dims)
    out = np.empty((len(names), *first.shape), dtype=object)
    for i, name in enumerate(names):
        out[i, ...] = plot[name].transpose(*dims).to_numpy()
    return out


def plot_posterior(model, ax=None, *, ci: float = 0.9):
    """Posterior density of each population parameter with its equal-tailed interval.

    Drawn by ArviZ 1 (``arviz_plots.plot_dist``): a KDE of the pooled draws, the
    central ``ci`` **equal-tailed** credible interval (the ``(1-ci)/2`` and
    ``(1+ci)/2`` quantiles: a parameter interval) as a thick
    line at the base, and the posterior mean, with the parameter's name as title.

    Parameters
    ----------
    model : BetaGeo or GammaGamma
        Fitted with posterior draws (MCMC or Laplace); a point estimate (MAP,
        ``from_params``) raises :class:`~lifevalue.validation.InvalidOptionError`.
    ax : sequence of matplotlib Axes, optional
        One Axes per parameter, in ``model.param_names`` order. Default: a new figure
        with the parameters side by side.
    ci : float
        Width of the equal-tailed interval.

    Returns
    -------
    numpy.ndarray of matplotlib Axes
        One per parameter, in ``model.param_names`` order.
    """
    import arviz_plots as azp

    ci = v.check_probability(ci, "ci")
    data = _posterior_draws(model, "plot_posterior")
    names = list(model.param_names)
    collection = None if ax is None else _collection_on(data, ax)
    collection = azp.plot_dist(model.idata_, var_names=names, ci_kind="eti", ci_prob=ci,
                               point_estimate="mean", backend="matplotlib",
                               plot_collection=collection)
    return _axes_of(collection, names)


#: Aesthetics of ``arviz_plots.plot_trace_dist`` (compact): a colour per parameter, a
#: line style per chain.
_TRACE_AES = {"color": ["__variable__"], "overlay": ["__variable__", "chain"],
              "linestyle": ["chain"]}


def plot_trace(model, ax=None):
    """Trace plots of the population parameters: density and draws, per chain.

    Drawn by ArviZ 1 (``arviz_plots.plot_trace_dist``): for each parameter one row,
    the KDE of each chain on the left and its draws against the draw number on the
    right, one line (style) per chain.

    Parameters
    ----------
    model : BetaGeo or GammaGamma
        Fitted with posterior draws; a point estimate raises
        :class:`~lifevalue.validation.InvalidOptionError`.
    ax : array of matplotlib Axes, optional
        Shape ``(n_parameters, 2)``: per parameter (``model.param_names`` order) the
        density Axes and the trace Axes. Default: a new figure.

    Returns
    -------
    numpy.ndarray of matplotlib Axes
        Shape ``(n_parameters, 2)``, as ``ax``.
    """
    import arviz_plots as azp

    data = _posterior_draws(model, "plot_trace")
    names = list(model.param_names)
    dims = ("column",)
    collection = None
    if ax is not None:
        columns = data.expand_dims(column=2).assign_coords(column=["dist", "trace"])
        collection = _collection_on(columns, ax, dims, aes=_TRACE_AES)
    collection = azp.plot_trace_dist(model.idata_, var_names=names, backend="matplotlib",
                                     plot_collection=collection)
    return _axes_of(collection, names, dims)


def plot_repeat_purchases(ppc: pd.DataFrame, ax=None):
    """Customers by number of repeat purchases: observed vs model (FHL 2005a, Figure 2).

    Parameters
    ----------
    ppc : pandas.DataFrame
        The table of :func:`lifevalue.models.checks.repeat_purchase_ppc`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Two bars per count, observed (first) and the model's expected number of
        customers, the latter with the predictive interval as an error bar.
    """
    for col in ("observed", "expected", "pred_lo", "pred_hi"):
        if col not in getattr(ppc, "columns", ()):
            raise v.MissingColumnError(
                f"missing column {col!r}: plot_repeat_purchases takes the table of "
                "lifevalue.models.checks.repeat_purchase_ppc", column=col)
    ax = _axes(ax)
    pos = np.arange(len(ppc))
    width = 0.4
    expected = ppc["expected"].to_numpy(dtype="float64")
    ax.bar(pos - width / 2, ppc["observed"], width, color="black", label="observed")
    ax.bar(pos + width / 2, expected, width, color="tab:blue", label="model (expected)")
    ci = ppc.attrs.get("ci")
    ax.errorbar(pos + width / 2, expected,
                yerr=np.clip([expected - ppc["pred_lo"].to_numpy(dtype="float64"),
                              ppc["pred_hi"].to_numpy(dtype="float64") - expected], 0, None),
                fmt="none", ecolor="grey", capsize=3,
                label=(f"{ci:.0%} " if ci is not None else "")
                + f"{ppc.attrs.get('interval', 'predictive')} interval")
    ax.set_xticks(pos, [str(i) for i in ppc.index])
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel(ppc.attrs.get("unit", "customers"))
    ax.set_title("Repeat purchases: observed vs model")
    ax.legend()
    return ax


def plot_pit_histogram(u, *, bins: int = 10, band: float = 0.95, ax=None):
    """Histogram of randomized PIT values, with the band a calibrated model stays in.

    ``u`` comes from :func:`lifevalue.models.holdout.randomized_pit`. Bars are
    densities (1 is flat, i.e. calibrated); the shaded band is the central ``band``
    range of a bin's density when u is truly uniform (binomial with n = len(u) and
    1/bins). A U shape means overconfident intervals, a hump underconfident ones, a
    slope a biased forecast (Czado, Gneiting & Held 2009).
    """
    from scipy import stats

    from lifevalue.models.holdout import pit_uniformity

    ax = _axes(ax)
    out = pit_uniformity(u, bins)
    n = int(out["counts"].sum())
    density = out["counts"] / out["expected"]
    edges = np.linspace(0.0, 1.0, bins + 1)
    lo, hi = stats.binom.interval(band, n, 1.0 / bins)
    ax.axhspan(lo / out["expected"], hi / out["expected"], color="tab:gray", alpha=0.25,
               label=f"{band:.0%} range if calibrated")
    ax.bar(edges[:-1], density, width=1.0 / bins, align="edge", color="tab:blue",
           edgecolor="white", label="customers")
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="uniform")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("randomized PIT of the actual count")
    ax.set_ylabel("density")
    ax.set_title(f"Predictive calibration (PIT), chi-square p = {out['p_value']:.2f}")
    ax.legend(loc="lower center")
    return ax
