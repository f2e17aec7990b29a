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
