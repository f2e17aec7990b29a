"""Return-based current and potential value: reduction to lifetimes, properties,
intervals, base total, prospects and bad settings."""

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter

from lifevalue import validation as v
from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.models import predictions as pr
from lifevalue.models import table_grid as tg
from lifevalue.value import CustomerValue, Scenario
from lifevalue.value.formulas import return_based_value
from lifevalue.value.scenarios import as_scenario


@pytest.fixture(scope="module")
def maps(cdnow_cal):
    return BetaGeo().fit(cdnow_cal, method="map"), GammaGamma().fit(cdnow_cal, method="map")


@pytest.fixture(scope="module")
def mbg_maps(cdnow_cal):
    from lifevalue.models import ModifiedBetaGeo

    return (ModifiedBetaGeo().fit(cdnow_cal, method="map"),
            GammaGamma().fit(cdnow_cal, method="map"))


@pytest.fixture(scope="module")
def pnbd_maps(cdnow_cal):
    from lifevalue.models import ParetoNBD

    return ParetoNBD().fit(cdnow_cal, method="map"), GammaGamma().fit(cdnow_cal, method="map")


@pytest.fixture(scope="module")
def sub(cdnow_cal):
    return cdnow_cal.iloc[::5]  # 472 customers


def test_reduces_to_lifetimes_clv(maps, cdnow_cal):
    bg, gg = maps
    x, t, T, m = (cdnow_cal[c] for c in ("frequency", "recency", "T",
                                          "monetary_value"))
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series(bg.point_estimate())
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # set by fit()
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series({"p": gg.point_estimate()["p"], "q": gg.point_estimate()["q"],
                             "v": gg.point_estimate()["gamma"]})
    rep = x > 0
    ref = ggf.customer_lifetime_value(bgf, x[rep], t[rep], T[rep], m[rep], time=12,
                                      discount_rate=0.01, freq="W")
    cv = CustomerValue(bg, gg, period="M", horizon=12, annual_discount_rate=1.01**12 - 1,
                       margin=1.0)
    ours = cv.evaluate(cdnow_cal[rep], scenario="neutral").customers["current_mean"]
    np.testing.assert_allclose(ours, ref.to_numpy(), rtol=0.01)
    # the remaining gap is lifetimes' month of 4.345 weeks against our 365.25/12/7
    assert abs(ours.sum() / ref.sum() - 1) < 0.002


def test_neutral_scenario_gives_potential_equal_to_current(maps, sub):
    res = CustomerValue(*maps, margin=0.3, retention_cost=0.5).evaluate(sub, "neutral")
    c = res.customers
    for kind in ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi", "p_negative"):
        np.testing.assert_array_equal(c[f"potential_{kind}"], c[f"current_{kind}"])
    assert (c["growth_mean"] == 0).all() and (c["growth_pred_hi"] == 0).all()
    assert (c["p_develop"] == 0).all()


@pytest.mark.parametrize("pair", ["maps", "pnbd_maps"])
@pytest.mark.parametrize("field,better", [("purchase_rate", 1.3), ("dropout", 0.5),
                                          ("spend", 1.2), ("margin", 1.5)])
def test_improving_a_driver_never_lowers_value(pair, sub, field, better, request):
    cv = CustomerValue(*request.getfixturevalue(pair), margin=0.4, retention_cost=1.0,
                       max_draws=1)
    res = cv.evaluate(sub, Scenario(**{field: better}))
    growth = res.customers["growth_mean"]
    assert (growth >= -1e-9).all()
    assert (growth > 0).mean() > 0.9


def test_higher_discount_rate_never_raises_a_profitable_customers_value(maps, sub):
    low = CustomerValue(*maps, margin=0.3, annual_discount_rate=0.05).evaluate(sub, "neutral")
    high = CustomerValue(*maps, margin=0.3, annual_discount_rate=0.25).evaluate(sub, "neutral")
    assert (high.customers["current_mean"] <= low.customers["current_mean"] + 1e-12).all()
    assert (high.customers["current_mean"] < low.customers["current_mean"]).all()


def test_base_total_is_the_sum_over_customers(cdnow_bg_mcmc, cdnow_gg_mcmc, sub):
    res = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3, max_draws=300).evaluate(sub)
    c, base = res.customers, res.base
    for name in ("current", "potential", "growth"):
        assert base.loc[name, "mean"] == pytest.approx(c[f"{name}_mean"].sum(), rel=1e-10)
    # the base interval keeps the shared parameters: it is not the sum of intervals
    width = base.loc["current", "param_hi"] - base.loc["current", "param_lo"]
    summed = (c["current_param_hi"] - c["current_param_lo"]).sum()
    assert 0 < width < summed
    # the cash flows add up to the base value too
    flows = res.cash_flows.loc["current"]
    assert flows["discounted_net"].sum() == pytest.approx(base.loc["current", "mean"], rel=1e-9)


def test_intervals_of_both_kinds(cdnow_bg_mcmc, cdnow_gg_mcmc, sub):
    res = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3, max_draws=300).evaluate(sub)
    c = res.customers
    assert c.attrs["ci"] == 0.9
    param = c["current_param_hi"] - c["current_param_lo"]
    pred = c["current_pred_hi"] - c["current_pred_lo"]
    assert (param > 0).all() and (pred > param).mean() > 0.95
    assert ((c["current_param_lo"] <= c["current_mean"])
            & (c["current_mean"] <= c["current_param_hi"])).all()
    probs = c[["p_retain", "p_develop", "p_phase_out"]].sum(axis=1)
    np.testing.assert_allclose(probs, 1.0, rtol=1e-12)
    assert set(c["cell"].cat.categories) == {"retain", "develop", "phase_out"}
    assert (c.loc[c["cell"] == "retain", "current_mean"]
            >= res.assumptions["thresholds"]["current"]).all()
    assert ((c["current_p_negative"] >= 0) & (c["current_p_negative"] <= 1)).all()


@pytest.mark.parametrize("model,stop", [("maps", False), ("mbg_maps", False),
                                        ("pnbd_maps", False), ("pnbd_maps", True)])
def test_simulation_agrees_with_expectation(sub, model, stop, request):
    # the mean of the simulated base totals (one per simulated future) converges to the
    # expected value: unbiased, not merely a symmetric interval; one-time buyers of the
    # MBG/NBD (who may have dropped out at once) included, and the Pareto/NBD's lifetimes
    # that end between purchases (costs that stop at churn stop there)
    pair = request.getfixturevalue(model)
    res = CustomerValue(*pair, margin=0.3, retention_cost=0.2, costs_stop_at_churn=stop,
                        min_simulations=4000).evaluate(sub, "ambitious")
    for name in ("current", "potential", "growth"):
        simulated = res.draw_totals[(name, "simulated")]
        expected = res.draw_totals[(name, "expected")].mean()
        # within 4 standard errors of the simulation's mean
        assert abs(simulated.mean() - expected) < 4 * simulated.std() / np.sqrt(len(simulated))


def test_costs_stop_at_churn_option(maps, sub):
    always = CustomerValue(*maps, margin=0.3, retention_cost=1.0).evaluate(sub, "neutral")
    stops = CustomerValue(*maps, margin=0.3, retention_cost=1.0,
                          costs_stop_at_churn=True).evaluate(sub, "neutral")
    diff = stops.customers["current_mean"] - always.customers["current_mean"]
    assert (diff >= -1e-12).all() and (diff > 0).mean() > 0.5
    # with costs running, a near-certainly dead customer is worth about minus the costs
    d = CustomerValue(*maps).grid.discount
    dead = always.customers["p_alive_mean"] < 1e-3
    assert dead.any()
    np.testing.assert_allclose(always.customers.loc[dead, "current_mean"], -d.sum(), atol=0.05)
    assert (always.customers.loc[dead, "current_p_negative"] > 0.99).all()


@pytest.mark.parametrize("pair,formulas", [
    ("maps", "lifevalue.models.predictions"),
    ("mbg_maps", "lifevalue.models.modified_beta_geo_formulas"),
    ("pnbd_maps", "lifevalue.models.pareto_nbd_formulas")])
def test_prospect_value_by_hand(pair, formulas, request):
    """A prospect's value from each model's own expectation for a new customer (BG/NBD:
    FHL 2005a eq. 9; MBG/NBD: Batislam et al. 2007; Pareto/NBD: Schmittlein et al. 1987)
    times the population's mean spend, discounted, minus the acquisition cost."""
    import importlib

    model, gg = request.getfixturevalue(pair)
    cv = CustomerValue(model, gg, margin=0.25, period="M", horizon=6, annual_discount_rate=0.1)
    out = cv.prospect_value(acquisition_cost=2.0)
    est, gest = model.point_estimate(), gg.point_estimate()
    new_customer = importlib.import_module(formulas).expected_purchases_new_customer
    purchases = np.diff(new_customer(*est.values(), cv.grid.edges))
    spend = gest["p"] * gest["gamma"] / (gest["q"] - 1)
    by_hand = (purchases * spend * 0.25 * cv.grid.discount).sum() - 2.0
    assert out.loc["prospect", "value_mean"] == pytest.approx(by_hand, rel=1e-9)
    assert out.loc["prospect", "value_pred_lo"] == pytest.approx(-2.0)  # buys nothing
    assert out.loc["prospect", "value_pred_hi"] > by_hand


def test_results_do_not_depend_on_chunk_size_or_order(maps, sub):
    a = CustomerValue(*maps, margin=0.3, chunk_size=256, max_draws=1).evaluate(sub).customers
    b = CustomerValue(*maps, margin=0.3, chunk_size=5000, max_draws=1).evaluate(
        sub.sample(frac=1.0, random_state=3)).customers
    pd.testing.assert_frame_equal(a, b.loc[a.index], check_exact=True)


@pytest.mark.parametrize("pair", ["maps", "pnbd_maps"])
@pytest.mark.parametrize("stop", [False, True])
def test_base_cash_flows_are_the_sum_of_the_customers(pair, sub, stop, request):
    # evaluate() sums the flows per group of customers; cash_flows() per customer
    cv = CustomerValue(*request.getfixturevalue(pair), margin=0.3, retention_cost=0.5,
                       development_cost=[0.1] * 12, costs_stop_at_churn=stop)
    scenario = Scenario(purchase_rate=1.2, dropout=0.8, spend=1.1, margin=1.2,
                        retention_cost=0.5)
    base = cv.evaluate(sub, scenario).cash_flows.loc["potential"]
    summed = cv.cash_flows(sub, scenario).groupby(level="period").sum()
    for col in ("p_active", "revenue", "margin", "costs", "discounted_net"):
        # evaluate() interpolates the period tables on the T grid, cash_flows() does not
        np.testing.assert_allclose(base[col], summed[col], rtol=tg.BOUND)


@pytest.mark.parametrize("scenario", ["neutral", "multipliers", "realistic"])
@pytest.mark.parametrize("stop", [False, True])
def test_cash_flows_on_the_grid_equal_the_closed_forms(cdnow_bg_mcmc, cdnow_gg_mcmc, mbg_maps,
                                                       sub, scenario, stop):
    # cash_flows() interpolates the period tables on the T grid draw by draw (on the
    # branch of the benchmark's kink each draw takes): within the grid's bound of the
    # closed forms (SciPy) at each customer's own T, at 60 posterior draws and at the
    # MBG/NBD's point estimate; T to 0.01 week, every customer's own
    if scenario == "multipliers":
        scenario = Scenario(purchase_rate=1.3, dropout=0.7, spend=1.1, margin=1.2)
    some = sub.assign(T=sub["T"] + np.random.default_rng(5).uniform(0, 0.5, len(sub)).round(2))
    for models in ((cdnow_bg_mcmc, cdnow_gg_mcmc), mbg_maps):
        cv = CustomerValue(*models, margin=0.3, retention_cost=0.5, max_draws=60,
                           costs_stop_at_churn=stop)
        got = cv.cash_flows(some, scenario)
        sc = as_scenario(scenario)
        x, t_x, T = (some[c].to_numpy() for c in ("frequency", "recency", "T"))
        m = np.where(x > 0, some["monetary_value"].to_numpy(), 0.0)
        bgd, ggd = cv._draws()[:2]
        alive, bought, active, spend = cv._period_draws(
            bgd, ggd, x, t_x, T, m, sc.multipliers(some), cv._benchmarks(bgd, ggd, sc),
            slice(None))
        want_active = (alive * active).mean(axis=0).reshape(-1)
        want_revenue = (alive * bought * spend).mean(axis=0).reshape(-1)
        np.testing.assert_allclose(got["p_active"], want_active, rtol=tg.BOUND)
        np.testing.assert_allclose(got["revenue"], want_revenue, rtol=tg.BOUND, atol=1e-12)
        assert got["revenue"].sum() > 0


@pytest.mark.parametrize("pair", ["maps", "mbg_maps"])
def test_tabulated_and_direct_p_alive_agree(pair, sub, monkeypatch, request):
    # P(alive) from logs tabulated on the distinct ages and recencies (few here) and
    # computed for every customer and draw (the path for many distinct values) agree,
    # for the BG/NBD and for the MBG/NBD (whose one-time buyers are tabulated too)
    from lifevalue.models import compiled_closed_forms as ccf

    models = request.getfixturevalue(pair)
    kwargs = dict(margin=0.3, retention_cost=0.5, min_simulations=200)
    tab = CustomerValue(*models, **kwargs).evaluate(sub, "ambitious")
    monkeypatch.setattr(ccf, "MAX_TABULATED", 0)
    direct = CustomerValue(*models, **kwargs).evaluate(sub, "ambitious")
    assert (tab.customers["p_alive_mean"] < 0.99).mean() > 0.2
    for col in ("p_alive_mean", "current_mean", "potential_mean", "growth_param_hi"):
        np.testing.assert_allclose(direct.customers[col], tab.customers[col], rtol=1e-11)
    np.testing.assert_allclose(direct.cash_flows, tab.cash_flows, rtol=1e-11)


def test_results_do_not_depend_on_threads(maps, sub):
    kwargs = dict(margin=0.3, retention_cost=0.5, costs_stop_at_churn=True, chunk_size=256,
                  max_draws=1, min_simulations=200)
    one = CustomerValue(*maps, n_threads=1, **kwargs).evaluate(sub, "ambitious")
    three = CustomerValue(*maps, n_threads=3, **kwargs).evaluate(sub, "ambitious")
    pd.testing.assert_frame_equal(one.customers, three.customers, check_exact=True)
    pd.testing.assert_frame_equal(one.base, three.base, check_exact=True)
    pd.testing.assert_frame_equal(one.cash_flows, three.cash_flows, check_exact=True)
    with pytest.raises(v.InvalidOptionError, match="n_threads"):
        CustomerValue(*maps, n_threads=0)


def test_settings_per_period_and_per_customer(maps, sub):
    cv_scalar = CustomerValue(*maps, margin=0.3)
    cv_period = CustomerValue(*maps, margin=[0.3] * 12)
    margin = pd.Series(0.3, index=sub.index)
    cv_cust = CustomerValue(*maps, margin=margin)
    a, b, c = (cv.evaluate(sub, "neutral").customers["current_mean"]
               for cv in (cv_scalar, cv_period, cv_cust))
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(a, c, rtol=1e-12)
    double = CustomerValue(*maps, margin=sub["frequency"].clip(upper=1) * 0.6 + 0.0)
    d = double.evaluate(sub, "neutral").customers["current_mean"]
    rep = sub["frequency"] > 0
    np.testing.assert_allclose(d[rep], 2 * a[rep], rtol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(margin=1.5), r"margin must be a fraction in \[0, 1\], got 1.5"),
    (dict(margin=-0.1), r"margin must be a fraction in \[0, 1\]"),
    (dict(retention_cost=-1), r"retention_cost must be >= 0"),
    (dict(horizon=0), r"horizon must be a whole number of periods >= 1"),
    (dict(annual_discount_rate=-0.05), r"annual_discount_rate must be a finite number >= 0"),
    (dict(ci=1.2), r"ci must be a number strictly between 0 and 1"),
])
def test_bad_settings(maps, kwargs, match):
    with pytest.raises(v.InvalidOptionError, match=match):
        CustomerValue(*maps, **kwargs)


def test_bad_settings_at_evaluation(maps, sub):
    with pytest.raises(v.InvalidOptionError, match=r"margin has 3 values; give one number, one "
                       r"per period \(12\)"):
        CustomerValue(*maps, margin=[0.1, 0.2, 0.3]).evaluate(sub)
    with pytest.raises(v.MissingColumnError, match=r"missing column 'gross' named by margin"):
        CustomerValue(*maps, margin="gross").evaluate(sub)
    with pytest.raises(v.InvalidOptionError, match=r"scenario names unknown field 'speed'"):
        CustomerValue(*maps).evaluate(sub, {"speed": 2})
    with pytest.raises(v.InvalidOptionError, match=r"acquisition_cost must be a number >= 0"):
        CustomerValue(*maps).prospect_value(acquisition_cost=-1)


@pytest.mark.parametrize("stop", [False, True])
def test_engine_equals_the_formula_written_out(maps, cdnow_cal, stop):
    """P_t, V_t, M_t, O_t, R_t built by hand from the closed forms, through the formula."""
    bg, gg = maps
    sub = cdnow_cal.iloc[:40]
    margin = [0.2] * 6 + [0.3] * 6
    cv = CustomerValue(bg, gg, margin=margin, development_cost=0.4, retention_cost=0.7,
                       costs_stop_at_churn=stop, annual_discount_rate=0.08)
    got = cv.evaluate(sub, "neutral").customers["current_mean"].to_numpy()
    e, s = bg.point_estimate(), gg.point_estimate()
    x, t_x, T, m = (sub[c].to_numpy() for c in ("frequency", "recency", "T",
                                                 "monetary_value"))
    edges = cv.grid.edges
    alive = pr.p_alive(*e.values(), x, t_x, T)[:, None]
    cum = pr.expected_purchases_if_alive(*e.values(), x[:, None], T[:, None], edges[None, :])
    P = alive * pr.survival_if_alive(*e.values(), x[:, None], T[:, None], edges[None, :-1])
    revenue = alive * np.diff(cum, axis=1) * pr.expected_spend(*s.values(), x, m)[:, None]
    V = revenue / P
    weight = P if stop else 1.0
    want = return_based_value(P, V, np.array(margin), 0.4 * weight, 0.7 * weight, cv.grid.discount)
    np.testing.assert_allclose(got, want, rtol=tg.BOUND)  # the period tables' grid


@pytest.mark.parametrize("pair", ["mcmc", "mbg_maps", "pnbd_maps"])
def test_per_customer_cash_flows_add_up_to_the_value(pair, cdnow_cal, request):
    models = ((request.getfixturevalue("cdnow_bg_mcmc"), request.getfixturevalue("cdnow_gg_mcmc"))
              if pair == "mcmc" else request.getfixturevalue(pair))
    sub = cdnow_cal.iloc[:30]
    cv = CustomerValue(*models, margin=0.3, retention_cost=0.2, costs_stop_at_churn=True,
                       max_draws=200)
    flows = cv.cash_flows(sub, "realistic")
    assert list(flows.columns) == ["p_active", "revenue", "margin", "costs", "discount",
                                   "discounted_net"]
    assert len(flows) == 30 * 12
    result = cv.evaluate(sub, "realistic").customers
    np.testing.assert_allclose(flows["discounted_net"].groupby(level=0).sum(),
                               result["potential_mean"], rtol=tg.BOUND)
    # P_t falls over time, and never exceeds P(alive) now
    p = flows["p_active"].unstack()
    assert (p.diff(axis=1).iloc[:, 1:] <= 1e-12).all().all()
    np.testing.assert_allclose(p[1], result["p_alive_mean"], rtol=1e-9)


def test_a_daily_summary_keeps_its_unit_through_a_csv_file(cdnow_log, tmp_path):
    """A summary in days written to CSV and read back is still in days: a daily model
    values it as before, and a model in weeks refuses it instead of valuing it with a
    7x wrong period."""
    import lifevalue as lv

    days = lv.summarize(cdnow_log, amount="amount", observation_end="1998-06-30",
                        time_unit="D").iloc[::5]
    bg, gg = (cls().fit(days, method="map") for cls in (BetaGeo, GammaGamma))
    assert bg.metadata_["time_unit"] == "D"
    path = tmp_path / "days.csv"
    days.to_csv(path)
    back = pd.read_csv(path, index_col="customer_id")
    assert back.attrs == {}  # a CSV file keeps no attrs; the constant columns carry them
    cv = CustomerValue(bg, gg, margin=0.3, max_draws=1)
    pd.testing.assert_frame_equal(cv.evaluate(back, "neutral").customers,
                                  cv.evaluate(days, "neutral").customers, check_dtype=False)
    weeks = BetaGeo.from_params(bg.point_estimate(), time_unit="W")
    with pytest.raises(v.InvalidOptionError, match=r"^the summary is in time_unit 'D' \(days\) "
                       r"but the model was fitted in 'W' \(weeks\)"):
        CustomerValue(weeks, gg, margin=0.3, max_draws=1).evaluate(back)


def test_a_calibration_split_is_not_valued_silently(maps, cdnow_log):
    """A calibration/holdout summary describes customers as of the calibration end:
    evaluate refuses it and says how to choose."""
    import lifevalue as lv

    split = lv.summarize(cdnow_log, amount="amount", calibration_end="1997-09-30",
                         observation_end="1998-06-30")
    cv = CustomerValue(*maps, margin=0.3, max_draws=1)
    with pytest.raises(v.MissingColumnError, match=r"^the summary is a calibration/holdout "
                       r"split .*Choose: lifevalue\.calibration_part\(summary\) to fit or value "
                       r"them as of the calibration end, or lifevalue\.summarize\(\.\.\.\) "
                       r"without calibration_end to value them as of the end of the data"):
        cv.evaluate(split)
    assert len(cv.evaluate(lv.calibration_part(split), "neutral").customers) == len(split)


def test_a_model_it_cannot_value_is_refused(maps):
    _, gg = maps
    with pytest.raises(v.InvalidOptionError, match=r"^CustomerValue values BetaGeo, "
                       r"ModifiedBetaGeo and ParetoNBD models; got GammaGamma$"):
        CustomerValue(gg, gg, margin=0.3)


# ----------------------------------------------------------------- Pareto/NBD


@pytest.mark.parametrize("stop", [False, True])
def test_paretonbd_value_equals_its_own_closed_forms(pnbd_maps, cdnow_cal, stop):
    """The Pareto/NBD's P(alive), expected purchases and survival (Schmittlein et al.
    1987; Fader & Hardie 2005), written out period by period through the formula."""
    from lifevalue.models import pareto_nbd_formulas as pf

    pn, gg = pnbd_maps
    sub = cdnow_cal.iloc[:60]
    margin = [0.2] * 6 + [0.3] * 6
    cv = CustomerValue(pn, gg, margin=margin, development_cost=0.4, retention_cost=0.7,
                       costs_stop_at_churn=stop, annual_discount_rate=0.08)
    res = cv.evaluate(sub, "neutral")
    e, s = pn.point_estimate(), gg.point_estimate()
    x, t_x, T, m = (sub[c].to_numpy() for c in ("frequency", "recency", "T",
                                                 "monetary_value"))
    edges = cv.grid.edges
    alive = pf.p_alive(*e.values(), x, t_x, T)[:, None]
    cum = pf.expected_purchases(*e.values(), x[:, None], t_x[:, None], T[:, None],
                                edges[None, :])
    P = alive * pf.survival_if_alive(e["s"], e["beta"], T[:, None], edges[None, :-1])
    revenue = np.diff(cum, axis=1) * pr.expected_spend(*s.values(), x, m)[:, None]
    weight = P if stop else 1.0
    want = return_based_value(P, revenue / P, np.array(margin), 0.4 * weight, 0.7 * weight,
                              cv.grid.discount)
    np.testing.assert_allclose(res.customers["current_mean"], want, rtol=1e-10)
    np.testing.assert_allclose(cv.point_current_values(sub), want, rtol=1e-10)  # NumPy path
    np.testing.assert_allclose(res.customers["p_alive_mean"], alive[:, 0], rtol=1e-12)
    assert (res.customers["p_alive_mean"] < 1).mean() > 0.5  # one-time buyers too


def test_paretonbd_retention_benchmark_lowers_the_dropout_rate(pnbd_maps, sub):
    """The retention benchmark is a quantile of the population's dropout rate mu ~
    Gamma(s, beta); a customer whose posterior mean rate s / (beta + T) is above it is
    lowered to it (more value), one below keeps their own (the same value)."""
    from scipy import special

    pn, gg = pnbd_maps
    cv = CustomerValue(pn, gg, margin=0.3, max_draws=1)
    bgd, ggd = cv._draws()[:2]
    e = pn.point_estimate()
    mean_rate = e["s"] / (e["beta"] + sub["T"].to_numpy())
    # the level whose benchmark splits these customers' mean rates in half
    level = 1.0 - special.gammainc(e["s"], e["beta"] * np.median(mean_rate))
    scenario = Scenario(benchmark_retention=level)
    bench = cv._benchmarks(bgd, ggd, scenario)
    mu_star = special.gammaincinv(e["s"], 1.0 - level) / e["beta"]
    assert bench["dropout"][0] == pytest.approx(mu_star)
    res = cv.evaluate(sub, scenario).customers
    repeat = sub["frequency"].to_numpy() > 0
    above = repeat & (mean_rate > mu_star)
    assert above.sum() > 10 and (~above & repeat).sum() > 10
    assert (res.loc[above, "growth_mean"] > 0).all()
    np.testing.assert_array_equal(res.loc[~above & repeat, "growth_mean"], 0.0)


# ----------------------------------------------------------------- MBG/NBD


def test_mbgnbd_value_equals_its_own_closed_forms(mbg_maps, cdnow_cal):
    """The MBG/NBD's P(alive) and expected purchases (Batislam et al. 2007), written out
    period by period, one-time buyers included: the engine's BG/NBD futures at b + 1
    and its P(alive) rule give the same values."""
    from lifevalue.models import modified_beta_geo_formulas as mf

    bg, gg = mbg_maps
    sub = cdnow_cal.iloc[:60]
    assert (sub["frequency"] == 0).sum() > 10
    cv = CustomerValue(bg, gg, margin=0.3, retention_cost=0.5, annual_discount_rate=0.08)
    res = cv.evaluate(sub, "neutral")
    e, s = bg.point_estimate(), gg.point_estimate()
    x, t_x, T, m = (sub[c].to_numpy() for c in ("frequency", "recency", "T",
                                                 "monetary_value"))
    edges = cv.grid.edges
    cum = mf.expected_purchases(*e.values(), x[:, None], t_x[:, None], T[:, None],
                                edges[None, :])
    spend = pr.expected_spend(*s.values(), x, np.where(x > 0, m, 0.0))[:, None]
    d = cv.grid.discount
    want = (0.3 * np.diff(cum, axis=1) * spend * d).sum(axis=1) - 0.5 * d.sum()
    np.testing.assert_allclose(res.customers["current_mean"], want, rtol=tg.BOUND)
    np.testing.assert_allclose(res.customers["p_alive_mean"],
                               mf.p_alive(*e.values(), x, t_x, T), rtol=1e-12)
    assert (res.customers.loc[x == 0, "p_alive_mean"] < 1).all()


def test_mbgnbd_dropout_benchmark_is_the_populations(mbg_maps):
    """The retention benchmark is a quantile of the population's dropout probability,
    Beta(a, b) in the MBG/NBD's own b (not the b + 1 of its futures)."""
    from scipy import special

    bg, gg = mbg_maps
    cv = CustomerValue(bg, gg, margin=0.3)
    bgd, ggd = cv._draws()[:2]
    bench = cv._benchmarks(bgd, ggd, Scenario(benchmark_retention=0.75))
    e = bg.point_estimate()
    assert bench["dropout"][0] == pytest.approx(special.betaincinv(e["a"], e["b"], 0.25))


def test_customer_value_repr_names_the_models_and_settings():
    bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                             time_unit="W")
    gg = GammaGamma.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44}, time_unit="W")
    assert repr(CustomerValue(bg, gg, margin=0.3, retention_cost=0.5, horizon=6)) == (
        "CustomerValue(BetaGeo, GammaGamma, period='M', horizon=6, "
        "annual_discount_rate=0.1, margin=0.3, development_cost=0.0, retention_cost=0.5, "
        "costs_stop_at_churn=False, ci=0.9, max_draws=1000, time_unit='W')")


def test_cash_flows_name_unnamed_customers_customer_id(maps, sub):
    # as the summaries name their index; a named index keeps its name
    cv = CustomerValue(*maps, margin=0.3, max_draws=1)
    assert cv.cash_flows(sub.iloc[:3].rename_axis(None)).index.names == ["customer_id", "period"]
    assert cv.cash_flows(sub.iloc[:3].rename_axis("id")).index.names == ["id", "period"]
