"""The compiled samplers of the simulations' own random numbers."""

import numpy as np

from lifevalue.models import random_streams as rs


def test_compiled_samplers_follow_their_laws():
    # the walk's own generator: xoshiro256** uniforms, ziggurat normals, Marsaglia-Tsang
    # Gammas (with the U^(1/shape) boost below shape 1); Kolmogorov-Smirnov at 20k draws
    import numba
    from scipy import stats

    @numba.njit
    def draws(state, kind, shape, n):
        st = rs._load(state)
        out = np.empty(n)
        for i in range(n):
            if kind == 0:
                v, st = rs._uniform_s(st)
            elif kind == 1:
                v, st = rs._normal_s(st)
            elif kind == 3:
                v, st = rs._exponential_s(st)
            else:
                v, st = rs._gamma_s(st, shape)
            out[i] = v
        rs._store(state, st)
        return out

    state = rs._xoshiro_state(np.random.default_rng(0))
    n = 20_000
    assert stats.kstest(draws(state, 0, 0.0, n), "uniform").pvalue > 1e-3
    assert stats.kstest(draws(state, 1, 0.0, n), "norm").pvalue > 1e-3
    # the ziggurat's rare branches: the wedges over 4M draws, and the tail beyond r
    # (about 1,000 draws) against the normal's tail
    z = draws(state, 1, 0.0, 4_000_000)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    tail = np.abs(z[np.abs(z) > rs._ZIG_R])
    r_sf = stats.norm.sf(rs._ZIG_R)
    assert stats.kstest(tail, lambda t: 1.0 - stats.norm.sf(t) / r_sf).pvalue > 1e-3
    assert abs(len(tail) / len(z) / (2 * r_sf) - 1) < 0.15
    # exponentials by the ziggurat: the whole law, and the tail beyond r = 7.7 (memoryless)
    e = draws(state, 3, 0.0, 4_000_000)
    assert stats.kstest(e, "expon").pvalue > 1e-3
    beyond = e[e > rs._EXP_R] - rs._EXP_R
    assert abs(len(beyond) / len(e) / np.exp(-rs._EXP_R) - 1) < 0.3
    assert stats.kstest(beyond, "expon").pvalue > 1e-3
    for shape in (0.3, 1.0, 3.74, 6.25, 80.0):
        g = draws(state, 2, shape, n)
        assert stats.kstest(g, stats.gamma(shape).cdf).pvalue > 1e-3, shape
    # seeded by the block's generator: the same seed gives the same stream
    again = rs._xoshiro_state(np.random.default_rng(0))
    np.testing.assert_array_equal(draws(again, 0, 0.0, 5),
                                  draws(rs._xoshiro_state(np.random.default_rng(0)), 0, 0.0, 5))
