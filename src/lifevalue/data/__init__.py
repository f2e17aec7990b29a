"""Transactions in: reading, validating and summarising a transaction log."""

from lifevalue.data.summary import calibration_part, summarize

__all__ = ["calibration_part", "summarize"]
