"""Bundled data: the CDNOW sample (2,357 customers) and master (23,570 customers).

CDNOW is the public log of first-quarter 1997 cohort buyers at an online music
retailer, followed to the end of June 1998, as used by Fader, Hardie & Lee (2005a)
and distributed by Bruce Hardie with that paper: the master file holds the whole cohort
(customers who first bought in January to March 1997), the sample 1/10th of its
customers with all their purchases.
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

from lifevalue.data.summary import calibration_part, summarize

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

    With ``holdout=True`` (default) it is the calibration part of the 39-week
    calibration / 39-week holdout split (:func:`lifevalue.calibration_part`): the RFM
    columns as of the calibration end 1997-09-30, ready to fit, and the holdout columns
    ``frequency_holdout``, ``monetary_value_holdout``, ``duration_holdout``. Otherwise
    it is the summary over the whole 78 weeks, as of 1998-06-30.

    Examples
    --------
    >>> cal = load_cdnow_summary()
    >>> int((cal["frequency"] > 0).sum()), cal.attrs["calibration_end"]
    (946, '1997-09-30')
    """
    summary = summarize(
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
    return calibration_part(summary) if holdout else summary
