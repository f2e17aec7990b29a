"""The value layer's period tables on the T grid: benchmark branches, scored
expectations, parts of the customers."""

import numpy as np

from helpers import grid_interpolated as _interpolated
from helpers import grid_population as _population
from helpers import grid_rows as _rows
from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.models import predictions as pr
from lifevalue.models import table_grid as tg
from lifevalue.models.compiled_closed_forms import purchases_and_survival
from lifevalue.value import CustomerValue
from lifevalue.value import benchmarks as bm
from lifevalue.value.scenarios import as_scenario
from lifevalue.value.tables import node_multipliers

#: The bound the module states, relative, on every tabulated expectation.
BOUND = 1e-7


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
    up, down = node_multipliers(bench, *col, grid.nodes)
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
