"""The shared model engine: not-fitted error, priors, convergence warning, persistence."""

import json

import numpy as np
import pandas as pd
import pytest

from lifevalue import validation as v
from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma, base, inference


def test_one_not_fitted_error(cdnow_cal):
    for model in (BetaGeo(), GammaGamma()):
        for call in (lambda m: m.summary(), lambda m: m.draws(), lambda m: m.save("x.nc"),
                     lambda m: m.point_estimate()):
            with pytest.raises(v.NotFittedError, match=r"is not fitted yet: call fit\(summary\)"):
                call(model)
    with pytest.raises(v.NotFittedError):
        BetaGeo().p_alive(cdnow_cal)
    assert repr(BetaGeo()) == "BetaGeo(not fitted)"


def test_fit_returns_self_and_results_end_in_underscore(cdnow_cal):
    model = BetaGeo()
    assert model.fit(cdnow_cal, method="map") is model
    assert {"idata_", "metadata_", "diagnostics_"} <= set(vars(model))


def test_priors_are_overridable_and_recorded(cdnow_cal):
    tight = {"r": {"dist": "Gamma", "alpha": 100.0, "beta": 100.0}}  # r near 1
    model = BetaGeo(priors=tight).fit(cdnow_cal, method="map")
    assert model.metadata_["priors"]["r"] == tight["r"]
    assert model.metadata_["priors"]["a"] == {"dist": "HalfNormal", "sigma": base.DROPOUT_SIGMA}
    assert model.point_estimate()["r"] > 0.28  # the prior pulled it up from 0.243


@pytest.mark.parametrize("priors,match", [
    ({"zeta": {"dist": "HalfNormal"}}, r"priors name unknown parameter 'zeta'"),
    ({"r": {"dist": "Normal", "sigma": 1}}, r"prior of 'r': 'Normal' is not one of the positive"),
    ({"r": 3.0}, r"prior of 'r' must be a dict like"),
])
def test_bad_priors(priors, match):
    with pytest.raises(v.InvalidOptionError, match=match):
        BetaGeo(priors=priors)


def test_bad_fit_options(cdnow_cal):
    with pytest.raises(v.InvalidOptionError, match=r"method 'vi' is not one of 'mcmc', 'map'"):
        BetaGeo().fit(cdnow_cal, method="vi")
    with pytest.raises(v.InvalidOptionError, match=r"sampler 'stan' is not one of"):
        BetaGeo().fit(cdnow_cal, sampler="stan")


def test_short_chains_warn_loudly(cdnow_cal):
    with pytest.warns(ConvergenceWarning, match=r"BetaGeo MCMC did not converge: .*bulk ESS \d+ "
                      r"< 400"):
        model = BetaGeo().fit(cdnow_cal, draws=30, tune=30, chains=2, random_seed=1)
    assert not model.converged
    assert any("ESS" in p for p in model.convergence_problems())


def test_a_short_run_warns_on_tail_ess(cdnow_cal):
    """Enough draws for the centre but not for the 5% and 95% quantiles: the tail ESS
    alone fails, and the warning says so."""
    with pytest.warns(ConvergenceWarning, match=r"BetaGeo MCMC did not converge: .*tail ESS \d+ "
                      r"< 400"):
        model = BetaGeo().fit(cdnow_cal, draws=150, tune=300, random_seed=3)
    d = model.diagnostics_
    assert d["ess_tail_min"] < 400 <= d["ess_bulk_min"] and d["chains"] == 4
    assert model.convergence_problems() == [f"tail ESS {d['ess_tail_min']:.0f} < 400"]


def test_fit_checks_its_sampler_settings(cdnow_cal):
    for name, bad in (("draws", 0), ("chains", 1.5), ("tune", -1)):
        with pytest.raises(v.InvalidOptionError, match=rf"^{name} must be a "
                           rf"whole number of at least \d, got {bad!r}"):
            BetaGeo().fit(cdnow_cal, **{name: bad})


def test_save_load_round_trip_reproduces_predictions(tmp_path, cdnow_bg_mcmc, cdnow_gg_mcmc,
                                                     cdnow_cal):
    for model, predict in (
        (cdnow_bg_mcmc, lambda m: m.expected_purchases(cdnow_cal, 39.0, random_seed=2)),
        (cdnow_gg_mcmc, lambda m: m.expected_spend(cdnow_cal, random_seed=2)),
    ):
        path = model.save(tmp_path / f"{type(model).__name__}.nc")
        loaded = type(model).load(path)
        pd.testing.assert_frame_equal(predict(loaded), predict(model), check_exact=True)
        assert loaded.metadata_ == json.loads(json.dumps(model.metadata_))
        assert loaded.diagnostics_ == model.diagnostics_
    assert loaded.spend_frequency_correlation_ == cdnow_gg_mcmc.spend_frequency_correlation_


def test_load_refuses_bad_files(tmp_path, cdnow_cal):
    model = BetaGeo().fit(cdnow_cal, method="map")
    path = model.save(tmp_path / "bg.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(v.InputError, match="is truncated, corrupt or not a lifevalue model"):
        BetaGeo.load(truncated)
    foreign = tmp_path / "foreign.nc"
    foreign.write_text("customer_id,amount\n1,2\n")
    with pytest.raises(v.InputError, match="is truncated, corrupt or not a lifevalue model"):
        BetaGeo.load(foreign)
    with pytest.raises(v.InputError, match="holds a BetaGeo, not a GammaGamma"):
        GammaGamma.load(path)
    with pytest.raises(v.InputError, match="does not exist"):
        BetaGeo.load(tmp_path / "missing.nc")
    # a file from an incompatible version
    old = model.idata_.copy()
    meta = dict(model.metadata_, format_version=0, lifevalue_version="0.0.1")
    old.attrs["lifevalue_metadata"] = json.dumps(meta)
    old.to_netcdf(tmp_path / "old.nc")
    with pytest.raises(v.InputError, match=r"saved by lifevalue 0.0.1 in format 0; this "
                       r"lifevalue \(.*\) reads format 2 \(ArviZ 1 DataTree\). Refit the "
                       r"model on its summary and save it again"):
        BetaGeo.load(tmp_path / "old.nc")


def test_load_names_the_version_of_an_arviz_0_file(tmp_path):
    """lifevalue 0.1 saved ArviZ 0.x InferenceData: netCDF groups, its metadata in the
    posterior's attributes, format 1. The file in tests/fixtures was written by it
    (a MAP fit of the CDNOW sample, saved by lifevalue 0.1.0 with ArviZ 0.23)."""
    import shutil
    from pathlib import Path

    path = tmp_path / "bg_v0.1.nc"
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "bg_lifevalue_0.1.nc", path)
    with pytest.raises(v.InputError, match=r"was saved by lifevalue 0.1.0 in format 1 \(ArviZ "
                       r"0.x InferenceData\); this lifevalue \(0.2.0\) reads format 2 \(ArviZ 1 "
                       r"DataTree\). Refit the model on its summary and save it again: "
                       r"`lifevalue fit ...`, or `model.fit\(summary\).save\(path\)`."):
        BetaGeo.load(path)


def test_failed_save_leaves_existing_file_untouched(tmp_path, cdnow_cal):
    model = BetaGeo().fit(cdnow_cal, method="map")
    path = model.save(tmp_path / "bg.nc")
    before = path.read_bytes()

    def broken(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        base.atomic_write(path, broken)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bg.nc"]


def test_draws_thinning(cdnow_bg_mcmc):
    d = cdnow_bg_mcmc.draws(max_draws=100)
    assert all(len(a) == 100 for a in d.values())
    full = cdnow_bg_mcmc.draws()
    assert len(full["r"]) == 4 * 500 and d["r"][0] == full["r"][0] and d["r"][-1] == full["r"][-1]
    assert np.isfinite(list(cdnow_bg_mcmc.point_estimate().values())).all()


@pytest.mark.parametrize("spec", [
    {"dist": "HalfNormal", "sigma": 3.0}, {"dist": "HalfCauchy", "beta": 2.0},
    {"dist": "HalfStudentT", "nu": 3.0, "sigma": 2.0}, {"dist": "Gamma", "alpha": 2.0, "beta": 0.5},
    {"dist": "Gamma", "mu": 2.0, "sigma": 1.0}, {"dist": "Exponential", "lam": 0.3},
    {"dist": "LogNormal", "mu": 0.5, "sigma": 1.2}, {"dist": "Weibull", "alpha": 1.5, "beta": 2.0},
    {"dist": "InverseGamma", "alpha": 3.0, "beta": 2.0},
])
def test_numpy_prior_densities_match_pymc(spec):
    import pymc as pm

    from lifevalue.models.priors import logp_and_grad

    kwargs = {k: val for k, val in spec.items() if k != "dist"}
    dist = getattr(pm, spec["dist"]).dist(**kwargs)
    xs = np.array([0.3, 1.0, 4.0])
    ref = pm.logp(dist, xs).eval()
    ours = np.array([logp_and_grad(spec, x)[0] for x in xs])
    np.testing.assert_allclose(ours - ours[0], ref - ref[0], rtol=1e-10, atol=1e-12)
    h = 1e-6
    for x in xs:
        num = (logp_and_grad(spec, x + h)[0] - logp_and_grad(spec, x - h)[0]) / (2 * h)
        assert logp_and_grad(spec, x)[1] == pytest.approx(num, rel=1e-6)
    from lifevalue.models.priors import logp_grad_hess

    for x in xs:
        num = (logp_and_grad(spec, x + h)[1] - logp_and_grad(spec, x - h)[1]) / (2 * h)
        lp, dlp, d2 = logp_grad_hess(spec, x)
        assert (lp, dlp) == logp_and_grad(spec, x)
        assert d2 == pytest.approx(num, rel=1e-5, abs=1e-8)


def test_map_from_a_subsample_start_finds_the_same_mode(cdnow_cal, monkeypatch):
    """Above THIN_ABOVE unique rows Newton starts at a subsample's mode; same result."""
    direct = {}
    for cls in (BetaGeo, GammaGamma):
        direct[cls] = cls().fit(cdnow_cal, method="map")
    monkeypatch.setattr(inference, "THIN_ABOVE", 100)
    monkeypatch.setattr(inference, "THIN_TO", 500)
    for cls, ref in direct.items():
        model = cls().fit(cdnow_cal, method="map")
        # the same log density to rounding; along BG/NBD's a-b ridge that leaves the
        # parameters equal to a few parts in a million
        assert model.idata_.attrs["map_logp"] == pytest.approx(ref.idata_.attrs["map_logp"],
                                                               rel=1e-13)
        for name, value in ref.point_estimate().items():
            assert model.point_estimate()[name] == pytest.approx(value, rel=1e-5)
        assert model.idata_.attrs["map_iterations"] < ref.idata_.attrs["map_iterations"]
