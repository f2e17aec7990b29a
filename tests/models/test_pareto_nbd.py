"""ParetoNBD: published CDNOW numbers by MAP, lifetimes' closed forms, the quadrature
kernel against the hypergeometric reference, NUTS, simulation and persistence."""

import warnings

import numpy as np
import pandas as pd
import pytest
from lifetimes import ParetoNBDFitter
from scipy import integrate

from helpers import assert_counts_match_closed_forms
from lifevalue import validation as v
from lifevalue.models import ConvergenceWarning, ParetoNBD
from lifevalue.models import pareto_nbd_formulas as pf
from lifevalue.models import pareto_nbd_kernel as pk
from lifevalue.models.customer_posterior import BlockRNG
from lifevalue.models.likelihoods import compress_bgnbd

#: Fader, Hardie & Lee (2005a), table 1 (and Schmittlein et al.'s model on CDNOW).
PUBLISHED = dict(r=0.553, alpha=10.578, s=0.606, beta=11.669)


def _columns(summary):
    return tuple(summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def pnbd_map(cdnow_cal):
    """The maximum-likelihood estimate: MAP under flat priors."""
    return ParetoNBD(priors=ParetoNBD.flat_priors()).fit(cdnow_cal, method="map")


@pytest.fixture(scope="module")
def lifetimes_at_map(pnbd_map):
    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(pnbd_map.point_estimate())
    return fitter


@pytest.fixture(scope="module")
def stats(cdnow_cal):
    return compress_bgnbd(*_columns(cdnow_cal))


def test_map_reproduces_published_cdnow(pnbd_map, cdnow_cal):
    est = pnbd_map.point_estimate()
    assert {k: round(val, 3) for k, val in est.items()} == PUBLISHED
    assert round(pnbd_map.loglik(cdnow_cal), 1) == -9595.0
    # the mode was found on the quadrature kernel; the reference agrees there
    assert pnbd_map.idata_.attrs["map_logp"] == pytest.approx(pnbd_map.loglik(cdnow_cal),
                                                              rel=1e-12)
    assert pnbd_map.metadata_["method"] == "map" and pnbd_map.metadata_["time_unit"] == "W"


def test_closed_forms_match_lifetimes(pnbd_map, lifetimes_at_map, cdnow_cal):
    x, t_x, T = _columns(cdnow_cal)
    ref = lifetimes_at_map
    alive = pnbd_map.p_alive(cdnow_cal)["p_alive_mean"].to_numpy()
    np.testing.assert_allclose(alive, ref.conditional_probability_alive(x, t_x, T), rtol=1e-6)
    for t in (10.0, 39.0):
        ours = pnbd_map.expected_purchases(cdnow_cal, t, predictive=False)["purchases_mean"]
        np.testing.assert_allclose(
            ours, ref.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T),
            rtol=1e-6)
    quiet = pnbd_map.prob_no_purchase(cdnow_cal, 39.0)["p_no_purchase_mean"]
    np.testing.assert_allclose(
        quiet, ref.conditional_probability_of_n_purchases_up_to_time(0, 39.0, x, t_x, T),
        rtol=1e-6)
    new = pnbd_map.expected_purchases_new_customer([39.0, 78.0])["purchases_mean"]
    np.testing.assert_allclose(new, ref.expected_number_of_purchases_up_to_time(
        np.array([39.0, 78.0])), rtol=1e-6)
    params = list(pnbd_map.point_estimate().values())
    np.testing.assert_allclose(pf.pareto_nbd_loglik(*params, x, t_x, T),
                               ref._conditional_log_likelihood(params, x, t_x, T), rtol=1e-9)


def test_one_time_buyers_can_be_dead(pnbd_map, cdnow_cal):
    alive = pnbd_map.p_alive(cdnow_cal)["p_alive_mean"]
    one_time = cdnow_cal["frequency"] == 0
    assert alive[one_time].max() < 1.0
    # the longer a one-time buyer has been quiet, the less likely alive
    by_T = alive[one_time].groupby(cdnow_cal.loc[one_time, "T"]).first()
    assert by_T.is_monotonic_decreasing


def test_log_integral_equals_direct_quadrature():
    # both cases of Fader & Hardie (2005) eq. (22): alpha >= beta and alpha < beta
    for r, alpha, s, beta in ((0.553, 10.578, 0.606, 11.669), (0.553, 11.669, 0.606, 10.578),
                              (2.0, 0.5, 3.0, 40.0)):
        for x, lo, hi in ((0, 0.0, 38.86), (2, 30.43, 38.86), (40, 5.0, 70.0)):
            direct = integrate.quad(
                lambda u, r=r, a=alpha, s=s, b=beta, x=x: (a + u) ** -(r + x)
                * (b + u) ** -(s + 1), lo, hi, epsabs=0, epsrel=1e-13)[0]
            assert float(np.exp(pf.log_integral(r, alpha, s, beta, x, lo, hi))) == \
                pytest.approx(direct, rel=1e-9)
            assert float(np.exp(pk.log_integral_quadrature(r, alpha, s, beta, x, lo, hi)[0])) \
                == pytest.approx(direct, rel=1e-9)
    assert pf.log_integral(0.5, 10.0, 1.0, 12.0, 2, 30.0, 30.0) == -np.inf


@pytest.mark.parametrize("params", [(0.553, 10.578, 0.606, 11.669), (0.553, 10.578, 0.606, 1.7),
                                    (2.5, 0.3, 5.0, 100.0), (0.05, 200.0, 0.1, 0.01)])
def test_kernel_matches_reference_and_its_derivatives(stats, params):
    ll, grad, hess = pk.pareto_nbd_total_loglik_derivs(*params, stats)
    assert ll == pytest.approx(float(pf.pareto_nbd_total_loglik(*params, stats)), rel=1e-12)
    values = np.array(params)

    def ref(vals):
        return float(pf.pareto_nbd_total_loglik(*vals, stats))

    def kernel_grad(vals):
        return pk.pareto_nbd_total_loglik_grad(*vals, stats)[1]

    for i in range(4):
        h = 1e-5 * values[i]
        step = np.eye(4)[i] * h
        numeric = (ref(values + step) - ref(values - step)) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-3)
        column = (kernel_grad(values + step) - kernel_grad(values - step)) / (2 * h)
        np.testing.assert_allclose(hess[:, i], column, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(hess, hess.T)


@pytest.mark.parametrize("params", [(0.553, 10.578, 0.606, 11.669), (0.553, 10.578, 0.606, 1.7),
                                    (2.5, 0.3, 5.0, 100.0)])
def test_compiled_kernel_matches_numpy(stats, params):
    ll, grad = pk.pareto_nbd_loglik_grad_compiled(*params, *pk.pareto_nbd_kernel_data(stats))
    ref_ll, ref_grad = pk.pareto_nbd_total_loglik_grad(*params, stats)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-8)
    fn, data = ParetoNBD()._kernel(stats)
    assert fn(*params, *data)[0] == ll


def test_compiled_rules_per_row_match_the_48_node_reference():
    """Each row's rule (:func:`pareto_nbd_kernel.rule_size`, fewer nodes where the
    integrand is smooth over a short interval) gives that row's log-likelihood and
    gradient as the 48-node vectorised reference does, over extreme parameters."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        r, s = np.exp(rng.uniform(np.log([0.05, 0.05]), np.log([10.0, 30.0])))
        alpha, beta = np.exp(rng.uniform(np.log(0.1), np.log(1000.0), 2))
        n = 300
        x = rng.choice([0.0, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0], n)
        T = rng.uniform(0.5, rng.choice([40.0, 80.0, 550.0]), n)
        lo = np.where(x > 0, rng.uniform(0.0, 1.0, n) * T, 0.0)
        for i in range(0, n, 7):  # one row at a time: its own rule
            row = [np.array([a[i]]) for a in (x, lo, T)]
            ll, g = pk._rows_compiled(r, alpha, s, beta, *row, np.ones(1), pk.RULES_U,
                                      pk.RULES_V, pk.CUT)
            ref_ll, ref_g, _ = pk._rows(r, alpha, s, beta, *row, np.ones(1), False)
            assert abs(ll - ref_ll) <= 1e-11 * max(1.0, abs(ref_ll)), (r, alpha, s, beta, i)
            np.testing.assert_allclose(g, ref_g, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("stop", [False, True])
def test_compiled_period_sums_equal_the_closed_forms(stop):
    """The value scorer's period sums (one customer, every draw, with rate and dropout
    multipliers per draw) against the NumPy closed forms at the scaled posteriors, s = 1
    (the logarithmic limit) included."""
    rng = np.random.default_rng(5)
    S = 40
    r, alpha = rng.uniform(0.2, 2.0, S), rng.uniform(1.0, 20.0, S)
    s, beta = rng.uniform(0.3, 3.0, S), rng.uniform(1.0, 30.0, S)
    s[0] = 1.0
    c_r, c_d = rng.uniform(1.0, 2.0, S), rng.uniform(0.3, 1.0, S)
    edges = np.linspace(0.0, 52.0, 13)
    w_M, v_O, v_R = rng.uniform(0.5, 1.0, (3, 12))
    a_w, b_w = rng.uniform(0.0, 1.0, (2, S))
    for x, T in ((0.0, 3.5), (4.0, 30.0), (20.0, 78.2)):
        out = [np.empty(S) for _ in range(4)]
        acc = np.full((2, 12), 0.5)
        pk.period_sums_if_alive(r, alpha, s, beta, x, T, c_r, c_d, edges, w_M, v_O, v_R, stop,
                                *out, a_w, b_w, acc)
        a_c = (alpha + T) / c_r - T  # the scaled posteriors Gamma(r+x, (alpha+T)/c_r), ...
        b_c = (beta + T) / c_d - T
        cum = pf.expected_purchases_if_alive(r[:, None], a_c[:, None], s[:, None],
                                             b_c[:, None], x, T, edges)
        np.testing.assert_allclose(out[0], np.diff(cum, axis=1) @ w_M, rtol=1e-12)
        no_buy = ((alpha + T) / (alpha + T + c_r * edges[-1])) ** (r + x)
        np.testing.assert_allclose(out[1], no_buy, rtol=1e-12)
        surv = pf.survival_if_alive(s[:, None], b_c[:, None], T, edges[:-1])
        if stop:
            np.testing.assert_allclose(out[2], surv @ v_O, rtol=1e-12)
            np.testing.assert_allclose(out[3], surv @ v_R, rtol=1e-12)
        # the flows per period, added to what acc held
        np.testing.assert_allclose(acc[0], 0.5 + a_w @ surv, rtol=1e-12)
        np.testing.assert_allclose(acc[1], 0.5 + b_w @ np.diff(cum, axis=1), rtol=1e-12)


def test_survival_if_alive_is_the_lifetimes_tail():
    # the remaining lifetime given alive, Exp(mu) with mu ~ Gamma(s, beta + T): by quadrature
    s, beta, T, t = 0.7, 11.0, 20.0, 13.0
    from scipy import stats as st

    by_quad = integrate.quad(lambda mu: np.exp(-mu * t) * st.gamma.pdf(mu, s, scale=1 / (beta + T)),
                             0, np.inf)[0]
    assert pf.survival_if_alive(s, beta, T, t) == pytest.approx(by_quad, rel=1e-8)


def test_reference_falls_back_where_scipy_hyp2f1_fails(stats):
    # SciPy's hyp2f1 returns nan for s = 200 near z = 1 on some CDNOW rows
    params = (0.49, 10.06, 200.0, 5572.0)
    total = float(pf.pareto_nbd_total_loglik(*params, stats))
    assert np.isfinite(total)
    assert total == pytest.approx(pk.pareto_nbd_total_loglik_grad(*params, stats)[0], rel=1e-12)


def test_pytensor_graph_equals_numpy(stats, pnbd_map):
    import pytensor
    import pytensor.tensor as pt

    from lifevalue.models.likelihoods import pytensor_namespace

    names = ("r", "alpha", "s", "beta")
    sym = [pt.dscalar(n) for n in names]
    total = pf.pareto_nbd_total_loglik(*sym, stats, pytensor_namespace())
    fn = pytensor.function(sym, total)
    for params in (tuple(pnbd_map.point_estimate().values()), (2.0, 0.5, 3.0, 40.0)):
        assert float(fn(*params)) == pytest.approx(float(pf.pareto_nbd_total_loglik(*params,
                                                                                   stats)),
                                                   rel=1e-10)


def test_simulation_matches_closed_forms(pnbd_map, cdnow_cal):
    """Each customer's simulated mean purchases, share without purchase and share
    still active equal the closed forms within 5 Monte-Carlo standard errors."""
    sub = cdnow_cal.iloc[:256]
    x, t_x, T = _columns(sub)
    est = pnbd_map.point_estimate()
    n_sims, t = 10_000, 39.0
    params = {k: np.full(n_sims, val) for k, val in est.items()}
    counts, active = pf.simulate_counts(params, x, t_x, T, t, BlockRNG(5, 0, len(x)))
    closed = pf.expected_purchases(*est.values(), x, t_x, T, t)
    assert_counts_match_closed_forms(counts, closed,
                                     pf.prob_no_purchase(*est.values(), x, t_x, T, t))
    # alive at T + t: P(alive) E[exp(-mu t)], mu ~ Gamma(s, beta + T)
    still = (pf.p_alive(*est.values(), x, t_x, T)
             * ((est["beta"] + T) / (est["beta"] + T + t)) ** est["s"])
    assert (np.abs(active.mean(axis=0) - still)
            <= 5 * np.sqrt(still * (1 - still) / n_sims) + 1e-9).all()
    # and through the model's frame, summed over the customers
    sims = pnbd_map.simulate_purchases(sub, [13.0, 26.0], random_seed=1)
    assert sims["purchases_sim_mean"].sum() == pytest.approx(closed.sum(), rel=0.03)
    assert (sims["purchases_pred_lo"] <= sims["purchases_pred_hi"]).all()


def test_nuts_posterior_means_within_one_sd_of_map(pnbd_map, cdnow_cal):
    with warnings.catch_warnings():
        # 2 x 300 draws cannot give the ESS of 400 that the warning asks for; with 200
        # draws the r-hat of eight seeds ranged up to 1.051, with 300 up to 1.025
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ParetoNBD().fit(cdnow_cal, draws=300, tune=300, chains=2, random_seed=1)
    assert model.metadata_["sampler"] == "compiled"
    summ = model.summary()
    for name, value in pnbd_map.point_estimate().items():
        assert abs(summ.loc[name, "mean"] - value) < summ.loc[name, "sd"], name
    d = model.diagnostics_
    # 2 x 300 draws: eight seeds gave 0 to 2 divergences (either of the compiled
    # sampler's log densities)
    assert d["divergences"] <= 2 and d["rhat_max"] < 1.05
    # the default prior on s binds on CDNOW, and the summary says so
    assert summ.loc["s", "prior_sensitivity"] > 0.05
    out = model.p_alive(cdnow_cal.iloc[:50])
    assert (out["p_alive_param_lo"] <= out["p_alive_mean"]).all()
    assert (out["p_alive_mean"] <= out["p_alive_param_hi"]).all()


def test_save_load_round_trip(tmp_path, pnbd_map, cdnow_cal):
    path = pnbd_map.save(tmp_path / "pnbd.nc")
    loaded = ParetoNBD.load(path)
    assert loaded.point_estimate() == pnbd_map.point_estimate()
    pd.testing.assert_frame_equal(loaded.p_alive(cdnow_cal), pnbd_map.p_alive(cdnow_cal))
    from lifevalue.models import BetaGeo

    with pytest.raises(v.InputError, match="holds a ParetoNBD, not a BetaGeo"):
        BetaGeo.load(path)


def test_bad_input(pnbd_map, cdnow_cal):
    with pytest.raises(v.InvalidOptionError, match="t must be a positive, finite time"):
        pnbd_map.expected_purchases(cdnow_cal, -1.0)
    with pytest.raises(v.InvalidOptionError, match="priors name unknown parameter 'a'"):
        ParetoNBD(priors={"a": {"dist": "HalfNormal", "sigma": 1.0}})
    with pytest.raises(v.NotFittedError):
        ParetoNBD().p_alive(cdnow_cal)
