"""Bundled data: the CDNOW sample (2,357 customers) and master (23,570 customers).

CDNOW is the public log of first-quarter 1997 cohort buyers at an online music
retailer, followed to the end of June 1998, as used by Fader, Hardie & Lee (2005).
Each line is ``customer_id, date (YYYYMMDD), number of CDs, dollar amount``. The
sample file puts the master file's customer id first (``master_id``) and its own id
(1..2357, the ids the papers use) second.

The standard split calibrates on 39 weeks (1997-01-01 to 1997-09-30) and holds out
the next 39 weeks (to 1998-06-30), in weeks at day resolution.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from lifevalue.data.summary import summarize

CDNOW_CALIBRATION_END = "1997-09-30"
CDNOW_OBSERVATION_END = "1998-06-30"

_FILES = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}


def data_path(name: str) -> Path:
    """Path of a bundled data file, in the installed package or the source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parents[1] / "data" / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"bundled data file {name!r} is not installed")


@cache
def _read_cdnow(which: str) -> pd.DataFrame:
    if which not in _FILES:
        raise ValueError(f"CDNOW dataset {which!r} is not one of 'sample', 'master'")
    names = ["master_id", "customer_id", "date", "quantity", "amount"]
    if which == "master":
        names.remove("master_id")
    log = pd.read_csv(data_path(_FILES[which]), sep=r"\s+", names=names, dtype={"date": str},
                      header=0 if which == "master" else None)
    log["date"] = pd.to_datetime(log["date"], format="%Y%m%d")
    return log


def load_cdnow_transactions(which: str = "sample") -> pd.DataFrame:
    """The CDNOW transaction log as a frame.

    Parameters
    ----------
    which : {'sample', 'master'}

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``date`` (datetime), ``quantity`` and ``amount``
        (dollars); the sample also has ``master_id``.

    Examples
    --------
    >>> log = load_cdnow_transactions()
    >>> log["customer_id"].nunique()
    2357
    """
    return _read_cdnow(which).copy()


def load_cdnow_summary(which: str = "sample", *, holdout: bool = True) -> pd.DataFrame:
    """The standard CDNOW RFM summary, in weeks at day resolution.

    With ``holdout=True`` (default) it is the 39-week calibration / 39-week holdout
    summary; otherwise the summary over the whole 78 weeks.

    Examples
    --------
    >>> cal = load_cdnow_summary()
    >>> int((cal["frequency_cal"] > 0).sum())
    946
    """
    return summarize(
        _read_cdnow(which),
        customer_id="customer_id",
        date="date",
        amount="amount",
        observation_end=CDNOW_OBSERVATION_END,
        calibration_end=CDNOW_CALIBRATION_END if holdout else None,
        time_unit="W",
        occasion="D",
        engine="pandas",
    )
