"""Determinism and invariance with a real posterior (many draws, not a point estimate).

* The same data and seed give bit-identical scores: twice in one process, and in a
  fresh process with another hash seed (from a saved model).
* Chunk sizes change nothing: model scoring (P(alive), expected purchases with both
  intervals, expected spend) and value (current, potential, growth, cells).
* Reordering the input rows changes no customer's numbers, for the same outputs.
* A different seed does change the simulated intervals (the seed is really used).

The fresh process scores with the default chunk size and the in-process reference with
chunks of 256: equal bits there also say chunking changes nothing.
"""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lifevalue.value import CustomerValue


@pytest.fixture(scope="module")
def sub(cdnow_cal):
    # 600 customers: more than two random-number blocks of 256, with a ragged end
    return cdnow_cal.iloc[::3].iloc[:600]


def _model_scores(bg, gg, summary, chunk_size=None, seed=4):
    return pd.concat([
        bg.p_alive(summary, max_draws=400),
        bg.expected_purchases(summary, 39.0, max_draws=400, random_seed=seed,
                              chunk_size=chunk_size),
        bg.simulate_purchases(summary, [13.0, 13.0, 13.0], max_draws=400, random_seed=seed,
                              chunk_size=chunk_size)[["active_end_mean"]],
        gg.expected_spend(summary, random_seed=seed, chunk_size=chunk_size),
    ], axis=1)


def _value(bg, gg, summary, chunk_size=None, seed=4):
    cv = CustomerValue(bg, gg, margin=0.3, retention_cost=0.5, max_draws=200,
                       random_seed=seed, chunk_size=chunk_size)
    result = cv.evaluate(summary, "realistic")
    out = result.customers.copy()
    for col in ("cell", "most_likely_cell"):
        out[col] = out[col].astype(str)
    return out, result.base


def test_model_scores_identical_across_runs_chunks_and_row_order(cdnow_bg_mcmc, cdnow_gg_mcmc,
                                                                  sub):
    bg, gg = cdnow_bg_mcmc, cdnow_gg_mcmc
    a = _model_scores(bg, gg, sub, chunk_size=256)
    c = _model_scores(bg, gg, sub, chunk_size=100_000)
    pd.testing.assert_frame_equal(a, c, check_exact=True)
    shuffled = sub.sample(frac=1.0, random_state=8)
    d = _model_scores(bg, gg, shuffled, chunk_size=512)
    pd.testing.assert_frame_equal(a, d.loc[sub.index], check_exact=True)
    # the predictive intervals are simulated: another seed moves some of them
    e = _model_scores(bg, gg, sub, seed=5)
    assert not e["purchases_pred_hi"].equals(a["purchases_pred_hi"])
    pd.testing.assert_series_equal(e["p_alive_mean"], a["p_alive_mean"], check_exact=True)


@pytest.fixture(scope="module")
def value_256(cdnow_bg_mcmc, cdnow_gg_mcmc, sub):
    return _value(cdnow_bg_mcmc, cdnow_gg_mcmc, sub, chunk_size=256)


def test_value_identical_across_runs_chunks_and_row_order(cdnow_bg_mcmc, cdnow_gg_mcmc, sub,
                                                          value_256):
    bg, gg = cdnow_bg_mcmc, cdnow_gg_mcmc
    a, base_a = value_256
    b, base_b = _value(bg, gg, sub, chunk_size=256)  # a second run, same process
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(base_a, base_b, check_exact=True)
    c, base_c = _value(bg, gg, sub, chunk_size=100_000)
    pd.testing.assert_frame_equal(a, c, check_exact=True)
    shuffled = sub.sample(frac=1.0, random_state=9)
    d, base_d = _value(bg, gg, shuffled, chunk_size=512)
    pd.testing.assert_frame_equal(a, d.loc[sub.index], check_exact=True)
    # the base is a sum over customers: its order may differ in the last bits only
    pd.testing.assert_frame_equal(base_a, base_d, rtol=1e-12)
    np.testing.assert_allclose(base_a.loc["current", "mean"], a["current_mean"].sum(),
                               rtol=1e-9)
    pd.testing.assert_frame_equal(base_a, base_c, rtol=1e-12)


SCRIPT = """
import sys
import pandas as pd
from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.value import CustomerValue
bg, gg = BetaGeo.load(sys.argv[1]), GammaGamma.load(sys.argv[2])
summary = pd.read_pickle(sys.argv[3])
out = bg.expected_purchases(summary, 39.0, max_draws=400, random_seed=4).join(
    CustomerValue(bg, gg, margin=0.3, retention_cost=0.5, max_draws=200, random_seed=4)
    .evaluate(summary, "realistic").customers.drop(columns=["cell", "most_likely_cell"]))
out.to_pickle(sys.argv[4])
"""


def test_bit_identical_in_a_fresh_process(cdnow_bg_mcmc, cdnow_gg_mcmc, sub, tmp_path,
                                          value_256):
    """A saved model scored in another process, with another hash seed, gives the same
    bits: nothing depends on the process (set order, object ids, thread timing)."""
    paths = [cdnow_bg_mcmc.save(tmp_path / "bg.nc"), cdnow_gg_mcmc.save(tmp_path / "gg.nc")]
    sub.to_pickle(tmp_path / "summary.pkl")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", SCRIPT, *map(str, paths), str(tmp_path / "summary.pkl"),
                    str(tmp_path / "out.pkl")], check=True, env=env, timeout=300,
                   capture_output=True)
    theirs = pd.read_pickle(tmp_path / "out.pkl")
    ours = cdnow_bg_mcmc.expected_purchases(sub, 39.0, max_draws=400, random_seed=4).join(
        value_256[0].drop(columns=["cell", "most_likely_cell"]))
    pd.testing.assert_frame_equal(theirs, ours, check_exact=True)
