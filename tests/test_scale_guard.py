"""Regression guard for scale: work that is compressed or chunked stays so.

These check structure, not time: the likelihood runs on unique sufficient statistics,
scoring walks bounded chunks, and scoring 200k customers stays under a memory bound.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.models import scoring as sc
from lifevalue.models.likelihoods import compress_bgnbd
from lifevalue.models.simulation import simulate_bgnbd, simulate_gamma_gamma


@pytest.fixture(scope="module")
def daily():
    rng = np.random.default_rng(7)
    n = 20_000
    s = simulate_bgnbd(n, 0.243, 4.414 * 7, 0.793, 2.426, rng.integers(1, 731, n), rng=rng)
    s["recency"] = np.floor(s["recency"])
    s["monetary_value"] = simulate_gamma_gamma(s["frequency"], 6.25, 3.74, 15.44, rng=rng)
    s.attrs["time_unit"] = "D"
    return s


def test_likelihood_terms_equal_unique_triples(daily):
    triples = np.unique(daily[["frequency", "recency", "T"]].to_numpy(float), axis=0)
    stats = compress_bgnbd(daily["frequency"], daily["recency"], daily["T"])
    assert stats.n_unique == len(triples) < 0.8 * len(daily)
    assert len(stats.x_unique) == daily["frequency"].nunique()
    assert len(stats.T_unique) == daily["T"].nunique() <= 730
    model = BetaGeo().fit(daily, method="map")
    assert model.metadata_["n_unique"] == len(triples)
    # the PyMC graph holds per-row data of the unique triples only, never per customer
    pm_model = BetaGeo().build_model(daily)
    sizes = [np.size(c.data) for c in _constants(pm_model)]
    assert max(sizes) == len(triples)
    gg = GammaGamma().fit(daily, method="map")
    assert gg.metadata_["n_unique"] <= (daily["frequency"] > 0).sum()


def _constants(model):
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.variable import TensorConstant

    return [v for v in ancestors([model.potentials[0]]) if isinstance(v, TensorConstant)]


def test_scoring_walks_bounded_chunks(monkeypatch, daily):
    from lifevalue.value import CustomerValue

    seen = []
    real = sc.iter_chunks

    def spy(n, chunk_size, n_draws, n_periods=1):
        for sl in real(n, chunk_size, n_draws, n_periods):
            seen.append((sl.stop - sl.start, n_draws, n_periods))
            yield sl

    monkeypatch.setattr(sc, "iter_chunks", spy)
    bg = BetaGeo.from_params(dict(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426), time_unit="D")
    gg = GammaGamma.from_params(dict(p=6.25, q=3.74, gamma=15.44))
    CustomerValue(bg, gg, max_draws=1).evaluate(daily.iloc[:3000], "neutral")
    assert len(seen) > 3
    for size, draws, periods in seen:
        assert size * draws * periods <= max(sc.CELLS_PER_CHUNK, 256 * draws * periods)


SCRIPT = textwrap.dedent("""
    import json, resource, warnings
    import numpy as np, arviz as az
    warnings.simplefilter("ignore")
    from lifevalue.models import BetaGeo, GammaGamma
    from lifevalue.models.simulation import simulate_bgnbd, simulate_gamma_gamma
    from lifevalue.value import CustomerValue
    rng = np.random.default_rng(1)
    n = 200_000  # x 100 draws x 12 periods
    s = simulate_bgnbd(n, 0.243, 4.414, 0.793, 2.426, rng.integers(7, 547, n) / 7, rng=rng)
    s["recency"] = np.floor(s["recency"] * 7) / 7
    s["monetary_value"] = simulate_gamma_gamma(s["frequency"], 6.25, 3.74, 15.44, rng=rng)
    s.attrs["time_unit"] = "W"
    def model(cls, params, unit):
        m = cls.from_params(params, time_unit=unit)
        m.idata_ = az.from_dict({"posterior": {
            k: (v * np.exp(rng.normal(0, 0.05, 100))).reshape(2, 50) for k, v in params.items()}})
        return m
    bg = model(BetaGeo, dict(r=0.243, alpha=4.414, a=0.793, b=2.426), "W")
    gg = model(GammaGamma, dict(p=6.25, q=3.74, gamma=15.44), None)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = CustomerValue(bg, gg, max_draws=100, min_simulations=100).evaluate(s, "realistic")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": len(res.customers), "before_mb": before / 1024,
                      "peak_mb": after / 1024}))
""")


def test_scoring_200k_customers_stays_under_a_memory_bound():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=900, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert m["rows"] == 200_000
    # a chunk holds about CELLS_PER_CHUNK = 4M cells in each of ~10 arrays (~350 MB);
    # unchunked, one customers x draws x periods array alone would be 1.9 GB
    assert m["peak_mb"] - m["before_mb"] < 600, m
