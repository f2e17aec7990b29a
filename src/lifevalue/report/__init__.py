"""A self-contained HTML report for people who never open Python.

One file: every figure is an embedded PNG, the style is inline, the action lists
download as CSV embedded in the page, and nothing is loaded from the network. The
first screen answers what the base is worth, whom to retain, develop and phase out,
what developing could gain, the budget for a new customer and whether the model can be
trusted; then the details. Every amount carries its unit and its intervals, and the
page says which kind.
"""

from __future__ import annotations

from pathlib import Path

from lifevalue.files import atomic_write
from lifevalue.report.actions import ActionList, action_lists
from lifevalue.report.figures import KeyFigures, key_figures
from lifevalue.report.fmt import money, money_range
from lifevalue.report.page import PARAM_MEANING, PRED_MEANING, build_report
from lifevalue.report.trust import Trust, assess
from lifevalue.report.trust import diagnostics_block as _diagnostics_block  # noqa: F401

__all__ = ["PARAM_MEANING", "PRED_MEANING", "ActionList", "KeyFigures", "Trust",
           "action_lists", "assess", "build_report", "key_figures",
           "money", "money_range", "write_report"]


def write_report(path, **kwargs) -> Path:
    """Write :func:`build_report` to ``path`` atomically and return the path.

    Keyword arguments are those of :func:`build_report`.
    """
    text = build_report(**kwargs)
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
