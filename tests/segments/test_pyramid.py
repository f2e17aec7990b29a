"""The customer pyramid: cut points, inactive customers, movement between periods."""

import numpy as np
import pandas as pd
import pytest

from lifevalue import validation as v
from lifevalue.segments.pyramid import customer_pyramid, pyramid_movement, pyramid_summary


def test_default_cuts_give_1_4_15_80():
    vals = pd.Series(np.random.default_rng(1).permutation(1000).astype(float))
    counts = customer_pyramid(vals).value_counts()
    assert counts[["top", "big", "medium", "small", "inactive"]].tolist() == [10, 40, 150, 800, 0]
    levels = customer_pyramid(vals)
    assert vals[levels == "top"].min() > vals[levels == "big"].max()


def test_inactive_customers_and_custom_cuts():
    vals = pd.Series([100.0, 50.0, 10.0, 5.0, 1.0], index=list("abcde"))
    alive = pd.Series([0.05, 0.9, 0.9, 0.9, 0.9], index=list("abcde"))
    levels = customer_pyramid(vals, alive, cuts=(0.25, 0.5, 0.75), inactive_below=0.1)
    assert levels.astype(str).tolist() == ["inactive", "top", "big", "medium", "small"]
    with pytest.raises(v.InvalidOptionError, match="cuts must be three increasing fractions"):
        customer_pyramid(vals, cuts=(0.5, 0.2, 0.9))


def test_summary_and_movement():
    vals = pd.Series([10.0, 5.0, 1.0, 1.0], index=list("abcd"))
    before = customer_pyramid(vals, cuts=(0.25, 0.5, 0.75))
    after = customer_pyramid(pd.Series([1.0, 5.0, 10.0, 1.0], index=list("abcd")),
                             cuts=(0.25, 0.5, 0.75))
    moves = pyramid_movement(before, after)
    assert moves.loc["top", "small"] + moves.loc["top", "medium"] == 1
    assert moves.loc["medium", "top"] == 1 and moves.to_numpy().sum() == 4
    summ = pyramid_summary(before, vals)
    assert summ.loc["top", "share_of_value"] == pytest.approx(10 / 17)
    with pytest.raises(v.InputError, match="same customers"):
        pyramid_movement(before, after.iloc[:3])
