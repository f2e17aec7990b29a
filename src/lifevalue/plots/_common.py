"""What every plot shares: the axes to draw on and the colours of the matrix cells."""

from __future__ import annotations

#: Colour of each relationship-matrix cell.
CELL_COLOURS = {"retain": "#1b7837", "develop": "#2166ac", "phase_out": "#b2182b"}


def _axes(ax):
    """``ax``, or the axes of a new figure when None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax
