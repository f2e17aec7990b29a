"""Derivatives of the BG/NBD family's log-likelihood, for MAP and the Laplace fit.

The BG/NBD (Fader, Hardie & Lee 2005a, eq. 6) and the MBG/NBD (Batislam, Denizel &
Filiztekin 2007) share all but three terms of their log-likelihood, so one function
differentiates both: :func:`bg_family_derivs`, on the sufficient statistics of
:class:`lifevalue.models.likelihoods.BGNBDStats`. Plain NumPy/SciPy; nothing is
compiled.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _dot(u, v) -> float:
    """Inner product of two vectors without BLAS (whose threads, on a busy machine, cost
    more than the product itself)."""
    return float(np.einsum("i,i->", u, v))


def bg_family_derivs(r, alpha, a, b, stats, *, hessian: bool = True,
                     modified: bool = False):
    """Total log-likelihood, gradient and Hessian in (r, alpha, a, b) of the BG/NBD
    (``modified=False``) or of the MBG/NBD (``modified=True``).

    Differentiates FHL (2005) eq. (6) term by term. The x-only terms give digammas and
    trigammas (once per distinct x). The bracket is ``logaddexp(A, B)`` for x > 0 and
    ``A`` for x = 0 (see ``lifevalue.models.likelihoods._bgnbd_tail``); with
    ``s = [x>0] sigmoid(B - A)`` its gradient is ``(1 - s) dA + s dB`` and its Hessian
    ``(1 - s) HA + s HB + s (1 - s) (dB - dA)(dB - dA)^T``, where

    * ``A = -(r+x) log(alpha+T)``: ``dA = (-log(alpha+T), -(r+x)/(alpha+T), 0, 0)``;
    * ``B = log a - log(b+x-1) - (r+x) log(alpha+t_x)``:
      ``dB = (-log(alpha+t_x), -(r+x)/(alpha+t_x), 1/a, -1/(b+x-1))``.

    The MBG/NBD (Batislam, Denizel & Filiztekin 2007) differs in three places,
    all from the extra chance of dropping out at time 0: its x-only terms gain
    ``log(b+x) - log(a+b+x)`` (``B(a, b+x+1)`` in place of ``B(a, b+x)``), its ``B``
    has ``log(b+x)`` in place of ``log(b+x-1)``, and ``B`` enters for every customer,
    x = 0 included (see :func:`lifevalue.models.modified_beta_geo_formulas.mbgnbd_loglik`).

    ``stats`` is a :class:`lifevalue.models.likelihoods.BGNBDStats` (not imported here:
    the likelihoods import this module).

    Used by MAP (Newton steps) and the Laplace fit; nothing is compiled.

    Returns
    -------
    ll : float
    grad : ndarray, shape (4,)
    hess : ndarray, shape (4, 4), or None when ``hessian`` is False
    """
    psi = special.digamma
    xu, cx = stats.x_unique, stats.x_count
    log_alpha = np.log(alpha)
    n_cust = np.sum(cx)
    x_terms = (special.gammaln(r + xu) - special.gammaln(r) + r * log_alpha
               + special.gammaln(b + xu) + special.gammaln(a + b) - special.gammaln(a + b + xu)
               - special.gammaln(b))
    psi_abx = psi(a + b + xu)
    g = np.array([
        np.sum(cx * (psi(r + xu) - psi(r) + log_alpha)),
        n_cust * r / alpha,
        np.sum(cx * (psi(a + b) - psi_abx)),
        np.sum(cx * (psi(b + xu) + psi(a + b) - psi_abx - psi(b))),
    ])
    # per distinct value: logs and reciprocals, then gathered per triple
    log_aT = np.log(alpha + stats.T_unique)
    log_at = np.log(alpha + stats.t_x_unique)
    bx1_u = b + xu if modified else b + np.maximum(xu, 1.0) - 1.0
    x, w = stats.x, stats.count
    rx = r + x
    LT = log_aT[stats.T_index]
    Lt = log_at[stats.t_x_index]
    d0 = LT - Lt  # dB - dA in r
    log_bx1 = np.log(bx1_u)[stats.x_index]
    diff = np.log(a) - log_bx1 + rx * d0  # B - A
    rep = np.ones_like(stats.repeat) if modified else stats.repeat
    # softplus(diff) and sigmoid(diff), sharing one exponential
    e = np.exp(-np.abs(diff))
    softplus = np.maximum(diff, 0.0) + np.log1p(e)
    s = rep * np.where(diff >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ll = float(_dot(cx, x_terms) + _dot(w, rep * softplus) - _dot(w * rx, LT))
    iT = (1.0 / (alpha + stats.T_unique))[stats.T_index]
    it = (1.0 / (alpha + stats.t_x_unique))[stats.t_x_index]
    ibx1 = (1.0 / bx1_u)[stats.x_index]
    ws = w * s
    w1 = w - ws
    g += np.array([
        -_dot(w, LT) + _dot(ws, d0),
        -_dot(w1 * rx, iT) - _dot(ws * rx, it),
        np.sum(ws) / a,
        -_dot(ws, ibx1),
    ])
    if modified:  # + log(b+x) - log(a+b+x), per distinct x
        ibx, iabx = 1.0 / (b + xu), 1.0 / (a + b + xu)
        ll += _dot(cx, np.log(b + xu) - np.log(a + b + xu))
        g[2] -= _dot(cx, iabx)
        g[3] += _dot(cx, ibx - iabx)
    if not hessian:
        return ll, g, None
    pg1 = special.polygamma(1, np.concatenate([r + xu, [r], b + xu, [a + b], a + b + xu, [b]]))
    k = len(xu)
    tri_rx, tri_r = pg1[:k], pg1[k]
    tri_bx, tri_ab = pg1[k + 1:2 * k + 1], pg1[2 * k + 1]
    tri_abx, tri_b = pg1[2 * k + 2:3 * k + 2], pg1[3 * k + 2]
    h = np.zeros((4, 4))
    h[0, 0] = _dot(cx, tri_rx - tri_r)
    h[0, 1] = n_cust / alpha
    h[1, 1] = -n_cust * r / alpha**2
    h[2, 2] = h[2, 3] = _dot(cx, tri_ab - tri_abx)
    h[3, 3] = _dot(cx, tri_bx + tri_ab - tri_abx - tri_b)
    # (1 - s) HA + s HB
    h[0, 1] += -_dot(w1, iT) - _dot(ws, it)
    h[1, 1] += _dot(w1 * rx, iT * iT) + _dot(ws * rx, it * it)
    h[2, 2] += -np.sum(ws) / a**2
    h[3, 3] += _dot(ws, ibx1 * ibx1)
    # s (1 - s) (dB - dA)(dB - dA)^T
    u = ws * (1.0 - s)
    # dB - dA = (d0, d1, 1/a, -1/(b+x-1)); the 1/a column is a constant
    d1 = rx * (iT - it)
    ud0, ud1, ud3 = u * d0, u * d1, -u * ibx1
    h[0, 0] += _dot(ud0, d0)
    h[0, 1] += _dot(ud0, d1)
    h[1, 1] += _dot(ud1, d1)
    h[0, 3] += -_dot(ud0, ibx1)
    h[1, 3] += -_dot(ud1, ibx1)
    h[3, 3] += -_dot(ud3, ibx1)
    h[0, 2] += np.sum(ud0) / a
    h[1, 2] += np.sum(ud1) / a
    h[2, 3] += np.sum(ud3) / a
    h[2, 2] += np.sum(u) / a**2
    if modified:
        h[2, 2] += _dot(cx, iabx * iabx)
        h[2, 3] += _dot(cx, iabx * iabx)
        h[3, 3] += _dot(cx, iabx * iabx - ibx * ibx)
    h = np.triu(h) + np.triu(h, 1).T
    return ll, g, h
