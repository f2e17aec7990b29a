"""Run comparison: customers new and gone, movement between cells and pyramid levels,
the change in base value, the largest movers (CDNOW calibration vs full-period model)."""

import signal

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import lifevalue as lv
from lifevalue import cli, pipeline, runs

VALUE = dict(pipeline.VALUE_DEFAULTS, margin=0.3, max_draws=1)


@pytest.fixture(scope="module")
def cal_and_full(cdnow_log):
    """Two runs: a model of the calibration period valuing customers as of its end, and
    a model of the whole period valuing them at the end of the data (MAP fits)."""
    results = []
    for cal in ("1997-09-30", None):
        summary = lv.summarize(cdnow_log, amount="amount", calibration_end=cal,
                               observation_end="1998-06-30")
        bg, gg = pipeline.fit_models(summary, "map")
        results.append(pipeline.evaluate(bg, gg, summary, VALUE))
    return results


def test_compare_two_score_tables():
    old = pd.DataFrame({"current_mean": [10.0, 5.0, 1.0], "cell": ["retain", "develop", "x"],
                        "pyramid": ["top", "small", "small"]}, index=["a", "b", "d"])
    new = pd.DataFrame({"current_mean": [4.0, 7.0, 1.5], "cell": ["develop", "retain", "x"],
                        "pyramid": ["small", "top", "small"]}, index=["a", "c", "d"])
    cmp = runs.compare_runs(old, new, top=1)
    assert cmp.counts == {"kept": 2, "new": 1, "gone": 1}
    assert cmp.customers.loc["b", "new_cell"] == "(gone)"
    assert cmp.customers.loc["c", "old_pyramid"] == "(new)"
    assert cmp.cell_moves.loc["retain", "develop"] == 1
    assert cmp.pyramid_moves.loc["top", "small"] == 1
    assert list(cmp.top_movers.index) == ["a"]
    assert cmp.base.loc["change", "mean"] == pytest.approx(12.5 - 16.0)
    assert np.isnan(cmp.base.loc["change", "lo"]) and "no interval" in cmp.interval
    with pytest.raises(lv.InputError, match="old scores lack the column 'cell'"):
        runs.compare_runs(old.drop(columns="cell"), new)


def test_cdnow_calibration_vs_full_period_shows_the_movement(cal_and_full):
    old, new = cal_and_full
    cmp = runs.compare_results(old, new)
    assert cmp.counts == {"kept": 2357, "new": 0, "gone": 0}
    assert cmp.cell_moves.to_numpy().sum() == 2357
    assert cmp.pyramid_moves.to_numpy().sum() == 2357
    moved = cmp.cell_moves.to_numpy().sum() - np.trace(cmp.cell_moves.to_numpy())
    assert moved > 0  # nine more months of data move customers between cells
    base = cmp.base
    assert base.loc["change", "mean"] == pytest.approx(base.loc["new", "mean"]
                                                        - base.loc["old", "mean"])
    assert (base["lo"] <= base["mean"] + 1e-6).all() and (base["mean"] <= base["hi"] + 1e-6).all()
    assert len(cmp.top_movers) == 10
    text = cmp.to_text()
    assert "movement between matrix cells" in text and "2,357 in both runs" in text


def test_compare_command_on_score_files(cal_and_full, tmp_path):
    paths = []
    for name, result in zip(("old.csv", "new.parquet"), cal_and_full, strict=True):
        paths.append(pipeline.write_table(pipeline.score_frame(result), tmp_path / name))
    before = signal.getsignal(signal.SIGTERM)
    try:
        out = CliRunner().invoke(cli.main, ["compare", *map(str, paths), "--top", "3",
                                            "--out", str(tmp_path / "cmp.csv")])
    finally:
        signal.signal(signal.SIGTERM, before)
    assert out.exit_code == 0, out.stderr
    assert "movement between pyramid levels" in out.stdout and "no interval" in out.stdout
    assert len(pd.read_csv(tmp_path / "cmp.csv")) == 2357
    bad = CliRunner().invoke(cli.main, ["compare", str(paths[0]), str(tmp_path)])
    assert bad.exit_code == 3 and "not one of each" in bad.stderr
