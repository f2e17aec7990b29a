"""Period tables on a controlled grid in the customers' age T, so that the cost and the
memory of value scoring do not depend on how finely T is recorded.

The period sums of :meth:`lifevalue.value.CustomerValue._tables` (expected purchases
given alive, FHL 2005a eq. 10, and survival, both at the period edges) depend on a
customer through (x, T) and the scenario's multipliers. With T recorded continuously
nearly every customer has a row of their own. Instead, for every group of rows with
the same (x, purchase-rate multiplier, dropout multiplier), the tables are computed
exactly at nodes equally spaced in

``xi = log(alpha_ref + T)``,  ``alpha_ref = min_s(alpha_s) / 2``,

on the fixed lattice ``xi = log(alpha_ref) + j STEP``, ``j >= 0`` (T >= 0), over the
group's range of T, and a row's value at each draw is the six-point Lagrange
interpolation of the six lattice nodes around its xi (``j - 2 .. j + 3`` for the node
``j`` below it; near T = 0 the stencil starts at ``j = 0``, never extrapolating). The
nodes and the weights depend on the row alone: not on the draw, so a customer's weights
are computed once and each draw costs six multiply-adds; and not on the other rows, so
scoring part of the customers gives exactly their values in the whole.

**Error bound.** At a draw, every tabulated quantity is a function of ``u = alpha_s +
T`` (times constants) whose only singularities lie where ``alpha_s + T`` is real and
<= 0 (``2F1`` and ``(1 - w)^c`` of FHL 2005a, eq. 10 with ``w = t / (u + t)`` are
analytic for ``w`` off ``[1, inf)``). In xi these are at ``Im xi = +-pi``: the
functions are analytic in the strip ``|Im xi| < pi``, uniformly in T, the draw, x and
the time unit (a change of unit shifts xi). The remainder of six-point interpolation
is ``f^(6)(c) / 6! * prod_i (xi - xi_i)``, with ``|prod| <= 3.52 h^6`` inside the
stencil's middle interval (16.9 h^6 in the end interval of a shifted stencil), and
Cauchy's estimate in the strip
bounds ``f^(6)`` by ``6! M / d^6`` for a strip half-width ``d < pi``; so the relative
error falls as ``(h / d)^6``. The constant is measured, not assumed: over posterior
draws spread ten times wider than CDNOW's, x from 0 to 40, T from 0 to 78 weeks (and
the same in days), scenario multipliers and benchmark potentials, the largest relative
error at :data:`STEP` is 2.2e-9 on the expected purchases and 5.8e-8 on the survival
(where it is small: draws with high dropout), 8.4e-9 and 1.9e-7 at ``h = 0.1``, and
it shrinks as ``h^6`` (the tests check ``<= 1e-7`` at :data:`STEP` and the ``h^6``
order). At ``STEP = 0.08`` the bound we state is **1e-7 relative** on every
tabulated expectation, hence on each customer's expected value per draw (a positive
combination of them), ten times inside the 1e-6 asked of the expectations. A group
costs at most its range of xi over the step, plus six nodes.

Under a benchmark, the rows without a repeat purchase also depend on T through the
evidence weight ``w = exp(-k T)``, ``k = r / alpha``
(:func:`lifevalue.value.benchmarks.evidence_weight`), an entire function that is not
bounded in the strip: its sixth derivative in xi is ``w`` times a polynomial in ``kT``
of degree 6, at most about 115 times ``w``'s own scale whatever k and T (``(kT)^6
e^(-kT) <= 6^6 e^-6``). Measured, that costs a factor of about 40 at ``h = STEP``
(1.3e-6); these rows get nodes :data:`FINE` = 2 times closer, which divides the error
by ``2^6 = 64`` (measured: 2e-8).

**Benchmark potentials.** A rate benchmark raises a customer's rate by ``c = 1 + w
(max(1, lambda* (alpha + T) / (r + x)) - 1)`` (:func:`lifevalue.value.benchmarks.row_multipliers`):
a kink in T at a place that differs per draw. The group gets two sets of nodes, one
with the branch ``c = 1`` and one with ``c = 1 + w (lambda* (alpha + T) / (r + x) - 1)``,
each smooth in T; at every draw the scorer takes the branch the max selects. Above the
kink a repeat customer's table is constant in T (the scaled rate posterior has mean
lambda* whatever T), which the interpolation reproduces exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifevalue.models.rows import unique_rows

#: Node spacing in ``log(alpha_ref + T)``; see the module's error bound.
STEP = 0.08

#: The stated bound on the relative error of every tabulated expectation at a draw.
BOUND = 1e-7

#: Points of the Lagrange stencil, at offsets ``-2 .. 3`` of the node below.
STENCIL = 6

#: Nodes of the constant branch of a repeat customer above a rate benchmark's kink.
MIN_NODES = STENCIL

#: How much closer the nodes of rows without a repeat purchase are under a benchmark
#: (see the module's error bound).
FINE = 2


@dataclass(frozen=True)
class TableGrid:
    """Nodes of the period tables, and each table row's interpolation on them.

    Attributes
    ----------
    nodes : array ``(N, 5)``
        Node rows ``(x, T, rate, dropout, above)``: ``above`` is 1 for the nodes of the
        branch above a rate benchmark's kink (see the module notes), else 0.
    below, above : int arrays ``(U,)``
        For each table row, the first of its six nodes (the branch below the kink, and
        the one above it; equal when there is no rate benchmark).
    weights : array ``(STENCIL, U)``
        Each row's Lagrange weights on its six nodes (they sum to 1).
    """

    nodes: np.ndarray
    below: np.ndarray
    above: np.ndarray
    weights: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)


def lagrange_weights(t: np.ndarray) -> np.ndarray:
    """Weights of six-point Lagrange interpolation at offsets ``t`` from node 2 of the
    stencil (nodes at ``-2, ..., 3``), shape ``(6, len(t))``.

    Examples
    --------
    >>> lagrange_weights(np.array([0.0, 0.5])).sum(axis=0)
    array([1., 1.])
    """
    t = np.asarray(t, dtype="float64")
    offsets = np.arange(-2, 4, dtype="float64")
    out = np.ones((STENCIL, len(t)))
    for i, oi in enumerate(offsets):
        for ok in offsets:
            if ok != oi:
                out[i] *= (t - ok) / (oi - ok)
    return out


def build_grid(keys: np.ndarray, alpha_ref: float, kink: bool = False,
               step: float = STEP, benchmark: bool = False) -> TableGrid:
    """The nodes for the table rows ``keys`` ``(U, 4)`` (x, T, rate, dropout) and each
    row's interpolation weights.

    Parameters
    ----------
    keys : array ``(U, 4)``
    alpha_ref : float
        ``> 0`` and below the least alpha of the draws, so that the functions'
        singularities (``alpha + T <= 0``) lie at ``Im xi = +-pi`` (half the least alpha
        is used).
    kink : bool
        The rows' scenario has a rate benchmark: two branches of nodes per group.
    step : float
        Node spacing in xi.
    benchmark : bool
        The rows' scenario has benchmarks: the rows without a repeat purchase depend on
        T also through the evidence weight, and get nodes ``FINE`` times closer.

    Examples
    --------
    >>> keys = np.array([[0.0, 1.0, 1.0, 1.0], [0.0, 30.5, 1.0, 1.0], [2.0, 8.0, 1.0, 1.0]])
    >>> g = build_grid(keys, 2.0)
    >>> g.weights.sum(axis=0).round(12).tolist()
    [1.0, 1.0, 1.0]
    """
    keys = np.asarray(keys, dtype="float64")
    U = len(keys)
    if U == 0:
        empty = np.zeros(0, dtype="int64")
        return TableGrid(np.zeros((0, 5)), empty, empty, np.zeros((STENCIL, 0)))
    x, T, rate, dropout = keys.T
    *group_cols, gid = unique_rows(x, rate, dropout, return_inverse=True)
    G = len(group_cols[0])
    h = np.where(benchmark & (group_cols[0] <= 0.0), step / FINE, step)
    # the lattice xi - log(alpha_ref) = j h, j >= 0 (T >= 0), is fixed: a row's nodes and
    # weights depend on the row alone, never on the other rows scored with it (scoring a
    # part of the customers gives exactly their values in the whole)
    pos = np.log1p(T / alpha_ref) / h[gid]
    j = np.maximum(np.floor(pos), 2.0).astype("int64")  # nodes j - 2 .. j + 3
    lo = np.full(G, np.iinfo(np.int64).max)
    hi = np.full(G, -1)
    np.minimum.at(lo, gid, j - 2)
    np.maximum.at(hi, gid, j + 3)
    counts = hi - lo + 1
    # a repeat customer's branch above the kink is constant in T: one stencil of equal
    # nodes (at T = 0) serves all its rows (the weights sum to 1)
    constant = group_cols[0] > 0.0
    upper = np.where(constant, MIN_NODES, counts) if kink else np.zeros(G, "int64")
    starts = np.concatenate([[0], np.cumsum(counts + upper)[:-1]])
    nodes = np.empty((int(np.sum(counts + upper)), 5))
    for g in range(G):
        T_g = alpha_ref * np.expm1((lo[g] + np.arange(counts[g])) * h[g])
        ends = (starts[g], starts[g] + counts[g], starts[g] + counts[g] + upper[g])
        for k in range(2 if kink else 1):
            at = slice(ends[k], ends[k + 1])
            nodes[at, 0] = group_cols[0][g]
            nodes[at, 1] = 0.0 if k == 1 and constant[g] else T_g
            nodes[at, 2] = group_cols[1][g]
            nodes[at, 3] = group_cols[2][g]
            nodes[at, 4] = k
    weights = lagrange_weights(pos - j)
    below = starts[gid] + (j - 2 - lo[gid])
    above = below
    if kink:
        above = np.where(constant[gid], starts[gid] + counts[gid], below + counts[gid])
    return TableGrid(nodes, below, above, weights)


def at_rows(grid: TableGrid, values: np.ndarray) -> np.ndarray:
    """The rows' values from the nodes' ``values`` ``(S, N)``: ``(S, U)``, each row the
    six-point Lagrange interpolation of its nodes at every draw (a grid without a kink:
    the branch below it).

    Examples
    --------
    >>> keys = np.array([[1.0, 3.0, 1.0, 1.0], [1.0, 20.0, 1.0, 1.0]])
    >>> g = build_grid(keys, 2.0)
    >>> at_rows(g, np.log(2.0 + g.nodes[:, 1])[None, :]).round(12).tolist()  # exact: linear
    [[1.609437912434, 3.091042453358]]
    """
    out = grid.weights[0] * values[:, grid.below]
    for i in range(1, STENCIL):
        out += grid.weights[i] * values[:, grid.below + i]
    return out


def no_grid(rows: int) -> TableGrid:
    """A grid without nodes for ``rows`` table rows, for a model whose period sums are
    computed per customer (every row points at node 0 with weight 0)."""
    zero = np.zeros(rows, dtype="int64")
    return TableGrid(np.zeros((0, 5)), zero, zero, np.zeros((STENCIL, rows)))
