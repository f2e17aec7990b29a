"""Chunked per-customer scoring shared by the models (and the value module).

A posterior over customers x draws (x periods) is never held at once: customers are
processed in chunks, each chunk is reduced to means and quantiles, and only those
leave the chunk.

Column names say what an interval is:

* ``<quantity>_mean`` - the posterior mean;
* ``<quantity>_param_lo`` / ``_param_hi`` - the **parameter interval**: quantiles,
  across population draws, of the expectation for a customer with this history;
* ``<quantity>_pred_lo`` / ``_pred_hi`` - the **predictive interval**: quantiles of
  what this customer will actually do, customer-level randomness included.

The interval level is the ``ci`` argument (default 0.9, i.e. the 5% and 95%
quantiles) and is recorded in ``DataFrame.attrs['ci']``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models.customer_posterior import RNG_BLOCK
from lifevalue.models.order_statistics import column_quantiles
from lifevalue.models.rows import unique_rows

#: Target number of float64 cells (draws x customers x periods) per chunk.
CELLS_PER_CHUNK = 4_000_000


def default_chunk_size(n_draws: int, n_periods: int = 1) -> int:
    """Customers per chunk so that a chunk holds about :data:`CELLS_PER_CHUNK` cells."""
    n = CELLS_PER_CHUNK // max(1, n_draws * n_periods)
    return max(RNG_BLOCK, (n // RNG_BLOCK) * RNG_BLOCK)


def iter_chunks(n: int, chunk_size: int | None, n_draws: int, n_periods: int = 1
                ) -> Iterator[slice]:
    """Slices of ``range(n)``; each starts on a random-number block boundary."""
    size = default_chunk_size(n_draws, n_periods) if chunk_size is None else int(chunk_size)
    if size < 1:
        raise v.InvalidOptionError(f"chunk_size must be positive, got {chunk_size!r}",
                                   column="chunk_size")
    size = -(-size // RNG_BLOCK) * RNG_BLOCK
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def check_rng_offset(rng_offset) -> int:
    """Validate the global position of a frame's first customer (see ``rng_offset`` of
    the scoring methods): a whole multiple of :data:`RNG_BLOCK`, at least 0."""
    if (not isinstance(rng_offset, int | np.integer) or rng_offset < 0
            or rng_offset % RNG_BLOCK):
        raise v.InvalidOptionError(
            f"rng_offset must be a whole multiple of {RNG_BLOCK} and not negative, got "
            f"{rng_offset!r}", column="rng_offset")
    return int(rng_offset)


def quantile_bounds(ci: float) -> tuple[float, float]:
    ci = v.check_probability(ci, "ci")
    return (1.0 - ci) / 2.0, (1.0 + ci) / 2.0


def reduce_draws(values: np.ndarray, ci: float, discrete: bool = False):
    """Mean and central ``ci`` interval over axis 0 (the draws).

    ``discrete=True`` takes quantiles that are observed values (inverted CDF), so a
    predictive interval of counts holds whole numbers.
    """
    lo, hi = quantile_bounds(ci)
    if values.ndim == 2 and values.shape[0] > 0:  # compiled; the same numbers as NumPy's
        q = column_quantiles(values, lo, hi, discrete)
    else:
        q = np.quantile(values, [lo, hi], axis=0,
                        method="inverted_cdf" if discrete else "linear")
    return values.mean(axis=0), q[0], q[1]


def interval_frame(name: str, mean, lo=None, hi=None, kind: str = "param", index=None,
                   ci: float = 0.9) -> pd.DataFrame:
    cols = {f"{name}_mean": mean}
    if lo is not None:
        cols[f"{name}_{kind}_lo"] = lo
        cols[f"{name}_{kind}_hi"] = hi
    out = pd.DataFrame(cols, index=index)
    out.attrs["ci"] = ci
    return out


def per_unique_rows(columns: list[np.ndarray], fn: Callable, reduce: Callable,
                    n_draws: int, n_threads: int = 1):
    """Evaluate ``fn`` on the unique rows of ``columns`` only, reduce, and expand back.

    ``fn(*unique_columns)`` returns an ``(n_draws, k)`` array of per-draw values for k
    rows and ``reduce`` turns it into a tuple of ``(k,)`` arrays. Customers with the
    same history share their expectation, so this is exact. Rows go through ``fn`` in
    chunks of about :data:`CELLS_PER_CHUNK` draws x rows, so memory stays bounded, on
    ``n_threads`` threads.
    """
    *cols, _, inverse = unique_rows(*columns, return_inverse=True)
    unique = np.stack(cols, axis=1)
    step = max(1, CELLS_PER_CHUNK // max(int(n_draws), 1))
    parts = list(map_threads(n_threads, lambda i: reduce(fn(*unique[i:i + step].T)),
                             range(0, len(unique), step)))
    reduced = [np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(len(parts[0]))]
    return tuple(r[inverse.reshape(-1)] for r in reduced)


def canonical_order(index: pd.Index) -> np.ndarray:
    """Positions that sort customers by id: random streams follow this order, so
    reordering the input changes nobody's numbers."""
    try:
        return np.argsort(index.to_numpy(), kind="stable")
    except TypeError:  # ids of mixed types
        return np.argsort(index.astype(str).to_numpy(), kind="stable")


#: Fewest simulations per customer behind a predictive interval. A posterior with fewer
#: draws (MAP or a point estimate: one draw) is cycled to this many.
MIN_SIMULATIONS = 1000


def simulation_draws(params: dict[str, np.ndarray], minimum: int = MIN_SIMULATIONS
                     ) -> dict[str, np.ndarray]:
    """Population draws for simulation, cycled up to ``minimum`` (default
    :data:`MIN_SIMULATIONS`)."""
    n = len(next(iter(params.values())))
    if n >= minimum:
        return params
    return {k: np.resize(a, minimum) for k, a in params.items()}


def check_threads(n_threads) -> int:
    """Threads for chunked scoring: the caller's number, or ``min(4, CPUs)``."""
    if n_threads is None:
        return max(1, min(4, os.cpu_count() or 1))
    if not isinstance(n_threads, int | np.integer) or n_threads < 1:
        raise v.InvalidOptionError(f"n_threads must be a whole number >= 1, got {n_threads!r}",
                                   column="n_threads")
    return int(n_threads)


def map_threads(n_threads: int, fn: Callable, items) -> Iterator:
    """``map(fn, items)`` in order, on ``n_threads`` threads (the caller's alone if 1).

    The compiled kernels release the GIL, so chunks run side by side; results come back
    in the items' order, so totals do not depend on the number of threads.
    """
    items = list(items)
    if n_threads <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(min(n_threads, len(items))) as pool:
        yield from pool.map(fn, items)
