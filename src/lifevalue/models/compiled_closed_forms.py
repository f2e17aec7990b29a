"""Compiled BG/NBD closed forms for scoring many customers and draws: P(alive) per draw
and customer, and expected purchases and survival of an active customer at many period
edges at once.

P(alive) (Fader, Hardie & Lee 2008) is one pass over a ``(draws, customers)`` array without
NumPy's temporaries.

Value scoring needs, for every population draw and every unique (x, T) row, the
expected purchases in (T, T+t] of a customer alive at T (FHL 2005a, eq. 10) and the
probability of still being alive at T+t, at each of the P period edges t. Both are
Gauss hypergeometric functions of the same argument ``w = t / (alpha + T + t)``
(:func:`lifevalue.models.predictions.expected_purchases_if_alive` and
:func:`~lifevalue.models.predictions.survival_if_alive`). After Euler's transformation
``2F1(A, B; C; w) = (1-w)^(C-A-B) 2F1(C-A, C-B; C; w)`` (Abramowitz & Stegun 15.3.3)
they read

``E[N(t) | alive] = C/(a-1) [1 - (1-w)^(a-1)]
- C (1-w)^(a-1) sum_{n>=1} (a+b-1-r)_n (a)_(n-1) / ((C)_n n!) w^n``, ``C = a+b+x-1``;

``S(t | alive) = (1-w)^a sum_{n>=0} (a+b-r)_n (a)_n / ((C+1)_n n!) w^n``.

The series' coefficients do not depend on t, so one pass over n serves all edges of a
row: each term is one multiplication per edge. The ``1/(a-1)`` of eq. (10) is taken
out analytically, so ``a = 1`` needs no special case. Terms are summed until the
remainder is below ``1e-17`` of the sum at the largest edge.
"""

from __future__ import annotations

import numba
import numpy as np

from lifevalue.models import table_grid as tg
from lifevalue.models.kernels import _FASTMATH, _exp_nonpositive, _log_positive
from lifevalue.models.rows import unique_rows

#: Relative size of the last term kept.
_EPS = 1e-17


def purchases_and_survival(r, alpha, a, b, x, T, rate, dropout, edges):
    """Expected purchases and survival of an active customer at each period edge.

    Parameters
    ----------
    r, alpha, a, b : arrays ``(S,)``
        Population draws of the BG/NBD parameters.
    x, T : arrays ``(U,)``
        Unique rows' repeat purchases and age.
    rate, dropout : arrays ``(U,)`` or ``(S, U)``
        A scenario's purchase-rate and dropout multipliers per row (or per draw and row,
        as a benchmark potential gives): time runs ``rate`` times faster (``t -> rate *
        t``) and the dropout shape is ``dropout * a``.
    edges : array ``(P,)``
        Times after T, all >= 0.

    Returns
    -------
    purchases, survival : arrays ``(S, U, P)``
        ``E[N(T, T+t] | alive at T]`` (FHL 2005a, eq. 10) and ``P(alive at T+t | alive
        at T)``, equal to :func:`lifevalue.models.predictions.expected_purchases_if_alive`
        and :func:`~lifevalue.models.predictions.survival_if_alive` at ``t = rate *
        edge`` and ``a = dropout * a``.

    Examples
    --------
    >>> import numpy as np
    >>> from lifevalue.models import predictions as pr
    >>> e, s = purchases_and_survival(*(np.array([v]) for v in (0.243, 4.414, 0.793,
    ...                               2.426, 2.0, 38.86, 1.0, 1.0)), np.array([39.0]))
    >>> bool(np.isclose(e[0, 0, 0], pr.expected_purchases_if_alive(
    ...     0.243, 4.414, 0.793, 2.426, 2.0, 38.86, 39.0), rtol=1e-12))
    True
    """
    arrays = [np.ascontiguousarray(v, dtype="float64")
              for v in (r, alpha, a, b, x, T, rate, dropout, edges)]
    S, U, P = len(arrays[0]), len(arrays[4]), len(arrays[8])
    for j in (6, 7):  # one multiplier per draw and row
        arrays[j] = np.ascontiguousarray(np.broadcast_to(arrays[j], (S, U)))
    purchases, survival = np.empty((S, U, P)), np.empty((S, U, P))
    _tables(*arrays, purchases, survival)
    return purchases, survival


def purchases_if_alive_rows(r, alpha, a, b, x, T, t) -> np.ndarray:
    """Expected purchases in (T, T+t] of a customer alive at T (FHL 2005a, eq. 10, as
    :func:`purchases_and_survival`) for draws ``(S,)`` and rows ``(k,)``, shape ``(S, k)``:
    summed on the nodes of the table grid in T (:mod:`lifevalue.models.table_grid`) and
    interpolated at each row's (x, T), within the grid's bound (1e-7 relative) of the
    series at the row's own T, at a cost that does not grow with how finely T is
    recorded.

    Examples
    --------
    >>> from lifevalue.models import predictions as pr
    >>> e = purchases_if_alive_rows(*(np.array([v]) for v in (0.243, 4.414, 0.793, 2.426,
    ...                             2.0, 38.86)), 39.0)
    >>> bool(np.isclose(e[0, 0], pr.expected_purchases_if_alive(
    ...     0.243, 4.414, 0.793, 2.426, 2.0, 38.86, 39.0), rtol=1e-7))
    True
    """
    r, alpha, a, b = (np.asarray(v, dtype="float64") for v in (r, alpha, a, b))
    ux, uT, _, row = unique_rows(x, T, return_inverse=True)
    one = np.ones(len(ux))
    grid = tg.build_grid(np.stack([ux, uT, one, one], axis=1), 0.5 * float(np.min(alpha)))
    ones = np.ones(grid.n_nodes)
    at_nodes = purchases_and_survival(r, alpha, a, b, grid.nodes[:, 0], grid.nodes[:, 1],
                                      ones, ones, np.array([float(t)]))[0][:, :, 0]
    return tg.at_rows(grid, at_nodes)[:, row]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _tables(r, alpha, a, b, x, T, rate, dropout, edges, purchases, survival):
    S, U, P = purchases.shape
    w = np.empty(P)
    term_e = np.empty(P)
    term_s = np.empty(P)
    sum_e = np.empty(P)
    sum_s = np.empty(P)
    for s in range(S):
        for u in range(U):
            ad = a[s] * dropout[s, u]
            c = ad + b[s] + x[u] - 1.0       # C of eq. (10)
            a1 = ad + b[s] - 1.0 - r[s]      # C - A
            base = alpha[s] + T[u]
            k_max = 0
            for k in range(P):
                tau = rate[s, u] * edges[k]
                w[k] = tau / (base + tau)
                if w[k] > w[k_max]:
                    k_max = k
                term_e[k] = 1.0
                term_s[k] = 1.0
                sum_e[k] = 0.0
                sum_s[k] = 1.0
            w_max = w[k_max]
            tail = w_max / (1.0 - w_max)
            n = 0
            while True:
                # t_{n+1} / t_n, without w: eq. (10) series (a)_(n-1) from n = 1 on, and
                # the survival series (a)_n
                if n == 0:
                    ratio_e = a1 / c
                else:
                    ratio_e = (a1 + n) * (ad + n - 1.0) / ((c + n) * (n + 1.0))
                ratio_s = (a1 + 1.0 + n) * (ad + n) / ((c + 1.0 + n) * (n + 1.0))
                done = True
                for k in range(P):
                    term_e[k] *= ratio_e * w[k]
                    term_s[k] *= ratio_s * w[k]
                    sum_e[k] += term_e[k]
                    sum_s[k] += term_s[k]
                n += 1
                # the remainder after a term t_n whose ratios tend to w is about
                # t_n w / (1 - w); stop once the ratios are below 1 and the remainder is
                # negligible at the largest edge (the slowest to converge)
                if (ratio_e * w_max >= 1.0 or ratio_s * w_max >= 1.0
                        or abs(term_e[k_max]) * tail > _EPS * abs(sum_e[k_max])
                        or abs(term_s[k_max]) * tail > _EPS * abs(sum_s[k_max])):
                    done = False
                if done or n > 100_000:
                    break
            _finish(w, ad, c, sum_e, sum_s, purchases[s, u], survival[s, u])


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _finish(w, ad, c, sum_e, sum_s, purchases, survival):
    """The factors in front of the series at each edge, in SIMD lanes:
    ``E = C [(1 - (1-w)^(a-1)) / (a-1) - (1-w)^(a-1) sum_e]`` and ``S = (1-w)^a sum_s``
    (``-log(1-w)`` in place of the fraction at a = 1)."""
    at_one = abs(ad - 1.0) <= 1e-12
    for k in range(len(w)):
        log1m = _log1m(w[k])
        y = (ad - 1.0) * log1m
        power = _exp(y)                                   # (1-w)^(a-1)
        front = -log1m if at_one else -_expm1(y, power) / (ad - 1.0)
        purchases[k] = c * (front - power * sum_e[k])
        survival[k] = power * (1.0 - w[k]) * sum_s[k]


@numba.njit(error_model="numpy", fastmath=_FASTMATH, inline="always")
def _log1m(w):
    """``log(1 - w)`` for ``0 <= w < 1``, vectorisable: a series below 0.01 (where ``1 - w``
    would lose digits; truncation below 1e-19 of the value), else the log of 1 - w."""
    v = min(w, 0.9999999999999999)
    series = -v * (1.0 + v * (0.5 + v * (1.0 / 3.0 + v * (0.25 + v * (0.2 + v * (
        1.0 / 6.0 + v * (1.0 / 7.0 + v * (0.125 + v * (1.0 / 9.0)))))))))
    direct = _log_positive(max(1.0 - v, 1e-300))
    return series if v < 0.01 else direct


@numba.njit(error_model="numpy", fastmath=_FASTMATH, inline="always")
def _exp(y):
    """``exp(y)`` for any sign of y, vectorisable (``|y| <= 708``)."""
    e = _exp_nonpositive(-abs(y))
    return e if y <= 0.0 else 1.0 / e


@numba.njit(error_model="numpy", fastmath=_FASTMATH, inline="always")
def _expm1(y, exp_y):
    """``exp(y) - 1`` given ``exp_y``: its Taylor series below |y| = 0.01 (truncation
    below 1e-19 of the value), else the difference (below 1e-13 relative error)."""
    series = y * (1.0 + y * (0.5 + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (
        1.0 / 120.0 + y * (1.0 / 720.0 + y * (1.0 / 5040.0)))))))
    return series if abs(y) < 0.01 else exp_y - 1.0


def p_alive_draws(r, alpha, a, b, x, t_x, T, first_dropout: float = 1.0) -> np.ndarray:
    """P(alive) for draws ``(S,)`` and customers ``(n,)``, shape ``(S, n)``.

    Fader, Hardie & Lee (2008): ``1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``;
    exactly 1 without repeat purchases. Equals
    :func:`lifevalue.models.predictions.p_alive` to rounding.

    ``first_dropout`` is the purchase at which the first chance to drop out comes: 1
    for the BG/NBD (after the first repeat purchase), 0 for the MBG/NBD (right after
    the first purchase; Batislam, Denizel & Filiztekin 2007), which is this
    formula with ``b`` one larger (``b + 1`` for the MBG/NBD's ``b``) and x = 0 included:
    ``1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``.

    Examples
    --------
    >>> float(p_alive_draws(*(np.array([v]) for v in (0.243, 4.414, 0.793, 2.426, 2.0,
    ...                                               30.43, 38.86)))[0, 0]).__round__(4)
    0.7266
    """
    arrays = [np.ascontiguousarray(v, dtype="float64") for v in (r, alpha, a, b, x, t_x, T)]
    out = np.empty((len(arrays[0]), len(arrays[4])))
    _p_alive(*arrays, float(first_dropout), out)
    return out


def no_purchase_draws(r, alpha, x, T, window) -> np.ndarray:
    """P(no purchase in (T, T + window] | alive) for draws ``(S,)`` and customers
    ``(n,)``, shape ``(S, n)``: ``((alpha+T)/(alpha+T+window))^(r+x)`` (FHL 2005a, eq. 6
    given the posterior of lambda). ``window`` is one length or one per customer (a
    purchase-rate multiplier times the horizon).

    Examples
    --------
    >>> q = no_purchase_draws(np.array([0.243]), np.array([4.414]), np.array([2.0]),
    ...                       np.array([38.86]), 52.0)
    >>> bool(np.isclose(q[0, 0], ((4.414 + 38.86) / (4.414 + 38.86 + 52.0)) ** 2.243))
    True
    """
    arrays = [np.ascontiguousarray(v, dtype="float64") for v in (r, alpha, x, T)]
    window = np.ascontiguousarray(np.broadcast_to(np.asarray(window, dtype="float64"),
                                                  (len(arrays[2]),)))
    out = np.empty((len(arrays[0]), len(arrays[2])))
    _no_purchase(*arrays, window, out)
    return out


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _no_purchase(r, alpha, x, T, window, out):
    # the branch-free logarithm and exponential run in SIMD lanes (libm's do not): the
    # simulation of purchase counts spent a third of its time here with them
    for s in range(len(r)):
        row = out[s]
        for i in range(len(x)):
            base = alpha[s] + T[i]
            row[i] = _exp_nonpositive((r[s] + x[i]) * _log_positive(
                base / (base + window[i])))


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _p_alive(r, alpha, a, b, x, t_x, T, first, out):
    S, n = out.shape
    for s in range(S):
        for i in range(n):
            out[s, i] = p_alive_one(r[s], alpha[s], a[s], b[s], x[i], t_x[i], T[i], first)


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def p_alive_one(r, alpha, a, b, x, t_x, T, first):
    """P(alive) of one customer at one draw (Fader, Hardie & Lee 2008), as a logistic function of
    the log odds of having dropped out (as :func:`lifevalue.models.predictions.p_alive`),
    so that it never overflows; exactly 1 before the first chance to drop out
    (``x < first``; see :func:`p_alive_draws`).

    Branch-free, with the vectorisable exp and log of :mod:`lifevalue.models.kernels`
    (a few ulp from libm's, and about four times faster here in SIMD lanes): the loops
    that call it over draws or customers run in vector lanes.
    """
    lo = (_log_positive(a) - _log_positive(b + max(x, first) - 1.0)
          + (r + x) * _log_positive((alpha + T) / (alpha + t_x)))
    p = alive_given_log_odds(lo)
    return p if x >= first else 1.0


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def alive_given_log_odds(lo):
    """``1 / (1 + exp(lo))`` without overflow, branch-free: P(alive) from the log odds
    ``lo`` of having dropped out."""
    e = _exp_nonpositive(-abs(lo))
    return (e if lo > 0.0 else 1.0) / (1.0 + e)


#: Most distinct ages and recencies for which :func:`alive_log_tables` tabulates.
MAX_TABULATED = 4096


def alive_log_tables(r, alpha, a, b, x, t_x, T, first_dropout: float = 1.0):
    """The logs of P(alive) per draw, tabulated on the customers' distinct values.

    The log odds of having dropped out are ``log(a/(b+x-1)) + (r+x) (log(alpha+T) -
    log(alpha+t_x))`` (``first_dropout`` as in :func:`p_alive_draws`). With few distinct
    x and few distinct T and t_x (days, weeks), ``log(a/(b+x-1))`` per distinct x and
    ``log(alpha+v)`` per distinct value v are computed once per draw, and P(alive) of a
    customer and draw is a lookup, a multiply-add and one exp.

    Returns
    -------
    (by_x, by_value, ix, iT, it) or None
        ``by_x`` ``(distinct x, S)`` and ``by_value`` ``(distinct T and t_x, S)``, and each
        customer's rows in them; None when there are more than :data:`MAX_TABULATED`
        distinct values of either.
    """
    xs, ix = np.unique(np.asarray(x, dtype="float64"), return_inverse=True)
    values = np.unique(np.concatenate([np.asarray(T, dtype="float64"),
                                       np.asarray(t_x, dtype="float64")]))
    if len(xs) > MAX_TABULATED or len(values) > MAX_TABULATED:
        return None
    a, b, alpha = (np.asarray(v, dtype="float64") for v in (a, b, alpha))
    by_x = np.log(a)[None, :] - np.log(b[None, :] + np.maximum(xs, first_dropout)[:, None]
                                       - 1.0)
    by_value = np.log(alpha[None, :] + values[:, None])
    return (by_x, by_value, ix.astype(np.int64), np.searchsorted(values, T).astype(np.int64),
            np.searchsorted(values, t_x).astype(np.int64))


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def p_alive_tabulated(r, x, log_x, log_T, log_t):
    """P(alive) at one draw (``x >= first_dropout``) from the logs of
    :func:`alive_log_tables`: the
    customer's entries of ``by_x`` and of ``by_value`` at T and at t_x.

    Callers take the three rows once (``by_x[ix]``, ...) and loop over the draws of
    those 1-D rows: indexing the 2-D tables inside the loop kept it out of SIMD lanes
    (about four times slower, measured).
    """
    return alive_given_log_odds(log_x + (r + x) * (log_T - log_t))
