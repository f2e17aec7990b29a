"""The relationship matrix: cells from thresholds, counts with expected counts."""

import numpy as np
import pandas as pd

from lifevalue.segments.matrix import CELLS, classify, matrix_counts


def test_classify_cells_and_boundaries():
    cur = np.array([5.0, 4.999, 4.999, -1.0, 100.0])
    pot = np.array([0.0, 8.0, 7.999, -2.0, -5.0])
    assert classify(cur, pot, 5.0, 8.0).tolist() == [0, 1, 2, 2, 0]


def test_classify_broadcasts_over_draws():
    draws = np.array([[1.0, 9.0], [9.0, 1.0]])  # (S, n)
    cells = classify(draws, draws + 5, 5.0, 5.0)
    assert cells.tolist() == [[1, 0], [0, 1]]


def test_matrix_counts():
    c = pd.DataFrame({
        "cell": pd.Categorical(["retain", "develop", "develop", "phase_out"], categories=CELLS),
        "p_retain": [0.9, 0.1, 0.0, 0.0], "p_develop": [0.1, 0.8, 0.6, 0.2],
        "p_phase_out": [0.0, 0.1, 0.4, 0.8],
        "current_mean": [10.0, 2.0, 1.0, 0.5], "potential_mean": [12.0, 9.0, 8.0, 1.0],
    })
    out = matrix_counts(c)
    assert out["customers"].tolist() == [1, 2, 1]
    assert out["expected_count"].tolist() == [1.0, 1.7, 1.3]
    assert out.loc["develop", "potential_value"] == 17.0
