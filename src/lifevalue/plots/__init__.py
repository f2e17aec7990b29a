"""Plots: plain functions ``plot_x(..., ax=None) -> Axes``.

Each draws on ``ax`` (a new figure's axes when None) and returns it, so plots compose
in notebooks and reports. Intervals are drawn wherever a figure has one, and the
legend says which kind it is (parameter or predictive). The value plots take either a
customers frame or the :class:`~lifevalue.value.ValueResult` itself; given the result
they also draw what it knows beyond the frame (the matrix thresholds, the pyramid's
level probabilities, the Lorenz curve's credible band).
"""

from lifevalue.plots._common import CELL_COLOURS
from lifevalue.plots.models import (
    calibration_holdout_table,
    plot_calibration_holdout,
    plot_frequency_recency_matrix,
    plot_pit_histogram,
    plot_posterior,
    plot_probability_alive_matrix,
    plot_repeat_purchases,
    plot_trace,
    plot_tracking,
    tracking_table,
)
from lifevalue.plots.values import (
    plot_customer_values,
    plot_lorenz,
    plot_pyramid,
    plot_relationship_matrix,
    plot_value_distribution,
)

__all__ = [
    "CELL_COLOURS",
    "calibration_holdout_table",
    "plot_calibration_holdout",
    "plot_customer_values",
    "plot_frequency_recency_matrix",
    "plot_lorenz",
    "plot_pit_histogram",
    "plot_posterior",
    "plot_probability_alive_matrix",
    "plot_pyramid",
    "plot_relationship_matrix",
    "plot_repeat_purchases",
    "plot_trace",
    "plot_tracking",
    "plot_value_distribution",
    "tracking_table",
]
