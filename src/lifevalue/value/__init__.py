"""Customer value: the period grid, the three formulas, scenarios, and the scorer of
current and potential value with both kinds of interval."""

from lifevalue.value.customer_value import CustomerValue, ValueResult
from lifevalue.value.formulas import (
    return_based_value,
    revenue_based_value,
    transaction_based_value,
)
from lifevalue.value.periods import PeriodGrid
from lifevalue.value.scenarios import PRESETS, Scenario
from lifevalue.value.thresholds import MatrixThresholds

__all__ = ["PRESETS", "CustomerValue", "MatrixThresholds", "PeriodGrid", "Scenario", "ValueResult",
           "return_based_value", "revenue_based_value", "transaction_based_value"]
