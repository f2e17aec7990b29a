"""Test helpers shared across test files (importable as ``helpers``)."""

import numpy as np
import pandas as pd


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
