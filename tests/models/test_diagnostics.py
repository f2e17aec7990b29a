"""Diagnostics of a fit: the DataTree ArviZ expects, weighted LOO, compare, psense."""

import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr

from lifevalue import validation as v
from lifevalue.errors import ConvergenceWarning
from lifevalue.models import BetaGeo, GammaGamma, datatree
from lifevalue.models import diagnostics as dg
from lifevalue.models.likelihoods import bgnbd_loglik, gamma_gamma_loglik


def _per_customer_tree(model, loglik):
    """The log-likelihood of every customer (one row each), as ArviZ would store it."""
    post = model.idata_["posterior"].to_dataset()
    shape = (post.sizes["chain"], post.sizes["draw"], -1)
    return xr.DataTree.from_dict({
        "posterior": post,
        "log_likelihood": xr.Dataset(
            {model.observed_name: (("chain", "draw", "customer"), loglik.reshape(shape))},
            coords={"chain": post["chain"], "draw": post["draw"]}),
    })


def test_fit_stores_the_groups_arviz_expects(cdnow_bg_mcmc, cdnow_cal):
    tree = cdnow_bg_mcmc.idata_
    assert isinstance(tree, xr.DataTree)
    assert {"posterior", "sample_stats", "observed_data", "log_prior",
            "log_likelihood"} <= set(tree.children)
    assert "diverging" in tree["sample_stats"].data_vars
    obs = tree["observed_data"]
    assert obs["count"].sum() == len(cdnow_cal)
    # one log-likelihood per unique row and draw, equal to the closed form
    ll = tree["log_likelihood"]["purchases"]
    assert ll.sizes["row"] == obs.sizes["row"] < len(cdnow_cal)
    d = cdnow_bg_mcmc.draws()
    ref = bgnbd_loglik(d["r"][5], d["alpha"][5], d["a"][5], d["b"][5], obs["frequency"].values,
                       obs["recency"].values, obs["T"].values)
    np.testing.assert_allclose(ll.values.reshape(-1, ll.sizes["row"])[5], ref, rtol=1e-12)
    # weighted by the counts, the rows give the total log-likelihood of the customers
    total = float((ll.values.reshape(-1, ll.sizes["row"])[5] * obs["count"].values).sum())
    assert total == pytest.approx(cdnow_bg_mcmc.loglik(cdnow_cal, {k: a[5] for k, a in d.items()}),
                                  rel=1e-10)


def test_weighted_loo_equals_arviz_loo_per_customer(cdnow_bg_mcmc, cdnow_cal):
    d = cdnow_bg_mcmc.draws()
    loglik = bgnbd_loglik(d["r"][:, None], d["alpha"][:, None], d["a"][:, None],
                          d["b"][:, None], cdnow_cal["frequency"].to_numpy(),
                          cdnow_cal["recency"].to_numpy(), cdnow_cal["T"].to_numpy())
    ref = az.loo(_per_customer_tree(cdnow_bg_mcmc, loglik), pointwise=True)
    ours = cdnow_bg_mcmc.loo()
    assert ours.n_data_points == ref.n_data_points == len(cdnow_cal)
    assert ours.n_samples == ref.n_samples
    assert ours.elpd == pytest.approx(ref.elpd, rel=1e-10)
    assert ours.se == pytest.approx(ref.se, rel=1e-8)
    assert ours.p == pytest.approx(ref.p, rel=1e-8)
    # the same multiset of pointwise values (customers come in the order of their rows)
    np.testing.assert_allclose(np.sort(ours.elpd_i.values), np.sort(ref.elpd_i.values),
                               rtol=1e-10)
    np.testing.assert_allclose(np.sort(ours.pareto_k.values), np.sort(ref.pareto_k.values),
                               rtol=1e-8, atol=1e-10)
    assert ours.warning == ref.warning


def test_weighted_loo_of_gamma_gamma(cdnow_gg_mcmc, cdnow_cal):
    rep = cdnow_cal[cdnow_cal["frequency"] > 0]
    d = cdnow_gg_mcmc.draws()
    loglik = gamma_gamma_loglik(d["p"][:, None], d["q"][:, None], d["gamma"][:, None],
                                rep["frequency"].to_numpy(),
                                rep["monetary_value"].to_numpy())
    ref = az.loo(_per_customer_tree(cdnow_gg_mcmc, loglik))
    ours = cdnow_gg_mcmc.loo()
    assert (ours.elpd, ours.se, ours.p) == pytest.approx((ref.elpd, ref.se, ref.p), rel=1e-8)


def test_loo_in_chunks_when_the_pointwise_loglik_is_not_stored(cdnow_cal, monkeypatch):
    stored = BetaGeo().fit(cdnow_cal, draws=200, random_seed=4)
    monkeypatch.setattr(datatree, "LOGLIK_MAX_VALUES", 0)
    chunked = BetaGeo().fit(cdnow_cal, draws=200, random_seed=4)
    assert "log_likelihood" not in chunked.idata_.children
    a, b = stored.loo(), chunked.loo()
    assert (a.elpd, a.se, a.p) == pytest.approx((b.elpd, b.se, b.p), rel=1e-12)


def test_arviz_loo_and_compare_work_on_lifevalue_fits(cdnow_bg_mcmc, cdnow_cal):
    # az.loo on the DataTree itself: one observation per unique row
    rows = az.loo(cdnow_bg_mcmc.idata_)
    assert rows.n_data_points == cdnow_bg_mcmc.idata_["observed_data"].sizes["row"]
    assert np.isfinite(rows.elpd)
    # a model held away from the data by a tight prior on r ranks below the default one
    tight = BetaGeo(priors={"r": {"dist": "Gamma", "alpha": 400.0, "beta": 400.0}}).fit(
        cdnow_cal, random_seed=2)
    table = az.compare({"default priors": cdnow_bg_mcmc.loo(), "r near 1": tight.loo()})
    assert list(table.index) == ["default priors", "r near 1"]
    assert abs(table.loc["r near 1", "elpd_diff"]) > 4 * table.loc["r near 1", "dse"]
    # the DataTrees themselves go into az.compare too, each unique row one observation
    # (unweighted: not the customers' LOO, which is why model.loo() exists)
    rows_table = az.compare({"a": cdnow_bg_mcmc.idata_, "b": tight.idata_}, round_to="none")
    assert rows_table.loc["a", "elpd"] == pytest.approx(rows.elpd, rel=1e-12)


def test_loo_needs_draws(cdnow_cal):
    with pytest.raises(v.InvalidOptionError, match=r"^loo\(\) needs posterior draws; this "
                       r"model is a point estimate \(map\)"):
        BetaGeo().fit(cdnow_cal, method="map").loo()


def test_prior_sensitivity_flags_a_binding_prior(cdnow_cal):
    """A prior far from the data (r near 1 while CDNOW says 0.24) is what psense flags;
    the default priors are not (see test_beta_geo)."""
    model = BetaGeo(priors={"r": {"dist": "Gamma", "alpha": 400.0, "beta": 400.0}}).fit(
        cdnow_cal, random_seed=2)
    sens = model.diagnostics_["prior_sensitivity"]
    assert sens["r"]["prior"] > dg.PSENSE_THRESHOLD
    assert any(p.startswith("r: prior sensitivity") and "prior-data conflict" in p
               for p in model.prior_sensitivity_problems())
    assert model.summary().loc["r", "prior_sensitivity"] == sens["r"]["prior"]


def test_few_repeat_purchases_are_flagged_as_weak_data(cdnow_cal):
    """300 CDNOW customers (124 with repeat purchases) say little about a and b: the
    posterior stays at a sensible scale and psense says the prior fills in."""
    small = cdnow_cal.iloc[:300]
    with warnings.catch_warnings():
        # weakly identified: ten seeds gave 0 to 4 divergences (with either of the
        # compiled sampler's log densities); this test is about the prior's influence
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = BetaGeo().fit(small, random_seed=1)
    summ = model.summary()
    assert summ.loc["b", "mean"] < 10  # under HalfNormal(300) it drifted to about 290
    assert any(p.startswith("b:") for p in model.prior_sensitivity_problems())


def test_convergence_of_a_single_chain_is_not_silently_fine():
    rng = np.random.default_rng(0)
    drift = np.cumsum(rng.normal(size=(1, 400)), axis=1)  # a random walk, not a sample
    tree = az.from_dict({"posterior": {"r": drift}})
    d = dg.convergence(tree, ["r"])
    assert d["chains"] == 1 and d["ess_tail_min"] < dg.ESS_MIN
    assert any(p.startswith("tail ESS") for p in dg.convergence_problems(d))


def test_gamma_gamma_groups(cdnow_gg_mcmc, cdnow_cal):
    obs = cdnow_gg_mcmc.idata_["observed_data"]
    assert set(obs.data_vars) == {"frequency", "monetary_value", "count"}
    assert obs["count"].sum() == (cdnow_cal["frequency"] > 0).sum()
    assert "spend" in cdnow_gg_mcmc.idata_["log_likelihood"].data_vars
    mle = GammaGamma(priors=GammaGamma.flat_priors()).fit(cdnow_cal, method="map")
    assert {k: round(val, 2) for k, val in mle.point_estimate().items()} == {
        "p": 6.25, "q": 3.74, "gamma": 15.44}  # FHL (2005b)


def test_total_loglik_from_the_samplers_logp_equals_the_likelihood(cdnow_bg_mcmc, cdnow_cal):
    """After the compiled sampler the per-draw total log-likelihood (what psense scales)
    is read off NUTS's recorded log density; it equals a likelihood pass over every draw
    up to one constant."""
    assert cdnow_bg_mcmc.metadata_["sampler"] == "compiled"
    fast = cdnow_bg_mcmc._total_loglik_draws(None)
    stats = cdnow_bg_mcmc._prepare(cdnow_cal)
    slow = cdnow_bg_mcmc._loglik_draws(cdnow_bg_mcmc._values(), stats).reshape(fast.shape)
    diff = fast - slow
    assert np.ptp(diff) < 1e-6 * np.ptp(slow)
    assert np.ptp(slow) > 1.0  # the draws differ, so the test can see a wrong formula
