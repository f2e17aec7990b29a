"""Shared fixtures: seeded RNGs and the bundled CDNOW data."""

import numpy as np
import pandas as pd
import pytest

from lifevalue import datasets


@pytest.fixture
def rng():
    return np.random.default_rng(20051105)


@pytest.fixture(scope="session")
def cdnow_log() -> pd.DataFrame:
    return datasets.load_cdnow_transactions("sample")


@pytest.fixture(scope="session")
def cdnow_cal() -> pd.DataFrame:
    return datasets.load_cdnow_summary("sample")


@pytest.fixture(scope="session")
def cdnow_bg_mcmc(cdnow_cal):
    """A real NUTS fit of BG/NBD on the CDNOW calibration period with the library's
    defaults (4 chains x 500 draws; shared, a few seconds)."""
    from lifevalue.models import BetaGeo

    return BetaGeo().fit(cdnow_cal, random_seed=7)


@pytest.fixture(scope="session")
def cdnow_gg_mcmc(cdnow_cal):
    """A real NUTS fit of Gamma-Gamma on the CDNOW calibration period (shared)."""
    from lifevalue.models import GammaGamma

    return GammaGamma().fit(cdnow_cal, random_seed=7)
