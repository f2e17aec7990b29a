"""Segments on top of value: the relationship matrix, the customer pyramid and the
concentration (Lorenz) curve."""

from lifevalue.segments.concentration import lorenz_curve, top_share
from lifevalue.segments.matrix import CELLS, classify, matrix_counts
from lifevalue.segments.pyramid import LEVELS, customer_pyramid, pyramid_movement, pyramid_summary

__all__ = ["CELLS", "LEVELS", "classify", "customer_pyramid", "lorenz_curve", "matrix_counts",
           "pyramid_movement", "pyramid_summary", "top_share"]
