"""The period grid converts units and discount rates explicitly."""

import numpy as np
import pytest

from lifevalue import validation as v
from lifevalue.value.periods import PeriodGrid


def test_month_in_weeks_and_days():
    assert PeriodGrid("M", 3, 0.1, "W").length == pytest.approx(365.25 / 12 / 7)
    assert PeriodGrid("M", 3, 0.1, "D").length == pytest.approx(30.4375)
    assert PeriodGrid("Q", 3, 0.1, "M").length == pytest.approx(3.0)
    assert PeriodGrid("Y", 2, 0.1, "W").edges.tolist() == pytest.approx([0, 365.25 / 7,
                                                                           2 * 365.25 / 7])


def test_discounting_compounds_to_the_annual_rate():
    monthly = PeriodGrid("M", 24, 0.12, "W")
    assert monthly.discount[11] == pytest.approx(1 / 1.12)
    assert monthly.discount[23] == pytest.approx(1 / 1.12**2)
    quarterly = PeriodGrid("Q", 4, 0.12, "W")
    assert quarterly.discount[-1] == pytest.approx(1 / 1.12)
    assert PeriodGrid("M", 2, 0.0, "W").discount.tolist() == [1.0, 1.0]
    # 1% a month is 1.01**12 - 1 a year
    assert PeriodGrid("M", 1, 1.01**12 - 1, "W").period_rate == pytest.approx(0.01)


@pytest.mark.parametrize("kwargs,match", [
    (dict(period="H"), r"period 'H' is not one of 'W' \(weeks\), 'M' \(months\)"),
    (dict(horizon=0), r"horizon must be a whole number of periods >= 1, got 0"),
    (dict(horizon=2.5), r"horizon must be a whole number of periods >= 1, got 2.5"),
    (dict(annual_discount_rate=-0.1), r"annual_discount_rate must be a finite number >= 0"),
    (dict(annual_discount_rate=np.nan), r"annual_discount_rate must be a finite number >= 0"),
    (dict(time_unit="Q"), r"time_unit 'Q' is not one of"),
])
def test_bad_grid(kwargs, match):
    with pytest.raises(v.InvalidOptionError, match=match):
        PeriodGrid(**kwargs)
