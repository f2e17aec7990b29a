"""Order statistics of draws: exact against NumPy's quantiles."""

import numpy as np
import pytest

from lifevalue.models.order_statistics import column_quantiles, two_quantiles


@pytest.mark.parametrize("n_values", [0, 1, 7, 127, 128, 333, 1000, 2500])
def test_two_quantiles_equal_numpy(n_values):
    # values with ties and without, a block of equal least values ("floor") in front or
    # not, and many interval levels: bit-for-bit numpy.quantile (linear interpolation);
    # the input is left as it was
    rng = np.random.default_rng(n_values)
    levels = [(0.05, 0.95), (0.0, 1.0), (0.25, 0.75), (0.5, 0.5), (0.1, 0.11), (0.005, 0.995)]
    for rep in range(60):
        n_floor = int(rng.integers(0, 3 * n_values + 2)) if rep % 2 else 0
        if n_values + n_floor == 0:
            continue
        values = [rng.lognormal(size=n_values), np.round(rng.normal(size=n_values), 1),
                  np.full(n_values, 2.5)][rep % 3]
        floor = float(values.min()) - 1.0 if n_values else -3.0
        lo_q, hi_q = levels[rep % len(levels)]
        full = np.concatenate([np.full(n_floor, floor), values])
        before = values.copy()
        got = two_quantiles(values, n_values, n_floor, floor, lo_q, hi_q)
        assert got == tuple(np.quantile(full, [lo_q, hi_q])), (n_values, n_floor, lo_q)
        np.testing.assert_array_equal(values, before)


def test_two_quantiles_when_the_sample_threshold_misses():
    # the 32 sampled values (every 31st) are the 33 least of all: the low threshold keeps
    # only them, fewer than the 51 the 5% quantile needs, so the whole array is selected
    # instead, with the same result
    values = np.full(1000, 100.0) + np.arange(1000) * 1e-3
    values[::31] = -10.0
    got = two_quantiles(values, 1000, 0, 0.0, 0.05, 0.95)
    assert got == tuple(np.quantile(values, [0.05, 0.95]))
    assert got[0] > 100.0


def test_column_quantiles_equal_numpy():
    # columns of draws with ties, a constant column and a NaN: numpy.quantile's numbers
    rng = np.random.default_rng(7)
    values = np.column_stack([rng.lognormal(size=1000), np.round(rng.normal(size=1000), 1),
                              np.full(1000, 2.5), rng.normal(size=1000)])
    values[17, 3] = np.nan
    for lo_q, hi_q in [(0.05, 0.95), (0.0, 1.0), (0.25, 0.75)]:
        got = np.stack(column_quantiles(values, lo_q, hi_q))
        np.testing.assert_array_equal(got, np.quantile(values, [lo_q, hi_q], axis=0))
    assert np.isnan(column_quantiles(values, 0.05, 0.95)[0][3])
    with pytest.raises(ValueError, match="no draws"):
        column_quantiles(values[:0], 0.05, 0.95)


@pytest.mark.parametrize("draws", [1, 7, 127, 128, 1000, 1001])
def test_discrete_column_quantiles_equal_numpy_inverted_cdf(draws):
    # counts with many ties, and levels whose n q is whole or not: NumPy's inverted_cdf,
    # an observed value
    rng = np.random.default_rng(draws)
    values = rng.poisson(1.5, (draws, 40)).astype("float64")
    values[:, 3] = 2.0
    for lo_q, hi_q in [(0.05, 0.95), (0.0, 1.0), (0.25, 0.75), (0.1, 0.9), (0.005, 0.995)]:
        got = np.stack(column_quantiles(values, lo_q, hi_q, discrete=True))
        want = np.quantile(values, [lo_q, hi_q], axis=0, method="inverted_cdf")
        np.testing.assert_array_equal(got, want, err_msg=f"{lo_q}, {hi_q}")
