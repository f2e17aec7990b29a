"""Scenarios: presets, user numbers, per customer and per segment, bad fields."""

import pandas as pd
import pytest

from lifevalue import validation as v
from lifevalue.value.scenarios import PRESETS, Scenario


def test_presets_are_documented_and_ordered():
    assert set(PRESETS) == {"neutral", "defensive", "realistic", "ambitious"}
    assert Scenario.preset("neutral").is_neutral
    # the presets are benchmark levels (what a share of the population reaches), rising
    for field in ("benchmark_rate", "benchmark_spend", "benchmark_retention"):
        levels = [getattr(PRESETS[n], field) for n in ("defensive", "realistic", "ambitious")]
        assert levels == [0.5, 0.75, 0.9]
    assert all(PRESETS[n].purchase_rate == 1.0 for n in PRESETS)
    assert not PRESETS["neutral"].has_benchmark
    assert PRESETS["realistic"].__doc__  # documented class


def test_from_dict_and_toml(tmp_path):
    s = Scenario.from_dict({"preset": "realistic", "spend": 1.2, "name": "mine"})
    assert (s.benchmark_rate, s.spend, s.name) == (0.75, 1.2, "mine")
    path = tmp_path / "s.toml"
    path.write_text('name = "push"\npurchase_rate = 1.5\ndropout = 0.5\n')
    t = Scenario.from_toml(path)
    assert (t.name, t.purchase_rate, t.dropout, t.spend) == ("push", 1.5, 0.5, 1.0)


@pytest.mark.parametrize("spec,match", [
    ({"purchase_rat": 1.2}, r"scenario names unknown field 'purchase_rat'"),
    ({"spend": -1}, r"scenario 'custom': spend must be a number >= 0"),
    ({"dropout": 0}, r"scenario 'custom': dropout must be > 0"),
    ({"target_share_of_wallet": 1.5}, r"target_share_of_wallet must be in \(0, 1\]"),
    ({"preset": "heroic"}, r"scenario preset 'heroic' is not one of"),
    ({"benchmark_rate": 1.0}, r"benchmark_rate must be a population level in \(0, 1\)"),
])
def test_bad_scenarios(spec, match):
    with pytest.raises(v.InvalidOptionError, match=match):
        Scenario.from_dict(spec)


def test_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("purchase_rate = = 2")
    with pytest.raises(v.InputError, match="is not valid TOML"):
        Scenario.from_toml(path)
    with pytest.raises(v.InputError, match="does not exist"):
        Scenario.from_toml(tmp_path / "none.toml")


def test_per_customer_and_per_segment_multipliers():
    summary = pd.DataFrame({"frequency": [1, 2, 3], "boost": [1.0, 2.0, 3.0]},
                           index=pd.Index(["a", "b", "c"], name="customer_id"))
    m = Scenario(purchase_rate="boost").multipliers(summary)
    assert m["purchase_rate"].tolist() == [1.0, 2.0, 3.0]
    seg = pd.Series({"a": "gold", "b": "tin", "c": "gold"})
    s = Scenario.by_segment(seg, {"gold": Scenario(spend=1.5), "tin": Scenario(dropout=0.5)})
    m = s.multipliers(summary)
    assert m["spend"].tolist() == [1.5, 1.0, 1.5] and m["dropout"].tolist() == [1.0, 0.5, 1.0]
    with pytest.raises(v.InvalidOptionError, match="no scenario for segment 'tin'"):
        Scenario.by_segment(seg, {"gold": Scenario()})
    with pytest.raises(v.InvalidValueError, match="no value for this customer"):
        Scenario(spend=pd.Series({"a": 1.0})).multipliers(summary)


def test_share_of_wallet_scales_spend_to_the_target():
    summary = pd.DataFrame({"share_of_wallet": [0.2, 0.5, 0.8]})
    m = Scenario(target_share_of_wallet=0.5, spend=1.1).multipliers(summary)
    assert m["spend"].tolist() == pytest.approx([1.1 * 2.5, 1.1, 1.1])
    # unknown share: no effect
    assert Scenario(target_share_of_wallet=0.5).multipliers(
        pd.DataFrame({"x": [1]}))["spend"].tolist() == [1.0]
    with pytest.raises(v.InvalidValueError, match="a share outside"):
        Scenario(target_share_of_wallet=0.5).multipliers(pd.DataFrame({"share_of_wallet": [0]}))


def test_the_former_potential_keyword_still_works_with_a_warning(cdnow_cal):
    """evaluate names its scenario ``scenario`` as cash_flows, prospect_value and the CLI
    do; ``potential=`` gives the same result with a FutureWarning."""
    from lifevalue.models import BetaGeo, GammaGamma
    from lifevalue.value import CustomerValue

    sub = cdnow_cal.iloc[:100]
    cv = CustomerValue(BetaGeo().fit(sub, method="map"), GammaGamma().fit(sub, method="map"),
                       margin=0.3, max_draws=1, min_simulations=100)
    new = cv.evaluate(sub, scenario="ambitious").customers
    with pytest.warns(FutureWarning, match=r"^evaluate\(potential=\.\.\.\) is now "
                      r"evaluate\(scenario=\.\.\.\)"):
        old = cv.evaluate(sub, potential="ambitious").customers
    pd.testing.assert_frame_equal(new, old)
