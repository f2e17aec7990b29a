"""Scenarios: how a customer's behaviour changes between current and potential value.

A :class:`Scenario` raises each customer towards a **benchmark** and multiplies the
drivers of the return-based formula.

Benchmarks (see :mod:`lifevalue.value.benchmarks`): ``benchmark_rate``,
``benchmark_spend`` and ``benchmark_retention`` name a population level (0.75: what the
top 25% of customers reach). At every posterior draw a customer whose purchase rate,
spend per purchase or retention is below that level is raised to it; a customer above
keeps their own. So the growth room differs per customer: it is large for a customer
who is likely active but buys rarely or spends little, and zero for one already above.

Multipliers, applied on top of the benchmark:

* ``purchase_rate`` scales each active customer's purchase rate lambda;
* ``dropout`` scales the dropout propensity: the customer's posterior
  ``p ~ Beta(a, b+x)`` becomes ``Beta(dropout * a, b+x)``, so the mean dropout
  probability scales by about ``dropout`` while it is small (and never leaves [0, 1]);
  under the Pareto/NBD the dropout rate's posterior ``mu ~ Gamma(s, beta+T)`` becomes
  ``Gamma(s, (beta+T)/dropout)``: the rate itself is scaled;
* ``spend`` scales spend per purchase;
* ``target_share_of_wallet``: when the summary has a ``share_of_wallet`` column (the
  current share KA of the customer's category spend), spend scales by
  ``max(target / current, 1)``: a customer grows to the target share, never shrinks.
  Without that column the share of wallet is unknown and this field has no effect;
* ``margin``, ``development_cost``, ``retention_cost`` scale M, O and R.

Each multiplier is a number, a pandas Series indexed by customer id (per customer),
or the name of a summary column. :meth:`Scenario.by_segment` builds per-customer
multipliers from a scenario per segment.

Presets (documented defaults): the benchmark level of rate, spend and retention, and
the target share of wallet; every multiplier is 1.

============  ===============  =====================
preset        benchmark level  target share of wallet
============  ===============  =====================
neutral       none             -
defensive     0.50 (median)    -
realistic     0.75 (top 25%)   0.40
ambitious     0.90 (top 10%)   0.60
============  ===============  =====================

``neutral`` gives a potential equal to current value, exactly. Costs stay at x1.00 in
the presets; developing a customer usually costs more, so set ``development_cost`` for
your business.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lifevalue import validation as v

MULTIPLIERS = ("purchase_rate", "dropout", "spend", "margin", "development_cost",
               "retention_cost")
BENCHMARKS = ("benchmark_rate", "benchmark_spend", "benchmark_retention")


@dataclass(frozen=True)
class Scenario:
    """Benchmark levels and multipliers of behaviour, margin and costs.

    Parameters
    ----------
    name : str
    purchase_rate, dropout, spend, margin, development_cost, retention_cost
        Multipliers (1.0 means unchanged): a number, a customer-indexed Series or a
        summary column name.
    target_share_of_wallet : float in (0, 1], optional
    benchmark_rate, benchmark_spend, benchmark_retention : float in (0, 1), optional
        Population level each customer is raised to, at least (None: no benchmark).

    Examples
    --------
    >>> Scenario.preset("realistic").benchmark_rate
    0.75
    >>> Scenario("mine", benchmark_spend=0.5, margin=1.1).is_neutral
    False
    """

    name: str = "custom"
    purchase_rate: object = 1.0
    dropout: object = 1.0
    spend: object = 1.0
    margin: object = 1.0
    development_cost: object = 1.0
    retention_cost: object = 1.0
    target_share_of_wallet: float | None = None
    benchmark_rate: float | None = None
    benchmark_spend: float | None = None
    benchmark_retention: float | None = None

    def __post_init__(self):
        for field in MULTIPLIERS:
            value = getattr(self, field)
            if isinstance(value, str | pd.Series):
                continue
            if not v.is_finite_number(value) or float(value) < 0:
                raise v.InvalidOptionError(
                    f"scenario {self.name!r}: {field} must be a number >= 0, a Series or a "
                    f"column name, got {value!r}", column=field)
            if field in ("purchase_rate", "dropout") and float(value) == 0:
                raise v.InvalidOptionError(
                    f"scenario {self.name!r}: {field} must be > 0", column=field)
        t = self.target_share_of_wallet
        if t is not None and not (v.is_finite_number(t) and 0 < float(t) <= 1):
            raise v.InvalidOptionError(
                f"scenario {self.name!r}: target_share_of_wallet must be in (0, 1], got {t!r}",
                column="target_share_of_wallet")
        for field in BENCHMARKS:
            level = getattr(self, field)
            if level is not None and not (v.is_finite_number(level) and 0 < float(level) < 1):
                raise v.InvalidOptionError(
                    f"scenario {self.name!r}: {field} must be a population level in (0, 1), "
                    f"got {level!r}", column=field)

    @property
    def has_benchmark(self) -> bool:
        return any(getattr(self, f) is not None for f in BENCHMARKS)

    @property
    def is_neutral(self) -> bool:
        return self.target_share_of_wallet is None and not self.has_benchmark and all(
            not isinstance(getattr(self, f), str | pd.Series) and float(getattr(self, f)) == 1.0
            for f in MULTIPLIERS)

    @classmethod
    def preset(cls, name: str) -> Scenario:
        """One of ``'neutral'``, ``'defensive'``, ``'realistic'``, ``'ambitious'``."""
        if name not in PRESETS:
            raise v.InvalidOptionError(
                f"scenario preset {name!r} is not one of {sorted(PRESETS)}", column="scenario")
        return PRESETS[name]

    @classmethod
    def from_dict(cls, spec: dict) -> Scenario:
        """Build from a mapping; ``preset`` names a base that the other keys override."""
        spec = dict(spec)
        known = {f.name for f in dataclasses.fields(cls)} | {"preset"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise v.InvalidOptionError(
                f"scenario names unknown field {unknown[0]!r}; fields are {sorted(known)}",
                column=unknown[0])
        base = cls.preset(spec.pop("preset")) if "preset" in spec else cls()
        return dataclasses.replace(base, **spec)

    @classmethod
    def from_toml(cls, path) -> Scenario:
        """Read a scenario from a TOML file of ``field = value`` lines."""
        path = Path(path)
        try:
            spec = tomllib.loads(path.read_text())
        except FileNotFoundError as err:
            raise v.InputError(f"scenario file {str(path)!r} does not exist",
                               column="scenario") from err
        except tomllib.TOMLDecodeError as err:
            raise v.InputError(f"scenario file {str(path)!r} is not valid TOML: {err}",
                               column="scenario") from err
        return cls.from_dict(spec)

    @classmethod
    def by_segment(cls, segments: pd.Series, scenarios: dict, name: str = "by segment"
                   ) -> Scenario:
        """Per-customer multipliers from one scenario per segment label.

        ``segments`` maps customer id -> label; every label needs a scenario. The
        benchmark levels are population levels, shared by all segments.
        """
        missing = sorted(set(segments.unique()) - set(scenarios), key=str)
        if missing:
            raise v.InvalidOptionError(f"no scenario for segment {missing[0]!r}",
                                       column="scenario")
        fields = {}
        for field in MULTIPLIERS:
            per_label = {k: float(getattr(s, field)) for k, s in scenarios.items()}
            fields[field] = segments.map(per_label).astype("float64")
        for field in BENCHMARKS:  # population levels are shared by all segments
            levels = {getattr(s, field) for s in scenarios.values()}
            if len(levels) > 1:
                raise v.InvalidOptionError(
                    f"the segments' scenarios must share {field}: give every segment the "
                    "same level and vary the multipliers", column=field)
            fields[field] = levels.pop() if levels else None
        return cls(name=name, **fields)

    def multipliers(self, summary: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each multiplier as a float array over the summary's customers."""
        out = {}
        for field in MULTIPLIERS:
            out[field] = per_customer(getattr(self, field), summary, f"scenario {field}")
        share = np.ones(len(summary))
        if self.target_share_of_wallet is not None and "share_of_wallet" in summary.columns:
            current = per_customer("share_of_wallet", summary, "share_of_wallet")
            bad = ~((current > 0) & (current <= 1))
            if bad.any():
                raise v.offending_rows_error("share_of_wallet", summary[bad][["share_of_wallet"]],
                                             int(bad.sum()), "a share outside (0, 1]")
            share = np.maximum(self.target_share_of_wallet / current, 1.0)
        out["spend"] = out["spend"] * share
        return out


def per_customer(value, summary: pd.DataFrame, what: str) -> np.ndarray:
    """A number, a customer-indexed Series or a column name, as a float array."""
    n = len(summary)
    if isinstance(value, str):
        if value not in summary.columns:
            raise v.MissingColumnError(f"missing column {value!r} named by {what}", column=value)
        out = pd.to_numeric(summary[value], errors="coerce").to_numpy(dtype="float64")
        label = value
    elif isinstance(value, pd.Series):
        missing = ~summary.index.isin(value.index)
        if missing.any():
            raise v.offending_rows_error(what, summary[missing].iloc[:, :0].assign(
                customer=summary.index[missing]), int(missing.sum()),
                "no value for this customer")
        out = value.reindex(summary.index).to_numpy(dtype="float64")
        label = what
    else:
        return np.full(n, float(value))
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        raise v.offending_rows_error(label, summary[bad].iloc[:, :0].assign(value=out[bad]),
                                     int(bad.sum()), "a missing, non-numeric or negative value")
    return out


def _preset(name: str, level: float, share: float | None) -> Scenario:
    return Scenario(name, target_share_of_wallet=share, benchmark_rate=level,
                    benchmark_spend=level, benchmark_retention=level)


PRESETS = {
    "neutral": Scenario("neutral"),
    "defensive": _preset("defensive", 0.50, None),
    "realistic": _preset("realistic", 0.75, 0.40),
    "ambitious": _preset("ambitious", 0.90, 0.60),
}


def renamed_potential(scenario, potential, where: str):
    """``scenario``, or the old keyword ``potential`` with a FutureWarning: the argument
    that names a scenario is ``scenario`` everywhere (``evaluate``, ``cash_flows``,
    ``prospect_value``, the Spark functions, the CLI's ``--scenario``)."""
    if potential is None:
        return scenario
    import warnings

    warnings.warn(f"{where}(potential=...) is now {where}(scenario=...); potential= will be "
                  "removed in a later version", FutureWarning, stacklevel=3)
    return potential


def as_scenario(potential) -> Scenario:
    """A :class:`Scenario` from a preset name, a mapping or a Scenario."""
    if isinstance(potential, Scenario):
        return potential
    if isinstance(potential, str):
        return Scenario.preset(potential)
    if isinstance(potential, dict):
        return Scenario.from_dict(potential)
    raise v.InvalidOptionError(
        f"scenario must be a preset name, a mapping or a Scenario, not {potential!r}",
        column="scenario")
