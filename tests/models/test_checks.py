"""The repeat-purchase posterior predictive check (FHL 2005a, eq. 8 and Figure 2)."""

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from lifevalue import validation as v
from lifevalue.models import BetaGeo, GammaGamma
from lifevalue.models.checks import bgnbd_log_pmf, binned_pmf, count_log_pmf, repeat_purchase_ppc
from lifevalue.models.simulation import simulate_bgnbd

CDNOW = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)  # FHL (2005a), section 5
#: FHL (2005a), Figure 2: CDNOW customers by repeat purchases in weeks 1-39, 0..7+
OBSERVED = [1411, 439, 214, 100, 62, 38, 29, 64]


@pytest.fixture(scope="module")
def cdnow_model():
    return BetaGeo.from_params(CDNOW, time_unit="W")


def _nb_tail_pmf(x, t, r, alpha, a, b):
    """Eq. (8) with the bracket summed as the NB tail sum_{j >= x} (no cancellation)."""
    p0 = alpha / (alpha + t)
    tail = stats.nbinom.pmf(np.arange(x, x + 20000), r, p0).sum()
    alive = np.exp(special.betaln(a, b + x) - special.betaln(a, b)) * stats.nbinom.pmf(x, r, p0)
    if x == 0:
        return alive
    return alive + np.exp(special.betaln(a + 1, b + x - 1) - special.betaln(a, b)) * tail


@pytest.mark.parametrize("t", [0.5, 10.0, 38.86, 78.0, 300.0])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 10, 30])
def test_pmf_matches_lifetimes(t, n):
    from lifetimes import BetaGeoFitter

    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(CDNOW)
    got = float(np.exp(bgnbd_log_pmf(*CDNOW.values(), n, t)))
    if t == 0.5 and n >= 10:
        # lifetimes evaluates 1 - sum_{j<x}, which cancels for tiny tails; compare with
        # the tail summed directly instead
        assert got == pytest.approx(_nb_tail_pmf(n, t, *CDNOW.values()), rel=1e-10)
    else:
        assert got == pytest.approx(fitter.probability_of_n_purchases_up_to_time(t, n),
                                    rel=1e-8)
        assert got == pytest.approx(_nb_tail_pmf(n, t, *CDNOW.values()), rel=1e-10)


def test_pmf_is_stable_far_in_the_tail_and_at_t_zero():
    logp = bgnbd_log_pmf(*CDNOW.values(), np.array([0.0, 1.0, 400.0]), 0.0)
    assert logp[0] == 0.0 and np.all(np.isneginf(logp[1:]))
    far = bgnbd_log_pmf(*CDNOW.values(), 2000.0, 50.0)
    assert np.isfinite(far) and far < -50
    # hand-checked value of the docstring, and it is a probability
    assert float(np.exp(bgnbd_log_pmf(*CDNOW.values(), 1, 38.86))) == pytest.approx(
        0.19932, abs=1e-5)


def test_pmf_broadcasts_over_draws_and_sums_to_one(rng):
    draws = {k: val * np.exp(rng.normal(0, 0.2, 50))[:, None, None] for k, val in CDNOW.items()}
    T = np.array([0.0, 1.0, 20.0, 38.86, 500.0])
    probs = binned_pmf(count_log_pmf(BetaGeo()), draws, T, 7)
    assert probs.shape == (50, 5, 8)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(probs >= 0)
    # without pooling, eq. (8) summed over enough x is 1 as well
    x = np.arange(5000.0)
    total = np.exp(bgnbd_log_pmf(*CDNOW.values(), x, 38.86)).sum()
    assert total == pytest.approx(1.0, abs=1e-9)
    # the tail bin is the complement of the others: P(X >= 7) summed directly
    tail = np.exp(bgnbd_log_pmf(*CDNOW.values(), np.arange(7.0, 5000.0), 38.86)).sum()
    single = binned_pmf(count_log_pmf(BetaGeo()), CDNOW, np.array([38.86]), 7)
    assert single[0, -1] == pytest.approx(tail, rel=1e-9)
    # draw s uses parameters s: the first draw equals a scalar evaluation
    first = {k: float(a[0, 0, 0]) for k, a in draws.items()}
    np.testing.assert_allclose(probs[0], binned_pmf(count_log_pmf(BetaGeo()), first, T, 7))


def test_cdnow_reproduces_figure_2(cdnow_model, cdnow_cal):
    ppc = repeat_purchase_ppc(cdnow_model, cdnow_cal, random_seed=3)
    assert list(ppc.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert ppc.index.name == "repeat_purchases"
    assert ppc["observed"].tolist() == OBSERVED
    assert ppc["observed"].sum() == 2357
    assert ppc["expected"].sum() == pytest.approx(2357, rel=1e-12)
    # the model's expected counts: per customer, lifetimes' eq. (8) at their own T
    from lifetimes import BetaGeoFitter

    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(CDNOW)
    T, count = np.unique(cdnow_cal["T"].to_numpy(), return_counts=True)
    ref = [sum(c * fitter.probability_of_n_purchases_up_to_time(t, n)
               for t, c in zip(T, count, strict=True)) for n in range(7)]
    np.testing.assert_allclose(ppc["expected"].iloc[:7], ref, rtol=1e-8)
    # Figure 2: close to the observed counts in the first bins, 7+ under-predicted a bit
    rel = (ppc["expected"] / ppc["observed"] - 1).abs()
    assert rel["0"] < 0.01 and rel["1"] < 0.06 and rel["3"] < 0.03 and rel["5"] < 0.03
    assert ppc["inside"].sum() >= 6
    assert ppc["inside"].tolist() == [
        lo <= o <= hi
        for o, lo, hi in zip(ppc["observed"], ppc["pred_lo"], ppc["pred_hi"], strict=True)]
    assert (ppc["pred_lo"] <= ppc["expected"]).all() and (ppc["expected"] <= ppc["pred_hi"]).all()
    assert (ppc["pred_lo"] == ppc["pred_lo"].round()).all()  # counts of customers
    assert ppc.attrs == {"ci": 0.9, "interval": "predictive", "unit": "customers",
                         "draws": 1, "simulations": 1000}


def test_interval_is_the_spread_of_simulated_tables(cdnow_model, cdnow_cal):
    """Under a point estimate the count in a bin is a sum of independent Bernoullis:
    its variance is sum p (1 - p), which the simulated interval must match."""
    ppc = repeat_purchase_ppc(cdnow_model, cdnow_cal, ci=0.5, random_seed=11)
    probs = binned_pmf(count_log_pmf(cdnow_model), CDNOW, cdnow_cal["T"].to_numpy(), 7)
    sd = np.sqrt((probs * (1 - probs)).sum(axis=0))
    # the central 50% of a normal spans 1.349 sd
    width = (ppc["pred_hi"] - ppc["pred_lo"]).to_numpy()
    np.testing.assert_allclose(width, 1.349 * sd, rtol=0.25, atol=2)
    wide = repeat_purchase_ppc(cdnow_model, cdnow_cal, ci=0.99, random_seed=11)
    assert ((wide["pred_hi"] - wide["pred_lo"]) > (ppc["pred_hi"] - ppc["pred_lo"])).all()
    assert wide.attrs["ci"] == 0.99


def test_same_seed_same_table_and_max_count(cdnow_model, cdnow_cal):
    one = repeat_purchase_ppc(cdnow_model, cdnow_cal, random_seed=5)
    two = repeat_purchase_ppc(cdnow_model, cdnow_cal, random_seed=5)
    pd.testing.assert_frame_equal(one, two)
    short = repeat_purchase_ppc(cdnow_model, cdnow_cal, max_count=3, random_seed=5)
    assert list(short.index) == ["0", "1", "2", "3+"]
    assert short["observed"].tolist() == [1411, 439, 214, 100 + 62 + 38 + 29 + 64]
    assert short["expected"].iloc[-1] == pytest.approx(one["expected"].iloc[3:].sum())


def test_simulated_data_lie_inside_the_intervals():
    """Data drawn from known parameters lie in the 90% intervals in about 90% of bins."""
    params = dict(r=0.5, alpha=6.0, a=0.7, b=3.0)
    model = BetaGeo.from_params(params, time_unit="W")  # simulate_bgnbd's unit
    rng = np.random.default_rng(2024)
    inside = []
    for _ in range(8):
        T = rng.uniform(10.0, 52.0, 3000).round(1)
        summary = simulate_bgnbd(3000, **params, T=T, rng=rng)
        ppc = repeat_purchase_ppc(model, summary, random_seed=int(rng.integers(1e6)))
        assert ppc["inside"].sum() >= 6
        inside.extend(ppc["inside"])
    assert np.mean(inside) >= 0.8
    # a wrong model fails: twice the dropout rate leaves too few frequent buyers
    wrong = BetaGeo.from_params(dict(params, a=1.4), time_unit="W")
    ppc = repeat_purchase_ppc(wrong, summary, random_seed=1)
    assert ppc["inside"].sum() <= 4


def test_posterior_draws_and_weighted_summaries(cdnow_cal, rng):
    draws = {k: val * np.exp(rng.normal(0, 0.05, (2, 100))) for k, val in CDNOW.items()}
    import arviz_base as azb

    model = BetaGeo.from_params(CDNOW, time_unit="W")
    model.idata_ = azb.from_dict({"posterior": draws})
    ppc = repeat_purchase_ppc(model, cdnow_cal, max_draws=50, random_seed=0)
    assert ppc.attrs["draws"] == 50 and ppc.attrs["simulations"] == 1000
    # the expectation is the mean over draws of the per-draw expectation
    thinned = model.draws(50)
    per_draw = [binned_pmf(count_log_pmf(model), {k: a[s] for k, a in thinned.items()},
                           cdnow_cal["T"].to_numpy(), 7).sum(axis=0) for s in range(50)]
    np.testing.assert_allclose(ppc["expected"], np.mean(per_draw, axis=0), rtol=1e-10)
    # parameter uncertainty widens the interval over the point estimate's
    point_model = BetaGeo.from_params(CDNOW, time_unit="W")
    point = repeat_purchase_ppc(point_model, cdnow_cal, random_seed=0)
    assert ((ppc["pred_hi"] - ppc["pred_lo"]) >= (point["pred_hi"] - point["pred_lo"])).all()
    # a summary with weights: one row per (frequency, T) and the number of customers
    plain = cdnow_cal[["frequency", "recency", "T"]].rename(
        columns=lambda c: c.removesuffix("_cal"))
    plain.attrs = {}
    grouped = plain.groupby(["frequency", "T"]).size().rename(v.COUNT_COLUMN).reset_index()
    grouped["recency"] = np.where(grouped["frequency"] > 0, grouped["T"] / 2, 0.0)
    grouped.attrs["time_unit"] = "W"
    weighted = repeat_purchase_ppc(point_model, grouped, random_seed=0)
    assert len(grouped) < len(plain) / 2
    np.testing.assert_array_equal(weighted["observed"], point["observed"])
    np.testing.assert_allclose(weighted["expected"], point["expected"], rtol=1e-10)


def test_bad_arguments(cdnow_model, cdnow_cal):
    with pytest.raises(v.InvalidOptionError, match=r"^GammaGamma has no distribution of "
                       r"repeat purchases: the repeat-purchase check supports BetaGeo$"):
        repeat_purchase_ppc(GammaGamma.from_params(dict(p=6.25, q=3.74, gamma=15.44)),
                            cdnow_cal)
    cases = [
        (dict(max_count=0), "max_count must be a whole number >= 1, got 0"),
        (dict(max_count=2.5), "max_count must be a whole number >= 1, got 2.5"),
        (dict(max_draws=0), "max_draws must be a whole number >= 1, got 0"),
        (dict(random_seed=-1), "random_seed must be a whole number >= 0, a "
                               "numpy.random.Generator or None, got -1"),
        (dict(ci=1.0), "ci must be a number strictly between 0 and 1, got 1.0"),
        (dict(ci="90%"), "ci must be a number strictly between 0 and 1, got '90%'"),
    ]
    for kwargs, message in cases:
        with pytest.raises(v.InvalidOptionError) as err:
            repeat_purchase_ppc(cdnow_model, cdnow_cal, **kwargs)
        assert str(err.value) == message
    with pytest.raises(v.MissingColumnError) as err:
        repeat_purchase_ppc(cdnow_model, cdnow_cal.drop(columns="T"))
    assert str(err.value).startswith("missing column 'T': the summary have columns "
                                     "['frequency', 'recency', ")
    with pytest.raises(v.InvalidOptionError, match="the summary is in time_unit 'W'"):
        repeat_purchase_ppc(BetaGeo.from_params(CDNOW, time_unit="D"), cdnow_cal)
    with pytest.raises(v.NotFittedError):
        repeat_purchase_ppc(BetaGeo(), cdnow_cal)
