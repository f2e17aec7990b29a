"""The compiled passes behind the expected cash flows per period: the base's, and each
customer's.

:func:`flow_weights` sums, per node of the table grid (:mod:`lifevalue.models.table_grid`)
and draw, P(alive) and its products with spend, margin and costs over groups of
customers; :meth:`lifevalue.value.CustomerValue._tables` turns them into the flows in
the same pass as the node tables (the flows are linear in the tables).
:func:`customer_flows` interpolates the node tables at each customer's (x, T), draw by
draw, for :meth:`lifevalue.value.CustomerValue.cash_flows`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from lifevalue.models.compiled_closed_forms import p_alive_one, p_alive_tabulated
from lifevalue.models.kernels import _FASTMATH


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def flow_weights(r, alpha, a, b, p, q, gam, x, t_x, T, ix, iT, it, by_x, by_value, row, sums,
                 g0, g1, out, m, b_spend, b_rate, below, above, lw, first):
    """Per node and draw, sums over the customers of P(alive) and its products with
    spend, margin and costs (see ``CustomerValue._flow_weights``), each spread on the
    six nodes of its table row with the row's interpolation weights (``below``,
    ``above``, ``lw``: :class:`lifevalue.models.table_grid.TableGrid`), added to ``out``
    ``(names, nodes, S)`` for the groups ``[g0, g1)``. With a rate benchmark the branch
    of its kink is chosen at each draw, as the scorer does.

    ``x, t_x, T, row`` describe groups of customers sorted by row; ``sums`` holds, per
    group, the number of customers and the sums of s_i, s_i m_i, s_i M_i, s_i m_i M_i (s
    the spend multiplier, M the margin) and, when costs stop at churn, of the two
    costs. A group's draws run in SIMD lanes: P(alive) (Fader, Hardie & Lee 2008; its logs
    looked up in ``by_x`` and ``by_value`` when ``ix >= 0``) and the expected spend (Fader &
    Hardie 2013, eq. 5) ``c1 + c2 m`` with ``c1 = p gamma / d``, ``c2 = p x / d``, ``d = p x +
    q - 1``. A row's groups are consecutive and rows of one node group are consecutive,
    so ranges of groups that start and end at node-group boundaries write disjoint parts
    of ``out``.

    With a spend benchmark ``b_spend`` (per draw; empty for none; ``b_rate`` the rate
    benchmark, for the weight of customers without a repeat purchase) each group has one
    mean spend ``m`` and its expected spend is multiplied by the benchmark's spend
    multiplier (:func:`lifevalue.value.benchmarks.spend_multiplier`).
    """
    S = len(r)
    pa = np.empty(S)
    c1 = np.empty(S)
    c2 = np.empty(S)
    cs = np.empty(S)
    costs = out.shape[0] > 3
    n_out = out.shape[0]
    add = np.empty((n_out, S))
    sel = np.zeros(S)
    last_x = -1.0
    for g in range(g0, g1):
        xg = x[g]
        if xg != last_x:  # groups come sorted by row, so by x: rarely
            last_x = xg
            for s in range(S):
                den = p[s] * xg + q[s] - 1.0
                c1[s] = p[s] * gam[s] / den
                c2[s] = p[s] * xg / den
        if xg < first:
            pa[:] = 1.0
        elif ix[g] >= 0:
            lx, lT, lt = by_x[ix[g]], by_value[iT[g]], by_value[it[g]]
            for s in range(S):
                pa[s] = p_alive_tabulated(r[s], xg, lx[s], lT[s], lt[s])
        else:
            for s in range(S):
                pa[s] = p_alive_one(r[s], alpha[s], a[s], b[s], xg, t_x[g], T[g], first)
        u = row[g]
        n, s1, s2, s3, s4 = sums[0, g], sums[1, g], sums[2, g], sums[3, g], sums[4, g]
        o0, o1, o2 = add[0], add[1], add[2]
        if len(b_spend):
            for s in range(S):
                w = 1.0
                if xg <= 0.0:
                    w = math.exp(-r[s] / alpha[s] * T[g])
                cs[s] = pa[s] * (1.0 + w * (max(1.0, b_spend[s] / (c1[s] + c2[s] * m[g]))
                                            - 1.0))
        else:  # a loop, not a slice copy (whose error path costs seconds to compile)
            for s in range(S):
                cs[s] = pa[s]
        for s in range(S):
            o0[s] = pa[s] * n
            o1[s] = cs[s] * (c1[s] * s1 + c2[s] * s2)
            o2[s] = cs[s] * (c1[s] * s3 + c2[s] * s4)
        if costs:
            d, e = sums[5, g], sums[6, g]
            o3, o4 = add[3], add[4]
            for s in range(S):
                o3[s] = pa[s] * d
                o4[s] = pa[s] * e
        _spread(add, out, below[u], above[u], lw[:, u], sel, b_rate, r, alpha, xg, T[g])


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _spread(add, out, jb, ja, lw, sel, b_rate, r, alpha, x, T):
    """``out[:, node] += lw_i * add`` on the six nodes from ``jb`` (from ``ja`` at the
    draws above a rate benchmark's kink)."""
    S = add.shape[1]
    kink = ja != jb
    if kink:
        for s in range(S):
            sel[s] = 1.0 if b_rate[s] * (alpha[s] + T) > r[s] + x else 0.0
    for k in range(add.shape[0]):
        ak = add[k]
        for i in range(6):
            wi = lw[i]
            if wi == 0.0:  # never touch a node another range may be writing
                continue
            ob = out[k, jb + i]
            if kink:
                oa = out[k, ja + i]
                for s in range(S):
                    v = wi * ak[s]
                    oa[s] += v * sel[s]
                    ob[s] += v - v * sel[s]
            else:
                for s in range(S):
                    ob[s] += wi * ak[s]


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def customer_flows(bought, active, below, above, lw, sel, alive, weighted, out_pa, out_rev):
    """Add each customer's sums over draws of P(alive) times survival to each period's
    start, and of ``weighted`` (P(alive) times spend) times the period's expected
    purchases, to ``out_pa`` and ``out_rev`` ``(customers, P)``.

    ``bought`` and ``active`` ``(nodes, P, S)`` are the node tables of a block of S draws
    (:mod:`lifevalue.models.table_grid`); a customer's value at a draw is the six-point
    interpolation from its first node ``below`` (``above`` at the draws where ``sel``,
    ``(customers, S)`` of 0 and 1, is 1: a rate benchmark's kink; ``sel`` empty for
    none) with the weights ``lw`` ``(6, customers)``. ``alive`` and ``weighted`` are
    ``(customers, S)``; the sums over draws run in SIMD lanes.
    """
    P = bought.shape[1]
    S = bought.shape[2]
    kink = sel.shape[0] > 0
    for i in range(len(below)):
        a, wv = alive[i], weighted[i]
        for k in range(6):
            w = lw[k, i]
            if w == 0.0:
                continue
            jb, ja = below[i] + k, above[i] + k
            for t in range(P):
                bb, ab = bought[jb, t], active[jb, t]
                acc_r = 0.0
                acc_a = 0.0
                if kink:
                    ba, aa, up = bought[ja, t], active[ja, t], sel[i]
                    for s in range(S):
                        acc_r += wv[s] * (bb[s] + up[s] * (ba[s] - bb[s]))
                        acc_a += a[s] * (ab[s] + up[s] * (aa[s] - ab[s]))
                else:
                    for s in range(S):
                        acc_r += wv[s] * bb[s]
                        acc_a += a[s] * ab[s]
                out_rev[i, t] += w * acc_r
                out_pa[i, t] += w * acc_a
