"""Model plots, tested for content: points, bars, labels and intervals."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection

from lifevalue import plots
from lifevalue.models import BetaGeo
from lifevalue.models import table_grid as tg
from lifevalue.validation import InvalidOptionError, MissingColumnError


@pytest.fixture(scope="module")
def bg(cdnow_cal):
    return BetaGeo().fit(cdnow_cal, method="map")


def test_frequency_recency_and_alive_matrices(bg):
    ax = plots.plot_frequency_recency_matrix(bg, t=39, max_frequency=10, max_recency=39)
    image = ax.get_images()[0].get_array()
    assert image.shape == (11, 40)
    assert ax.get_xlabel() == "recency (time of last purchase)"
    assert ax.get_ylabel() == "frequency (repeat purchases)"
    # more recent purchases mean more expected purchases, for x = 5
    row = np.ma.filled(image[5], np.nan)
    assert row[-1] > row[5]
    ax = plots.plot_probability_alive_matrix(bg, max_frequency=10, max_recency=39)
    alive = np.ma.filled(ax.get_images()[0].get_array(), np.nan)
    assert np.nanmax(alive) <= 1 and alive[0, 0] == 1.0
    assert ax.figure.axes[-1].get_ylabel() == "P(alive)"


@pytest.mark.parametrize("name", ["ModifiedBetaGeo", "ParetoNBD"])
def test_matrices_and_tracking_use_the_models_own_formulas(name, cdnow_cal, cdnow_log):
    """Each model's P(alive), expected purchases and new-customer expectation, not the
    BG/NBD's: MBG/NBD and Pareto/NBD one-time buyers may have dropped out."""
    from lifevalue import models
    from lifevalue.models import modified_beta_geo_formulas as mf
    from lifevalue.models import pareto_nbd_formulas as pf

    model = getattr(models, name)().fit(cdnow_cal, method="map")
    formulas = mf if name == "ModifiedBetaGeo" else pf
    e = list(model.point_estimate().values())
    ax = plots.plot_probability_alive_matrix(model, max_frequency=10, max_recency=39)
    alive = np.ma.filled(ax.get_images()[0].get_array(), np.nan)
    assert alive[0, 0] == pytest.approx(float(formulas.p_alive(*e, 0, 0.0, 39.0)), rel=1e-12)
    assert alive[0, 0] < 1.0
    ax = plots.plot_frequency_recency_matrix(model, t=39, max_frequency=10, max_recency=39)
    expected = np.ma.filled(ax.get_images()[0].get_array(), np.nan)
    # the MBG/NBD's expectation is summed on the table grid in T: within its bound
    assert expected[5, -1] == pytest.approx(
        float(formulas.expected_purchases(*e, 5, 39.0, 39.0, 39)), rel=tg.BOUND)
    table = plots.tracking_table(model, cdnow_log)
    assert table["model_cumulative"].iloc[-1] == pytest.approx(
        table["actual_cumulative"].iloc[-1], rel=0.1)
    bg_table = plots.tracking_table(BetaGeo().fit(cdnow_cal, method="map"), cdnow_log)
    assert not np.allclose(table["model_cumulative"], bg_table["model_cumulative"])


def test_calibration_holdout(cdnow_bg_mcmc, cdnow_cal):
    table = plots.calibration_holdout_table(cdnow_bg_mcmc, cdnow_cal)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["customers"].sum() == 2357
    assert (abs(table["predicted"] - table["actual"]) < 1.0).all()  # the model fits CDNOW
    ax = plots.plot_calibration_holdout(cdnow_bg_mcmc, cdnow_cal)
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [8, 8]
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the interval band
    assert ax.get_ylabel() == "mean purchases in holdout period"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "parameter interval" in labels


def test_tracking(bg, cdnow_log):
    table = plots.tracking_table(bg, cdnow_log)
    assert len(table) == 78  # 545 days of data in weeks
    # the paper's Figure: the model tracks cumulative repeat purchases within 10%
    assert table["model_cumulative"].iloc[-1] == pytest.approx(
        table["actual_cumulative"].iloc[-1], rel=0.1)
    ax = plots.plot_tracking(bg, cdnow_log, cumulative=True, calibration_end=39)
    assert len(ax.get_lines()) == 3 and ax.get_xlabel() == "time (weeks)"
    ax = plots.plot_tracking(bg, cdnow_log, cumulative=False)
    assert ax.get_ylabel() == "repeat purchases"
    assert len(ax.get_lines()[0].get_xdata()) == 78


def test_posterior_and_trace(cdnow_bg_mcmc):
    axes = plots.plot_posterior(cdnow_bg_mcmc)
    assert axes.size == 4 and {a.get_title() for a in axes.ravel()} == {"r", "alpha", "a", "b"}
    axes = plots.plot_trace(cdnow_bg_mcmc)
    assert axes.shape == (4, 2)
    post = cdnow_bg_mcmc.idata_["posterior"]
    assert len(axes[0, 1].get_lines()) == post.sizes["chain"] == 4  # one trace per chain
    assert len(axes[0, 1].get_lines()[0].get_ydata()) == post.sizes["draw"] == 500


def test_plots_draw_on_a_given_axes(bg):
    fig, ax = plt.subplots()
    assert plots.plot_lorenz(pd.Series([1.0, 2.0]), ax=ax) is ax


def test_pit_histogram_bars_band_and_p_value():
    rng = np.random.default_rng(4)
    u = (np.arange(1000) + 0.5) / 1000  # exactly flat: 100 per bin
    ax = plots.plot_pit_histogram(u, bins=10)
    bars = ax.patches[-10:]
    np.testing.assert_allclose([b.get_height() for b in bars], 1.0)
    np.testing.assert_allclose([b.get_x() for b in bars], np.arange(10) / 10)
    assert ax.get_title() == "Predictive calibration (PIT), chi-square p = 1.00"
    # the band: binomial(1000, 0.1) central 95% is 82..119, i.e. density 0.82..1.19
    band = ax.patches[0].get_path().get_extents().transformed(ax.patches[0].get_transform())
    lo, hi = ax.transData.inverted().transform(band)[:, 1]
    assert lo == pytest.approx(0.82, abs=0.01) and hi == pytest.approx(1.19, abs=0.01)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "95% range if calibrated", "customers", "uniform"]
    plt.close("all")
    skewed = rng.random(2000) ** 2  # piles up near 0
    heights = [b.get_height() for b in plots.plot_pit_histogram(skewed).patches[-10:]]
    assert heights[0] > 2.5 and heights[-1] < 0.6


# ------------------------------------------------------- posterior, trace (arviz-plots)


@pytest.fixture(scope="module")
def drawn_bg():
    """A BetaGeo holding known draws: 2 chains x 300, as a fit would."""
    import arviz_base as azb

    rng = np.random.default_rng(9)
    model = BetaGeo.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426), time_unit="W")
    model.idata_ = azb.from_dict({"posterior": {
        k: val * np.exp(rng.normal(0, 0.1, (2, 300)))
        for k, val in dict(r=0.243, alpha=4.414, a=0.793, b=2.426).items()}})
    return model


def _interval_line(ax):
    """The credible-interval line of plot_dist: the two-point line at the base."""
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 2]
    assert len(lines) == 1
    return np.sort(np.asarray(lines[0].get_xdata(), dtype=float))


def test_posterior_draws_equal_tailed_intervals(drawn_bg):
    draws = drawn_bg.draws()
    for ci in (0.9, 0.5):
        plt.close("all")
        axes = plots.plot_posterior(drawn_bg, ci=ci)
        assert axes.shape == (4,)
        assert [a.get_title() for a in axes] == ["r", "alpha", "a", "b"]
        for a, name in zip(axes, drawn_bg.param_names, strict=True):
            lo, hi = np.quantile(draws[name], [(1 - ci) / 2, (1 + ci) / 2])
            np.testing.assert_allclose(_interval_line(a), [lo, hi], rtol=1e-3)
            kde = max(a.get_lines(), key=lambda line: len(line.get_xdata()))
            assert len(kde.get_xdata()) > 100
            # the point estimate is the posterior mean, marked and labelled
            assert a.texts[0].get_text().endswith(" mean")
            assert float(a.texts[0].get_text().split()[0]) == pytest.approx(
                draws[name].mean(), rel=0.05)
    assert len(plt.get_fignums()) == 1


def test_posterior_and_trace_draw_on_given_axes(drawn_bg):
    fig, row = plt.subplots(1, 4)
    out = plots.plot_posterior(drawn_bg, ax=row)
    assert list(out) == list(row) and len(plt.get_fignums()) == 1
    assert [a.get_title() for a in row] == ["r", "alpha", "a", "b"]
    fig, grid = plt.subplots(4, 2)
    out = plots.plot_trace(drawn_bg, ax=grid)
    assert out.shape == (4, 2)
    assert all(o is g for o, g in zip(out.ravel(), grid.ravel(), strict=True))
    assert len(plt.get_fignums()) == 2
    for i, name in enumerate(drawn_bg.param_names):
        traces = grid[i, 1].get_lines()
        assert len(traces) == 2 and grid[i, 1].get_ylabel() == name
        # the trace shows the draws of each chain, in order
        posterior = drawn_bg.idata_.posterior[name].to_numpy()
        for chain, line in enumerate(traces):
            np.testing.assert_array_equal(line.get_ydata(), posterior[chain])
        assert len(grid[i, 0].get_lines()) == 2  # a density per chain
    with pytest.raises(InvalidOptionError) as err:
        plots.plot_posterior(drawn_bg, ax=grid)
    assert str(err.value) == ("ax must hold 4 Axes (one Axes per parameter: r, alpha, a, b), "
                              "got shape (4, 2)")
    with pytest.raises(InvalidOptionError) as err:
        plots.plot_trace(drawn_bg, ax=row)
    assert str(err.value) == ("ax must hold 4x2 Axes (one row per parameter: r, alpha, a, b), "
                              "got shape (4,)")


def test_posterior_and_trace_need_draws():
    point = BetaGeo.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426))
    for plot in (plots.plot_posterior, plots.plot_trace):
        with pytest.raises(InvalidOptionError) as err:
            plot(point)
        assert str(err.value) == (
            f"{plot.__name__} needs posterior draws, but this BetaGeo holds a point estimate "
            "(method 'point'): fit it with MCMC or method='laplace'")
    with pytest.raises(InvalidOptionError, match="^ci must be a number strictly between"):
        plots.plot_posterior(point, ci=90)


# ------------------------------------------------------------------ repeat purchases


@pytest.fixture(scope="module")
def ppc(cdnow_cal):
    from lifevalue.models.checks import repeat_purchase_ppc

    model = BetaGeo.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426), time_unit="W")
    return repeat_purchase_ppc(model, cdnow_cal, random_seed=1)


def test_repeat_purchases_bars_intervals_and_labels(ppc):
    ax = plots.plot_repeat_purchases(ppc)
    bars = ax.patches
    assert len(bars) == 16
    observed, expected = bars[:8], bars[8:]
    assert [b.get_height() for b in observed] == ppc["observed"].tolist()
    np.testing.assert_allclose([b.get_height() for b in expected], ppc["expected"])
    # observed left of model, both centred on their count's tick
    centres = [b.get_x() + b.get_width() / 2 for b in observed]
    np.testing.assert_allclose(centres, np.arange(8) - 0.2)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(ppc.index)
    # error bars span the predictive interval of each count
    bars_lc = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(bars_lc) == 1
    segments = bars_lc[0].get_segments()
    assert len(segments) == 8
    np.testing.assert_allclose([s[:, 1].min() for s in segments], ppc["pred_lo"])
    np.testing.assert_allclose([s[:, 1].max() for s in segments], ppc["pred_hi"])
    np.testing.assert_allclose([s[0, 0] for s in segments], np.arange(8) + 0.2)
    assert ax.get_xlabel() == "repeat purchases in the calibration period"
    assert ax.get_ylabel() == "customers"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["observed", "model (expected)", "90% predictive interval"]


def test_repeat_purchases_on_given_axes_and_bad_input(ppc):
    fig, ax = plt.subplots()
    wide = ppc.copy()
    wide.attrs = dict(ppc.attrs, ci=0.5)
    assert plots.plot_repeat_purchases(wide, ax=ax) is ax
    assert ax.get_legend().get_texts()[-1].get_text() == "50% predictive interval"
    with pytest.raises(MissingColumnError) as err:
        plots.plot_repeat_purchases(ppc.drop(columns="pred_hi"))
    assert str(err.value) == ("missing column 'pred_hi': plot_repeat_purchases takes the table "
                              "of lifevalue.models.checks.repeat_purchase_ppc")
