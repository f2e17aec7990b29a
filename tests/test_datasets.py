"""The bundled CDNOW data reproduce the facts the papers report."""

import pytest

from lifevalue import datasets


def test_cdnow_sample_facts(cdnow_cal):
    assert len(cdnow_cal) == 2357
    repeaters = cdnow_cal["frequency"] > 0
    assert int(repeaters.sum()) == 946
    assert int(cdnow_cal["frequency"].sum()) == 2457
    assert cdnow_cal.loc[repeaters, "monetary_value"].mean() == pytest.approx(35.078, abs=5e-4)
    # customer 1 of the papers: x=2, t_x=30.43, T=38.86
    assert cdnow_cal.loc[1, ["frequency", "recency", "T"]].round(2).tolist() == [
        2, 30.43, 38.86]
    assert (cdnow_cal["duration_holdout"] == 39.0).all()


def test_cdnow_master_has_23570_customers():
    log = datasets.load_cdnow_transactions("master")
    assert log["customer_id"].nunique() == 23570
    assert set(log.columns) == {"customer_id", "date", "quantity", "amount"}


def test_whole_period_summary(cdnow_log):
    full = datasets.load_cdnow_summary(holdout=False)
    assert len(full) == 2357 and full["T"].max() == pytest.approx(545 / 7)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="CDNOW dataset 'huge' is not one of 'sample', 'master'"):
        datasets.load_cdnow_transactions("huge")


def test_loaders_return_copies(cdnow_log):
    a = datasets.load_cdnow_transactions()
    a.loc[0, "amount"] = -1
    assert datasets.load_cdnow_transactions().loc[0, "amount"] > 0
