"""Compiled log-likelihood kernels: value and gradient in one pass, for NUTS.

NUTS spends nearly all its time in gradient evaluations, and at a million customers
each one is a pass over a few hundred thousand unique rows (:mod:`.likelihoods`) that
costs one or two transcendental functions per row. NumPy evaluates them one array
operation at a time, and numba's scalar ``exp``/``log1p`` (libm, no SVML) do not
vectorise. Here they are written out as branch-free polynomials after an exact range
reduction, so that LLVM turns each loop over the rows into AVX2 code: the exponential
by Cody-Waite reduction ``y = k log 2 + r`` (``|r| <= log(2)/2``) and a degree 13
Taylor polynomial, with ``2^k`` assembled in the exponent bits; the logarithm from the
exponent bits and ``2 atanh(s)``, ``s = f / (2 + f)``, ``|s| <= 0.172``. Both are
within a few units in the last place of NumPy's (the tests check the totals against
:mod:`.likelihoods` to 1e-12).

The kernels compute exactly the sums of :func:`.likelihoods.bgnbd_total_loglik_grad`
(Fader, Hardie & Lee 2005, eq. 6) and :func:`.likelihoods.gamma_gamma_total_loglik_grad`
(Fader & Hardie 2013) on the same sufficient statistics, regrouped:

* BG/NBD: ``-(r+x) log(alpha+T)`` is summed per distinct T with the count-weighted
  totals of 1 and x per T; only the repeat customers' triples evaluate
  ``softplus(B - A)`` and its sigmoid (two logarithms, one exponential, two divisions),
  in blocks of equal x, read contiguously; the x-only terms (``lgamma``, digamma) are
  evaluated once per distinct x.
* Gamma-Gamma: one ``log(gamma + m x)`` and one reciprocal per unique (x, m) pair.

Every kernel is ``nogil``, so NUTS chains in threads run on separate cores, and
``cache=True``: the first call in a fresh environment compiles (a few seconds), later
processes load the machine code from ``__pycache__``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from lifevalue.models.nuts_density import (
    add_profile,
    array_f8,
    array_i8,
    begin,
    end,
    profile_params,
)

#: Fast-math flags of the row loops: ``reassoc`` lets LLVM split the sums over rows
#: into vector lanes (the order of additions differs from NumPy's by rounding only);
#: ``contract`` allows fused multiply-adds. No flag assumes away NaN or infinity.
_FASTMATH = {"reassoc", "contract"}
_JIT = {"nogil": True, "cache": True, "error_model": "numpy", "fastmath": _FASTMATH}
_INLINE = {"inline": "always", "error_model": "numpy", "fastmath": _FASTMATH}

_INV_LN2 = 1.4426950408889634
_LN2 = 0.6931471805599453
_LN2_HI = 6.93147180369123816490e-01  # log(2) in two parts (Cody-Waite)
_LN2_LO = 1.90821492927058770002e-10
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding it puts an integer in the low bits
_TWO52 = 4503599627370496.0
_SQRT2 = 1.4142135623730951
_SQRT2M1 = 0.41421356237309503
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000  # the bits of 1.0
_INT_BITS = 0x4330000000000000  # the bits of 2**52


@intrinsic
def _as_float(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (no conversion)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@intrinsic
def _as_bits(typingctx, value):
    """Reinterpret the bits of a float64 as an int64 (no conversion)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


# ------------------------------------------------------------ vectorisable functions


@numba.njit(**_INLINE)
def _exp_nonpositive(y):
    """``exp(y)`` for ``y <= 0``, vectorisable; ``y < -708`` gives ``exp(-708)``.

    ``k = round(y / log 2)``, ``r = y - k log 2`` in two parts, ``exp(r)`` by its degree
    13 Taylor polynomial in Estrin's scheme (truncation below 1e-17 for
    ``|r| <= 0.347``), and ``2^k`` written into the exponent bits: adding
    ``2^52 + 2^51`` to ``y / log 2`` rounds it to the integer k, which then sits in the
    low bits (faster than ``floor``, which does not vectorise as well).
    """
    y = max(y, -708.0)
    shifted = y * _INV_LN2 + _SHIFT  # rounds to k + _SHIFT (LLVM may not fold this
    bits = _as_bits(shifted)         # subtraction without 'nsz', which is not set)
    kf = shifted - _SHIFT
    r = (y - kf * _LN2_HI) - kf * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    q0 = 1.0 + r
    q1 = 0.5 + r * (1.0 / 6.0)
    q2 = 1.0 / 24.0 + r * (1.0 / 120.0)
    q3 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    q4 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    q5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    q6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    lo = (q0 + r2 * q1) + r4 * (q2 + r2 * q3)
    hi = (q4 + r2 * q5) + r4 * q6
    return (lo + (r4 * r4) * hi) * _as_float((bits + 1023) << 52)


@numba.njit(**_INLINE)
def _atanh_ratio(z):
    """``atanh(s) / s`` for ``z = s^2 <= 0.0295``: ``sum z^k / (2k+1)``, k <= 10
    (truncation below 1e-18), in Estrin's scheme."""
    z2 = z * z
    z4 = z2 * z2
    u0 = (1.0 + z * (1.0 / 3.0)) + z2 * (1.0 / 5.0 + z * (1.0 / 7.0))
    u1 = (1.0 / 9.0 + z * (1.0 / 11.0)) + z2 * (1.0 / 13.0 + z * (1.0 / 15.0))
    u2 = (1.0 / 17.0 + z * (1.0 / 19.0)) + z2 * (1.0 / 21.0)
    return (u0 + z4 * u1) + (z4 * z4) * u2


@numba.njit(**_INLINE)
def _log_positive(z):
    """``log(z)`` for a positive, normal, finite ``z``, vectorisable.

    ``z = 2^k m`` with ``m`` in ``[sqrt(2)/2, sqrt(2))`` from the bits, then
    ``log m = 2 atanh(s)``, ``s = (m - 1)/(m + 1)``, and ``k log 2`` in two parts.
    """
    bits = _as_bits(z)
    k = _as_float((bits >> 52) | _INT_BITS) - (_TWO52 + 1023.0)
    m = _as_float((bits & _MANTISSA) | _ONE_BITS)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    k = k + 1.0 if big else k
    f = m - 1.0
    s = f / (2.0 + f)
    # 2 atanh(s) = 2 s + 2 s z P(z) and 2 s = f - s f
    log_m = f - s * (f - 2.0 * (_atanh_ratio(s * s) - 1.0))
    return k * _LN2_HI + (log_m + k * _LN2_LO)


@numba.njit(**_INLINE)
def _softplus_sigmoid(d):
    """``softplus(d) = log(1 + e^d)`` and ``sigmoid(d)``, sharing ``e = exp(-|d|)`` and
    one division.

    ``softplus(d) = max(d, 0) + log1p(e)``; ``log1p(e)`` for ``e`` in ``[0, 1]`` is
    ``2 atanh(f / (2 + f))`` with ``f = e``, or, above ``sqrt(2) - 1``,
    ``log 2 + 2 atanh(f / (2 + f))`` with ``f = (e - 1)/2``, so that ``|s| <= 0.172``.
    """
    e = _exp_nonpositive(-abs(d))
    big = e > _SQRT2M1
    f = 0.5 * (e - 1.0) if big else e
    k = _LN2 if big else 0.0
    inv = 1.0 / ((2.0 + f) * (1.0 + e))
    s = f * (1.0 + e) * inv
    softplus = max(d, 0.0) + (k + 2.0 * s * _atanh_ratio(s * s))
    sigmoid = (1.0 if d > 0 else e) * (2.0 + f) * inv
    return softplus, sigmoid


@numba.njit(error_model="numpy")
def _digamma(x):
    """Digamma of ``x > 0``: the recurrence ``psi(x) = psi(x + 1) - 1/x`` up to 10,
    then the asymptotic series (error below 1e-16 there)."""
    out = 0.0
    while x < 10.0:
        out -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    tail = f * (-1.0 / 12.0 + f * (1.0 / 120.0 + f * (-1.0 / 252.0 + f * (
        1.0 / 240.0 + f * (-1.0 / 132.0 + f * (691.0 / 32760.0 + f * (-1.0 / 12.0)))))))
    return out + math.log(x) - 0.5 / x + tail


# ----------------------------------------------------------------------------- BG/NBD


def bgnbd_kernel_data(stats) -> tuple:
    """The arrays :func:`bgnbd_loglik_grad` reads, from :class:`.likelihoods.BGNBDStats`.

    Per distinct x: x and its count, ``max(x, 1) - 1``; per distinct T: T and the
    count-weighted totals of 1 and x over all triples; then the repeat customers' triples
    sorted by x, as contiguous T, ``t_x - T`` and count, and where each distinct x's
    block of them starts (``n_x + 1`` offsets).
    """
    w = np.asarray(stats.count, dtype="float64")
    n_T = len(stats.T_unique)
    c_T = np.bincount(stats.T_index, weights=w, minlength=n_T)
    cx_T = np.bincount(stats.T_index, weights=w * stats.x, minlength=n_T)
    rep = np.flatnonzero(stats.repeat > 0)
    order = rep[np.argsort(stats.x_index[rep], kind="stable")]
    xu = np.asarray(stats.x_unique, dtype="float64")
    sizes = np.bincount(stats.x_index[order], minlength=len(xu))
    start = np.concatenate([[0], np.cumsum(sizes)]).astype("int64")
    T = np.ascontiguousarray(stats.T[order], dtype="float64")
    return (
        xu, np.asarray(stats.x_count, dtype="float64"), np.maximum(xu, 1.0) - 1.0,
        np.asarray(stats.T_unique, dtype="float64"), c_T, cx_T,
        T, np.ascontiguousarray(stats.t_x[order] - T), np.ascontiguousarray(w[order]), start,
    )


@numba.njit(**_JIT)
def _log_and_inverse_table(shift, values):
    """``(log(shift + v), 1 / (shift + v))`` per value, as rows of an (n, 2) array."""
    out = np.empty((len(values), 2))
    for i in range(len(values)):
        z = shift + values[i]
        out[i, 0] = _log_positive(z)
        out[i, 1] = 1.0 / z
    return out


@numba.njit(**_JIT)
def _bgnbd_block(alpha, rx, c, T, dT, w):
    """Sums over one x's repeat triples of the bracket of FHL 2005 eq. (6).

    With ``u = alpha + T``, ``v = alpha + t_x = u + dT``, ``d0 = log(u / v)``,
    ``D = B - A = c + (r+x) d0`` (``c = log a - log(b+x-1)``, see
    :func:`.likelihoods._bgnbd_tail`) and ``s = sigmoid(D)``, returns the count-weighted
    sums of ``softplus(D)``, ``s``, ``s d0`` and ``s (1/u - 1/v) = s dT / (u v)``.

    Every row's values are computed in place (one division, one logarithm), not looked
    up per distinct T and t_x: a vector gather per lookup cost more than the arithmetic
    (six times the time of this loop on an Intel Xeon with AVX2). The rows come as
    slices: with ``range(lo, hi)`` numba cannot prove the index non-negative, and its
    wrap-around of negative indices turns every load into a gather.
    """
    a0 = a1 = a2 = a3 = 0.0
    for i in range(len(T)):
        u = alpha + T[i]
        inv_uv = 1.0 / (u * (u + dT[i]))
        d0 = _log_positive(u * u * inv_uv)
        softplus, sigmoid = _softplus_sigmoid(c + rx * d0)
        ws = w[i] * sigmoid
        a0 += w[i] * softplus
        a1 += ws
        a2 += ws * d0
        a3 += ws * dT[i] * inv_uv
    return a0, a1, a2, a3


@numba.njit(**_JIT)
def bgnbd_loglik_grad(r, alpha, a, b, x_unique, x_count, x_minus_1, T_unique, c_T, cx_T,
                      T, dT, w, start):
    """Total BG/NBD log-likelihood (FHL 2005, eq. 6) and its gradient in (r, alpha, a, b).

    The arguments after the parameters are :func:`bgnbd_kernel_data`'s. Equals
    :func:`.likelihoods.bgnbd_total_loglik_grad` up to rounding; see the module
    docstring for how the sums are grouped.

    Returns
    -------
    ll : float
    grad : ndarray, shape (4,)
    """
    log_alpha = math.log(alpha)
    lg_r, lg_b, lg_ab = math.lgamma(r), math.lgamma(b), math.lgamma(a + b)
    psi_r, psi_b, psi_ab = _digamma(r), _digamma(b), _digamma(a + b)
    log_a = math.log(a)
    ll = 0.0
    g = np.zeros(4)
    n = 0.0
    for i in range(len(x_unique)):  # x-only terms, once per distinct x
        xu, c = x_unique[i], x_count[i]
        ll += c * (math.lgamma(r + xu) - lg_r + r * log_alpha + math.lgamma(b + xu) + lg_ab
                   - math.lgamma(a + b + xu) - lg_b)
        psi_abx = _digamma(a + b + xu)
        g[0] += c * (_digamma(r + xu) - psi_r + log_alpha)
        g[2] += c * (psi_ab - psi_abx)
        g[3] += c * (_digamma(b + xu) + psi_ab - psi_abx - psi_b)
        n += c
        lo, hi = start[i], start[i + 1]
        if hi > lo:  # the repeat triples with this x
            rx, zb = r + xu, b + x_minus_1[i]
            softplus, s, s_d0, s_dinv = _bgnbd_block(
                alpha, rx, log_a - math.log(zb), T[lo:hi], dT[lo:hi], w[lo:hi])
            ll += softplus
            g[0] += s_d0
            g[1] += rx * s_dinv
            g[2] += s / a
            g[3] -= s / zb
    g[1] += n * r / alpha
    tab_T = _log_and_inverse_table(alpha, T_unique)
    for i in range(len(T_unique)):  # -(r+x) log(alpha+T), once per distinct T
        ll -= (r * c_T[i] + cx_T[i]) * tab_T[i, 0]
        g[0] -= c_T[i] * tab_T[i, 0]
        g[1] -= (r * c_T[i] + cx_T[i]) * tab_T[i, 1]
    return ll, g


# ------------------------------------------------------------------------ Gamma-Gamma


def gamma_gamma_kernel_data(stats) -> tuple:
    """The arrays :func:`gamma_gamma_loglik_grad` reads, from
    :class:`.likelihoods.GammaGammaStats`: distinct x and counts, and per unique pair
    ``m x``, its count and count times x; then the two fixed sums of log m."""
    w = np.asarray(stats.count, dtype="float64")
    x = np.asarray(stats.x, dtype="float64")
    return (
        np.asarray(stats.x_unique, dtype="float64"), np.asarray(stats.x_count, dtype="float64"),
        np.ascontiguousarray(stats.m * x), w, w * x,
        float(stats.sum_x_log_m), float(stats.sum_log_m),
    )


@numba.njit(**_JIT)
def _gamma_gamma_pairs(gamma, y, w, wx):
    """Count-weighted sums over the pairs of ``x L``, ``L``, ``x / (gamma + y)`` and
    ``1 / (gamma + y)``, with ``L = log(gamma + y)`` and ``y = m x``."""
    a0 = a1 = a2 = a3 = 0.0
    for i in range(len(y)):
        z = gamma + y[i]
        log_z = _log_positive(z)
        inv = 1.0 / z
        a0 += wx[i] * log_z
        a1 += w[i] * log_z
        a2 += wx[i] * inv
        a3 += w[i] * inv
    return a0, a1, a2, a3


@numba.njit(**_JIT)
def gamma_gamma_loglik_grad(p, q, gamma, x_unique, x_count, y, w, wx, sum_x_log_m,
                            sum_log_m):
    """Total Gamma-Gamma log-likelihood (Fader & Hardie 2013) and its gradient in
    (p, q, gamma).

    The arguments after the parameters are :func:`gamma_gamma_kernel_data`'s. Equals
    :func:`.likelihoods.gamma_gamma_total_loglik_grad` up to rounding.

    Returns
    -------
    ll : float
    grad : ndarray, shape (3,)
    """
    log_gamma = math.log(gamma)
    lg_q, psi_q = math.lgamma(q), _digamma(q)
    ll = p * sum_x_log_m - sum_log_m
    g = np.zeros(3)
    g[0] = sum_x_log_m
    n = 0.0
    for i in range(len(x_unique)):  # x-only terms, once per distinct x
        xu, c = x_unique[i], x_count[i]
        px = p * xu
        log_x = math.log(xu)
        ll += c * (math.lgamma(px + q) - math.lgamma(px) - lg_q + q * log_gamma + px * log_x)
        psi_pxq = _digamma(px + q)
        g[0] += c * xu * (psi_pxq - _digamma(px) + log_x)
        g[1] += c * (psi_pxq - psi_q + log_gamma)
        n += c
    s_wxL, s_wL, s_wx_inv, s_w_inv = _gamma_gamma_pairs(gamma, y, w, wx)
    ll -= p * s_wxL + q * s_wL
    g[0] -= s_wxL
    g[1] -= s_wL
    g[2] = n * q / gamma - p * s_wx_inv - q * s_w_inv
    return ll, g


# ---------------------------------------------- C log densities for nutpie (NUTS)
# Each ``*_at`` reads its kernel's arrays from the user data of :mod:`.nuts_density`
# (in the order of ``*_kernel_data``), from the k-th on, and calls the kernel at ``p``.


@numba.njit(error_model="numpy")
def bgnbd_at(user_data, k, p):
    """:func:`bgnbd_loglik_grad` at ``p`` on the 10 arrays from the k-th."""
    return bgnbd_loglik_grad(
        p[0], p[1], p[2], p[3], array_f8(user_data, k), array_f8(user_data, k + 1),
        array_f8(user_data, k + 2), array_f8(user_data, k + 3), array_f8(user_data, k + 4),
        array_f8(user_data, k + 5), array_f8(user_data, k + 6), array_f8(user_data, k + 7),
        array_f8(user_data, k + 8), array_i8(user_data, k + 9))


def bgnbd_density(n, z_, grad_, logp_, user_data):
    """The BG/NBD's log density in z for nutpie (:mod:`lifevalue.models.nuts_density`)."""
    theta, values, prof, own, grad = begin(n, z_, user_data)
    ll = 0.0
    for g in range(int(prof[0])):
        profile_params(prof, g, values, own)
        ll += add_profile(prof, g, own, *bgnbd_at(user_data, 2 + 10 * g, own), grad)
    return end(ll, grad, theta, values, n, user_data, grad_, logp_)


@numba.njit(error_model="numpy")
def _gamma_gamma_at(user_data, k, p):
    """:func:`gamma_gamma_loglik_grad` at ``p`` on the 7 arrays from the k-th."""
    return gamma_gamma_loglik_grad(
        p[0], p[1], p[2], array_f8(user_data, k), array_f8(user_data, k + 1),
        array_f8(user_data, k + 2), array_f8(user_data, k + 3), array_f8(user_data, k + 4),
        array_f8(user_data, k + 5)[0], array_f8(user_data, k + 6)[0])


def gamma_gamma_density(n, z_, grad_, logp_, user_data):
    """Gamma-Gamma's log density in z for nutpie (:mod:`lifevalue.models.nuts_density`)."""
    theta, values, prof, own, grad = begin(n, z_, user_data)
    ll = 0.0
    for g in range(int(prof[0])):
        profile_params(prof, g, values, own)
        ll += add_profile(prof, g, own, *_gamma_gamma_at(user_data, 2 + 7 * g, own), grad)
    return end(ll, grad, theta, values, n, user_data, grad_, logp_)
