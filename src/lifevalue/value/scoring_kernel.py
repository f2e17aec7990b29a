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

import math

import numba
import numpy as np

from lifevalue.models.compiled_closed_forms import (
    p_alive_one,
    p_alive_tabulated,
)
from lifevalue.models.customer_posterior import (
    RNG_BLOCK,
    _load,
    _uniform_s,
    buyer_revenue,
    gamma_constants,
    periods_active,
    seed_stream,
)
from lifevalue.models.kernels import _FASTMATH

#: The columns :func:`score_customers` writes, in order (the order of the customers'
#: table of :meth:`lifevalue.value.CustomerValue.evaluate`).
COLUMNS = tuple(
    ["p_alive_mean"]
    + [f"{name}_{kind}" for name in ("current", "potential", "growth")
       for kind in ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi")]
    + ["current_p_negative", "potential_p_negative", "p_retain", "p_develop", "p_phase_out"])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def score_customers(seeds, r, alpha, a, b, p, q, gam, x, t_x, T, m, ix, iT, it, u_idx, margin,
                    spend, rate, dropout, dev, ret, W, Q0, SO, SR, by_x, by_value, edges,
                    per_unit, weights, fixed_O, fixed_R, cum_O, cum_R, stop, n_sim, lo_q, hi_q,
                    c_thr, p_thr, out, tot_expected, tot_simulated, b_rate, b_spend,
                    b_drop, draws_e, draws_y):
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
    W, Q0, SO, SR : arrays ``(rows, S)``
        Per table row and draw: the discounted margin-weighted expected purchases given
        alive, the probability of no purchase in the horizon given alive, and (when
        costs stop at churn) the discounted survival sums of the costs.
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
    tot_expected, tot_simulated : arrays ``(3, S)`` and ``(3, n_sim)``
        Per-draw sums over the customers of current, potential and growth: added to.
    b_rate, b_spend, b_drop : arrays ``(S,)`` or empty
        The potential's benchmarks per draw (:mod:`lifevalue.value.benchmarks`): rate,
        mean spend and dropout probability; empty for none. They apply to the last
        scenario when there are two; ``W`` and ``Q0`` of its rows already include them.
    draws_e, draws_y : arrays ``(n, K + 1, S)`` and ``(n, K, n_sim)``, or ``(0, 0, 0)``
        When not empty, each customer's expectations (then, last, P(alive)) and simulated
        values are copied there (for the comparisons between customers).
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
    counts = np.zeros(2 * P + 1, dtype=np.int64)  # see customer_posterior.new_counts
    p_d, p_c = gamma_constants(p)
    # the potential's per-draw multipliers of rate, dropout and spend (1 without benchmark)
    m_rate = np.ones(S)
    m_drop = np.ones(S)
    m_spend = np.ones(S)
    has_bench = K == 2 and (len(b_rate) + len(b_spend) + len(b_drop)) > 0
    keep = draws_e.shape[0] > 0
    for i in range(n):
        seed_stream(seeds[i // RNG_BLOCK], i % RNG_BLOCK, start)
        xi, ti, Ti, mi = x[i], t_x[i], T[i], m[i]
        _alive_and_spend(r, alpha, a, b, p, q, gam, xi, ti, Ti, mi, ix[i], iT[i], it[i], by_x,
                         by_value, pa, sp)
        total = 0.0
        for s in range(S):
            total += pa[s]
        out[0, i] = total / S
        if keep:
            draws_e[i, K, :] = pa[:]
        if has_bench:
            _benchmark_multipliers(r, alpha, a, b, xi, Ti, sp, b_rate, b_spend, b_drop, m_rate,
                                   m_drop, m_spend)
        for k in range(K):
            bench = has_bench and k == 1
            u = u_idx[k, i]
            mk = margin[k, i] * spend[k, i]
            dk, rk = dev[k, i], ret[k, i]
            fixed = dk * fixed_O + rk * fixed_R
            # 1-D rows, as in flow_weights (where 2-D indexing kept the loop scalar)
            Wu, Qu, Ek, Yk, Bk = W[u], Q0[u], E[k], Y[k], buyers[k]
            SOu, SRu = SO[u if stop else 0], SR[u if stop else 0]
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
                if w >= buy[s]:
                    Yk[j] = idle if w < pa[s] else idle_dead
                    continue
                c_r, c_d, c_s = rate[k, i], dropout[k, i], 1.0
                if bench:
                    c_r *= m_rate[s]
                    c_d *= m_drop[s]
                    c_s = m_spend[s]
                revenue, drop, st = buyer_revenue(
                    st, w / pa[s], r[s] + xi, (alpha[s] + Ti) / c_r,
                    c_d * a[s], b[s] + xi, p[s], p_d[s], p_c[s], p[s] * xi + q[s],
                    gam[s] + xi * mi, edges, per_unit, weights, counts)
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
                draws_e[i, k, :] = Ek[:]
                draws_y[i, k, :] = Yk[:]
        # means, P(value < 0), totals and cells
        for k in range(K):
            Ek, Yk, te, ts = E[k], Y[k], tot_expected[k], tot_simulated[k]
            total = 0.0
            for s in range(S):
                total += Ek[s]
                te[s] += Ek[s]
            out[1 + 5 * k, i] = total / S
            neg = 0
            for j in range(n_sim):
                neg += Yk[j] < 0.0
                ts[j] += Yk[j]
            out[16 + k, i] = neg / n_sim
        Y0, YK = Y[0], Y[K - 1]
        if K == 2:
            E0, E1, te, ts = E[0], E[1], tot_expected[2], tot_simulated[2]
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
        cells = np.zeros(3)
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
            lo, hi = two_quantiles(E[k], S, 0, 0.0, lo_q, hi_q)
            out[5 * k + 2, i] = lo
            out[5 * k + 3, i] = hi
            fixed = dev[k, i] * fixed_O + ret[k, i] * fixed_R
            if not stop and margin[k, i] * spend[k, i] >= 0.0:
                # every future without a purchase is worth exactly -fixed, the least
                # value there is: only the buyers' values need ordering
                nb = n_buyers[k]
                lo, hi = two_quantiles(buyers[k], nb, n_sim - nb, 0.0 - fixed, lo_q, hi_q)
            else:
                lo, hi = two_quantiles(Y[k], n_sim, 0, 0.0, lo_q, hi_q)
            out[5 * k + 4, i] = lo
            out[5 * k + 5, i] = hi
        if K == 2:
            lo, hi = two_quantiles(g_e, S, 0, 0.0, lo_q, hi_q)
            out[12, i] = lo
            out[13, i] = hi
            lo, hi = two_quantiles(g_y, n_sim, 0, 0.0, lo_q, hi_q)
            out[14, i] = lo
            out[15, i] = hi


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _benchmark_multipliers(r, alpha, a, b, x, T, sp, b_rate, b_spend, b_drop, m_rate, m_drop,
                           m_spend):
    """The rate, dropout and spend multipliers of one customer at every draw, as
    :func:`lifevalue.value.benchmarks.row_multipliers` and
    :func:`~lifevalue.value.benchmarks.spend_multiplier` (``sp`` the expected spend)."""
    for s in range(len(r)):
        w = 1.0
        if x <= 0.0:  # no repeat purchase: silent for T at the mean rate
            w = math.exp(-r[s] / alpha[s] * T)
        if len(b_rate):
            c = max(1.0, b_rate[s] * (alpha[s] + T) / (r[s] + x))
            m_rate[s] = 1.0 + w * (c - 1.0)
        if len(b_drop):
            d = min(1.0, b_drop[s] * (b[s] + x) / ((1.0 - b_drop[s]) * a[s]))
            m_drop[s] = 1.0 + w * (d - 1.0)
        if len(b_spend):
            m_spend[s] = 1.0 + w * (max(1.0, b_spend[s] / sp[s]) - 1.0)


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def flow_weights(r, alpha, a, b, p, q, gam, x, t_x, T, ix, iT, it, by_x, by_value, row, sums,
                 g0, g1, out, m, b_spend, b_rate):
    """Per table row and draw, sums over a row's customers of P(alive) and its products
    with spend, margin and costs (see ``CustomerValue._flow_weights``), added to ``out``
    ``(names, rows, S)`` for the groups ``[g0, g1)``.

    ``x, t_x, T, row`` describe groups of customers sorted by row; ``sums`` holds, per
    group, the number of customers and the sums of s_i, s_i m_i, s_i M_i, s_i m_i M_i (s
    the spend multiplier, M the margin) and, when costs stop at churn, of the two
    costs. A group's draws run in SIMD lanes: P(alive) (Fader, Hardie & Lee 2008; its logs
    looked up in ``by_x`` and ``by_value`` when ``ix >= 0``) and the expected spend (Fader &
    Hardie 2013, eq. 5) ``c1 + c2 m`` with ``c1 = p gamma / d``, ``c2 = p x / d``, ``d = p x +
    q - 1``. A row's groups are consecutive, so ranges of groups that start and end at
    row boundaries write disjoint parts of ``out``.

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
    last_x = -1.0
    for g in range(g0, g1):
        xg = x[g]
        if xg != last_x:  # groups come sorted by row, so by x: rarely
            last_x = xg
            for s in range(S):
                den = p[s] * xg + q[s] - 1.0
                c1[s] = p[s] * gam[s] / den
                c2[s] = p[s] * xg / den
        if xg <= 0.0:
            pa[:] = 1.0
        elif ix[g] >= 0:
            lx, lT, lt = by_x[ix[g]], by_value[iT[g]], by_value[it[g]]
            for s in range(S):
                pa[s] = p_alive_tabulated(r[s], xg, lx[s], lT[s], lt[s])
        else:
            for s in range(S):
                pa[s] = p_alive_one(r[s], alpha[s], a[s], b[s], xg, t_x[g], T[g])
        u = row[g]
        n, s1, s2, s3, s4 = sums[0, g], sums[1, g], sums[2, g], sums[3, g], sums[4, g]
        o0, o1, o2 = out[0, u], out[1, u], out[2, u]
        if len(b_spend):
            for s in range(S):
                w = 1.0
                if xg <= 0.0:
                    w = math.exp(-r[s] / alpha[s] * T[g])
                cs[s] = pa[s] * (1.0 + w * (max(1.0, b_spend[s] / (c1[s] + c2[s] * m[g]))
                                            - 1.0))
        else:
            cs[:] = pa[:]
        for s in range(S):
            o0[s] += pa[s] * n
            o1[s] += cs[s] * (c1[s] * s1 + c2[s] * s2)
            o2[s] += cs[s] * (c1[s] * s3 + c2[s] * s4)
        if costs:
            d, e = sums[5, g], sums[6, g]
            o3, o4 = out[3, u], out[4, u]
            for s in range(S):
                o3[s] += pa[s] * d
                o4[s] += pa[s] * e


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _alive_and_spend(r, alpha, a, b, p, q, gam, x, t_x, T, m, ix, iT, it, by_x, by_value,
                     pa, sp):
    """P(alive) (Fader, Hardie & Lee 2008; tabulated logs when ``ix >= 0``) and expected
    spend (Fader & Hardie 2013, eq. 5) of one customer at every draw, in SIMD lanes."""
    if x <= 0.0:
        pa[:] = 1.0
    elif ix >= 0:
        lx, lT, lt = by_x[ix], by_value[iT], by_value[it]
        for s in range(len(r)):
            pa[s] = p_alive_tabulated(r[s], x, lx[s], lT[s], lt[s])
    else:
        for s in range(len(r)):
            pa[s] = p_alive_one(r[s], alpha[s], a[s], b[s], x, t_x, T)
    for s in range(len(r)):
        sp[s] = p[s] * (gam[s] + x * m) / (p[s] * x + q[s] - 1.0)


@numba.njit(nogil=True, cache=True)
def two_quantiles(values, n_values, n_floor, floor, lo_q, hi_q):
    """``np.quantile(v, [lo_q, hi_q])`` (linear interpolation) of ``v``: ``n_floor``
    copies of ``floor`` followed by ``values[:n_values]``, all of which are ``>=
    floor``. ``values`` is left as it was.

    Each quantile needs two neighbouring order statistics. Rather than sorting, a
    sample of 32 values sets a threshold a little beyond them; one branch-free pass keeps
    the values beyond it, and the order statistics are selected among those few. When
    the threshold turns out too tight (the kept values do not reach the rank), the
    whole array is selected instead, so the result is exact either way.

    Examples
    --------
    >>> v = np.array([3.0, -1.0, 7.0, 2.0, 2.0, 9.0, 0.5])
    >>> two_quantiles(v, 7, 0, 0.0, 0.05, 0.95) == tuple(np.quantile(v, [0.05, 0.95]))
    True
    >>> w = np.array([4.0, 1.0])
    >>> full = np.array([0.0, 0.0, 0.0, 4.0, 1.0])
    >>> two_quantiles(w, 2, 3, 0.0, 0.1, 0.9) == tuple(np.quantile(full, [0.1, 0.9]))
    True
    """
    n = n_values + n_floor
    scratch = np.empty(max(n_values, 1))
    sample = np.empty(_SAMPLE)
    if n_values >= 4 * _SAMPLE:
        step = n_values // _SAMPLE
        for j in range(_SAMPLE):
            sample[j] = values[j * step]
    out = np.empty(2)
    for side in range(2):
        pos = (lo_q if side == 0 else hi_q) * (n - 1)
        k = int(math.floor(pos))
        k1 = min(k + 1, n - 1)
        if k1 < n_floor:
            first, second = floor, floor
        elif k < n_floor:  # k + 1 is the least value
            first, second = floor, values[:n_values].min()
        else:
            first, second = _order_pair(values, n_values, k - n_floor, k1 - n_floor, sample,
                                        scratch)
        out[side] = _lerp(first, second, pos - k)
    return out[0], out[1]


#: Values sampled to set the threshold of the candidates of an order statistic.
_SAMPLE = 32


@numba.njit(nogil=True, cache=True)
def _order_pair(values, n, k, k1, sample, scratch):
    """Order statistics k and k1 = k or k + 1 (0-based) of ``values[:n]``, selected in
    ``scratch`` among the candidates beyond a threshold from ``sample`` (reordered; or
    among all the values when ``n`` is small or the threshold misses)."""
    c = 0
    if n >= 4 * _SAMPLE:
        top = k > n // 2
        # ranks to cover from the nearer end, and a sample rank about 1.5 times beyond
        reach = n - k if top else k1 + 1
        j = min(_SAMPLE - 1, 2 + (3 * reach * _SAMPLE) // (2 * n))
        if top:
            _select(sample, 0, _SAMPLE, _SAMPLE - 1 - j)
            cut = sample[_SAMPLE - 1 - j]
            for i in range(n):  # branch-free: write always, advance when kept
                v = values[i]
                scratch[c] = v
                c += v >= cut
            if c >= reach:
                base = n - c
                return _select_pair(scratch, c, k - base, k1 - base)
        else:
            _select(sample, 0, _SAMPLE, j)
            cut = sample[j]
            for i in range(n):
                v = values[i]
                scratch[c] = v
                c += v <= cut
            if c >= reach:
                return _select_pair(scratch, c, k, k1)
    scratch[:n] = values[:n]
    return _select_pair(scratch, n, k, k1)


@numba.njit(nogil=True, cache=True)
def _select_pair(values, n, k, k1):
    """Order statistics k and k1 = k or k + 1 of ``values[:n]`` (reordered)."""
    _select(values, 0, n, k)
    if k1 == k:
        return values[k], values[k]
    best = values[k + 1]
    for i in range(k + 2, n):
        if values[i] < best:
            best = values[i]
    return values[k], best


@numba.njit(nogil=True, cache=True)
def _select(values, lo, hi, k):
    """Reorder ``values[lo:hi]`` so that ``values[k]`` is its (k - lo)-th smallest, the
    smaller before it and the larger after it.

    Quickselect with a median-of-three pivot and a branch-free Lomuto partition (every
    element is swapped, the boundary advances by the comparison): the comparisons of a
    selection are unpredictable, and a mispredicted branch costs more than the swap.
    Values equal to the pivot are gathered after the smaller ones, so ties end it.
    """
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        a, b, c = values[lo], values[mid], values[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        store = lo
        for i in range(lo, hi):
            v = values[i]
            values[i] = values[store]
            values[store] = v
            store += v < pivot
        if k < store:
            hi = store
            continue
        equal = store
        for i in range(store, hi):
            v = values[i]
            values[i] = values[equal]
            values[equal] = v
            equal += v == pivot
        if k < equal:
            return
        lo = equal


@numba.njit(nogil=True, cache=True, inline="always")
def _lerp(lo, hi, t):
    """NumPy's ``_lerp``: from the nearer end, so that t = 0 and t = 1 are exact."""
    diff = hi - lo
    if t >= 0.5:
        return hi - diff * (1.0 - t)
    return lo + diff * t
