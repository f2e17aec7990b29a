"""Log-likelihoods of BG/NBD and Gamma-Gamma as pure functions, written once.

Each likelihood is written once against a small math namespace ``xp`` so that the
same code evaluates with NumPy/SciPy (for point estimates and tests) and builds a
PyTensor graph (for PyMC's samplers and compiled gradients).

Both fit on **sufficient statistics**: the BG/NBD likelihood depends on a customer only
through (x, t_x, T), and Gamma-Gamma through (x, mean spend). :func:`compress_bgnbd`
and :func:`compress_gamma_gamma` reduce the summary to unique rows with counts. Terms
that depend on x alone (``gammaln``, ``betaln``) are summed per unique x with the
total count of that x as weight, so they cost one evaluation per distinct x.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
from scipy import special

from lifevalue.models.bg_family import _dot, bg_family_derivs
from lifevalue.models.rows import _factorize, _sorted_codes, unique_rows  # noqa: F401 - re-exported

#: NumPy/SciPy namespace for the likelihoods.
NUMPY = SimpleNamespace(
    log=np.log, exp=np.exp, gammaln=special.gammaln, logaddexp=np.logaddexp,
    where=np.where, sum=np.sum, maximum=np.maximum, softplus=lambda z: np.logaddexp(0.0, z),
)


def pytensor_namespace() -> SimpleNamespace:
    """PyTensor namespace for the likelihoods (imported lazily)."""
    import pytensor.tensor as pt

    return SimpleNamespace(
        log=pt.log, exp=pt.exp, gammaln=pt.gammaln, logaddexp=pt.logaddexp,
        where=pt.switch, sum=pt.sum, maximum=pt.maximum, softplus=pt.softplus,
    )


# ------------------------------------------------------------------------- BG/NBD


@dataclass(frozen=True)
class BGNBDStats:
    """Unique (x, t_x, T) triples with counts, and per unique x totals.

    Attributes
    ----------
    x, t_x, T : ndarray
        One entry per unique triple.
    count : ndarray
        Customers with that triple.
    x_unique, x_count : ndarray
        Distinct x values and the number of customers with each.
    x_index, t_x_unique, t_x_index, T_unique, T_index : ndarray
        Distinct values of x, t_x and T, and each triple's position among them: the
        logarithms of ``b + x - 1``, ``alpha + t_x`` and ``alpha + T`` are taken once
        per distinct value and gathered.
    repeat : ndarray
        1.0 where x > 0, else 0.0.
    n_customers : int
    """

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    count: np.ndarray
    x_unique: np.ndarray
    x_count: np.ndarray
    x_index: np.ndarray
    t_x_unique: np.ndarray
    t_x_index: np.ndarray
    T_unique: np.ndarray
    T_index: np.ndarray
    repeat: np.ndarray
    n_customers: int

    @property
    def n_unique(self) -> int:
        return len(self.count)


def compress_bgnbd(x, t_x, T, counts=None) -> BGNBDStats:
    """Reduce customers to unique (x, t_x, T) triples with counts.

    ``counts``, optional, is the number of customers each input row stands for (rows
    that are already sufficient statistics, e.g. aggregated by Spark).

    Examples
    --------
    >>> s = compress_bgnbd([0, 0, 2], [0.0, 0.0, 3.0], [5.0, 5.0, 5.0])
    >>> s.n_unique, s.count.tolist(), s.x_count.tolist()
    (2, [2.0, 1.0], [2.0, 1.0])
    """
    x = np.asarray(x, dtype="float64")
    t_x = np.asarray(t_x, dtype="float64")
    T = np.asarray(T, dtype="float64")
    ux, utx, uT, count = unique_rows(x, t_x, T, weights=counts)
    x_index, x_unique = _factorize(ux)
    t_x_index, t_x_unique = _factorize(utx)
    T_index, T_unique = _factorize(uT)
    x_count = np.bincount(x_index, weights=count, minlength=len(x_unique))
    return BGNBDStats(
        x=ux, t_x=utx, T=uT, count=count.astype("float64"),
        x_unique=x_unique, x_count=x_count.astype("float64"), x_index=x_index.reshape(-1),
        t_x_unique=t_x_unique, t_x_index=t_x_index.reshape(-1),
        T_unique=T_unique, T_index=T_index.reshape(-1),
        repeat=(ux > 0).astype("float64"),
        n_customers=len(x) if counts is None else int(round(count.sum())),
    )


def _bgnbd_x_terms(r, alpha, a, b, x, xp):
    """Terms of the BG/NBD log-likelihood that depend on x only (FHL 2005, eq. 6).

    ``log[Gamma(r+x) alpha^r / Gamma(r)] + log[B(a, b+x) / B(a, b)]``.
    """
    return (
        xp.gammaln(r + x) - xp.gammaln(r) + r * xp.log(alpha)
        + xp.gammaln(b + x) + xp.gammaln(a + b) - xp.gammaln(a + b + x) - xp.gammaln(b)
    )


def _bgnbd_tail(r, a, x, log_alpha_T, log_alpha_tx, log_b_x1, repeat, xp):
    """The bracket of FHL 2005 eq. (6) in log space.

    ``log[(alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x)]`` computed as
    ``A + [x>0] softplus(B - A)`` = ``logaddexp(A, B)`` for x > 0, with
    ``A = -(r+x) log(alpha+T)`` and ``B = log a - log(b+x-1) - (r+x) log(alpha+t_x)``.
    It stays finite for large x and T (Hardie's note on numerical error in the BG/NBD
    log-likelihood). ``log_b_x1`` is ``log(b + max(x, 1) - 1)``, so the x = 0 rows
    never evaluate ``log(b - 1)``, and a 0/1 mask (not a switch) keeps the unused
    branch out of the gradient.
    """
    first = -(r + x) * log_alpha_T
    second = xp.log(a) - log_b_x1 - (r + x) * log_alpha_tx
    return first + repeat * xp.softplus(second - first)


def bgnbd_loglik(r, alpha, a, b, x, t_x, T, xp=NUMPY):
    """Per-customer BG/NBD log-likelihood, Fader, Hardie & Lee (2005), eq. (6).

    Parameters
    ----------
    r, alpha, a, b : float or array
        Population parameters; arrays broadcast against the data.
    x, t_x, T : array
        Repeat purchases, time of the last one, and time since the first purchase.
    xp : namespace
        :data:`NUMPY` or :func:`pytensor_namespace`.

    Examples
    --------
    >>> float(bgnbd_loglik(0.243, 4.414, 0.793, 2.426, 2, 30.43, 38.86)).__round__(4)
    -9.4586
    """
    x = np.asarray(x, dtype="float64")
    tail = _bgnbd_tail(r, a, x, xp.log(alpha + T), xp.log(alpha + t_x),
                       xp.log(b + np.maximum(x, 1.0) - 1.0), (x > 0).astype("float64"), xp)
    return _bgnbd_x_terms(r, alpha, a, b, x, xp) + tail


def bgnbd_total_loglik(r, alpha, a, b, stats: BGNBDStats, xp=NUMPY):
    """Total BG/NBD log-likelihood of all customers from their sufficient statistics.

    Equals ``bgnbd_loglik(...).sum()`` over the original customers. The x-only terms
    are evaluated once per distinct x, the logarithms once per distinct x, t_x and T,
    and only the bracket once per unique triple.
    """
    x_part = xp.sum(stats.x_count * _bgnbd_x_terms(r, alpha, a, b, stats.x_unique, xp))
    tail = _bgnbd_tail(
        r, a, stats.x,
        xp.log(alpha + stats.T_unique)[stats.T_index],
        xp.log(alpha + stats.t_x_unique)[stats.t_x_index],
        xp.log(b + np.maximum(stats.x_unique, 1.0) - 1.0)[stats.x_index],
        stats.repeat, xp)
    return x_part + xp.sum(stats.count * tail)


def bgnbd_rows_loglik(r, alpha, a, b, stats: BGNBDStats, start: int, stop: int, *,
                     modified: bool = False, x_terms=_bgnbd_x_terms):
    """Log-likelihood of the unique rows ``start:stop`` of ``stats`` at draws ``(S, 1)``:
    :func:`bgnbd_loglik` on those rows (``modified``: the MBG/NBD's, whose ``x_terms``
    come from its own module), factored as :func:`bgnbd_total_loglik` is: the x-only
    terms and the logarithms once per distinct value among the rows, the bracket per
    row. Shape ``(S, stop - start)``."""
    sl = slice(start, stop)

    def per_value(fn, unique, index):  # fn on the distinct values the rows use, gathered
        used, where = np.unique(index[sl], return_inverse=True)
        return fn(unique[used])[:, where]

    xu = stats.x_unique
    log_b = (lambda u: np.log(b + u)) if modified else (
        lambda u: np.log(b + np.maximum(u, 1.0) - 1.0))
    tail = _bgnbd_tail(
        r, a, stats.x[sl],
        per_value(lambda u: np.log(alpha + u), stats.T_unique, stats.T_index),
        per_value(lambda u: np.log(alpha + u), stats.t_x_unique, stats.t_x_index),
        per_value(log_b, xu, stats.x_index), 1.0 if modified else stats.repeat[sl], NUMPY)
    return per_value(lambda u: x_terms(r, alpha, a, b, u, NUMPY), xu, stats.x_index) + tail


# ---------------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGammaStats:
    """Unique (x, mean spend) pairs of repeat customers, with counts.

    ``x_unique``/``x_count`` hold the distinct x and their customer counts, and
    ``sum_x_log_m``/``sum_log_m`` the count-weighted sums of ``x log m`` and
    ``log m`` that the likelihood needs.
    """

    x: np.ndarray
    m: np.ndarray
    count: np.ndarray
    x_unique: np.ndarray
    x_count: np.ndarray
    sum_x_log_m: float
    sum_log_m: float
    n_customers: int

    @property
    def n_unique(self) -> int:
        return len(self.count)


def compress_gamma_gamma(x, m, counts=None) -> GammaGammaStats:
    """Reduce repeat customers to unique (x, mean spend) pairs with counts.

    Only customers with x > 0 enter Gamma-Gamma; pass those. ``counts`` as in
    :func:`compress_bgnbd`.
    """
    ux, um, count = unique_rows(x, m, weights=counts)
    count = count.astype("float64")
    x_index, x_unique = _factorize(ux)
    x_count = np.bincount(x_index.reshape(-1), weights=count, minlength=len(x_unique))
    log_m = np.log(um)
    return GammaGammaStats(
        x=ux, m=um, count=count,
        x_unique=x_unique, x_count=x_count.astype("float64"),
        sum_x_log_m=float(np.sum(count * ux * log_m)),
        sum_log_m=float(np.sum(count * log_m)),
        n_customers=len(x) if counts is None else int(round(count.sum())),
    )


def _gg_x_terms(p, q, gamma, x, xp):
    """x-only terms of the Gamma-Gamma log density of the mean spend."""
    return (
        xp.gammaln(p * x + q) - xp.gammaln(p * x) - xp.gammaln(q) + q * xp.log(gamma)
        + p * x * xp.log(x)
    )


def gamma_gamma_loglik(p, q, gamma, x, m, xp=NUMPY):
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``m`` over x purchases.

    The Gamma-Gamma model of Fader, Hardie & Lee (2005b, "RFM and CLV") with nu
    integrated out: the density of the mean spend (Fader & Hardie 2013, "The Gamma-Gamma
    model of monetary value"):

    ``f(m | p, q, gamma, x) = Gamma(px+q) / (Gamma(px) Gamma(q))
    * gamma^q m^(px-1) x^(px) / (gamma + m x)^(px+q)``.

    Examples
    --------
    >>> round(float(gamma_gamma_loglik(6.25, 3.74, 15.44, 2, 22.35)), 4)
    -3.5513
    """
    return _gg_x_terms(p, q, gamma, x, xp) + (p * x - 1) * xp.log(m) - (p * x + q) * xp.log(
        gamma + m * x
    )


def gamma_gamma_rows_loglik(p, q, gamma, stats: GammaGammaStats, start: int,
                           stop: int) -> np.ndarray:
    """Log-likelihood of the unique pairs ``start:stop`` at draws ``(S, 1)``:
    :func:`gamma_gamma_loglik` on those rows with its x-only terms once per distinct x.
    Shape ``(S, stop - start)``."""
    x, m = stats.x[start:stop], stats.m[start:stop]
    used, where = np.unique(x, return_inverse=True)
    return (_gg_x_terms(p, q, gamma, used, NUMPY)[:, where] + (p * x - 1) * np.log(m)
            - (p * x + q) * np.log(gamma + m * x))


def gamma_gamma_total_loglik(p, q, gamma, stats: GammaGammaStats, xp=NUMPY):
    """Total Gamma-Gamma log-likelihood from sufficient statistics.

    Equals ``gamma_gamma_loglik(...).sum()`` over the repeat customers.
    """
    x_part = xp.sum(stats.x_count * _gg_x_terms(p, q, gamma, stats.x_unique, xp))
    log_part = p * stats.sum_x_log_m - stats.sum_log_m
    pair_part = xp.sum(stats.count * (p * stats.x + q) * xp.log(gamma + stats.m * stats.x))
    return x_part + log_part - pair_part


# ------------------------------------------- thinned statistics (a cheap start for MAP)


def thin_bgnbd(stats: BGNBDStats, fraction: float, rng: np.random.Generator) -> BGNBDStats:
    """A random subsample of the customers (each kept with probability ``fraction``),
    as :class:`BGNBDStats`: its mode is a close, cheap starting point for Newton steps
    on all customers."""
    count = rng.binomial(np.round(stats.count).astype("int64"), fraction).astype("float64")
    keep = count > 0
    x_index = stats.x_index[keep]
    return replace(
        stats, x=stats.x[keep], t_x=stats.t_x[keep], T=stats.T[keep], count=count[keep],
        x_count=np.bincount(x_index, weights=count[keep], minlength=len(stats.x_unique)),
        x_index=x_index, t_x_index=stats.t_x_index[keep], T_index=stats.T_index[keep],
        repeat=stats.repeat[keep], n_customers=int(count.sum()))


def thin_gamma_gamma(stats: GammaGammaStats, fraction: float,
                     rng: np.random.Generator) -> GammaGammaStats:
    """As :func:`thin_bgnbd`, for :class:`GammaGammaStats`."""
    count = rng.binomial(np.round(stats.count).astype("int64"), fraction).astype("float64")
    keep = count > 0
    x, m, count = stats.x[keep], stats.m[keep], count[keep]
    x_count = np.bincount(np.searchsorted(stats.x_unique, x), weights=count,
                          minlength=len(stats.x_unique))
    log_m = np.log(m)
    return replace(stats, x=x, m=m, count=count, x_count=x_count,
                   sum_x_log_m=float(np.sum(count * x * log_m)),
                   sum_log_m=float(np.sum(count * log_m)), n_customers=int(count.sum()))


# ------------------------------------- gradients and Hessians (NumPy, for MAP/Laplace)


def bgnbd_total_loglik_grad(r, alpha, a, b, stats: BGNBDStats):
    """:func:`bgnbd_total_loglik` and its gradient in (r, alpha, a, b), in NumPy."""
    ll, grad, _ = bgnbd_total_loglik_derivs(r, alpha, a, b, stats, hessian=False)
    return ll, grad


def bgnbd_total_loglik_derivs(r, alpha, a, b, stats: BGNBDStats, *, hessian: bool = True):
    """:func:`bgnbd_total_loglik`, its gradient and its Hessian in (r, alpha, a, b).

    See :func:`lifevalue.models.bg_family.bg_family_derivs`, of which this is the
    BG/NBD case.
    """
    return bg_family_derivs(r, alpha, a, b, stats, hessian=hessian)


def gamma_gamma_total_loglik_grad(p, q, gamma, stats: GammaGammaStats):
    """:func:`gamma_gamma_total_loglik` and its gradient in (p, q, gamma), in NumPy."""
    ll, grad, _ = gamma_gamma_total_loglik_derivs(p, q, gamma, stats, hessian=False)
    return ll, grad


def gamma_gamma_total_loglik_derivs(p, q, gamma, stats: GammaGammaStats, *,
                                    hessian: bool = True):
    """:func:`gamma_gamma_total_loglik`, its gradient and Hessian in (p, q, gamma).

    Term by term from the density in :func:`gamma_gamma_loglik` (Fader & Hardie
    2013): digammas and trigammas once per distinct x, and
    ``L = log(gamma + m x)`` once per unique (x, m) pair.
    """
    psi = special.digamma
    xu, cx = stats.x_unique, stats.x_count
    log_gamma = np.log(gamma)
    n_cust = np.sum(cx)
    pxq, px = p * xu + q, p * xu
    log_xu = np.log(xu)
    x_terms = (special.gammaln(pxq) - special.gammaln(px) - special.gammaln(q)
               + q * log_gamma + px * log_xu)
    x, w = stats.x, stats.count
    y = stats.m * x
    L = np.log(gamma + y)
    wx = w * x
    s_wxL, s_wL = _dot(wx, L), _dot(w, L)
    ll = (_dot(cx, x_terms) + p * stats.sum_x_log_m - stats.sum_log_m
          - p * s_wxL - q * s_wL)
    inv = 1.0 / (gamma + y)
    s_wx_inv, s_w_inv = _dot(wx, inv), _dot(w, inv)
    psi_pxq = psi(pxq)
    grad = np.array([
        _dot(cx, xu * (psi_pxq - psi(px) + log_xu)) + stats.sum_x_log_m - s_wxL,
        _dot(cx, psi_pxq - psi(q) + log_gamma) - s_wL,
        n_cust * q / gamma - p * s_wx_inv - q * s_w_inv,
    ])
    if not hessian:
        return float(ll), grad, None
    tri_pxq, tri_px = special.polygamma(1, pxq), special.polygamma(1, px)
    tri_q = float(special.polygamma(1, q))
    inv2 = inv * inv
    h = np.empty((3, 3))
    h[0, 0] = _dot(cx, xu * xu * (tri_pxq - tri_px))
    h[0, 1] = h[1, 0] = _dot(cx, xu * tri_pxq)
    h[1, 1] = _dot(cx, tri_pxq - tri_q)
    h[0, 2] = h[2, 0] = -s_wx_inv
    h[1, 2] = h[2, 1] = n_cust / gamma - s_w_inv
    h[2, 2] = -n_cust * q / gamma**2 + p * _dot(wx, inv2) + q * _dot(w, inv2)
    return float(ll), grad, h


# ------------------------------------------- many parameter draws at once (Laplace/PSIS)


def _map_blocks(fn, n: int, workers: int, block: int = 16) -> np.ndarray:
    """``fn(slice)`` over blocks of ``range(n)``, concatenated; ``workers`` threads (NumPy
    releases the GIL in its loops over large arrays)."""
    blocks = [slice(lo, min(lo + block, n)) for lo in range(0, n, block)]
    if workers <= 1 or len(blocks) == 1:
        return np.concatenate([fn(sl) for sl in blocks])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(fn, blocks)))


def bgnbd_total_loglik_draws(params: np.ndarray, stats: BGNBDStats, *,
                             workers: int = 1) -> np.ndarray:
    """:func:`bgnbd_total_loglik` at each row ``(r, alpha, a, b)`` of ``params``.

    The same sums as eq. (6), regrouped for many evaluations: ``-(r+x) log(alpha+T)``
    is summed per distinct T (with the fixed count-weighted totals of 1 and x per T),
    the x-only terms per distinct x, and only ``softplus(B - A)`` of the repeat
    customers' triples is evaluated per triple, in place (two transcendental functions
    per triple and draw). ``workers`` threads share the draws.

    Returns
    -------
    ndarray, shape (n_draws,)
    """
    params = np.atleast_2d(np.asarray(params, dtype="float64"))
    r, alpha, a, b = (params[:, i:i + 1] for i in range(4))
    xu, cx = stats.x_unique, stats.x_count
    x_part = np.sum(cx * (
        special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha)
        + special.gammaln(b + xu) + special.gammaln(a + b) - special.gammaln(a + b + xu)
        - special.gammaln(b)), axis=1)
    w = stats.count
    c_T = np.bincount(stats.T_index, weights=w, minlength=len(stats.T_unique))
    cx_T = np.bincount(stats.T_index, weights=w * stats.x, minlength=len(stats.T_unique))
    log_aT = np.log(alpha + stats.T_unique)
    first = -np.sum((r * c_T + cx_T) * log_aT, axis=1)
    rep = stats.repeat > 0
    x_rep, w_rep = stats.x[rep], w[rep]
    T_idx, t_idx, xi = stats.T_index[rep], stats.t_x_index[rep], stats.x_index[rep]
    log_at = np.log(alpha + stats.t_x_unique)
    c_x = np.log(a) - np.log(b + np.maximum(xu, 1.0) - 1.0)

    def block(sl):
        out = np.empty(sl.stop - sl.start)
        for j, k in enumerate(range(sl.start, sl.stop)):
            d = log_aT[k].take(T_idx)  # B - A, built in place
            d -= log_at[k].take(t_idx)
            d *= x_rep + r[k, 0]
            d += c_x[k].take(xi)
            e = np.abs(d)
            np.negative(e, out=e)
            np.exp(e, out=e)
            np.log1p(e, out=e)
            np.maximum(d, 0.0, out=d)
            d += e  # softplus(B - A)
            out[j] = np.einsum("n,n->", d, w_rep)
        return out

    return x_part + first + _map_blocks(block, len(params), workers)


def gamma_gamma_total_loglik_draws(params: np.ndarray, stats: GammaGammaStats, *,
                                   workers: int = 1) -> np.ndarray:
    """:func:`gamma_gamma_total_loglik` at each row ``(p, q, gamma)`` of ``params``.

    Per draw only ``log(gamma + m x)`` is evaluated per pair (one logarithm); the rest
    is per distinct x. ``workers`` threads share the draws.
    """
    params = np.atleast_2d(np.asarray(params, dtype="float64"))
    p, q, gamma = (params[:, i:i + 1] for i in range(3))
    xu, cx = stats.x_unique, stats.x_count
    x_part = np.sum(cx * (special.gammaln(p * xu + q) - special.gammaln(p * xu)
                          - special.gammaln(q) + q * np.log(gamma) + p * xu * np.log(xu)),
                    axis=1)
    y = stats.m * stats.x
    w, wx = stats.count, stats.count * stats.x

    def block(sl):
        out = np.empty(sl.stop - sl.start)
        for j, k in enumerate(range(sl.start, sl.stop)):
            L = y + gamma[k, 0]
            np.log(L, out=L)
            out[j] = p[k, 0] * np.einsum("n,n->", L, wx) + q[k, 0] * np.einsum("n,n->", L, w)
        return out

    return (x_part + p[:, 0] * stats.sum_x_log_m - stats.sum_log_m
            - _map_blocks(block, len(params), workers))
