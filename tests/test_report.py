"""The HTML report: its first screen in plain words with units and intervals, numbers
that agree with the ValueResult, action lists that download as CSV, and a page that
renders in headless Chromium at 1280 px without horizontal scrolling."""

import base64
import html
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from matplotlib import image

from helpers import require_tool
from lifevalue.models.holdout import holdout_report
from lifevalue.report import money, money_range, write_report
from lifevalue.report.fmt import count, percent
from lifevalue.value import CustomerValue

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
SETTINGS = {"margin": 0.3, "retention_cost": 0.5, "max_draws": 300}
#: What the test appends to a copy of the page: measurements written into the DOM, read
#: back from --dump-dom.
MEASURE = """<script>
(function () {
  var out = {scrollWidth: document.documentElement.scrollWidth,
             innerWidth: window.innerWidth, links: [], tables: {}, tops: {},
             firstScreen: (document.getElementById("first-screen") || {}).innerText || "",
             wide: []};
  document.querySelectorAll("a[download]").forEach(function (a) {
    out.links.push({list: a.dataset.list, download: a.getAttribute("download"),
                    href: a.getAttribute("href")});
  });
  document.querySelectorAll("table.action").forEach(function (t) {
    out.tables[t.id] = Array.from(t.tBodies[0].rows).map(function (r) {
      return Array.from(r.cells).map(function (c) { return c.innerText.trim(); });
    });
  });
  ["verdict", "conclusions", "worth", "groups"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { out.tops[id] = el.getBoundingClientRect().top + window.scrollY; }
  });
  document.querySelectorAll("body *").forEach(function (el) {
    if (el.getBoundingClientRect().right > window.innerWidth + 0.5) {
      out.wide.push(el.tagName + "#" + el.id + "." + el.className);
    }
  });
  var pre = document.createElement("pre");
  pre.id = "measurements";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    require_tool(exe is not None,
                 "chromium is not installed: `make test` installs Debian's chromium package")
    return exe


def _render(path, tmp_path, height=2000):
    """Screenshot and measurements of the page in headless Chromium, 1280 px wide."""
    exe = _chromium()
    shot = tmp_path / "shot.png"
    subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    f"--window-size=1280,{height}", f"--screenshot={shot}", path.as_uri()],
                   check=True, capture_output=True, timeout=180)
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    dom = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                          f"--window-size=1280,{height}", "--dump-dom", probe.as_uri()],
                         check=True, capture_output=True, text=True, timeout=180).stdout
    found = re.search(r'<pre id="measurements">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    return image.imread(shot)[..., :3], json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def valued(cdnow_bg_mcmc, cdnow_gg_mcmc, cdnow_cal):
    valuer = CustomerValue(cdnow_bg_mcmc, cdnow_gg_mcmc, **SETTINGS)
    return valuer, valuer.evaluate(cdnow_cal, "realistic")


@pytest.fixture(scope="module")
def report(tmp_path_factory, valued, cdnow_bg_mcmc, cdnow_gg_mcmc, cdnow_cal, cdnow_log):
    """The demo's report: the CDNOW sample with its holdout period, in USD."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, summary=cdnow_cal, transactions_model=cdnow_bg_mcmc,
                 spend_model=cdnow_gg_mcmc, value=valued[1], transactions=cdnow_log,
                 title="CDNOW test report", currency="USD")
    return path, valued[1]


@pytest.fixture(scope="module")
def not_converged(tmp_path_factory, cdnow_cal):
    from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma

    with pytest.warns(ConvergenceWarning):
        bg = BetaGeo().fit(cdnow_cal, draws=30, tune=30, chains=2, random_seed=1)
    gg = GammaGamma().fit(cdnow_cal, method="map")
    summary = cdnow_cal.iloc[:200]
    value = CustomerValue(bg, gg, max_draws=20).evaluate(summary)
    return write_report(tmp_path_factory.mktemp("bad") / "r.html", summary=summary,
                        transactions_model=bg, spend_model=gg, value=value)


def _first_screen(text):
    start = text.index('<section id="first-screen">')
    return text[start:text.index("</section>", start)]


def _plain(fragment):
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def test_report_sections_and_self_contained(report):
    path, _ = report
    text = path.read_text()
    for section in ("At a glance", "Data overview", "Assumptions", "Model checks",
                    "Value of the customer base", "Customer relationship matrix",
                    "Customer pyramid and concentration", "Action lists",
                    "Top customers: keep them", "Customers to develop",
                    "Customers likely lost: win back or let go"):
        assert f">{section}<" in text, section
    assert "Parameter interval:" in text and "Predictive interval:" in text
    assert text.count("data:image/png;base64,") >= 6
    assert text.count("data:text/csv;charset=utf-8;base64,") == 3
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")
    for code_name in ("p_alive_mean", "hdi_5%", "ess_bulk", "current_param_lo", "r_hat",
                      "mcse_mean"):
        assert f">{code_name}<" not in text, code_name  # no code names as headings


def test_report_in_chromium_at_1280px(report, cdnow_cal, tmp_path):
    path, value = report
    pixels, m = _render(path, tmp_path)
    assert m["innerWidth"] == 1280
    assert m["scrollWidth"] <= m["innerWidth"], m["wide"][:10]
    assert pixels.shape[:2] == (2000, 1280) and pixels.std() > 0.05  # not one colour
    assert (pixels.mean(axis=2) < 0.5).mean() > 0.01  # there is dark text and ink
    # the first screen's sentences, with the currency and the horizon
    first = " ".join(m["firstScreen"].split())
    cur = value.base.loc["current"]
    assert (f"The 2,357 customers are expected to bring a net value of "
            f"{money(cur['mean'], 'USD')} over the next 12 months") in first
    assert f"parameter interval {money_range(cur['param_lo'], cur['param_hi'], 'USD')}" in first
    cells = value.customers["cell"].astype(str).value_counts()
    assert f"Retain {count(cells['retain'])} customers" in first
    assert f"Developing the {count(cells['develop'])} customers of the develop group" in first
    assert "A new customer is worth" in first and "Can the model be trusted?" in first
    assert "under-predicted" in first or "over-predicted" in first
    assert "parameter interval" in first and "predictive interval" in first
    # every action list downloads as CSV holding exactly the rows shown
    assert sorted(link["download"] for link in m["links"]) == [
        "customers_likely_lost.csv", "customers_to_develop.csv", "top_customers.csv"]
    c = value.customers
    expected_ids = {
        "top_customers": list(c.nlargest(20, "current_mean").index),
        "customers_to_develop": list(c[c["cell"] == "develop"].nlargest(20, "growth_mean")
                                     .index)}
    for link in m["links"]:
        assert link["href"].startswith("data:text/csv;charset=utf-8;base64,")
        csv = base64.b64decode(link["href"].split(",", 1)[1]).decode("utf-8")
        rows = pd.read_csv(pd.io.common.StringIO(csv), index_col="customer")
        shown = m["tables"][f"list-{link['list']}"]
        assert len(rows) == len(shown) > 0
        assert [str(i) for i in rows.index] == [r[0] for r in shown]
        if link["list"] in expected_ids:
            assert list(rows.index) == expected_ids[link["list"]]
        for (cid, row), cells_ in zip(rows.iterrows(), shown, strict=True):
            assert percent(row["p_alive"]) in cells_
            assert money(row["current_value_mean"]) in cells_
            for name in ("current_value", "gain"):
                for kind in ("param", "pred"):
                    if f"{name}_{kind}_lo" in rows.columns:
                        assert money_range(row[f"{name}_{kind}_lo"],
                                           row[f"{name}_{kind}_hi"]) in cells_
            assert np.isclose(row["current_value_mean"], c.loc[cid, "current_mean"])
    lost = pd.read_csv(pd.io.common.StringIO(base64.b64decode(
        [x for x in m["links"] if x["list"] == "customers_likely_lost"][0]["href"]
        .split(",", 1)[1]).decode()), index_col="customer")
    assert (lost["p_alive"] < 0.25).all() and (lost["repeat_purchases"] > 0).all()
    assert (cdnow_cal.loc[lost.index, "frequency"] == lost["repeat_purchases"]).all()


def test_not_converged_report_shows_the_warning_first(not_converged, tmp_path):
    text = not_converged.read_text()
    assert "The fit did not converge: BetaGeo" in text
    assert "BetaGeo did NOT converge" in text
    assert text.index('id="verdict"') < text.index('id="conclusions"')
    pixels, m = _render(not_converged, tmp_path)
    assert m["scrollWidth"] <= m["innerWidth"], m["wide"][:10]
    assert m["tops"]["verdict"] < m["tops"]["conclusions"] < m["tops"]["worth"]
    assert m["tops"]["verdict"] < 600  # on the first screen, near the top
    assert m["firstScreen"].index("Do not rely on these numbers yet") < \
        m["firstScreen"].index("What the customer base is worth")
    # the warning box is red: a row of pixels at its height is mostly pink
    row = pixels[int(m["tops"]["verdict"]) + 10, 200:1000]
    assert (np.abs(row - np.array([0xfd, 0xe0, 0xdc]) / 255).max(axis=1) < 0.05).mean() > 0.5
    assert "data's currency units" in text  # no currency given: the page says so


def test_first_screen_numbers_equal_the_value_result(report, valued, cdnow_bg_mcmc,
                                                     cdnow_cal):
    """Every number on the first screen is a figure of the ValueResult (or of the
    valuer, the thresholds and the holdout check), written as the report writes it."""
    path, value = report
    valuer = valued[0]
    first = " ".join(_plain(_first_screen(path.read_text())).split())
    c, a = value.customers, value.assumptions
    allowed = set()

    def add_money(v):
        allowed.add(money(v).lstrip("−"))

    for v in value.base.to_numpy().ravel():
        add_money(v)
    thresholds = a["thresholds"]
    add_money(thresholds["current"])
    add_money(thresholds["potential"])
    group_sum = 0.0
    groups = value.cell_values()  # each group's totals, from the same simulated futures
    for cell in ("retain", "develop", "phase_out"):
        members = c.index[c["cell"] == cell]
        allowed.add(count(len(members)))
        assert groups.loc[cell, "customers"] == len(members)
        for q in ("current", "potential", "growth"):
            add_money(c.loc[members, f"{q}_mean"].sum())
            assert np.isclose(groups.loc[cell, f"{q}_mean"], c.loc[members, f"{q}_mean"].sum())
            for kind in ("param_lo", "param_hi", "pred_lo", "pred_hi"):
                add_money(groups.loc[cell, f"{q}_{kind}"])
        group_sum += c.loc[members, "current_mean"].sum()
    assert np.isclose(group_sum, value.base.loc["current", "mean"])
    for v in valuer.prospect_value(0.0, "neutral").iloc[0]:
        add_money(v)
    add_money(0.0)  # the development cost assumed
    check = holdout_report(cdnow_bg_mcmc, cdnow_cal, max_draws=500)
    agg, cov = check["aggregate"], check["coverage"].loc[0.9]
    for v in (agg["actual"], agg["forecast"], agg["pred_lo"], agg["pred_hi"]):
        allowed.add(count(v))
    allowed.add(count(len(c)))
    for v in (abs(agg["relative_error"]), cov["coverage"], cov["expected_coverage"]):
        allowed.add(percent(v).rstrip("%"))
    # the settings named in words: horizon, level, weeks of holdout, benchmark, wallet,
    # the sampler's checks
    allowed |= {"12", "90", "39", "25", "40", "1.01", "400"}
    numbers = re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", first)
    assert len(numbers) > 40
    stray = [n for n in numbers if n not in allowed]
    assert not stray, stray
    # and the headline figure is there with its unit
    assert f"{money(value.base.loc['current', 'mean'], 'USD')} over the next 12 months" \
        in first


def test_pyramid_shares_add_up_as_labelled(report):
    path, value = report
    text = path.read_text()
    start = text.index('id="pyramid-table"')
    rows = re.findall(r"<tr>(.*?)</tr>", text[start:text.index("</table>", start)])
    cells = [[_plain(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]
    cells = [r for r in cells if r]  # the heading row has no <td>
    assert [r[0].split(" ")[0] for r in cells] == ["top", "big", "medium", "small", "inactive",
                                                    "all"]
    levels, total = cells[:-1], cells[-1]

    def num(s):
        return float(s.replace(",", "").replace("−", "-").rstrip("%"))

    shares = [num(r[5]) for r in levels]
    assert total[5] == "100.0%" and abs(sum(shares) - 100.0) <= 0.05 * len(shares)
    assert all(s >= 0 for s in shares)  # negative values are shown apart, not as shares
    assert sum(num(r[1]) for r in levels) == num(total[1]) == len(value.customers)
    assert all(num(r[4]) <= 0 for r in cells) and all(num(r[3]) >= 0 for r in cells)
    positive = value.customers["current_mean"].clip(lower=0).sum()
    assert total[3] == money(positive)
    assert total[2] == money(value.customers["current_mean"].sum())
    said = re.search(r"levels \(the most valuable 20% of the customers still likely active: "
                     r"[\d,]+ customers\) hold ([\d.]+)%", _plain(text))
    assert said and abs(float(said.group(1)) - sum(shares[:3])) <= 0.15


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


def test_model_checks_show_what_attributes_change(cdnow_cal):
    from lifevalue.models import BetaGeo
    from lifevalue.report.trust import covariate_effects_block

    summary = cdnow_cal.assign(web=(np.arange(len(cdnow_cal)) % 3 == 0).astype(float))
    model = BetaGeo(purchase_covariates=["web"]).fit(summary, method="map")
    block = covariate_effects_block(model)
    ratio = np.exp(model.point_estimate()["alpha[web]"])
    assert "<h3>What customer attributes change</h3>" in block
    assert f"{ratio:.2f} ({ratio:.2f} to {ratio:.2f})" in block
    assert "not modelled" in block  # web has no dropout effect in this model
    assert covariate_effects_block(BetaGeo().fit(cdnow_cal, method="map")) == ""


def test_money_and_units():
    assert money(7811.88) == "7,812" and money(8.7713) == "8.77"
    assert money(-5.700244, "USD") == "−5.70 USD" and money(1234.5, "$") == "$1,234"
    assert money_range(-5.7, 52.66, "USD") == "−5.70 to 52.66 USD"
    assert money(-0.001) == "0.00"  # no negative zero


def test_holdout_verdict_levels():
    from lifevalue.report.trust import holdout_verdict

    def check(actual, forecast, lo, hi, coverage, expected):
        return {"aggregate": pd.Series({"actual": actual, "forecast": forecast,
                                        "pred_lo": lo, "pred_hi": hi,
                                        "relative_error": (forecast - actual) / actual}),
                "coverage": pd.DataFrame({"coverage": [coverage],
                                          "expected_coverage": [expected]}, index=[0.9]),
                "customers": 10, "of_customers": 10, "duration": 39.0, "time_unit": "W"}

    assert holdout_verdict(check(1000, 1020, 950, 1090, 0.95, 0.96))[0] == "ok"
    level, text = holdout_verdict(check(1882, 1623, 1463, 1791, 0.95, 0.96))
    assert level == "care" and "under-predicted by 14%, outside its range" in text
    assert "too low" in text
    assert holdout_verdict(check(1000, 1400, 1300, 1500, 0.95, 0.96))[0] == "warn"
    assert holdout_verdict(check(1000, 1000, 900, 1100, 0.70, 0.96))[0] == "warn"


def test_a_custom_scenario_in_words_and_group_intervals(cdnow_cal, tmp_path):
    from lifevalue.models import BetaGeo, GammaGamma
    from lifevalue.report import build_report
    from lifevalue.value import Scenario

    bg = BetaGeo().fit(cdnow_cal, method="map")
    gg = GammaGamma().fit(cdnow_cal, method="map")
    summary = cdnow_cal.iloc[:300]
    valuer = CustomerValue(bg, gg, margin=0.25, retention_cost=0.4, max_draws=20)
    push = Scenario("push", purchase_rate=2.0, spend=1.5, retention_cost=1.5)
    value = valuer.evaluate(summary, push)
    kwargs = {"summary": summary, "transactions_model": bg, "spend_model": gg,
              "value": value, "currency": "€"}
    unknown = _plain(build_report(**kwargs))
    assert ("scenario “push”: purchase rate up 100%; spend per purchase up 50%; retention "
            "costs up 50%") in unknown
    given = _plain(build_report(**kwargs, scenario=push))
    # the groups' intervals come from the result's own per-cell totals: there with a
    # custom scenario the report could not rebuild, and the same as when it is given
    assert "not available" not in unknown and "not available" not in given
    develop = value.customers[value.customers["cell"] == "develop"]
    assert len(develop) > 0
    gain = value.cell_values().loc["develop"]
    assert gain["growth_mean"] == pytest.approx(develop["growth_mean"].sum())
    interval = money_range(gain["growth_param_lo"], gain["growth_param_hi"], "€")
    for text in (unknown, given):
        assert (f"could add {money(gain['growth_mean'], '€')} over the next 12 months "
                f"(parameter interval {interval}") in " ".join(text.split())
    assert "fitted by their most likely parameters only" in given  # MAP: usable with care
