"""The compiled sampler's log density as a C function, which nutpie's chains call without
Python.

:meth:`~lifevalue.models.inference.Inference._compiled_log_density` builds the log
density of ``z`` (``theta = mode + S z``, ``theta`` the logs of the positive
parameters) as a Python function around a numba kernel. nutpie then calls Python once
per leapfrog step from each chain's thread: on a 2-core machine, two chains of
Gamma-Gamma at 100,000 customers ran no faster than one, and each call cost about
60 microseconds besides the kernel. Here the same density is a numba ``cfunc``
(a plain C function pointer, as nutpie's own numba backend for PyMC models uses): the
kernel, the map from ``z``, the priors' log densities (:func:`prior_logp_grad`, the
compiled twin of :func:`lifevalue.models.priors.logp_and_grad`, cross-tested), the
log Jacobian and the gradient's chain rule, with no Python and no GIL. Each model's
module writes the lines that unpack its kernel's arrays and call it (e.g.
:func:`lifevalue.models.kernels.bgnbd_density`); :func:`compiled_model` turns that
into a model nutpie samples. The C functions are compiled once per environment and
cached by numba.

Covariates: customers with the same attributes share their parameters, so the
likelihood is a sum over attribute profiles of the model's own likelihood, at the
profile's parameters ``own_b = v_b exp(sum_k L[g, b, k] v_k)`` (the coefficients ``v_k``
and the map ``L`` of :meth:`lifevalue.models.covariates.Design.linear_maps`), and its
gradient ``sum_g L[g]' (grad_g * own_g)`` in theta. A model without covariates is one
profile with ``L`` the identity.

The data reach the C function through nutpie's user-data pointer: an int64 array of
(address, length) pairs: the *head* (float64: ``n``, ``mode``, ``S`` row by row, the
positive mask, and per parameter its prior's code and three parameters, see
:func:`lifevalue.models.priors.prior_code`), the profiles' maps (``G``, ``n_base``,
``n``, then ``L`` row by row), then each profile's kernel arrays in order. Python
numbers among the kernel's data travel as arrays of length 1.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from lifevalue.models.priors import PRIOR_CODES, prior_code

#: ``int64 logp(n, z*, grad*, logp*, user_data*)``: nutpie's log density signature.
SIGNATURE = types.int64(types.uint64, types.CPointer(types.double),
                        types.CPointer(types.double), types.CPointer(types.double),
                        types.voidptr)
#: ``int64 expand(n, n_out, z*, values*, user_data*)``: the parameters of a point.
EXPAND_SIGNATURE = types.int64(types.uint64, types.uint64, types.CPointer(types.double),
                               types.CPointer(types.double), types.voidptr)

_C = PRIOR_CODES
_HALF_NORMAL, _HALF_CAUCHY, _HALF_T = _C["HalfNormal"], _C["HalfCauchy"], _C["HalfStudentT"]
_GAMMA, _EXPONENTIAL, _LOG_NORMAL = _C["Gamma"], _C["Exponential"], _C["LogNormal"]
_WEIBULL, _INV_GAMMA, _NORMAL, _T = _C["Weibull"], _C["InverseGamma"], _C["Normal"], _C["StudentT"]


@intrinsic
def _pointer(typingctx, address):
    """An int64 address as a ``void*``."""
    sig = types.voidptr(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


@numba.njit(inline="always")
def array_f8(user_data, k):
    """The k-th array of the user data (0: the head) as float64."""
    pairs = numba.carray(user_data, (2 * k + 2,), np.int64)
    return numba.carray(_pointer(pairs[2 * k]), (pairs[2 * k + 1],), np.float64)


@numba.njit(inline="always")
def array_i8(user_data, k):
    """The k-th array of the user data as int64."""
    pairs = numba.carray(user_data, (2 * k + 2,), np.int64)
    return numba.carray(_pointer(pairs[2 * k]), (pairs[2 * k + 1],), np.int64)


@numba.njit(error_model="numpy")
def prior_logp_grad(code, a, b, c, x):
    """``log p(x)`` up to a constant and ``d log p / dx`` of the prior
    ``(code, a, b, c)`` of :func:`lifevalue.models.priors.prior_code`: the compiled twin of
    :func:`lifevalue.models.priors.logp_and_grad` (the tests compare them)."""
    if code == _HALF_NORMAL:
        return -x * x / (2.0 * a), -x / a
    if code == _HALF_CAUCHY:
        return -math.log1p(x * x / a), -2.0 * x / (a + x * x)
    if code == _HALF_T or code == _T:
        d = x - c
        return -(a + 1.0) / 2.0 * math.log1p(d * d / (a * b)), -(a + 1.0) * d / (a * b + d * d)
    if code == _GAMMA:
        return (a - 1.0) * math.log(x) - b * x, (a - 1.0) / x - b
    if code == _EXPONENTIAL:
        return -a * x, -a
    if code == _LOG_NORMAL:
        lx = math.log(x)
        return -lx - (lx - a) ** 2 / (2.0 * b), -1.0 / x - (lx - a) / (b * x)
    if code == _WEIBULL:
        return ((a - 1.0) * math.log(x) - (x / b) ** a,
                (a - 1.0) / x - a * x ** (a - 1.0) / b**a)
    if code == _INV_GAMMA:
        return -(a + 1.0) * math.log(x) - b / x, -(a + 1.0) / x + b / (x * x)
    if code == _NORMAL:
        return -(x - a) ** 2 / (2.0 * b), -(x - a) / b
    return 0.0, 0.0  # HalfFlat, Flat


@numba.njit(error_model="numpy")
def values_of(z_, n, head):
    """``(theta, values)`` of the point ``z``: ``theta = mode + S z`` and the parameters
    (``exp(theta)`` where positive)."""
    z = numba.carray(z_, (n,))
    theta = np.empty(n)
    values = np.empty(n)
    for i in range(n):
        t = head[1 + i]
        for j in range(n):
            t += head[1 + n + i * n + j] * z[j]
        theta[i] = t
        values[i] = math.exp(t) if head[1 + n + n * n + i] > 0.0 else t
    return theta, values


# A model's density (e.g. lifevalue.models.kernels.bgnbd_density) is, with its own
# kernel call in the middle (a kernel passed to a shared function as an argument would
# make the C function impossible to cache):
#
#     theta, values, prof, own, grad = begin(n, z_, user_data)
#     ll = 0.0
#     for g in range(int(prof[0])):
#         profile_params(prof, g, values, own)
#         ll += add_profile(prof, g, own, *kernel_at(user_data, 2 + width * g, own), grad)
#     return end(ll, grad, theta, values, n, user_data, grad_, logp_)


@numba.njit(error_model="numpy")
def begin(n, z_, user_data):
    """``theta``, the parameters, the profiles' maps, a buffer for a profile's own
    parameters and the gradient (in theta, zero) at the point ``z``."""
    head = array_f8(user_data, 0)
    theta, values = values_of(z_, n, head)
    prof = array_f8(user_data, 1)
    return theta, values, prof, np.empty(int(prof[1])), np.zeros(n)


@numba.njit(error_model="numpy")
def profile_params(prof, g, values, own):
    """Profile g's own parameters ``own_b = v_b exp(sum_k L[g, b, k] v_k)`` (k over
    the coefficients: a profile of zeros has the parameters exactly)."""
    nb, n = int(prof[1]), int(prof[2])
    first = 3 + g * nb * n
    for b in range(nb):
        effect = 0.0
        for k in range(nb, n):
            effect += prof[first + b * n + k] * values[k]
        own[b] = values[b] * math.exp(effect)


@numba.njit(error_model="numpy")
def add_profile(prof, g, own, ll_g, grad_g, grad):
    """Add profile g's gradient (``grad_g`` in its own parameters) to ``grad`` (in theta:
    ``L[g]' (grad_g * own)``); returns its log-likelihood ``ll_g``."""
    nb, n = int(prof[1]), int(prof[2])
    first = 3 + g * nb * n
    for b in range(nb):
        w = grad_g[b] * own[b]
        for k in range(n):
            grad[k] += prof[first + b * n + k] * w
    return ll_g


@numba.njit(error_model="numpy")
def end(ll, grad, theta, values, n, user_data, grad_, logp_):
    """Add the priors and the log Jacobian to the profiles' ``(ll, grad)`` (the gradient
    in theta), write the log density and its gradient in ``z``, and return nutpie's
    status: 0, or 3 / 4 where the gradient / the density is not finite (a divergence)."""
    head = array_f8(user_data, 0)
    base = 1 + 2 * n + n * n
    for i in range(n):
        lp, d1 = prior_logp_grad(int(head[base + i]), head[base + n + i],
                                 head[base + 2 * n + i], head[base + 3 * n + i], values[i])
        ll += lp
        if head[1 + n + n * n + i] > 0.0:  # d/dtheta = v d/dv, plus the Jacobian's 1
            ll += theta[i]
            grad[i] += d1 * values[i] + 1.0
        else:
            grad[i] += d1
    out = numba.carray(grad_, (n,))
    norm = 0.0
    for j in range(n):
        t = 0.0
        for i in range(n):
            t += head[1 + n + i * n + j] * grad[i]
        out[j] = t
        norm += t * t
    logp_[0] = ll
    if not math.isfinite(ll):
        return 4
    if not math.isfinite(norm):
        return 3
    return 0


def _expand(n, n_out, z_, values_, user_data):
    """The parameters at a point (the draws nutpie stores)."""
    head = array_f8(user_data, 0)
    _, values = values_of(z_, n, head)
    out = numba.carray(values_, (n,))
    for i in range(n):
        out[i] = values[i]
    return 0


_COMPILED: dict = {}


def _cfunc(body, signature):
    """``body`` compiled as a C function (once per process; cached on disk by numba)."""
    if body not in _COMPILED:
        _COMPILED[body] = numba.cfunc(signature, cache=True, error_model="numpy")(body)
    return _COMPILED[body]


def head_array(mode, scale, positive, specs) -> np.ndarray:
    """The head of the user data (see the module docstring)."""
    n = len(mode)
    codes = np.array([prior_code(spec) for spec in specs], dtype="float64").reshape(n, 4)
    return np.concatenate([[float(n)], np.asarray(mode, dtype="float64"),
                           np.asarray(scale, dtype="float64").ravel(),
                           np.asarray(positive, dtype="float64"), codes.T.ravel()])


def compiled_model(body, names, mode, scale, positive, specs, maps, data, initial_point):
    """A nutpie model of the log density ``body`` (a model module's function of
    :data:`SIGNATURE`), or None where nutpie cannot take one.

    Parameters
    ----------
    body : function
        The model's density (e.g. :func:`lifevalue.models.kernels.bgnbd_density`, see
        the comment above :func:`begin`).
    names : list of str
        The parameters, in order.
    mode, scale, positive : arrays
        ``theta = mode + scale z``; which parameters are positive (``exp(theta)``).
    specs : list of dict
        The parameters' priors.
    maps : array ``(G, n_base, n)``
        Each profile's map (the identity, ``G = 1``, without covariates).
    data : list of tuple
        Each profile's kernel data, as ``_kernel`` gives them: arrays and numbers.
    initial_point : callable
        ``seed -> z``.
    """
    try:
        from nutpie.compile_pymc import CompiledPyMCModel
    except ImportError:
        return None
    maps = np.asarray(maps, dtype="float64")
    arrays = [head_array(mode, scale, positive, specs),
              np.concatenate([[float(s) for s in maps.shape], maps.ravel()])]
    for part in data:
        for d in part:
            arrays.append(np.ascontiguousarray(d) if isinstance(d, np.ndarray)
                          else np.array([float(d)], dtype="float64"))
    pairs = np.array([[a.ctypes.data, a.size] for a in arrays], dtype="int64").ravel()
    n = len(names)
    try:
        return CompiledPyMCModel(
            dims={}, _n_dim=n, _coords={}, _shapes={name: () for name in names},
            compiled_logp_func=_cfunc(body, SIGNATURE),
            compiled_expand_func=_cfunc(_expand, EXPAND_SIGNATURE),
            initial_point_func=initial_point,
            # the arrays the addresses point into live as long as the model
            shared_data={str(i): a for i, a in enumerate(arrays)}, shared_var_keys={},
            user_data=pairs, n_expanded=n, shape_info=(list(names), None, [()] * n),
            logp_func=None, expand_func=None)
    except TypeError:  # a nutpie whose model class takes other fields
        return None
