"""The three customer-value formulas of the source, as pure
functions of per-period arrays. The last axis of every array runs over periods
t = 1..n; other axes broadcast (customers, draws).
"""

from __future__ import annotations

import numpy as np


def return_based_value(P, V, M, O, R, d, A=0.0):
    """Return-based customer value (Wayland & Cole 1997).

    ``KW = sum_t P_t V_t M_t d^t - sum_t (O_t + R_t) d^t - A``

    Parameters
    ----------
    P : array
        Probability the customer is active in period t (retention).
    V : array
        Revenue in period t if active.
    M : array
        Net margin on that revenue, a fraction.
    O, R : array
        Development and retention costs in period t.
    d : array
        Discount factors ``d ** t``.
    A : float or array
        Acquisition cost; 0 for an existing customer (it is sunk).

    Examples
    --------
    Two periods, 10% per period: 0.9*100*0.3/1.1 + 0.8*100*0.3/1.21 - (5+5)/1.1 - 5/1.21

    >>> d = np.array([1 / 1.1, 1 / 1.21])
    >>> round(float(return_based_value([0.9, 0.8], [100, 100], [0.3, 0.3], [5, 0],
    ...                                [5, 5], d)), 4)
    31.157
    """
    P, V, M, O, R, d = (np.asarray(a, dtype="float64") for a in (P, V, M, O, R, d))
    return (P * V * M * d).sum(axis=-1) - ((O + R) * d).sum(axis=-1) - A


def revenue_based_value(retention_rate, share_of_wallet, category_spend, d):
    """Revenue-based customer value: ``KW = sum_t RG^t KA_t KU_t / (1+DV)^t``.

    Parameters
    ----------
    retention_rate : float or array
        RG, the probability per period that the customer stays.
    share_of_wallet : array
        KA_t, the share of the customer's category spend that goes to us.
    category_spend : array
        KU_t, the customer's spend in the category in period t.
    d : array
        Discount factors ``1/(1+DV)^t`` (see :class:`~lifevalue.value.periods.PeriodGrid`).

    It has no costs.

    Examples
    --------
    >>> d = np.array([1 / 1.1, 1 / 1.21])
    >>> round(float(revenue_based_value(0.8, [0.5, 0.5], [200, 200], d)), 4)
    125.6198
    """
    d = np.asarray(d, dtype="float64")
    t = np.arange(1, d.shape[-1] + 1, dtype="float64")
    rg = np.asarray(retention_rate, dtype="float64")[..., None] ** t
    ka = np.asarray(share_of_wallet, dtype="float64")
    ku = np.asarray(category_spend, dtype="float64")
    return (rg * ka * ku * d).sum(axis=-1)


def transaction_based_value(transactions, items_per_transaction, price_per_item,
                            acquisition_cost=0.0):
    """Transaction-based customer value: ``KW = T * A * P - K``.

    T transactions over the relationship, A items per transaction, P price per item,
    K acquisition cost. It has no discounting and no retention costs.

    Examples
    --------
    >>> float(transaction_based_value(10, 2, 15.0, 40.0))
    260.0
    """
    return (np.asarray(transactions, dtype="float64") * items_per_transaction * price_per_item
            - acquisition_cost)
