"""Inference routes: the checks of the options fit passes to a sampler."""

import re

import pytest

from lifevalue.models import BetaGeo
from lifevalue.models.inference import check_sampler_options
from lifevalue.validation import InvalidOptionError


@pytest.mark.parametrize("method, sampler, options, message", [
    ("map", "compiled", {"drawz": 3},
     "fit(method='map') takes no sampler options; got 'drawz'"),
    ("mcmc", "compiled", {"drawz": 3},
     "sampler option 'drawz' is not an option of nutpie's NUTS (sampler='compiled')"),
    ("laplace", "compiled", {"target_acept": 0.9},
     "sampler option 'target_acept' is not an option of nutpie's NUTS (sampler='compiled')"),
    ("mcmc", "pymc", {"target_acept": 0.9},
     "sampler option 'target_acept' is not an option of pymc.sample (sampler='pymc')"),
    ("mcmc", "compiled", {"seed": 3},
     "sampler option 'seed' is set by fit itself; use fit's own arguments"),
])
def test_unknown_or_ignored_sampler_options_are_refused(method, sampler, options, message):
    with pytest.raises(InvalidOptionError, match=f"^{re.escape(message)}$"):
        check_sampler_options(method, sampler, options)


@pytest.mark.parametrize("sampler, options", [
    ("compiled", {"target_accept": 0.9, "maxdepth": 8}),
    ("compiled", {"adaptation": "low_rank", "initvals": {"r": 0.2}}),
    ("pymc", {"target_accept": 0.9, "init": "adapt_diag"}),
    ("nutpie", {"nuts_sampler_kwargs": {}}),
])
def test_known_sampler_options_pass(sampler, options):
    check_sampler_options("mcmc", sampler, options)


def test_fit_refuses_a_typo_before_any_work(cdnow_cal):
    with pytest.raises(InvalidOptionError, match="^fit\\(method='map'\\) takes no sampler"):
        BetaGeo().fit(cdnow_cal, method="map", drawz=3)
