"""Value plots, tested for content: points, bars, bands, labels and intervals."""

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.patches import Rectangle

from lifevalue import plots
from lifevalue.segments import customer_pyramid
from lifevalue.value import CustomerValue


@pytest.fixture(scope="module")
def value(cdnow_bg_mcmc, cdnow_gg_mcmc, cdnow_cal):
    cv = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3, retention_cost=0.5,
                       max_draws=200)
    return cv.evaluate(cdnow_cal.iloc[::4], comparisons=True)



def test_customer_values_draw_both_intervals(value):
    ids = value.customers.nlargest(5, "current_mean").index
    ax = plots.plot_customer_values(value.customers, ids)
    segments = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(segments) == 2 and all(len(s.get_segments()) == 5 for s in segments)
    assert len(ax.get_lines()[0].get_xdata()) == 5
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in ids]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["predictive interval", "parameter interval", "expected value"]


def test_value_distribution(value):
    ax = plots.plot_value_distribution(value.customers, bins=30)
    assert len(ax.patches) == 30
    assert sum(p.get_height() for p in ax.patches) == len(value.customers)


def test_relationship_matrix(value):
    c = value.customers
    ax = plots.plot_relationship_matrix(c, value.assumptions["thresholds"], intervals=20)
    points = sum(len(col.get_offsets()) for col in ax.collections[:3])
    assert points == len(c)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("retain (") for label in labels)
    assert "parameter intervals" in labels
    assert ax.get_xlabel() == "current value" and ax.get_ylabel() == "potential value"


def test_pyramid_and_lorenz(value):
    c = value.customers
    levels = customer_pyramid(c["current_mean"], c["p_alive_mean"])
    ax = plots.plot_pyramid(levels, c["current_mean"])
    assert len(ax.patches) == 5
    widths = [p.get_width() for p in ax.patches]
    assert widths == levels.value_counts().reindex(
        ["top", "big", "medium", "small", "inactive"]).tolist()
    ax = plots.plot_lorenz(c["current_mean"])
    assert len(ax.get_lines()[0].get_xdata()) == len(c) + 1
    assert ax.get_legend().get_texts()[2].get_text().startswith("top 20% hold ")


def test_relationship_matrix_from_the_result_shows_the_develop_group(value):
    c = value.customers
    ax = plots.plot_relationship_matrix(value, intervals=10)
    thr = value.assumptions["thresholds"]
    # the result's own thresholds are drawn
    assert ax.get_lines()[-2].get_xdata()[0] == pytest.approx(thr["current"])
    assert ax.get_lines()[-1].get_ydata()[0] == pytest.approx(thr["potential"])
    develop = c[c["cell"] == "develop"]
    scatter = {col.get_label(): col for col in ax.collections}
    dev = next(col for label, col in scatter.items() if label.startswith("develop ("))
    # drawn above the other cells, larger, at the customers' values
    others = [col for label, col in scatter.items()
              if label.startswith(("retain (", "phase out ("))]
    assert all(dev.get_zorder() > o.get_zorder() for o in others)
    assert dev.get_sizes()[0] > others[0].get_sizes()[0]
    np.testing.assert_array_equal(dev.get_offsets()[:, 0], develop["current_mean"])
    sure = int((c["p_develop"] >= 0.5).sum())
    assert f"{sure:,} with P >= 0.5" in dev.get_label()
    assert len(scatter["P(develop) >= 0.5"].get_offsets()) == sure
    # the develop region is shaded: left of the current threshold, above the potential
    region = next(p for p in ax.patches if isinstance(p, Rectangle))
    assert region.get_x() + region.get_width() == pytest.approx(thr["current"])
    assert region.get_y() == pytest.approx(thr["potential"])
    assert ax.get_xscale() == "symlog"


def test_pyramid_from_the_result_shows_expected_counts_and_shares(value):
    ax = plots.plot_pyramid(value)
    table = value.pyramid
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    np.testing.assert_allclose([b.get_width() for b in bars], table["expected_customers"])
    # the expected counts are the sums of the level probabilities: they add up to the
    # customers scored
    assert sum(b.get_width() for b in bars) == pytest.approx(len(value.customers))
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    shares = [float(t.split(", ")[1].split("%")[0]) for t in ticks
              if "of value" in t]
    assert sum(shares) == pytest.approx(100, abs=len(shares))  # rounded to whole percent
    assert any("loss" in t for t in ticks) == bool((table["negative_value"] < 0).any())
    ticks_drawn = [c for c in ax.collections if isinstance(c, LineCollection)][0]
    assert len(ticks_drawn.get_segments()) == 2 * len(table)


def test_lorenz_from_the_result_draws_its_band(value):
    ax = plots.plot_lorenz(value)
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(band) == 1
    curve = value.lorenz[value.lorenz["kind"] == "param"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), curve["value_share"])
    vertices = band[0].get_paths()[0].vertices
    assert vertices[:, 1].min() == pytest.approx(curve["lo"].min())
    top = value.top_share("param")
    label = ax.get_legend().get_texts()[-1].get_text()
    assert label == f"top 20% hold {top['mean']:.0%} ({top['lo']:.0%} to {top['hi']:.0%})"
    ax = plots.plot_lorenz(value, kind="pred")
    assert "predictive band" in [t.get_text() for t in ax.get_legend().get_texts()][1]


def test_value_plots_need_comparisons(cdnow_bg_mcmc, cdnow_gg_mcmc, cdnow_cal):
    plain = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3, max_draws=50).evaluate(
        cdnow_cal.iloc[:50])
    for plot in (plots.plot_pyramid, plots.plot_lorenz):
        with pytest.raises(ValueError, match=r"comparisons=True"):
            plot(plain)
