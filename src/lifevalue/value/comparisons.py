"""Comparisons between customers from the posterior draws: ranks, P(top 20%), the
probability of each pyramid level, and the concentration (Lorenz) curve with a band.

A rank needs every customer's value at the same draw, and customers x draws does not fit
in memory for a large base. So comparisons take two passes over the customers, in
chunks:

1. **Sketch.** For every draw, a histogram of the customers' current values on a fixed
   grid (:class:`DrawSketch`): ``BINS`` bins uniform in ``asinh(value / scale)`` over
   ``[-EXTENT, EXTENT]``, ``scale`` 1% of the population's mean spend per purchase, so
   that the grid adapts to the currency. Counted are all customers, the active ones
   (P(alive) at that draw >= ``inactive_below``, as in the customer pyramid) and the
   sums of the non-negative values (for the Lorenz curve). Its memory is draws x bins,
   whatever the number of customers.
2. **Assign.** Each customer's values are scored again (the same random streams, so the
   same values) and placed in their draw's histogram: the rank is the number of
   customers above plus a linear interpolation inside the bin, and the pyramid level
   follows from the share of active customers above.

Accuracy: a bin spans a relative width of ``2 EXTENT / BINS`` (2.3%) of the value (an
absolute 2.3% of ``scale`` near 0). A rank is exact up to the customers who share the
customer's bin in that draw (their order inside the bin is interpolated); a level or
the top 20% can only be wrong for a customer within one bin of the cut. Tied values
(e.g. every customer who buys nothing costs the same) share one rank. The Lorenz curve
takes the sum of the values inside a bin exactly and interpolates the share of
customers inside it.

Kinds: ``param`` uses the expectation at each population draw (the parameter
interval); ``pred`` the simulated future of each customer at each draw (the predictive
interval: each customer's own luck included). Pyramid levels and P(top 20%) are
predictive: they are about the value the customer will actually bring.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

#: Bins of a draw's histogram and the extent of their grid in ``asinh(value / scale)``.
BINS = 2048
EXTENT = 24.0

#: Pyramid levels (Curry): top 1%, big (next 4%), medium (next 15%), small (the
#: remaining 80%) of the active customers, and inactive customers.
LEVELS = ("top", "big", "medium", "small", "inactive")
#: Cumulative shares of active customers, from the top, that end the top, big and
#: medium levels.
LEVEL_CUTS = (0.01, 0.05, 0.20)
#: Customers with P(alive) below this are inactive.
INACTIVE_BELOW = 0.1
#: Customer shares at which the Lorenz curve is given.
LORENZ_GRID = np.linspace(0.0, 1.0, 101)


@numba.njit(nogil=True, cache=True)
def _bin(v, scale, h):
    z = math.asinh(v / scale) + EXTENT
    b = int(z / h)
    frac = z / h - b
    if b < 0:
        return 0, 0.0
    if b >= BINS:
        return BINS - 1, 1.0
    return b, frac


@numba.njit(nogil=True, cache=True)
def sketch_add(values, pa, inactive_below, scale, counts, active, sums):
    """Add values ``(n, D)`` (P(alive) ``pa`` ``(n, D)``) to the histograms ``(D,
    BINS)`` of all customers, of the active ones and of the sums of ``max(v, 0)``."""
    h = 2.0 * EXTENT / BINS
    n, D = values.shape
    # draw by draw: one draw's histograms stay in cache while its customers go in (the
    # other order touched a different 16 KB row per value and cost twice the time)
    for j in range(D):
        for i in range(n):
            v = values[i, j]
            b, _ = _bin(v, scale, h)
            counts[j, b] += 1.0
            if pa[i, j] >= inactive_below:
                active[j, b] += 1.0
            if v > 0.0:
                sums[j, b] += v


@numba.njit(nogil=True, cache=True)
def assign(values, pa, inactive_below, scale, above, counts, above_act, counts_act, n_act,
           cuts, ranks, levels):
    """Per customer and draw, the rank (1 = most valuable; into ``ranks (n, D)``) and the
    level counts (into ``levels (n, 5)``, :data:`LEVELS`)."""
    h = 2.0 * EXTENT / BINS
    n, D = values.shape
    for j in range(D):  # draw by draw, as in sketch_add
        for i in range(n):
            v = values[i, j]
            b, frac = _bin(v, scale, h)
            ranks[i, j] = 1.0 + above[j, b] + (1.0 - frac) * max(counts[j, b] - 1.0, 0.0)
            if pa[i, j] < inactive_below or n_act[j] <= 0:
                levels[i, 4] += 1.0
                continue
            share = (above_act[j, b] + (1.0 - frac) * max(counts_act[j, b] - 1.0, 0.0)) / n_act[j]
            lev = 3
            for c in range(3):
                if share < cuts[c]:
                    lev = c
                    break
            levels[i, lev] += 1.0


class DrawSketch:
    """Per-draw histograms of the customers' values (see the module's description)."""

    def __init__(self, n_draws: int, scale: float):
        self.scale = float(scale)
        self.counts = np.zeros((n_draws, BINS))
        self.active = np.zeros((n_draws, BINS))
        self.sums = np.zeros((n_draws, BINS))

    def add(self, values, pa, inactive_below=INACTIVE_BELOW):
        sketch_add(np.ascontiguousarray(values), np.ascontiguousarray(pa),
                   float(inactive_below), self.scale, self.counts, self.active, self.sums)

    def merge(self, other: DrawSketch) -> None:
        self.counts += other.counts
        self.active += other.active
        self.sums += other.sums

    def finish(self) -> None:
        """The counts above each bin, for :meth:`place`."""
        def above(c):
            tail = np.cumsum(c[:, ::-1], axis=1)[:, ::-1]
            return np.ascontiguousarray(np.concatenate([tail[:, 1:], np.zeros((len(c), 1))],
                                                       axis=1))
        self.above, self.above_act = above(self.counts), above(self.active)
        self.n_act = self.active.sum(axis=1)

    def place(self, values, pa, inactive_below=INACTIVE_BELOW):
        """Ranks ``(n, D)`` and level counts ``(n, 5)`` of values ``(n, D)``."""
        n, D = values.shape
        ranks, levels = np.empty((n, D)), np.zeros((n, len(LEVELS)))
        assign(np.ascontiguousarray(values), np.ascontiguousarray(pa), float(inactive_below),
               self.scale, self.above, self.counts, self.above_act, self.active, self.n_act,
               np.asarray(LEVEL_CUTS, dtype="float64"), ranks, levels)
        return ranks, levels

    def lorenz(self) -> np.ndarray:
        """Per draw, the share of the non-negative value held by the most valuable
        customers at the shares :data:`LORENZ_GRID`, ``(D, len(LORENZ_GRID))``."""
        c = np.cumsum(self.counts[:, ::-1], axis=1)
        v = np.cumsum(self.sums[:, ::-1], axis=1)
        n, total = c[:, -1], v[:, -1]
        out = np.empty((len(c), len(LORENZ_GRID)))
        for j in range(len(c)):
            x = np.concatenate([[0.0], c[j] / n[j]])
            y = np.concatenate([[0.0], v[j] / total[j]]) if total[j] > 0 else np.zeros(
                len(x))
            out[j] = np.interp(LORENZ_GRID, x, y)
        return out


def lorenz_band(curves: np.ndarray, ci: float) -> pd.DataFrame:
    """Mean and equal-tailed ``ci`` band of per-draw Lorenz curves."""
    lo, hi = (1.0 - ci) / 2.0, (1.0 + ci) / 2.0
    return pd.DataFrame({"customer_share": LORENZ_GRID, "value_share": curves.mean(axis=0),
                         "lo": np.quantile(curves, lo, axis=0),
                         "hi": np.quantile(curves, hi, axis=0)})


def rank_of_mean(values) -> np.ndarray:
    """Rank (1 = most valuable; ties share the mid rank) of each value in ``values``."""
    s = pd.Series(np.asarray(values, dtype="float64"))
    return s.rank(ascending=False, method="average").to_numpy()


def prob_more_valuable(a_draws, b_draws) -> float:
    """P(value of a > value of b) over paired draws, ties counted half: so that
    ``prob_more_valuable(a, b) + prob_more_valuable(b, a) == 1``.

    >>> prob_more_valuable(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0]))
    0.5
    """
    a, b = np.asarray(a_draws), np.asarray(b_draws)
    return float(np.mean((a > b) + 0.5 * (a == b)))
