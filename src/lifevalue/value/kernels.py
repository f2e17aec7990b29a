"""Compiled per-chunk steps of value scoring.

They work on a chunk's ``(S, n)`` arrays (draws x customers) in one pass, without the
temporaries of the NumPy expressions they replace, and release the GIL so that chunks
run on threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np


def p_alive_draws(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """P(alive) for draws ``(S,)`` and customers ``(n,)``, shape ``(S, n)``.

    FHL (2005a), eq. (12): ``1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``;
    exactly 1 without repeat purchases. Equals
    :func:`lifevalue.models.predictions.p_alive` to rounding.

    Examples
    --------
    >>> float(p_alive_draws(*(np.array([v]) for v in (0.243, 4.414, 0.793, 2.426, 2.0,
    ...                                               30.43, 38.86)))[0, 0]).__round__(4)
    0.7266
    """
    arrays = [np.ascontiguousarray(v, dtype="float64") for v in (r, alpha, a, b, x, t_x, T)]
    out = np.empty((len(arrays[0]), len(arrays[4])))
    _p_alive(*arrays, out)
    return out


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _p_alive(r, alpha, a, b, x, t_x, T, out):
    S, n = out.shape
    for s in range(S):
        log_a = math.log(a[s])
        for i in range(n):
            if x[i] <= 0.0:
                out[s, i] = 1.0
                continue
            # log odds of having dropped out, as in predictions._log_odds_dead
            lo = (log_a - math.log(b[s] + x[i] - 1.0)
                  + (r[s] + x[i]) * math.log((alpha[s] + T[i]) / (alpha[s] + t_x[i])))
            if lo > 0.0:
                e = math.exp(-lo)
                out[s, i] = e / (1.0 + e)
            else:
                out[s, i] = 1.0 / (1.0 + math.exp(lo))
