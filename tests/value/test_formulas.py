"""Hand-computed cases: two customers, two periods, known inputs, exact numbers."""

import numpy as np
import pytest

from lifevalue.value.formulas import (
    return_based_value,
    revenue_based_value,
    transaction_based_value,
)

D = np.array([1 / 1.1, 1 / 1.21])  # 10% per period


def test_return_based_two_customers_two_periods():
    P = np.array([[1.0, 0.5], [0.8, 0.4]])
    V = np.array([[100.0, 100.0], [50.0, 60.0]])
    M = np.array([0.5, 0.25])  # per period
    O = np.array([[10.0, 0.0], [0.0, 0.0]])  # development spend on customer 1 only
    R = np.array([2.0, 2.0])
    A = np.array([0.0, 30.0])  # customer 2 is a prospect
    got = return_based_value(P, V, M, O, R, D, A)
    c1 = 1 * 100 * 0.5 / 1.1 + 0.5 * 100 * 0.25 / 1.21 - (10 + 2) / 1.1 - 2 / 1.21
    c2 = 0.8 * 50 * 0.5 / 1.1 + 0.4 * 60 * 0.25 / 1.21 - 2 / 1.1 - 2 / 1.21 - 30
    np.testing.assert_allclose(got, [c1, c2], rtol=1e-14)
    assert got[0] == pytest.approx(45.454545 + 10.330579 - 10.909091 - 1.652893, abs=1e-6)


def test_revenue_based_two_customers_two_periods():
    got = revenue_based_value(np.array([0.9, 0.5]), np.array([[0.2, 0.3], [1.0, 1.0]]),
                              np.array([[500.0, 500.0], [80.0, 100.0]]), D)
    c1 = 0.9 * 0.2 * 500 / 1.1 + 0.81 * 0.3 * 500 / 1.21
    c2 = 0.5 * 80 / 1.1 + 0.25 * 100 / 1.21
    np.testing.assert_allclose(got, [c1, c2], rtol=1e-14)


def test_transaction_based_two_customers():
    got = transaction_based_value(np.array([12, 3]), np.array([2.0, 1.0]),
                                  np.array([9.5, 40.0]), np.array([50.0, 0.0]))
    np.testing.assert_array_equal(got, [12 * 2 * 9.5 - 50, 120.0])


def test_return_based_without_costs_equals_discounted_margin():
    P, V, M = np.ones(2), np.array([10.0, 10.0]), np.ones(2)
    assert return_based_value(P, V, M, 0.0, 0.0, np.ones(2)) == 20.0
