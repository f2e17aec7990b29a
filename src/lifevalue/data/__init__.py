"""Transactions in: reading, validating and summarising a transaction log."""

from lifevalue.data.summary import summarize

__all__ = ["summarize"]
