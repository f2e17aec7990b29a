"""The comparisons' second pass: the same ranks whether it scores the customers again
or reads back what the first pass kept."""

import warnings

import numpy as np
import pytest

from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma, ModifiedBetaGeo, ParetoNBD
from lifevalue.value import CustomerValue
from lifevalue.value import customer_value as cv_module


@pytest.fixture(scope="module", params=[BetaGeo, ModifiedBetaGeo, ParetoNBD])
def cv(cdnow_cal, request):
    if request.param is ParetoNBD:  # its Laplace approximation is poor on CDNOW: NUTS
        with warnings.catch_warnings():  # 2 x 200 draws: under the ESS the warning asks
            warnings.simplefilter("ignore", ConvergenceWarning)
            bg = ParetoNBD().fit(cdnow_cal, draws=200, tune=200, chains=2, random_seed=1)
    else:
        bg = request.param().fit(cdnow_cal, method="laplace", random_seed=2)
    gg = GammaGamma().fit(cdnow_cal, method="laplace", random_seed=2)
    return CustomerValue(bg, gg, margin=0.3, retention_cost=0.5, max_draws=300, chunk_size=128)


def test_kept_values_give_the_ranks_of_a_second_scoring(cv, cdnow_cal, monkeypatch):
    part = cdnow_cal.iloc[::3]
    kept = cv.evaluate(part, "realistic", comparisons=True)
    monkeypatch.setattr(cv_module, "KEEP_BYTES", 0)  # too small: scored a second time
    again = cv.evaluate(part, "realistic", comparisons=True)
    cols = [c for c in kept.customers.columns if c.startswith(("rank_", "p_top", "p_big",
                                                               "p_medium", "p_small",
                                                               "p_inactive"))]
    assert len(cols) == 11  # rank mean and intervals, P(top 20%), the five levels
    for col in cols:
        np.testing.assert_array_equal(kept.customers[col], again.customers[col], err_msg=col)
    # the Lorenz curve comes from the first pass (its per-thread sketches are added in
    # the order the threads finish: equal up to rounding)
    np.testing.assert_allclose(kept.lorenz["value_share"], again.lorenz["value_share"],
                               rtol=1e-12)
