"""Transactions in: reading, validating and summarising a transaction log."""

from lifevalue.data.summary import calibration_part, summarize
from lifevalue.validation.covariates import join_attributes

__all__ = ["calibration_part", "join_attributes", "summarize"]
