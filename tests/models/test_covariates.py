"""Covariates on purchase rate and dropout: the model without them when they are 0, the
likelihood per profile with the published parametrisation, derivatives, recovery of known
effects, per-profile predictions, persistence and the input checks."""

import numpy as np
import pandas as pd
import pytest

from lifevalue import validation as v
from lifevalue.models import BetaGeo, ModifiedBetaGeo, ParetoNBD
from lifevalue.models import covariates as cov
from lifevalue.models.likelihoods import NUMPY
from lifevalue.models.simulation import simulate_bgnbd, simulate_pareto_nbd

MODELS = (BetaGeo, ModifiedBetaGeo, ParetoNBD)


@pytest.fixture(scope="module")
def with_z(cdnow_cal):
    """CDNOW with a random 0/1 attribute ``web`` and a 3-level ``tier``."""
    rng = np.random.default_rng(11)
    out = cdnow_cal.copy()
    out["web"] = (rng.random(len(out)) < 0.4).astype(float)
    out["tier"] = rng.integers(0, 3, len(out)).astype(float)
    return out


def _model(cls, **kw):
    return cls(purchase_covariates=["web", "tier"], dropout_covariates=["web"], **kw)


def _params(cls):
    base = dict(zip(cls.param_names, (0.4, 6.0, 0.8, 2.5), strict=True))
    if cls is ParetoNBD:
        base.update(s=0.7, beta=9.0)
    coefs = {n: c for n, c in zip(_model(cls).param_names[4:], (0.3, -0.2, 0.5, -0.4),
                                  strict=False)}
    return {**base, **coefs}


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_names_follow_the_targets_of_each_model(cls):
    names = _model(cls).param_names
    if cls is ParetoNBD:
        assert names[4:] == ("alpha[web]", "alpha[tier]", "beta[web]")
    else:
        assert names[4:] == ("alpha[web]", "alpha[tier]", "a[web]", "b[web]")
    assert _model(cls).covariates == {"purchase": ("web", "tier"), "dropout": ("web",)}
    assert cls().covariates == {"purchase": (), "dropout": ()}


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_covariates_all_zero_give_the_model_without_them(cls, cdnow_cal):
    plain = cls(priors=cls.flat_priors()).fit(cdnow_cal, method="map")
    zero = cdnow_cal.assign(web=0.0, tier=0.0)
    with_cov = _model(cls, priors=cls.flat_priors()).fit(zero, method="map")
    est = with_cov.point_estimate()
    for name, value in plain.point_estimate().items():
        assert est[name] == pytest.approx(value, rel=1e-6)
    assert with_cov.loglik(zero) == pytest.approx(plain.loglik(cdnow_cal), rel=1e-10)
    np.testing.assert_allclose(with_cov.p_alive(zero).to_numpy(),
                               plain.p_alive(cdnow_cal).to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_likelihood_is_the_models_own_at_each_profiles_parameters(cls, with_z):
    """alpha(z) = alpha exp(-z.b_alpha); a(z), b(z) = a, b exp(+z.b_a), exp(+z.b_b) (BG
    family); beta(z) = beta exp(-z.b_beta) (Pareto/NBD): Fader & Hardie (2007),
    pymc-marketing 1.3."""
    params = _params(cls)
    model = _model(cls)
    total = model._ll_total(params, model._prepare(with_z), NUMPY)
    by_hand = 0.0
    for (web, tier), part in with_z.groupby(["web", "tier"]):
        own = {n: params[n] for n in cls.param_names}
        own["alpha"] *= np.exp(-(web * params["alpha[web]"] + tier * params["alpha[tier]"]))
        if cls is ParetoNBD:
            own["beta"] *= np.exp(-web * params["beta[web]"])
        else:
            own["a"] *= np.exp(web * params["a[web]"])
            own["b"] *= np.exp(web * params["b[web]"])
        by_hand += cls().loglik(part, own)
    assert float(total) == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_gradient_and_hessian_are_those_of_the_likelihood(cls, with_z):
    model = _model(cls)
    stats = model._prepare(with_z)
    values = np.array([_params(cls)[n] for n in model.param_names])
    ll, g, h = model._ll_derivs(values, stats)

    def f(x):
        return float(model._ll_total(dict(zip(model.param_names, x, strict=True)), stats,
                                     NUMPY))

    assert ll == pytest.approx(f(values), rel=1e-10)
    eye = np.eye(len(values))
    step = 1e-5 * np.maximum(np.abs(values), 1.0)
    num_g = np.array([(f(values + step[i] * eye[i]) - f(values - step[i] * eye[i]))
                      / (2 * step[i]) for i in range(len(values))])
    np.testing.assert_allclose(g, num_g, rtol=1e-5, atol=1e-4)
    num_h = np.array([(model._ll_derivs(values + step[i] * eye[i], stats)[1]
                       - model._ll_derivs(values - step[i] * eye[i], stats)[1]) / (2 * step[i])
                      for i in range(len(values))])
    np.testing.assert_allclose(h, num_h, rtol=1e-5, atol=1e-3)
    # the compiled kernels, per profile, give the same value and gradient
    ll_k, g_k = model._ll_kernel(stats)(values)
    assert ll_k == pytest.approx(ll, rel=1e-9)
    np.testing.assert_allclose(g_k, g, rtol=1e-7, atol=1e-7)


def test_pymc_model_has_the_same_likelihood(with_z):
    model = _model(BetaGeo)
    params = _params(BetaGeo)
    m = model.build_model(with_z)
    point = {f"{n}_log__": np.log(params[n]) for n in BetaGeo.param_names}
    point.update({n: params[n] for n in model.param_names[4:]})
    loglik, = m.replace_rvs_by_values([m.potentials[0]])
    fn = m.compile_fn(loglik, inputs=m.value_vars)
    assert float(fn(point)) == pytest.approx(
        float(model._ll_total(params, model._prepare(with_z), NUMPY)), rel=1e-10)


def _simulated(kind, n, rng):
    """``n`` customers with a 0/1 ``web`` and a 3-level ``tier`` and known effects."""
    web = (rng.random(n) < 0.4).astype(float)
    tier = rng.integers(0, 3, n).astype(float)
    T = rng.uniform(20, 52, n)
    parts = []
    for w in (0.0, 1.0):
        for t in (0.0, 1.0, 2.0):
            k = np.flatnonzero((web == w) & (tier == t))
            alpha = 8.0 * np.exp(-(0.5 * w - 0.3 * t))
            if kind == "bg":
                sim = simulate_bgnbd(len(k), 0.5, alpha, 0.8 * np.exp(-0.4 * w),
                                     2.5 * np.exp(0.3 * w), T[k], rng=rng)
            else:
                sim = simulate_pareto_nbd(len(k), 0.5, alpha, 0.6, 12.0 * np.exp(-0.7 * w),
                                          T[k], rng=rng)
            sim.index = pd.Index(k, name="customer_id")
            parts.append(sim.assign(web=w, tier=t))
    out = pd.concat(parts).sort_index()
    out.attrs["time_unit"] = "W"
    return out


TRUE_EFFECTS = {"alpha[web]": 0.5, "alpha[tier]": -0.3, "a[web]": -0.4, "b[web]": 0.3,
                "beta[web]": 0.7}


@pytest.mark.parametrize(("kind", "cls", "method"), [("bg", BetaGeo, "mcmc"),
                                                     ("pareto", ParetoNBD, "laplace")])
def test_known_effects_are_recovered_at_50k_customers(kind, cls, method):
    """A real NUTS fit (BG/NBD) and a Laplace + PSIS fit (Pareto/NBD, whose NUTS at 50k
    takes minutes) of 50,000 simulated customers: every true effect and parameter lies
    in its 90% interval."""
    summary = _simulated(kind, 50_000, np.random.default_rng(7))
    # Laplace: 2 x 250 resampled draws (each costs a pass over the likelihood, for the
    # prior sensitivity) are enough for 90% intervals
    kw = {"chains": 2, "draws": 250} if method == "laplace" else {}
    model = _model(cls).fit(summary, method=method, random_seed=3, **kw)
    table = model.summary(ci=0.9)
    truth = {"r": 0.5, "alpha": 8.0, "a": 0.8, "b": 2.5, "s": 0.6, "beta": 12.0,
             **TRUE_EFFECTS}
    for name in model.param_names:
        assert table.loc[name, "lo"] <= truth[name] <= table.loc[name, "hi"], name
    assert model.converged


def _with_coefficients(model, values):
    """A copy of a fitted model whose coefficients are fixed at ``values`` in every draw."""
    out = type(model)(**{f"{k}_covariates": cols for k, cols in model.covariates.items()})
    out.idata_ = model.idata_.copy()
    out.metadata_, out.diagnostics_ = dict(model.metadata_), {}
    post = out.idata_["posterior"]
    for name, value in values.items():
        post[name] = post[name] * 0.0 + value
    return out


@pytest.fixture(scope="module")
def bg_cov(with_z):
    return _model(BetaGeo).fit(with_z, method="laplace", random_seed=1)


def test_a_profiles_model_has_its_parameters_draw_by_draw(bg_cov):
    draws = bg_cov.draws()
    view = bg_cov.for_profile({"web": 1.0, "tier": 2.0})
    own = view.draws()
    np.testing.assert_allclose(
        own["alpha"], draws["alpha"] * np.exp(-draws["alpha[web]"] - 2 * draws["alpha[tier]"]),
        rtol=1e-12)
    np.testing.assert_allclose(own["a"], draws["a"] * np.exp(draws["a[web]"]), rtol=1e-12)
    np.testing.assert_allclose(own["b"], draws["b"] * np.exp(draws["b[web]"]), rtol=1e-12)
    np.testing.assert_array_equal(own["r"], draws["r"])
    assert view.covariates == {"purchase": (), "dropout": ()}
    # a sequence in the order of the covariates gives the same model
    np.testing.assert_array_equal(bg_cov.for_profile([1.0, 2.0]).draws()["alpha"],
                                  own["alpha"])


def test_predictions_are_each_profiles_own(bg_cov, with_z):
    p_alive = bg_cov.p_alive(with_z)
    expected = bg_cov.expected_purchases(with_z, 10.0, predictive=False)
    assert p_alive.index.equals(with_z.index)
    for (web, tier), part in with_z.groupby(["web", "tier"]):
        view = bg_cov.for_profile({"web": web, "tier": tier})
        pd.testing.assert_frame_equal(p_alive.loc[part.index], view.p_alive(part))
        pd.testing.assert_frame_equal(expected.loc[part.index],
                                      view.expected_purchases(part, 10.0, predictive=False))


def test_profiles_simulate_with_streams_of_their_own(bg_cov, with_z):
    """Two customers with the same history and the same parameters (coefficients 0) in
    two profiles: independent futures, not the same numbers twice."""
    first = with_z.iloc[[0]].assign(web=0.0, tier=0.0)
    twin = with_z.iloc[[0]].assign(web=1.0, tier=0.0).rename(index=lambda i: "twin")
    pair = pd.concat([first, twin])
    zero = bg_cov.for_profile({"web": 0.0, "tier": 0.0})
    model = _with_coefficients(bg_cov, dict.fromkeys(bg_cov.param_names[4:], 0.0))
    sims = model.simulate_purchases(pair, [52.0], random_seed=5)
    assert sims.loc[first.index[0], "purchases_sim_mean"] != \
        sims.loc["twin", "purchases_sim_mean"]
    # the first profile's customers keep the streams of scoring them alone
    alone = zero.simulate_purchases(first, [52.0], random_seed=5)
    assert sims.loc[first.index[0], "purchases_sim_mean"] == \
        alone["purchases_sim_mean"].iloc[0]


def test_save_and_load_keep_the_covariates(bg_cov, with_z, tmp_path):
    loaded = BetaGeo.load(bg_cov.save(tmp_path / "cov.nc"))
    assert loaded.param_names == bg_cov.param_names
    assert loaded.metadata_["covariates"] == bg_cov.metadata_["covariates"]
    pd.testing.assert_frame_equal(loaded.expected_purchases(with_z, 5.0),
                                  bg_cov.expected_purchases(with_z, 5.0))


def test_fit_records_the_customers_profiles(bg_cov, with_z):
    fitted = bg_cov.metadata_["covariates"]
    assert fitted["columns"] == ["web", "tier"]
    counts = with_z.groupby(["web", "tier"]).size()
    assert [tuple(p) for p in fitted["profiles"]] == list(counts.index)
    assert fitted["counts"] == counts.tolist()


def test_pointwise_log_likelihood_adds_up_and_loo_runs(bg_cov, with_z):
    stats = bg_cov._prepare(with_z)
    values = bg_cov._values()[:20]
    rows = bg_cov._ll_pointwise(values, stats, 0, stats.n_unique)
    counts = bg_cov.idata_["observed_data"]["count"].values
    np.testing.assert_allclose(rows @ counts, bg_cov._ll_draws(values, stats), rtol=1e-10)
    # a slice across two profiles is the same slice of the whole
    first = stats.groups[0].n_unique
    np.testing.assert_allclose(bg_cov._ll_pointwise(values, stats, first - 3, first + 4),
                               rows[:, first - 3:first + 4], rtol=1e-12)
    assert set(bg_cov.idata_["observed_data"].data_vars) >= {"web", "tier", "count"}
    assert np.isfinite(bg_cov.loo().elpd)


def test_new_customers_need_a_profile(bg_cov):
    with pytest.raises(v.InvalidOptionError, match=r"^this model has covariates: give the "
                       r"new customer's profile=, e\.g\. \{'web': 0\.0, 'tier': 0\.0\}$"):
        bg_cov.expected_purchases_new_customer(10.0)
    model = _with_coefficients(bg_cov, {"alpha[web]": 0.5})
    web = model.expected_purchases_new_customer(10.0, profile={"web": 1.0})
    none = model.expected_purchases_new_customer(10.0, profile={"web": 0.0})
    # a positive purchase coefficient multiplies the rate by exp(0.5) in every draw: a new
    # customer buys more, though less than exp(0.5) times more (they may drop out)
    ratio = web["purchases_mean"].iloc[0] / none["purchases_mean"].iloc[0]
    assert 1.0 < ratio < np.exp(0.5)


def test_bad_covariates_are_refused(cdnow_cal, with_z):
    with pytest.raises(v.MissingColumnError, match=(
            r"^the summary has no covariate column 'web' \(the model was set up with "
            r"covariates \['web', 'tier'\]\); add the customers' attributes with "
            r"lifevalue\.join_attributes\(summary, attributes\)$")):
        _model(BetaGeo).fit(cdnow_cal, method="map")
    bad = with_z.assign(web=with_z["web"].astype(object))
    bad.iloc[3, bad.columns.get_loc("web")] = "yes"
    with pytest.raises(v.InvalidValueError, match=r"^column 'web': 1 row with a non-numeric "
                       r"value of a covariate; offending rows"):
        _model(BetaGeo).fit(bad, method="map")
    missing = with_z.copy()
    missing.iloc[[1, 2], missing.columns.get_loc("tier")] = np.nan
    with pytest.raises(v.InvalidValueError, match=r"^column 'tier': 2 rows with a missing or "
                       r"infinite value of a covariate"):
        _model(BetaGeo).fit(missing, method="map")
    many = with_z.assign(tier=np.arange(len(with_z), dtype=float))
    with pytest.raises(v.InvalidOptionError, match=(
            rf"^the covariates take \d+ distinct combinations; lifevalue fits up to "
            rf"{cov.MAX_PROFILES} ")):
        _model(BetaGeo).fit(many, method="map")
    with pytest.raises(v.InvalidOptionError, match=r"^purchase_covariates names columns by "
                       r"letters, digits and '_' \(not starting with a digit\); got 'a b'$"):
        BetaGeo(purchase_covariates=["a b"])
    with pytest.raises(v.InvalidOptionError, match=r"^dropout_covariates names 'web' twice$"):
        BetaGeo(dropout_covariates=["web", "web"])
    with pytest.raises(v.InvalidOptionError, match=(
            r"^prior of 'alpha\[web\]': 'HalfNormal' is not one of the real-line "
            r"distributions \['Normal', 'StudentT', 'Flat'\]$")):
        _model(BetaGeo, priors={"alpha[web]": {"dist": "HalfNormal", "sigma": 1.0}})


def test_profiles_are_checked(bg_cov):
    with pytest.raises(v.InvalidOptionError, match=r"^profile names 'age', not a covariate "
                       r"of this model \(\['web', 'tier'\]\)$"):
        bg_cov.for_profile({"age": 3.0})
    with pytest.raises(v.InvalidOptionError, match=r"^profile has 1 values; the model's "
                       r"covariates are \['web', 'tier'\]$"):
        bg_cov.for_profile([1.0])
    with pytest.raises(v.InvalidOptionError, match=r"^profile values must be finite"):
        bg_cov.for_profile({"web": np.nan})


def test_holdout_checks_and_ppc_use_each_profiles_parameters(bg_cov, with_z):
    from lifevalue.models.checks import repeat_purchase_ppc
    from lifevalue.models.holdout import expected_count_draws, simulate_holdout_counts

    expected = expected_count_draws(bg_cov, with_z, 10.0, max_draws=50)
    sims = simulate_holdout_counts(bg_cov, with_z, 10.0, max_draws=50, random_seed=3)
    reported = bg_cov.expected_purchases(with_z, 10.0, max_draws=50, random_seed=3)
    np.testing.assert_allclose(expected.mean(axis=0), reported["purchases_mean"], rtol=1e-12)
    # the same futures as simulate_purchases: its interval is their quantiles
    lo, hi = np.quantile(sims, [0.05, 0.95], axis=0, method="inverted_cdf")
    np.testing.assert_array_equal(lo, reported["purchases_pred_lo"])
    np.testing.assert_array_equal(hi, reported["purchases_pred_hi"])
    ppc = repeat_purchase_ppc(bg_cov, with_z, max_draws=100, random_seed=1)
    assert ppc["expected"].sum() == pytest.approx(len(with_z))
    # the profiles' expected tables add up to the whole's
    parts = sum(repeat_purchase_ppc(bg_cov.for_profile({"web": w, "tier": t}), part,
                                    max_draws=100, random_seed=1)["expected"]
                for (w, t), part in with_z.groupby(["web", "tier"]))
    np.testing.assert_allclose(ppc["expected"], parts, rtol=1e-10)


def test_plots_of_one_set_of_parameters_need_a_profile(bg_cov, cdnow_log):
    import matplotlib

    matplotlib.use("Agg")
    from lifevalue.plots import plot_probability_alive_matrix, tracking_table

    with pytest.raises(v.InvalidOptionError, match=(
            r"^plot_probability_alive_matrix shows customers with one set of parameters, "
            r"and this model has covariates: give profile=, e\.g\. \{'web': 0\.0, "
            r"'tier': 0\.0\}$")):
        plot_probability_alive_matrix(bg_cov)
    ax = plot_probability_alive_matrix(bg_cov, profile={"web": 1.0})
    assert ax.get_title().startswith("Probability alive")
    # the cohort's forecast: the profiles' new-customer forecasts in their proportions
    table = tracking_table(bg_cov, cdnow_log)
    fitted = bg_cov.metadata_["covariates"]
    shares = np.asarray(fitted["counts"]) / sum(fitted["counts"])
    mixed = sum(w * tracking_table(bg_cov.for_profile(z), cdnow_log)["model_cumulative"]
                for z, w in zip(fitted["profiles"], shares, strict=True))
    np.testing.assert_allclose(table["model_cumulative"], mixed, rtol=1e-12)


def test_covariate_effects_are_ratios_of_the_population_means(bg_cov, with_z):
    d = bg_cov.draws()
    effects = bg_cov.covariate_effects(ci=0.8)
    np.testing.assert_allclose(effects.loc["web", "purchase_rate_ratio_mean"],
                               np.exp(d["alpha[web]"]).mean(), rtol=1e-12)
    np.testing.assert_allclose(effects.loc["tier", "purchase_rate_ratio_lo"],
                               np.quantile(np.exp(d["alpha[tier]"]), 0.1), rtol=1e-12)
    a1, b1 = d["a"] * np.exp(d["a[web]"]), d["b"] * np.exp(d["b[web]"])
    np.testing.assert_allclose(effects.loc["web", "dropout_ratio_mean"],
                               np.mean((a1 / (a1 + b1)) / (d["a"] / (d["a"] + d["b"]))),
                               rtol=1e-12)
    assert np.isnan(effects.loc["tier", "dropout_ratio_mean"])  # not a dropout covariate
    pnbd = _model(ParetoNBD).fit(with_z, method="map")
    est = pnbd.point_estimate()
    assert pnbd.covariate_effects().loc["web", "dropout_ratio_mean"] == pytest.approx(
        np.exp(est["beta[web]"]), rel=1e-12)  # the rate s / beta, beta scaled by exp(-b)
    with pytest.raises(v.InvalidOptionError, match=r"^this BetaGeo has no covariates$"):
        BetaGeo().fit(with_z, method="map").covariate_effects()
