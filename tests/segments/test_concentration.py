"""Lorenz curve and the top-20% share."""

import numpy as np
import pytest

from lifevalue.segments.concentration import lorenz_curve, top_share


def test_equal_values_lie_on_the_diagonal():
    curve = lorenz_curve(np.ones(10))
    np.testing.assert_allclose(curve["value_share"], curve["customer_share"])
    assert top_share(np.ones(10)) == pytest.approx(0.2)


def test_pareto_concentration():
    vals = np.array([80.0] + [20.0 / 4] * 4)
    assert top_share(vals, 0.2) == pytest.approx(0.8)
    curve = lorenz_curve(vals)
    assert curve["value_share"].is_monotonic_increasing
    assert curve.iloc[-1].tolist() == [1.0, 1.0]


def test_negative_values_hold_no_share():
    assert top_share([10.0, -5.0, 0.0, 0.0, 0.0], 0.2) == pytest.approx(1.0)
    assert lorenz_curve([-1.0, -2.0])["value_share"].tolist() == [0.0, 0.0, 0.0]
