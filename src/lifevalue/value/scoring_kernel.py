"""The compiled per-customer value scorer.

For one chunk of customers, :func:`score_customers` takes each customer in turn and,
for every population draw, computes the expectation of the return-based value and
simulates one realised value; it then reduces them at once, while they are in cache, to
the customer's columns (mean, parameter and predictive intervals, P(value < 0), the
relationship-matrix probabilities) and adds them to the base's per-draw totals. Nothing
of size customers x draws is ever stored.

The expectation is ``margin * spend * P(alive) * W - costs``, with W (and, when costs
stop at churn, SO and SR) the per-draw period sums of :meth:`CustomerValue._tables` for
the customer's (x, T, scenario) row; P(alive) is Fader, Hardie & Lee (2008) and the spend
Fader & Hardie (2013) eq. (5). The simulation is the Polya walk of
:func:`lifevalue.models.customer_posterior.simulate_discounted_revenue`, one uniform per
draw for a customer who buys nothing in the horizon.

Random numbers: customer ``i`` of a chunk draws from stream ``i mod RNG_BLOCK`` of its
block's seed words (:func:`lifevalue.models.customer_posterior.seed_stream`), so the
results do not depend on chunking, threads or Spark partitions. Both scenarios of a
customer start from the same stream (common random numbers), which makes the growth
(potential - current) of a draw a difference of two coupled futures.
"""

from __future__ import annotations

import logging
import math
import threading

import numba
import numpy as np

from lifevalue.models.compiled_closed_forms import (
    p_alive_one,
    p_alive_tabulated,
)
from lifevalue.models.customer_posterior import (
    buyer_revenue,
    gamma_constants,
    new_counts,
    periods_active,
)
from lifevalue.models.kernels import _FASTMATH
from lifevalue.models.order_statistics import two_quantiles
from lifevalue.models.pareto_nbd_kernel import period_sums_if_alive
from lifevalue.models.random_streams import RNG_BLOCK, _load, _uniform_s, seed_stream

_LOG = logging.getLogger("lifevalue")

_noticed = threading.Event()


def notice_if_compiling() -> bool:
    """Say, once per process, that the first scoring must compile its kernels: numba
    compiles them on first use in a new environment (or after an upgrade) and caches
    them on disk (beside the package, or in a user-wide cache directory where the
    package is read-only; the environment variable ``NUMBA_CACHE_DIR`` chooses another),
    so later sessions load them in about a second. A log record on the ``lifevalue``
    logger, not a warning. Returns whether it said so.

    Said before the wait, not after a delay: the compiler holds the GIL, so a timer
    thread could not speak until it had finished. Whether the scorer is in the cache is
    read from numba's cache index (a private API; when it cannot be read, nothing is
    said).
    """
    if _noticed.is_set():
        return False
    _noticed.set()
    if score_customers.signatures:
        return False
    try:
        cached = bool(score_customers._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 - numba internals: say nothing rather than fail
        return False
    if not cached:
        _LOG.warning("lifevalue: compiling the value-scoring kernels for this environment "
                     "(once, 15 to 20 seconds; later sessions load them from numba's "
                     "on-disk cache)")
    return not cached


#: The columns :func:`score_customers` writes, in order (the order of the customers'
#: table of :meth:`lifevalue.value.CustomerValue.evaluate`).
COLUMNS = tuple(
    ["p_alive_mean"]
    + [f"{name}_{kind}" for name in ("current", "potential", "growth")
       for kind in ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi")]
    + ["current_p_negative", "potential_p_negative", "p_retain", "p_develop", "p_phase_out"])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def score_customers(seeds, r, alpha, a, b, p, q, gam, x, t_x, T, m, ix, iT, it, u_idx, margin,
                    spend, rate, dropout, dev, ret, W, Q0, SO, SR, below, above, lw, by_x,
                    by_value, edges,
                    per_unit, weights, fixed_O, fixed_R, cum_O, cum_R, stop, n_sim, lo_q, hi_q,
                    c_thr, p_thr, out, tot_expected, tot_simulated, b_rate, b_spend,
                    b_drop, draws_e, draws_y, first, pa_in, flows_out):
    """Score the customers of one chunk into ``out`` and add their per-draw totals.

    Parameters
    ----------
    seeds : uint64 array ``(blocks, 4)``
        Seed words of each random-number block of the chunk.
    r, alpha, a, b, p, q, gam : arrays ``(S,)``
        Paired BG/NBD and Gamma-Gamma draws; simulated future ``j`` uses draw ``j % S``.
    x, t_x, T, m : arrays ``(n,)``
        The customers' summaries (``m`` is 0 without repeat purchases).
    ix, iT, it : int arrays ``(n,)``
        The customers' rows in ``by_x`` and ``by_value``
        (:func:`lifevalue.models.compiled_closed_forms.alive_log_tables`), or -1 when
        P(alive) is computed directly.
    u_idx, margin, spend, rate, dropout, dev, ret : arrays ``(K, n)``
        Per scenario (K = 1: current only; K = 2: current and potential): the row of
        the tables, ``M_i`` times the margin multiplier, the spend, purchase-rate and
        dropout multipliers, and ``O_i``, ``R_i`` times their multipliers.
    W, Q0, SO, SR : arrays ``(nodes, S)``
        Per node of the table grid (:mod:`lifevalue.models.table_grid`) and draw: the
        discounted margin-weighted expected purchases given alive, the probability of no
        purchase in the horizon given alive, and (when costs stop at churn) the
        discounted survival sums of the costs.
    below, above, lw : arrays ``(rows,)``, ``(rows,)``, ``(6, rows)``
        Each table row's first node on each branch of a rate benchmark's kink and its
        Lagrange weights: a row's value at a draw is ``sum_i lw[i] table[below + i]``
        (``above`` at the draws where the benchmark raises the rate).
    by_x, by_value : arrays
        The tabulated logs of P(alive), when ``ix >= 0``.
    edges, per_unit, weights
        Period edges, their inverse width (0 if unequal) and each period's revenue
        weight (discount times the period's margin factor).
    fixed_O, fixed_R : float
        ``sum_t d^t o_t`` and ``sum_t d^t r_t``: the costs that run the whole horizon.
    cum_O, cum_R : arrays ``(P + 1,)``
        The same sums over the first k periods (costs that stop at churn).
    stop : bool
        Costs stop at churn.
    n_sim : int
        Simulated futures per customer (>= S).
    lo_q, hi_q : float
        Quantiles of the intervals.
    c_thr, p_thr : float
        Matrix thresholds on current and potential value.
    out : array ``(len(COLUMNS), n)``
        The customers' columns, one row each.
    tot_expected, tot_simulated : arrays ``(3, 3, S)`` and ``(3, 3, n_sim)``
        Per matrix cell of the customers' mean values (retain, develop, phase out) and
        per quantity (current, potential, growth), per-draw sums over the customers:
        added to.
    b_rate, b_spend, b_drop : arrays ``(S,)`` or empty
        The potential's benchmarks per draw (:mod:`lifevalue.value.benchmarks`): rate,
        mean spend and dropout probability; empty for none. They apply to the last
        scenario when there are two; ``W`` and ``Q0`` of its rows already include them.
    draws_e, draws_y : arrays ``(n, K + 1, S)`` and ``(n, K, n_sim)``, or ``(0, 0, 0)``
        When not empty, each customer's expectations (then, last, P(alive)) and simulated
        values are copied there (for the comparisons between customers).
    first : float
        The purchase at which the first chance to drop out comes (1: BG/NBD; 0: MBG/NBD,
        whose ``b`` is passed one larger; see
        :func:`lifevalue.models.compiled_closed_forms.p_alive_draws`).
    pa_in : array ``(n, S)`` or None
        The Pareto/NBD's P(alive) of each customer at each draw; None for the BG/NBD
        family. When given, ``a`` and ``b`` are the Pareto/NBD's draws of ``s`` and
        ``beta``; the period sums come from its closed forms
        (:func:`lifevalue.models.pareto_nbd_kernel.period_sums_if_alive`) instead of the
        tables, and an active customer's future ends at a lifetime drawn from
        ``Lomax(s, (beta + T) / dropout)`` (mu integrated out) instead of after a
        purchase. (None is a type of its own to numba: the BG/NBD family's
        specialisation leaves the Pareto/NBD's code out, and so its compile time.)
    flows_out : array ``(K, 5, P)`` or None
        With ``pa_in``, when given: per scenario and period, the base's expected flows
        are added to it (sums over the customers of P_t, revenue, margin and both costs
        weighted by P_t, as :meth:`lifevalue.value.CustomerValue._tables` returns them
        for the BG/NBD family).
    """
    S = len(r)
    K = u_idx.shape[0]
    n = len(x)
    P = len(edges) - 1
    horizon = edges[P]
    pa = np.empty(S)
    sp = np.empty(S)
    buy = np.empty(S)
    E = np.empty((K, S))
    Y = np.empty((K, n_sim))
    buyers = np.empty((K, n_sim))
    n_buyers = np.zeros(K, dtype=np.int64)
    g_e = np.empty(S)
    g_y = np.empty(n_sim)
    start = np.empty(4, dtype=np.uint64)
    counts = new_counts(P)  # the walk's scratch
    p_d, p_c = gamma_constants(p)
    # the potential's per-draw multipliers of rate, dropout and spend (1 without benchmark)
    m_rate = np.ones(S)
    m_drop = np.ones(S)
    m_spend = np.ones(S)
    Wu = np.empty(S)
    Qu = np.empty(S)
    SOu = np.empty(S)
    SRu = np.empty(S)
    sel = np.zeros(S)
    c_rate = np.ones(S)
    c_drop = np.ones(S)
    a_w = np.zeros(S)
    b_w = np.zeros(S)
    acc = np.zeros((2, P))
    lifetime = pa_in is not None
    v_O = np.empty(P)  # each period's own discounted costs (np.diff: seconds to compile)
    v_R = np.empty(P)
    for t in range(P):
        v_O[t] = cum_O[t + 1] - cum_O[t]
        v_R[t] = cum_R[t + 1] - cum_R[t]
    cells = np.zeros(3)
    # no floor values for two_quantiles: an int64, not a literal 0 (numba would compile a
    # specialisation of its own for the literal)
    none = np.int64(0)
    has_bench = K == 2 and (len(b_rate) + len(b_spend) + len(b_drop)) > 0
    keep = draws_e.shape[0] > 0
    for i in range(n):
        seed_stream(seeds[i // RNG_BLOCK], i % RNG_BLOCK, start)
        xi, ti, Ti, mi = x[i], t_x[i], T[i], m[i]
        if pa_in is not None:
            for s in range(S):
                pa[s] = pa_in[i, s]
        _alive_and_spend(r, alpha, a, b, p, q, gam, xi, ti, Ti, mi, ix[i], iT[i], it[i], by_x,
                         by_value, first, lifetime, pa, sp)
        total = 0.0
        for s in range(S):
            total += pa[s]
        out[0, i] = total / S
        if keep:
            for s in range(S):  # loops, not slice copies: their error path costs
                draws_e[i, K, s] = pa[s]  # seconds of compilation
        if has_bench:
            _benchmark_multipliers(r, alpha, a, b, xi, Ti, sp, b_rate, b_spend, b_drop, lifetime,
                                   m_rate, m_drop, m_spend)
        for k in range(K):
            bench = has_bench and k == 1
            u = u_idx[k, i]
            mk = margin[k, i] * spend[k, i]
            dk, rk = dev[k, i], ret[k, i]
            fixed = dk * fixed_O + rk * fixed_R
            if pa_in is not None:  # the closed forms at every draw, with its multipliers
                for s in range(S):
                    c_rate[s] = rate[k, i] * (m_rate[s] if bench else 1.0)
                    c_drop[s] = dropout[k, i] * (m_drop[s] if bench else 1.0)
                if flows_out is not None:  # the flows' weights: P(alive), times spend
                    acc[:] = 0.0
                    for s in range(S):
                        a_w[s] = pa[s] / S
                        b_w[s] = a_w[s] * sp[s] * spend[k, i] * (m_spend[s] if bench else 1.0)
                period_sums_if_alive(r, alpha, a, b, xi, Ti, c_rate, c_drop, edges, weights,
                                     v_O, v_R, stop, Wu, Qu, SOu, SRu, a_w, b_w,
                                     acc if flows_out is not None else acc[:0])
                if flows_out is not None:
                    fo = flows_out[k]
                    for t in range(P):
                        fo[0, t] += acc[0, t]
                        fo[1, t] += acc[1, t]
                        fo[2, t] += margin[k, i] * acc[1, t]
                        fo[3, t] += dk * acc[0, t]
                        fo[4, t] += rk * acc[0, t]
            else:  # the tables at the customer's row, interpolated on the grid's nodes
                jb, ja = below[u], above[u]
                kink = bench and ja != jb
                if kink:
                    for s in range(S):  # the draws where the rate benchmark raises the rate
                        sel[s] = 1.0 if b_rate[s] * (alpha[s] + Ti) > r[s] + xi else 0.0
                wu = lw[:, u]
                interpolate(W, jb, ja, wu, sel, kink, Wu)
                interpolate(Q0, jb, ja, wu, sel, kink, Qu)
                if stop:
                    interpolate(SO, jb, ja, wu, sel, kink, SOu)
                    interpolate(SR, jb, ja, wu, sel, kink, SRu)
            Ek, Yk, Bk = E[k], Y[k], buyers[k]
            for s in range(S):
                e = mk * sp[s] * pa[s] * Wu[s]
                if bench:
                    e *= m_spend[s]
                if stop:
                    e -= pa[s] * (dk * SOu[s] + rk * SRu[s])
                else:
                    e -= fixed
                Ek[s] = e
                buy[s] = pa[s] * (1.0 - Qu[s])  # P(a purchase in the horizon)
            # the simulation: the same stream for every scenario of this customer
            st = _load(start)
            # a future without a purchase: all the costs if alive, none (when they stop
            # at churn) if dead
            idle = 0.0 - fixed
            idle_dead = 0.0 if stop else idle
            if stop:
                idle = 0.0 - (dk * cum_O[P] + rk * cum_R[P])
            nb = 0
            s = -1
            for j in range(n_sim):
                s += 1  # the draw j % S, without a division
                if s == S:
                    s = 0
                w, st = _uniform_s(st)
                deadline = np.inf
                if pa_in is not None:
                    if w < pa[s] and (stop or w < buy[s]):
                        # the lifetime left: Lomax(s, (beta + T) / c_d), mu integrated out
                        e, st = _uniform_s(st)
                        deadline = (b[s] + Ti) / c_drop[s] * (
                            math.exp(-math.log1p(-e) / a[s]) - 1.0)
                if w >= buy[s]:
                    if w >= pa[s]:
                        Yk[j] = idle_dead
                    elif deadline < horizon:  # (stop) costs until the lifetime ends
                        active = periods_active(deadline, edges)
                        Yk[j] = 0.0 - (dk * cum_O[active] + rk * cum_R[active])
                    else:
                        Yk[j] = idle
                    continue
                c_r, c_d, c_s = rate[k, i], dropout[k, i], 1.0
                if bench:
                    c_r *= m_rate[s]
                    c_d *= m_drop[s]
                    c_s = m_spend[s]
                a_d, b_x = (0.0, 1.0) if lifetime else (c_d * a[s], b[s] + xi)
                revenue, drop, st = buyer_revenue(
                    st, w / pa[s], r[s] + xi, (alpha[s] + Ti) / c_r, a_d, b_x, deadline, p[s],
                    p_d[s], p_c[s], p[s] * xi + q[s], gam[s] + xi * mi, edges, per_unit,
                    weights, counts)
                value = revenue * (mk * c_s)
                if stop:
                    active = P if drop >= horizon else periods_active(drop, edges)
                    value -= dk * cum_O[active] + rk * cum_R[active]
                else:
                    value -= fixed
                    Bk[nb] = value
                    nb += 1
                Yk[j] = value
            n_buyers[k] = nb
            if keep:
                for s in range(S):
                    draws_e[i, k, s] = Ek[s]
                for j in range(n_sim):
                    draws_y[i, k, j] = Yk[j]
        # means, the cell of the means (as ``classify`` gives it), then the totals of
        # that cell: the base's totals are the sum of its cells'
        for k in range(K):
            Ek = E[k]
            total = 0.0
            for s in range(S):
                total += Ek[s]
            out[1 + 5 * k, i] = total / S
        cell = 0 if out[1, i] >= c_thr else (1 if out[1 + 5 * (K - 1), i] >= p_thr else 2)
        for k in range(K):
            Ek, Yk, te, ts = E[k], Y[k], tot_expected[cell, k], tot_simulated[cell, k]
            for s in range(S):
                te[s] += Ek[s]
            neg = 0
            for j in range(n_sim):
                neg += Yk[j] < 0.0
                ts[j] += Yk[j]
            out[16 + k, i] = neg / n_sim
        Y0, YK = Y[0], Y[K - 1]
        if K == 2:
            E0, E1 = E[0], E[1]
            te, ts = tot_expected[cell, 2], tot_simulated[cell, 2]
            total = 0.0
            for s in range(S):
                g_e[s] = E1[s] - E0[s]
                total += g_e[s]
                te[s] += g_e[s]
            out[11, i] = total / S
            for j in range(n_sim):
                g_y[j] = YK[j] - Y0[j]
                ts[j] += g_y[j]
        # the cells of the expected values at each draw (parameter kind): the matrix is
        # a decision on what the customer is expected to bring, not on their luck
        cells[:] = 0.0
        E0, EK = E[0], E[K - 1]
        for s in range(S):
            if E0[s] >= c_thr:
                cells[0] += 1.0
            elif EK[s] >= p_thr:
                cells[1] += 1.0
            else:
                cells[2] += 1.0
        for c in range(3):
            out[18 + c, i] = cells[c] / S
        # the intervals
        for k in range(K):
            lo, hi = two_quantiles(E[k], S, none, 0.0, lo_q, hi_q)
            out[5 * k + 2, i] = lo
            out[5 * k + 3, i] = hi
            fixed = dev[k, i] * fixed_O + ret[k, i] * fixed_R
            if not stop and margin[k, i] * spend[k, i] >= 0.0:
                # every future without a purchase is worth exactly -fixed, the least
                # value there is: only the buyers' values need ordering
                nb = n_buyers[k]
                lo, hi = two_quantiles(buyers[k], nb, n_sim - nb, 0.0 - fixed, lo_q, hi_q)
            else:
                lo, hi = two_quantiles(Y[k], n_sim, none, 0.0, lo_q, hi_q)
            out[5 * k + 4, i] = lo
            out[5 * k + 5, i] = hi
        if K == 2:
            lo, hi = two_quantiles(g_e, S, none, 0.0, lo_q, hi_q)
            out[12, i] = lo
            out[13, i] = hi
            lo, hi = two_quantiles(g_y, n_sim, none, 0.0, lo_q, hi_q)
            out[14, i] = lo
            out[15, i] = hi


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def interpolate(table, jb, ja, lw, sel, kink, out):
    """``out[s] = sum_i lw[i] table[jb + i, s]`` (``table[ja + i, s]`` where ``sel[s]``
    is 1 and ``kink``): six-point Lagrange interpolation of a table row at every draw
    (:mod:`lifevalue.models.table_grid`), over 1-D rows so that the draws run in SIMD
    lanes."""
    S = len(out)
    out[:] = 0.0
    for i in range(6):
        wi = lw[i]
        if wi == 0.0:
            continue
        tb = table[jb + i]
        if kink:
            ta = table[ja + i]
            for s in range(S):
                out[s] += wi * (tb[s] + sel[s] * (ta[s] - tb[s]))
        else:
            for s in range(S):
                out[s] += wi * tb[s]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _benchmark_multipliers(r, alpha, a, b, x, T, sp, b_rate, b_spend, b_drop, lifetime,
                           m_rate, m_drop, m_spend):
    """The rate, dropout and spend multipliers of one customer at every draw, as
    :func:`lifevalue.value.benchmarks.row_multipliers` and
    :func:`~lifevalue.value.benchmarks.spend_multiplier` (``sp`` the expected spend;
    ``a, b`` are ``s, beta`` when ``lifetime``)."""
    for s in range(len(r)):
        w = 1.0
        if x <= 0.0:  # no repeat purchase: silent for T at the mean rate
            w = math.exp(-r[s] / alpha[s] * T)
        if len(b_rate):
            c = max(1.0, b_rate[s] * (alpha[s] + T) / (r[s] + x))
            m_rate[s] = 1.0 + w * (c - 1.0)
        if len(b_drop):
            if lifetime:  # the dropout rate mu: mean s / (beta + T) lowered to mu*
                d = min(1.0, b_drop[s] * (b[s] + T) / a[s])
            else:
                d = min(1.0, b_drop[s] * (b[s] + x) / ((1.0 - b_drop[s]) * a[s]))
            m_drop[s] = 1.0 + w * (d - 1.0)
        if len(b_spend):
            m_spend[s] = 1.0 + w * (max(1.0, b_spend[s] / sp[s]) - 1.0)


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _alive_and_spend(r, alpha, a, b, p, q, gam, x, t_x, T, m, ix, iT, it, by_x, by_value,
                     first, given, pa, sp):
    """P(alive) (Fader, Hardie & Lee 2008; tabulated logs when ``ix >= 0``; left as it is
    when ``given``) and expected spend (Fader & Hardie 2013, eq. 5) of one customer at
    every draw, in SIMD lanes."""
    if given:
        pass
    elif x < first:
        pa[:] = 1.0
    elif ix >= 0:
        lx, lT, lt = by_x[ix], by_value[iT], by_value[it]
        for s in range(len(r)):
            pa[s] = p_alive_tabulated(r[s], x, lx[s], lT[s], lt[s])
    else:
        for s in range(len(r)):
            pa[s] = p_alive_one(r[s], alpha[s], a[s], b[s], x, t_x, T, first)
    for s in range(len(r)):
        sp[s] = p[s] * (gam[s] + x * m) / (p[s] * x + q[s] - 1.0)
