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
