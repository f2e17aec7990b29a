"""The compiled value scorer's order statistics: exact against NumPy's quantiles."""

import numpy as np
import pytest

from lifevalue.value.order_statistics import two_quantiles


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


def test_first_call_says_when_it_must_compile(monkeypatch, caplog):
    """A log record (not a warning) before the wait when the scorer is neither compiled
    in this process nor in numba's cache; nothing when it is cached; once per process."""
    import logging
    import types

    from lifevalue.value import scoring_kernel as sk

    def fake(index):
        cache_file = types.SimpleNamespace(_load_index=lambda: index)
        return types.SimpleNamespace(signatures=[],
                                     _cache=types.SimpleNamespace(_cache_file=cache_file))

    caplog.set_level(logging.INFO, logger="lifevalue")
    for index, said in (({}, True), ({"sig": "overload"}, False)):
        monkeypatch.setattr(sk, "score_customers", fake(index))
        monkeypatch.setattr(sk, "_noticed", __import__("threading").Event())
        caplog.clear()
        assert sk.notice_if_compiling() is said
        assert any("compiling" in r.getMessage() for r in caplog.records) is said
        assert sk.notice_if_compiling() is False  # once per process
