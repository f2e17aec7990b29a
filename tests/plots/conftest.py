"""Plot tests draw without a display and close every figure they open."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")
