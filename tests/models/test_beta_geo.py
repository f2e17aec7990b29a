"""BetaGeo: published CDNOW numbers by MAP and MCMC, predictions, intervals, migration."""

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter

from lifevalue import validation as v
from lifevalue.models import BetaGeo
from lifevalue.models import beta_geo as bg_module
from lifevalue.models import predictions as pr
from lifevalue.models import table_grid as tg

PUBLISHED = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def bg_map(cdnow_cal):
    """The maximum-likelihood estimate: MAP under flat priors."""
    return BetaGeo(priors=BetaGeo.flat_priors()).fit(cdnow_cal, method="map")


def test_map_reproduces_published_cdnow(bg_map, cdnow_cal):
    est = bg_map.point_estimate()
    assert {k: round(val, 3) for k, val in est.items()} == PUBLISHED
    assert round(bg_map.loglik(cdnow_cal), 1) == -9582.4
    assert bg_map.metadata_["method"] == "map" and bg_map.metadata_["time_unit"] == "W"


def test_default_priors_do_not_bind_on_cdnow(cdnow_cal, bg_map):
    """The default MAP stays within a hundredth of the MLE's sd-scale on CDNOW."""
    default = BetaGeo().fit(cdnow_cal, method="map").point_estimate()
    for name, value in bg_map.point_estimate().items():
        assert default[name] == pytest.approx(value, rel=0.01), name


def test_mcmc_posterior_means_within_one_sd(cdnow_bg_mcmc):
    summ = cdnow_bg_mcmc.summary()
    assert list(summ.columns[:4]) == ["mean", "sd", "lo", "hi"]
    assert {"r_hat", "ess_bulk", "ess_tail", "prior_sensitivity"} <= set(summ.columns)
    for name, value in PUBLISHED.items():
        assert abs(summ.loc[name, "mean"] - value) < summ.loc[name, "sd"], name
    d = cdnow_bg_mcmc.diagnostics_
    assert d["divergences"] == 0 and d["rhat_max"] <= 1.01 and d["ess_bulk_min"] >= 400
    assert d["ess_tail_min"] >= 400 and d["chains"] == 4
    assert cdnow_bg_mcmc.converged
    # the default priors do not bind on CDNOW (power-scaling sensitivity < 0.05)
    assert (summ["prior_sensitivity"] < 0.05).all()
    assert cdnow_bg_mcmc.prior_sensitivity_problems() == []


def test_p_alive_frame_carries_parameter_interval(cdnow_bg_mcmc, cdnow_cal):
    out = cdnow_bg_mcmc.p_alive(cdnow_cal, ci=0.8)
    assert list(out.columns) == ["p_alive_mean", "p_alive_param_lo", "p_alive_param_hi"]
    assert out.attrs["ci"] == 0.8 and out.index.equals(cdnow_cal.index)
    d = cdnow_bg_mcmc.draws()
    x, t, T = (cdnow_cal[c].to_numpy() for c in ("frequency", "recency", "T"))
    per_draw = pr.p_alive(d["r"][:, None], d["alpha"][:, None], d["a"][:, None],
                          d["b"][:, None], x, t, T)
    np.testing.assert_allclose(out["p_alive_mean"], per_draw.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(out["p_alive_param_lo"], np.quantile(per_draw, 0.1, axis=0))
    rep = x > 0
    assert (out.loc[rep, "p_alive_param_hi"] > out.loc[rep, "p_alive_param_lo"]).all()


def test_expected_purchases_both_intervals(cdnow_bg_mcmc, cdnow_cal):
    out = cdnow_bg_mcmc.expected_purchases(cdnow_cal, 39.0, random_seed=3)
    assert list(out.columns) == ["purchases_mean", "purchases_param_lo", "purchases_param_hi",
                                 "purchases_pred_lo", "purchases_pred_hi"]
    # the predictive interval is of whole purchases and, with the customer's own
    # randomness added, far wider than the parameter interval of the mean
    assert (out[["purchases_pred_lo", "purchases_pred_hi"]] % 1 == 0).all().all()
    pred_width = out["purchases_pred_hi"] - out["purchases_pred_lo"]
    param_width = out["purchases_param_hi"] - out["purchases_param_lo"]
    assert (pred_width >= param_width).mean() > 0.95
    assert pred_width.mean() > 5 * param_width.mean()
    # customer 1 of the paper
    assert out.loc[1, "purchases_mean"] == pytest.approx(1.226, abs=0.05)


def test_simulation_mean_agrees_with_closed_form(cdnow_bg_mcmc, cdnow_cal):
    sub = cdnow_cal.iloc[:300]
    closed = cdnow_bg_mcmc.expected_purchases(sub, 39.0, predictive=False)
    sims = [cdnow_bg_mcmc.simulate_purchases(sub, [13.0, 13.0, 13.0], random_seed=s)
            for s in range(5)]
    sim_mean = np.mean([s["purchases_sim_mean"] for s in sims], axis=0)
    total = closed["purchases_mean"].sum()
    # aggregate over customers: 10,000 simulations each
    assert sim_mean.sum() == pytest.approx(total, rel=0.02)
    # customers alike in history agree individually within Monte Carlo error
    np.testing.assert_allclose(sim_mean, closed["purchases_mean"], rtol=0.03, atol=0.05)


def test_results_do_not_depend_on_chunk_size_threads_or_row_order(cdnow_bg_mcmc, cdnow_cal):
    sub = cdnow_cal.iloc[:700]
    a = cdnow_bg_mcmc.simulate_purchases(sub, [39.0], random_seed=9, chunk_size=256,
                                         n_threads=1)
    b = cdnow_bg_mcmc.simulate_purchases(sub, [39.0], random_seed=9, chunk_size=10_000)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    threaded = cdnow_bg_mcmc.simulate_purchases(sub, [39.0], random_seed=9, chunk_size=256,
                                                n_threads=3)
    pd.testing.assert_frame_equal(a, threaded, check_exact=True)
    shuffled = sub.sample(frac=1.0, random_state=1)
    c = cdnow_bg_mcmc.simulate_purchases(shuffled, [39.0], random_seed=9, chunk_size=512)
    pd.testing.assert_frame_equal(a, c.loc[a.index], check_exact=True)


def test_new_customer(bg_map):
    out = bg_map.expected_purchases_new_customer([39.0, 78.0])
    assert out.loc[78.0, "purchases_mean"] == pytest.approx(
        pr.expected_purchases_new_customer(*bg_map.point_estimate().values(), 78.0))


def test_from_lifetimes_matches_lifetimes(cdnow_cal):
    bgf = BetaGeoFitter().fit(cdnow_cal["frequency"], cdnow_cal["recency"],
                              cdnow_cal["T"])
    model = BetaGeo.from_lifetimes(bgf, time_unit="W")
    ours = model.expected_purchases(cdnow_cal, 10.0, predictive=False)
    ref = bgf.conditional_expected_number_of_purchases_up_to_time(
        10.0, cdnow_cal["frequency"], cdnow_cal["recency"], cdnow_cal["T"])
    # the series is summed on the grid in T and interpolated: the grid's stated bound
    np.testing.assert_allclose(ours["purchases_mean"], ref, rtol=tg.BOUND)
    assert model.metadata_["method"] == "point"
    with pytest.raises(v.NotFittedError, match="not fitted"):
        BetaGeo.from_lifetimes(BetaGeoFitter())


def test_expected_purchases_on_continuous_T_within_the_grid_bound():
    # T to 0.01 week: every customer has an (x, T) of their own; the expectation at each
    # of 200 draws is within the grid's bound of the series summed at the customer's own
    # (x, T), and the series is summed on at most the grid's nodes per x, however many
    # distinct T there are
    from lifevalue.models import compiled_closed_forms as ccf

    rng = np.random.default_rng(11)
    n, S = 3000, 200
    x = rng.integers(0, 25, n).astype(float)
    T = np.round(rng.uniform(0.5, 78.0, n), 2)
    t_x = np.round(T * rng.uniform(0, 1, n) * (x > 0), 2)
    d = {k: val * rng.lognormal(0, 0.3, S)[:, None]
         for k, val in dict(r=0.243, alpha=4.414, a=0.793, b=2.426).items()}
    got = bg_module._expected_purchases(d["r"], d["alpha"], d["a"], d["b"], x, t_x, T, 52.0)
    flat = [d[k][:, 0] for k in ("r", "alpha", "a", "b")]
    one = np.ones(n)
    exact = ccf.purchases_and_survival(*flat, x, T, one, one, np.array([52.0]))[0][:, :, 0]
    exact = exact * ccf.p_alive_draws(*flat, x, t_x, T)
    np.testing.assert_allclose(got, exact, rtol=tg.BOUND)
    keys = np.stack([x, T, one, one], axis=1)
    ref = 0.5 * d["alpha"].min()
    per_x = np.ceil(np.log1p(78.0 / ref) / tg.STEP) + tg.STENCIL
    assert tg.build_grid(keys, ref).n_nodes <= 25 * per_x < n


def test_time_unit_mismatch_is_refused(bg_map, cdnow_log):
    daily = __import__("lifevalue").summarize(cdnow_log, amount="amount", time_unit="D")
    with pytest.raises(v.InvalidOptionError, match="the summary is in time_unit 'D' \\(days\\) "
                       "but the model was fitted in 'W' \\(weeks\\)"):
        bg_map.p_alive(daily)


def test_bad_horizon(bg_map, cdnow_cal):
    for t in (0, -1, float("nan"), "soon"):
        with pytest.raises(v.InvalidOptionError, match="t must be a positive, finite time"):
            bg_map.expected_purchases(cdnow_cal, t)


def test_a_generator_seeds_the_predictive_interval_as_its_number_does(cdnow_cal):
    bg = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                             time_unit="W")
    sub = cdnow_cal.iloc[:200]
    seed = int(np.random.default_rng(8).integers(0, 2**63))
    by_gen = bg.expected_purchases(sub, 39.0, random_seed=np.random.default_rng(8))
    pd.testing.assert_frame_equal(by_gen, bg.expected_purchases(sub, 39.0, random_seed=seed))
    with pytest.raises(v.InvalidOptionError, match=r"^random_seed must be a whole number"):
        bg.expected_purchases(sub, 39.0, random_seed=-3)


def test_map_summary_has_the_standard_errors_lifetimes_reports(bg_map, cdnow_cal, tmp_path):
    """After MAP under flat priors (the MLE) ``summary()`` has each estimate's asymptotic
    standard error, the one lifetimes computes from its own numerical Hessian; it is kept
    through save and load. From_params has none to give."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' own pandas deprecations
        bgf = BetaGeoFitter().fit(cdnow_cal["frequency"], cdnow_cal["recency"],
                                  cdnow_cal["T"])
    summ = bg_map.summary()
    assert list(summ.columns) == ["mean", "se"]
    np.testing.assert_allclose(summ["se"], bgf.summary.loc[list(summ.index), "se(coef)"],
                               rtol=1e-3)
    pd.testing.assert_frame_equal(BetaGeo.load(bg_map.save(tmp_path / "m.nc")).summary(),
                                  summ)
    assert list(BetaGeo.from_params(PUBLISHED, time_unit="W").summary().columns) == ["mean"]
