"""The customer relationship matrix and its thresholds.

* current value at or above its threshold: **retain**;
* otherwise, potential value at or above its threshold: **develop**;
* otherwise (low on both, or negative): **phase out**.

Thresholds are business inputs, in currency over the value's horizon (or per period),
and never depend on which customers are scored together: a customer gets the same cell
whether scored alone, in a sample or with the whole base. The default is the value of
an average newly acquired customer (a prospect drawn from the fitted population,
before any acquisition cost; :meth:`lifevalue.value.CustomerValue.prospect_value`) under
the same settings, floored at 0: a customer worth at least a new one is retained; one
who is not, but could become so, is developed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifevalue import validation as v

CELLS = ("retain", "develop", "phase_out")


def classify(current, potential, current_threshold: float, potential_threshold: float
             ) -> np.ndarray:
    """Cell codes (0 retain, 1 develop, 2 phase out) of values; arrays broadcast.

    Applied to each posterior draw it gives the probability of each cell.

    Examples
    --------
    >>> classify(np.array([10.0, 1.0, 1.0, -3.0]), np.array([12.0, 9.0, 2.0, 20.0]), 5, 8)
    array([0, 1, 2, 1])
    """
    current = np.asarray(current, dtype="float64")
    potential = np.asarray(potential, dtype="float64")
    return np.where(current >= current_threshold, 0,
                    np.where(potential >= potential_threshold, 1, 2))


@dataclass(frozen=True)
class MatrixThresholds:
    """Thresholds of the relationship matrix.

    Parameters
    ----------
    current, potential : float, optional
        Current value at or above which a customer is retained, and potential value at
        or above which one who is not is developed. None: the default reference (the
        value of an average new customer, floored at 0).
    per_period : bool
        The amounts are per period: the threshold is the amount received at the end of
        every period of the horizon, discounted (``amount * sum_t d^t``).

    Examples
    --------
    >>> from lifevalue.value.periods import PeriodGrid
    >>> MatrixThresholds(10.0, 5.0).resolve(PeriodGrid(), reference=3.0)
    (10.0, 5.0)
    >>> MatrixThresholds().resolve(PeriodGrid(), reference=-2.0)
    (0.0, 0.0)
    """

    current: float | None = None
    potential: float | None = None
    per_period: bool = False

    def __post_init__(self):
        for name in ("current", "potential"):
            value = getattr(self, name)
            if value is not None and not v.is_finite_number(value):
                raise v.InvalidOptionError(
                    f"matrix threshold {name} must be a finite number, got {value!r}",
                    column="thresholds")

    @classmethod
    def coerce(cls, spec) -> MatrixThresholds:
        """From None, a pair ``(current, potential)``, a mapping or an instance."""
        if spec is None:
            return cls()
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - {"current", "potential", "per_period"})
            if unknown:
                raise v.InvalidOptionError(f"thresholds names unknown field {unknown[0]!r}",
                                           column="thresholds")
            return cls(**spec)
        try:
            current, potential = spec
        except (TypeError, ValueError):
            raise v.InvalidOptionError(
                f"thresholds must be (current, potential), a mapping or MatrixThresholds, "
                f"not {spec!r}", column="thresholds") from None
        return cls(current, potential)

    @property
    def needs_reference(self) -> bool:
        return self.current is None or self.potential is None

    def resolve(self, grid, reference: float | None) -> tuple[float, float]:
        """The two thresholds in currency over the horizon."""
        factor = float(grid.discount.sum()) if self.per_period else 1.0
        default = max(float(reference), 0.0) if reference is not None else 0.0
        return tuple(default if t is None else float(t) * factor
                     for t in (self.current, self.potential))
