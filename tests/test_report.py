"""The HTML report renders in headless Chromium, non-blank, with the key numbers."""

import shutil
import subprocess

import numpy as np
import pytest
from matplotlib import image

from lifevalue.report import money, write_report
from lifevalue.value import CustomerValue

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory, cdnow_bg_mcmc, cdnow_gg_mcmc, cdnow_cal, cdnow_log):
    value = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, margin=0.3, retention_cost=0.5,
                          max_draws=300).evaluate(cdnow_cal, "realistic")
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, summary=cdnow_cal, transactions_model=cdnow_bg_mcmc,
                 spend_model=cdnow_gg_mcmc, value=value, transactions=cdnow_log,
                 title="CDNOW test report")
    return path, value


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium package")
    return exe


def test_report_sections_and_numbers(report):
    path, value = report
    text = path.read_text()
    for section in ("Data overview", "Assumptions", "Model checks", "Value of the customer base",
                    "Customer relationship matrix", "Customer pyramid and concentration",
                    "Top customers by current value", "Customers most likely worth developing"):
        assert f">{section}<" in text
    assert "Parameter interval:" in text and "Predictive interval:" in text
    assert text.count("data:image/png;base64,") >= 6
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")


def test_report_renders_non_blank_in_headless_chromium(report, tmp_path):
    path, value = report
    exe = _chromium()
    shot = tmp_path / "shot.png"
    subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--window-size=1200,2000", f"--screenshot={shot}", path.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[0] == 2000 and pixels.std() > 0.05  # not one colour
    assert (pixels.mean(axis=2) < 0.5).mean() > 0.01  # there is dark text and ink
    dom = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                          "--dump-dom", path.as_uri()], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    base = value.base
    for name in ("current", "potential"):
        for col in ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi"):
            assert money(base.loc[name, col]) in dom, (name, col)
    assert "2,357" in dom and "35.08" in dom
    top = value.customers["current_mean"].idxmax()
    assert money(value.customers.loc[top, "current_mean"]) in dom
    assert np.isfinite(base.to_numpy()).all()


def test_report_warns_prominently_when_not_converged(cdnow_cal, tmp_path):
    from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma

    with pytest.warns(ConvergenceWarning):
        bg = BetaGeo().fit(cdnow_cal, draws=30, tune=30, chains=2, random_seed=1)
    gg = GammaGamma().fit(cdnow_cal, method="map")
    value = CustomerValue(bg, gg, max_draws=20).evaluate(cdnow_cal.iloc[:200])
    path = write_report(tmp_path / "r.html", summary=cdnow_cal.iloc[:200], transactions_model=bg,
                        spend_model=gg, value=value)
    text = path.read_text()
    assert "Warning: the model fit did not converge (BetaGeo)" in text
    assert "BetaGeo did NOT converge" in text


def test_model_checks_name_the_route_of_each_fit(cdnow_cal):
    from lifevalue.models import BetaGeo
    from lifevalue.report import _diagnostics_block

    laplace = BetaGeo().fit(cdnow_cal, method="laplace", random_seed=3)
    block = _diagnostics_block(laplace)
    k, ess = laplace.diagnostics_["pareto_k"], laplace.diagnostics_["importance_ess"]
    assert f"Pareto k-hat {k:.2f} &lt;= 0.7, importance ESS {ess:.0f}" in block
    assert "zero width" not in block
    mode = BetaGeo().fit(cdnow_cal, method="map")
    assert "fitted by map; no posterior uncertainty" in _diagnostics_block(mode)
    # a Laplace fit whose importance sampling kept too few effective draws is flagged
    laplace.diagnostics_["importance_ess"] = 120.0
    assert "did NOT converge: importance-sampling ESS 120 &lt; 400" in _diagnostics_block(laplace)
