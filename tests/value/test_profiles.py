"""Customer value from models with covariates: each attribute profile valued as its own
model, the base and cells added up draw by draw, prospects by profile and from the fitted
population, thresholds independent of the customers scored."""

import numpy as np
import pandas as pd
import pytest

from lifevalue import validation as v
from lifevalue.models import BetaGeo, GammaGamma, ParetoNBD
from lifevalue.models.random_streams import RNG_BLOCK
from lifevalue.value import CustomerValue

SETTINGS = dict(margin=0.3, retention_cost=0.5, max_draws=200)


@pytest.fixture(scope="module")
def with_web(cdnow_cal):
    rng = np.random.default_rng(3)
    return cdnow_cal.assign(web=(rng.random(len(cdnow_cal)) < 0.3).astype(float))


@pytest.fixture(scope="module")
def spend(cdnow_cal):
    return GammaGamma().fit(cdnow_cal, method="map")


@pytest.fixture(scope="module", params=[(BetaGeo, "laplace"), (ParetoNBD, "map")],
                ids=lambda p: p[0].__name__)
def valued(request, with_web, spend):
    """Posterior draws (BG/NBD, Laplace) and a point estimate (Pareto/NBD, whose Laplace
    fit of CDNOW falls back to a slower NUTS)."""
    cls, method = request.param
    model = cls(purchase_covariates=["web"], dropout_covariates=["web"]).fit(
        with_web, method=method, random_seed=2, draws=100)
    cv = CustomerValue(model, spend, **SETTINGS)
    return cv, cv.evaluate(with_web)


def test_each_profile_is_valued_as_its_own_model(valued, with_web, spend):
    cv, result = valued
    thresholds = tuple(result.assumptions["thresholds"].values())
    web = with_web[with_web["web"] == 1.0]
    offset = -(-int((with_web["web"] == 0.0).sum()) // RNG_BLOCK) * RNG_BLOCK
    for z, part, rng_offset in ((0.0, with_web[with_web["web"] == 0.0], 0), (1.0, web, offset)):
        own = CustomerValue(cv.transactions_model.for_profile({"web": z}), spend, **SETTINGS)
        alone = own.evaluate(part, thresholds=thresholds, rng_offset=rng_offset).customers
        pd.testing.assert_frame_equal(result.customers.loc[part.index], alone)
    assert result.customers.index.equals(with_web.index)
    assert result.assumptions["covariate_profiles"] == 2


def test_base_cells_and_flows_add_up(valued):
    cv, result = valued
    c = result.customers
    assert result.base.loc["current", "mean"] == pytest.approx(c["current_mean"].sum(),
                                                              rel=1e-9)
    assert result.base.loc["potential", "mean"] == pytest.approx(c["potential_mean"].sum(),
                                                                rel=1e-9)
    flows = result.cash_flows.xs("current", level="scenario")
    assert flows["discounted_net"].sum() == pytest.approx(c["current_mean"].sum(), rel=1e-6)
    cells = result.cell_values()
    assert cells["customers"].sum() == len(c)


def test_prospects_by_profile_and_from_the_fitted_population(valued, with_web):
    cv, _ = valued
    by = {z: cv.prospect_value(profile={"web": z})["value_mean"].iloc[0] for z in (0.0, 1.0)}
    own = CustomerValue(cv.transactions_model.for_profile({"web": 1.0}), cv.spend_model,
                        **SETTINGS).prospect_value()
    assert by[1.0] == own["value_mean"].iloc[0]
    share = float((with_web["web"] == 1.0).mean())
    mixed = cv.prospect_value()
    assert mixed["value_mean"].iloc[0] == pytest.approx(
        share * by[1.0] + (1 - share) * by[0.0], rel=1e-12)
    assert mixed["value_pred_lo"].iloc[0] <= mixed["value_mean"].iloc[0] <= \
        mixed["value_pred_hi"].iloc[0]
    # the default thresholds come from that average prospect
    assert cv.matrix_thresholds()[0] == pytest.approx(max(mixed["value_mean"].iloc[0], 0.0))


def test_a_better_profile_is_worth_more(with_web, spend):
    """Raising the purchase coefficient of a profile (more purchases in every draw) never
    lowers a prospect's value."""
    model = BetaGeo(purchase_covariates=["web"]).fit(with_web, method="map")
    cv = CustomerValue(model, spend, **SETTINGS)
    values = [cv.prospect_value(profile={"web": z})["value_mean"].iloc[0]
              for z in (-1.0, 0.0, 1.0)]
    coef = model.point_estimate()["alpha[web]"]
    assert (np.diff(values) > 0).all() if coef > 0 else (np.diff(values) < 0).all()


def test_cells_do_not_depend_on_the_customers_scored(valued, with_web):
    cv, result = valued
    half = with_web.sample(frac=0.5, random_state=1)
    part = cv.evaluate(half)
    assert part.assumptions["thresholds"] == result.assumptions["thresholds"]
    assert (part.customers["cell"] == result.customers.loc[half.index, "cell"]).all()


def test_comparisons_place_every_customer_among_all_profiles(valued, with_web, spend):
    """With every coefficient 0 in every draw, the two profiles' customers have the same
    parameters: ranking them profile by profile must give the ranks of the expectations
    of ranking them together (the simulated futures differ: their streams do)."""
    cv, _ = valued
    model = cv.transactions_model
    zero = type(model)(**{f"{k}_covariates": c for k, c in model.covariates.items()})
    zero.idata_ = model.idata_.copy()
    zero.metadata_, zero.diagnostics_ = dict(model.metadata_), {}
    for name in model.param_names[len(type(model).param_names):]:
        zero.idata_["posterior"][name] = zero.idata_["posterior"][name] * 0.0
    by_profile = CustomerValue(zero, spend, **SETTINGS).evaluate(with_web, comparisons=True)
    together = CustomerValue(zero.for_profile({"web": 0.0}), spend, **SETTINGS).evaluate(
        with_web, comparisons=True, thresholds=tuple(
            by_profile.assumptions["thresholds"].values()))
    a, b = by_profile.customers, together.customers
    for col in ("current_mean", "rank_mean", "rank_param_lo", "rank_param_hi"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-12, err_msg=col)
    levels = a[[f"p_{lv}" for lv in ("top", "big", "medium", "small", "inactive")]]
    np.testing.assert_allclose(levels.sum(axis=1), 1.0)
    assert a["rank_pred_lo"].min() >= 1 and a["rank_pred_hi"].max() <= len(a)
    assert a["p_top20"].sum() == pytest.approx(0.2 * len(a), rel=0.05)
    param = by_profile.lorenz[by_profile.lorenz["kind"] == "param"]
    np.testing.assert_allclose(param["value_share"],
                               together.lorenz[together.lorenz["kind"] == "param"][
                                   "value_share"], rtol=1e-9)
    assert by_profile.pyramid["expected_customers"].sum() == pytest.approx(len(a))


def test_pairs_compare_across_profiles(valued, with_web):
    cv, _ = valued
    a = with_web.index[with_web["web"] == 0.0][0]
    b = with_web.index[with_web["web"] == 1.0][0]
    for kind in ("pred", "param"):
        assert cv.prob_more_valuable(with_web, a, b, kind=kind) + \
            cv.prob_more_valuable(with_web, b, a, kind=kind) == pytest.approx(1.0)


def test_cash_flows_follow_the_summary(valued, with_web):
    cv, result = valued
    some = with_web.iloc[[5, 0, 3]]
    flows = cv.cash_flows(some)
    assert flows.index.get_level_values(0).unique().tolist() == some.index.tolist()
    np.testing.assert_allclose(flows.groupby(level=0, sort=False)["discounted_net"].sum(),
                               result.customers.loc[some.index, "current_mean"], rtol=1e-6)


def test_profile_needs_a_model_with_covariates(spend, cdnow_cal):
    plain = CustomerValue(BetaGeo().fit(cdnow_cal, method="map"), spend, **SETTINGS)
    with pytest.raises(v.InvalidOptionError, match=r"^profile= needs a transaction model "
                       r"with covariates"):
        plain.prospect_value(profile={"web": 1.0})


def test_population_prospect_with_many_profiles(cdnow_cal, spend):
    """70 profiles (a 70-level attribute): the prospect drawn from the fitted customers'
    profiles is their mixture."""
    summary = cdnow_cal.assign(level=(np.arange(len(cdnow_cal)) % 70).astype(float) / 70)
    model = BetaGeo(purchase_covariates=["level"]).fit(summary, method="map")
    cv = CustomerValue(model, spend, **SETTINGS)
    mixed = cv.prospect_value()["value_mean"].iloc[0]
    counts = summary["level"].value_counts().sort_index()
    each = [cv.prospect_value(profile={"level": z})["value_mean"].iloc[0]
            for z in counts.index]
    assert mixed == pytest.approx(np.dot(counts / counts.sum(), each), rel=1e-10)
