"""Chunked scoring helpers: bounded chunks, exact expansion, interval columns."""

import numpy as np
import pytest

from lifevalue import validation as v
from lifevalue.models import scoring as sc


def test_per_unique_rows_is_chunked_and_exact(monkeypatch):
    monkeypatch.setattr(sc, "CELLS_PER_CHUNK", 40)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 30, 500).astype(float)
    y = rng.integers(0, 3, 500).astype(float)
    seen = []

    def fn(xs, ys):
        seen.append(len(xs))
        return np.stack([xs + ys, 2 * xs])  # two "draws"

    mean, = sc.per_unique_rows([x, y], fn, lambda vals: (vals.mean(axis=0),), n_draws=2)
    np.testing.assert_allclose(mean, (x + y + 2 * x) / 2)
    assert max(seen) <= 20 and sum(seen) == len(np.unique(np.stack([x, y], 1), axis=0))


def test_chunks_cover_all_customers_on_block_boundaries():
    slices = list(sc.iter_chunks(1000, 300, n_draws=10))
    assert [s.start for s in slices] == [0, 512] and slices[-1].stop == 1000
    with pytest.raises(v.InvalidOptionError, match="chunk_size must be positive"):
        list(sc.iter_chunks(10, 0, n_draws=10))


def test_reduce_draws_discrete_quantiles_are_observed_values():
    values = np.array([[0.0], [0.0], [1.0], [5.0]])
    mean, lo, hi = sc.reduce_draws(values, 0.5, discrete=True)
    assert mean[0] == 1.5 and lo[0] in (0.0, 1.0, 5.0) and hi[0] in (0.0, 1.0, 5.0)
