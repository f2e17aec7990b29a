"""The period tables on the T grid against the reference closed forms (SciPy)."""

import numpy as np
import pytest

from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.models import predictions as pr
from lifevalue.models.compiled_closed_forms import purchases_and_survival
from lifevalue.value import CustomerValue
from lifevalue.value import benchmarks as bm
from lifevalue.value import table_grid as tg
from lifevalue.value.scenarios import as_scenario

#: The bound the module states, relative, on every tabulated expectation.
BOUND = 1e-7


def _population(rng, S, unit=1.0):
    """Draws spread far wider than a posterior (CDNOW's values times lognormal(0, 0.5)),
    with ``a`` kept off 1 where SciPy's eq. (10) loses digits."""
    r = 0.243 * rng.lognormal(0, 0.5, S)
    alpha = 4.414 * unit * rng.lognormal(0, 0.5, S)
    a = 0.793 * rng.lognormal(0, 0.5, S)
    a = np.where(np.abs(a - 1.0) < 1e-2, 1.3, a)
    b = 2.426 * rng.lognormal(0, 0.5, S)
    return r, alpha, a, b


def _interpolated(grid, values, rows, sel=None):
    """Each row's value at every draw from the node values ``(S, N, ...)``."""
    out = 0.0
    for i in range(tg.STENCIL):
        at = grid.below[rows] + i
        if sel is not None:
            at = np.where(sel, grid.above[rows] + i, at)  # (S, rows)
            picked = np.take_along_axis(values, at[..., None], axis=1) if values.ndim == 3 \
                else np.take_along_axis(values, at, axis=1)
        else:
            picked = values[:, at]
        w = grid.weights[i, rows]
        out = out + (w[:, None] if picked.ndim == 3 else w) * picked
    return out


def _rows(rng, U, unit=1.0):
    x = np.r_[rng.integers(0, 40, U - 4), 0, 0, 3, 40].astype(float)
    T = np.r_[np.round(rng.uniform(0, 78 * unit, U - 4), 2), 0.0, 78 * unit, 0.01, 78 * unit]
    rate = rng.choice([1.0, 0.6, 1.8], U)
    dropout = rng.choice([1.0, 0.7, 1.5], U)
    return np.stack([x, T, rate, dropout], axis=1)


@pytest.mark.parametrize("unit", [1.0, 7.0])  # weeks and days: the grid is scale-free
def test_interpolated_tables_equal_the_reference_closed_forms(unit):
    rng = np.random.default_rng(11)
    r, alpha, a, b = _population(rng, 30, unit)
    keys = _rows(rng, 300, unit)
    edges = np.arange(1, 13) * 365.25 / 12 / 7 * unit
    grid = tg.build_grid(keys, 0.5 * alpha.min())
    nodes = grid.nodes
    e, s = purchases_and_survival(r, alpha, a, b, nodes[:, 0], nodes[:, 1], nodes[:, 2],
                                  nodes[:, 3], edges)
    rows = np.arange(len(keys))
    got_e, got_s = _interpolated(grid, e, rows), _interpolated(grid, s, rows)

    x, T, rate, dropout = (keys[:, j][None, :, None] for j in range(4))
    args = (r[:, None, None], alpha[:, None, None], a[:, None, None] * dropout,
            b[:, None, None], x, T, rate * edges)
    ref_e, ref_s = pr.expected_purchases_if_alive(*args), pr.survival_if_alive(*args)
    assert np.max(np.abs(got_e / ref_e - 1.0)) <= BOUND
    assert np.max(np.abs(got_s / ref_s - 1.0)) <= BOUND
    # a group costs its range of xi over the step plus six nodes
    n_groups = len(np.unique(keys[:, [0, 2, 3]], axis=0))
    span = np.log1p(78 * unit / (0.5 * alpha.min())) / tg.STEP
    assert grid.n_nodes <= n_groups * (span + 7)


def test_error_falls_as_the_sixth_power_of_the_step():
    rng = np.random.default_rng(5)
    r, alpha, a, b = _population(rng, 12)
    keys = _rows(rng, 200)
    keys[:, 0] = rng.choice([0.0, 2.0, 7.0], len(keys))
    keys[:, 2:] = 1.0
    edges = np.arange(1, 13) * 4.348
    errors = []
    for step in (0.32, 0.16):
        grid = tg.build_grid(keys, 0.5 * alpha.min(), step=step)
        n = grid.nodes
        e, _ = purchases_and_survival(r, alpha, a, b, *(n[:, j] for j in range(4)), edges)
        exact, _ = purchases_and_survival(r, alpha, a, b, *(keys[:, j] for j in range(4)),
                                          edges)
        errors.append(np.max(np.abs(_interpolated(grid, e, np.arange(len(keys))) / exact - 1)))
    # h^6: 64 times smaller at half the step (a little less where the ends' stencils sit)
    assert errors[0] / errors[1] > 30
    assert errors[1] < 1e-6


def test_benchmark_branches_follow_the_kink_at_every_draw():
    rng = np.random.default_rng(3)
    S = 25
    r, alpha, a, b = _population(rng, S)
    ggd = {"p": np.full(S, 6.25), "q": np.full(S, 3.74), "gamma": np.full(S, 15.44)}
    bench = bm.population_benchmarks({"r": r, "alpha": alpha, "a": a, "b": b}, ggd,
                                     0.75, None, 0.75)
    keys = _rows(rng, 250)
    keys[:, 2:] = 1.0
    edges = np.arange(1, 13) * 4.348
    grid = tg.build_grid(keys, 0.5 * alpha.min(), kink=True, benchmark=True)
    col = (r[:, None], alpha[:, None], a[:, None], b[:, None])
    up, down = tg.node_multipliers(bench, *col, grid.nodes)
    # the node tables, one draw at a time (multipliers per draw and node)
    e = np.stack([purchases_and_survival(r[[s]], alpha[[s]], a[[s]], b[[s]], grid.nodes[:, 0],
                                         grid.nodes[:, 1], up[s], down[s], edges)[0][0]
                  for s in range(S)])
    x, T = keys[:, 0], keys[:, 1]
    sel = bench["rate"][:, None] * (alpha[:, None] + T) > r[:, None] + x
    assert sel.any() and (~sel).any()
    got = _interpolated(grid, e, np.arange(len(keys)), sel)
    # the reference: the exact multipliers of each row, then SciPy's closed forms
    c, d, _ = bm.row_multipliers(bench, *col, x, T)
    ref = pr.expected_purchases_if_alive(r[:, None, None], alpha[:, None, None],
                                         (a[:, None] * d)[..., None], b[:, None, None],
                                         x[None, :, None], T[None, :, None],
                                         c[..., None] * edges)
    assert np.max(np.abs(got / ref - 1.0)) <= BOUND


def test_scored_expectations_equal_the_exact_tables(cdnow_cal):
    """End to end: each customer's mean value from the scorer (grid tables) against the
    NumPy expectation on exact per-row tables, with T made continuous."""
    s = cdnow_cal.iloc[:400].copy()
    s["T"] = s["T"] + np.random.default_rng(0).uniform(0, 0.01, len(s))
    bg = BetaGeo.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426), time_unit="W")
    gg = GammaGamma.from_params(dict(p=6.25, q=3.74, gamma=15.44))
    cv = CustomerValue(bg, gg, margin=0.3, retention_cost=0.5, max_draws=1)
    for potential in ("neutral", "realistic"):
        res = cv.evaluate(s, potential)
        x, t_x, T, m, factors = cv._inputs(s)
        bgd, ggd = cv._draws()[:2]
        sc = as_scenario(potential)
        mults = sc.multipliers(s)
        bench = cv._benchmarks(bgd, ggd, sc)
        keys, u_idx = cv._plan(s, x, T, mults)
        exact = cv._expected(bgd, ggd, cv._tables(bgd, keys, factors, bench=bench), u_idx, x,
                             t_x, T, m, factors, mults, bench)[0]
        column = "current_mean" if potential == "neutral" else "potential_mean"
        got = res.customers[column].to_numpy()
        fixed = 0.5 * float(np.sum(cv.grid.discount))  # the costs: not tabulated
        assert np.max(np.abs(got - exact) / (np.abs(exact) + fixed)) <= BOUND
        # the grid was used: fewer nodes than rows
        assert cv._grid(bgd, keys, bench).n_nodes < len(keys)


def test_a_part_of_the_customers_gets_exactly_its_values_in_the_whole(cdnow_cal):
    """The nodes and weights of a row do not depend on the other rows: scoring the
    second half of the customers (at its place in the population) gives exactly their
    values in the whole, with T continuous (as the Spark engine relies on)."""
    s = cdnow_cal.iloc[:1024].copy()
    s["T"] = s["T"] + np.random.default_rng(1).uniform(0, 0.01, len(s))
    bg = BetaGeo.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426), time_unit="W")
    gg = GammaGamma.from_params(dict(p=6.25, q=3.74, gamma=15.44))
    cv = CustomerValue(bg, gg, margin=0.3, retention_cost=0.5, max_draws=1)
    order = np.argsort(s.index.to_numpy(), kind="stable")
    s = s.iloc[order]
    whole = cv.evaluate(s, "realistic").customers
    half = cv.evaluate(s.iloc[512:], "realistic", rng_offset=512).customers
    floats = [c for c in whole.columns if c not in ("cell", "most_likely_cell")]
    np.testing.assert_array_equal(half[floats].to_numpy(), whole[floats].iloc[512:].to_numpy())
