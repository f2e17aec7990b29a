"""The table grid in T against the reference closed forms (SciPy)."""

import numpy as np
import pytest

from helpers import grid_interpolated as _interpolated
from helpers import grid_population as _population
from helpers import grid_rows as _rows
from lifevalue.models import predictions as pr
from lifevalue.models import table_grid as tg
from lifevalue.models.compiled_closed_forms import purchases_and_survival

#: The bound the module states, relative, on every tabulated expectation.
BOUND = 1e-7


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
