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


def _customers(n, seed, resolution):
    """Customers with T and recency recorded to ``resolution`` weeks."""
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(1, 78, n) / resolution) * resolution
    s = simulate_bgnbd(n, 0.243, 4.414, 0.793, 2.426, T, rng=rng)
    s["recency"] = np.minimum(np.round(s["recency"] / resolution) * resolution, s["T"])
    s["monetary_value"] = simulate_gamma_gamma(s["frequency"], 6.25, 3.74, 15.44, rng=rng)
    s.attrs["time_unit"] = "W"
    return s


@pytest.mark.parametrize("potential", ["neutral", "realistic"])
def test_tables_do_not_grow_with_distinct_T(monkeypatch, potential):
    """The period tables are computed on a grid in T (models/table_grid.py): the same
    customers with T recorded to 0.01 week instead of whole weeks have many times more
    distinct (x, T) rows, and the same table nodes and flow weights."""
    from lifevalue.value import CustomerValue

    bg = BetaGeo.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426), time_unit="W")
    gg = GammaGamma.from_params(dict(p=6.25, q=3.74, gamma=15.44))
    cv = CustomerValue(bg, gg, max_draws=1)
    seen = []
    real = CustomerValue._tables

    def spy(self, bgd, keys, factors, flows_weights=None, bench=None):
        sizes = [np.shape(w)[0] for w in (flows_weights or {}).values()]
        seen.append((len(keys), sizes))
        return real(self, bgd, keys, factors, flows_weights, bench)

    monkeypatch.setattr(CustomerValue, "_tables", spy)
    nodes, rows = {}, {}
    for resolution in (1.0, 0.01):
        s = _customers(20_000, 1, resolution)
        seen.clear()
        cv.evaluate(s, potential)
        rows[resolution] = len(np.unique(s[["frequency", "T"]].to_numpy(float), axis=0))
        nodes[resolution] = sum(k for k, _ in seen)
        for k, sizes in seen:  # the flow weights are per node, never per row
            assert all(size == k for size in sizes)
    assert rows[0.01] > 5 * rows[1.0]
    assert nodes[0.01] <= 1.1 * nodes[1.0] + 20
    assert nodes[0.01] < rows[0.01] / 5


SCRIPT = textwrap.dedent("""
    import json, tracemalloc, warnings
    import numpy as np, arviz as az
    warnings.simplefilter("ignore")
    from lifevalue.models import BetaGeo, GammaGamma
    from lifevalue.models.simulation import simulate_bgnbd, simulate_gamma_gamma
    from lifevalue.value import CustomerValue
    rng = np.random.default_rng(1)
    def model(cls, params, unit):
        m = cls.from_params(params, time_unit=unit)
        m.idata_ = az.from_dict({"posterior": {
            k: (v * np.exp(rng.normal(0, 0.05, 100))).reshape(2, 50) for k, v in params.items()}})
        return m
    bg = model(BetaGeo, dict(r=0.243, alpha=4.414, a=0.793, b=2.426), "W")
    gg = model(GammaGamma, dict(p=6.25, q=3.74, gamma=15.44), None)
    cv = CustomerValue(bg, gg, max_draws=100, min_simulations=100)
    out = {}
    for n in (20_000, 200_000):  # x 100 draws x 12 periods, T to 0.01 week
        s = simulate_bgnbd(n, 0.243, 4.414, 0.793, 2.426, np.round(rng.uniform(1, 78, n), 2),
                           rng=rng)
        s["recency"] = np.round(s["recency"], 2)
        s["monetary_value"] = simulate_gamma_gamma(s["frequency"], 6.25, 3.74, 15.44, rng=rng)
        s.attrs["time_unit"] = "W"
        tracemalloc.start()
        res = cv.evaluate(s, "realistic")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[n] = {"rows": len(res.customers), "peak_mb": peak / 2**20,
                  "distinct_xT": len(np.unique(s[["frequency", "T"]].to_numpy(), axis=0))}
    print(json.dumps(out))
""")


def test_scoring_200k_customers_stays_under_a_memory_bound():
    """Peak Python-heap memory (tracemalloc: NumPy's arrays, in bytes on every OS) of
    scoring 20k and 200k customers with continuous T."""
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=900, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    small, large = m["20000"], m["200000"]
    assert large["rows"] == 200_000 and large["distinct_xT"] > 3 * small["distinct_xT"]
    # the output (200k x 21 columns, 34 MB) and the inputs grow with customers; the
    # chunks (about CELLS_PER_CHUNK cells each) and the tables do not: unchunked, one
    # customers x draws x periods array alone would be 1.9 GB, and per-row tables
    # (74k distinct (x, T) x 100 draws) would grow with the distinct T
    assert large["peak_mb"] < 400, m
    assert large["peak_mb"] - small["peak_mb"] < 100, m
