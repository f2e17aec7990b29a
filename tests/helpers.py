"""Test helpers shared across test files (importable as ``helpers``)."""

import os

import numpy as np
import pandas as pd
import pytest

from lifevalue.models.table_grid import STENCIL


def random_log(rng, n_customers=30, max_tx=6, start="2020-01-01", span_days=400,
               with_amount=True):
    """A small random log with same-day repeats, for engine and reference comparisons."""
    rows = []
    start = pd.Timestamp(start)
    for cid in range(n_customers):
        first = rng.integers(0, span_days // 2)
        n = rng.integers(1, max_tx + 1)
        days = np.sort(first + rng.integers(0, span_days // 2, size=n))
        days[0] = first
        for d in days:
            rows.append((f"c{cid:03d}", start + pd.Timedelta(days=int(d)),
                         float(np.round(rng.gamma(2.0, 10.0), 2))))
    log = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    if not with_amount:
        log = log.drop(columns="amount")
    return log.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)


def assert_counts_match_closed_forms(counts, expected, no_purchase):
    """Simulated purchase counts ``(n_sims, n)`` against a model's closed forms per
    customer: the mean count and the share without a purchase, each within 5 Monte-Carlo
    standard errors."""
    n_sims = counts.shape[0]
    se = counts.std(axis=0) / np.sqrt(n_sims)
    assert (np.abs(counts.mean(axis=0) - expected) <= 5 * se + 1e-12).all()
    share = (counts == 0).mean(axis=0)
    band = 5 * np.sqrt(no_purchase * (1 - no_purchase) / n_sims) + 1e-9
    assert (np.abs(share - no_purchase) <= band).all()


#: Purchases just before midnight in New York, with the UTC offsets of winter and
#: summer time: in UTC the first and the last fall on the next day.
LOCAL_LOG = pd.DataFrame({
    "customer_id": ["a", "a", "a", "b"],
    "date": ["2024-03-01T23:30:00-05:00", "2024-03-05T10:00:00-05:00",
             "2024-07-09T22:00:00-04:00", "2024-03-02T12:00:00-05:00"],
    "amount": [10.0, 20.0, 30.0, 5.0]})
#: By hand, in days, to 2024-07-20: a first bought on March 1 and last on July 9 (not
#: March 2 and July 10, as in UTC); b on March 2.
LOCAL_DAYS = pd.DataFrame({"frequency": [2.0, 0.0], "recency": [130.0, 0.0],
                           "T": [141.0, 140.0]}, index=pd.Index(["a", "b"]))


def local_inputs(kind):
    """LOCAL_LOG as text, text with a format, or aware timestamps of each frame kind,
    and the date format to pass."""
    if kind == "text":
        return LOCAL_LOG, None
    if kind == "text, one without offset":
        return LOCAL_LOG.assign(date=LOCAL_LOG["date"].str.replace("T12:00:00-05:00",
                                                                   " 12:00:00")), None
    if kind == "text with %z":
        text = LOCAL_LOG["date"].str.replace("T", " ").str.replace(r"([+-]\d\d):(\d\d)$",
                                                                   r" \1\2", regex=True)
        return LOCAL_LOG.assign(date=text), "%Y-%m-%d %H:%M:%S %z"
    aware = pd.to_datetime(LOCAL_LOG["date"], utc=True).dt.tz_convert("America/New_York")
    frame = LOCAL_LOG.assign(date=aware)
    if kind == "pandas, aware":
        return frame, None
    if kind == "arrow, aware":
        import pyarrow as pa

        return pa.Table.from_pandas(frame, preserve_index=False), None
    import polars as pl

    return pl.from_pandas(frame), None


# ------------------------------------------- the table grid's tests (models and value)


def grid_population(rng, S, unit=1.0):
    """Draws spread far wider than a posterior (CDNOW's values times lognormal(0, 0.5)),
    with ``a`` kept off 1 where SciPy's eq. (10) loses digits."""
    r = 0.243 * rng.lognormal(0, 0.5, S)
    alpha = 4.414 * unit * rng.lognormal(0, 0.5, S)
    a = 0.793 * rng.lognormal(0, 0.5, S)
    a = np.where(np.abs(a - 1.0) < 1e-2, 1.3, a)
    b = 2.426 * rng.lognormal(0, 0.5, S)
    return r, alpha, a, b


def grid_interpolated(grid, values, rows, sel=None):
    """Each row's value at every draw from the node values ``(S, N, ...)``."""
    out = 0.0
    for i in range(STENCIL):
        at = grid.below[rows] + i
        if sel is not None:
            at = np.where(sel, grid.above[rows] + i, at)  # (S, rows)
            picked = np.take_along_axis(values, at[..., None], axis=1) if values.ndim == 3 \
                else np.take_along_axis(values, at, axis=1)
        else:
            picked = values[:, at]
        w = grid.weights[i, rows]
        out = out + (w[:, None] if picked.ndim == 3 else w) * picked
    return out


def grid_rows(rng, U, unit=1.0):
    x = np.r_[rng.integers(0, 40, U - 4), 0, 0, 3, 40].astype(float)
    T = np.r_[np.round(rng.uniform(0, 78 * unit, U - 4), 2), 0.0, 78 * unit, 0.01, 78 * unit]
    rate = rng.choice([1.0, 0.6, 1.8], U)
    dropout = rng.choice([1.0, 0.7, 1.5], U)
    return np.stack([x, T, rate, dropout], axis=1)


def require_tool(found: bool, message: str) -> None:
    """A test that needs an outside program (Chromium, Java): in CI (the environment
    variable ``CI`` set, as ``.ci/run`` and the usual CI services do) its absence fails
    the test; elsewhere, e.g. on a contributor's machine without it, the test is skipped
    with ``message``, so that the rest of the suite still runs."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
