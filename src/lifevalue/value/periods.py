"""The period grid of a value calculation: period length, horizon and discounting.

Periods are ``'W'`` weeks (7 days), ``'M'`` months (365.25/12 days), ``'Q'`` quarters
(365.25/4 days) or ``'Y'`` years (365.25 days). The model's time unit (that of the
summary it was fitted on: days, weeks or months) is converted explicitly: a period is
``days(period) / days(time_unit)`` model time units long.

Discounting: an annual cost of capital ``i`` becomes the per-period rate
``i_p = (1 + i) ** (days(period) / 365.25) - 1`` (compound, so twelve monthly periods
discount exactly like one year), and the cash flow of period t is discounted by
``d ** t`` with ``d = 1 / (1 + i_p)``: flows fall at the end of each period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifevalue import validation as v

PERIOD_DAYS: dict[str, float] = {"W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4, "Y": 365.25}


@dataclass(frozen=True)
class PeriodGrid:
    """Future periods t = 1..horizon of equal length.

    Parameters
    ----------
    period : {'W', 'M', 'Q', 'Y'}
    horizon : int
        Number of periods n, at least 1.
    annual_discount_rate : float
        Cost of capital per year, >= 0.
    time_unit : {'D', 'W', 'M'}
        The model's time unit.

    Examples
    --------
    >>> grid = PeriodGrid("M", 12, 0.10, time_unit="W")
    >>> round(grid.length, 4)
    4.3482
    >>> round(float(grid.discount[-1]), 6)  # twelve months discount like one year
    0.909091
    """

    period: str = "M"
    horizon: int = 12
    annual_discount_rate: float = 0.10
    time_unit: str = "W"

    def __post_init__(self):
        if self.period not in PERIOD_DAYS:
            raise v.InvalidOptionError(
                f"period {self.period!r} is not one of 'W' (weeks), 'M' (months), "
                "'Q' (quarters), 'Y' (years)", column="period")
        if (isinstance(self.horizon, bool) or not isinstance(self.horizon, int | np.integer)
                or self.horizon < 1):
            raise v.InvalidOptionError(
                f"horizon must be a whole number of periods >= 1, got {self.horizon!r}",
                column="horizon")
        rate = self.annual_discount_rate
        if not v.is_finite_number(rate) or float(rate) < 0:
            raise v.InvalidOptionError(
                f"annual_discount_rate must be a finite number >= 0, got {rate!r}",
                column="annual_discount_rate")
        v.check_time_unit(self.time_unit)

    @property
    def length(self) -> float:
        """Length of one period in the model's time unit."""
        return PERIOD_DAYS[self.period] / v.DAYS_PER_UNIT[self.time_unit]

    @property
    def edges(self) -> np.ndarray:
        """Period boundaries 0, L, 2L, ..., nL in model time after the end of data."""
        return np.arange(self.horizon + 1, dtype="float64") * self.length

    @property
    def period_rate(self) -> float:
        """The annual rate converted to one period, compounding."""
        return (1.0 + float(self.annual_discount_rate)) ** (
            PERIOD_DAYS[self.period] / 365.25) - 1.0

    @property
    def discount(self) -> np.ndarray:
        """Discount factors ``d ** t`` for t = 1..horizon."""
        d = 1.0 / (1.0 + self.period_rate)
        return d ** np.arange(1, self.horizon + 1, dtype="float64")
