"""Comparing two runs: who is new, who is gone, who moved, and how the base value changed.

Two kinds of input:

* two score tables (``lifevalue score`` files, or :func:`lifevalue.pipeline.score_frame`
  of two results): :func:`compare_runs`. The change in base value is the change of the
  sum of ``current_mean``; score files carry no per-draw totals, and per-customer
  intervals cannot be added up (customers share their population draws), so no interval
  is given for it (``lo``/``hi`` are NaN);
* two :class:`~lifevalue.value.ValueResult` objects, e.g. two model folders valuing the
  same log: :func:`compare_results` also gives the interval of the base values from
  ``ValueResult.draw_totals``, and of their change treating the two posteriors as
  independent (draws paired at random).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lifevalue import validation as v

VALUE = "current_mean"
NEW, GONE = "(new)", "(gone)"


@dataclass
class RunComparison:
    """What changed between an old and a new run.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer in either run: ``status`` ('kept', 'new' or 'gone'),
        ``old_value``, ``new_value`` and ``change`` (of ``current_mean``), ``old_cell``,
        ``new_cell``, ``old_pyramid``, ``new_pyramid``.
    counts : dict
        Number of customers kept, new and gone.
    cell_moves, pyramid_moves : pandas.DataFrame
        Customers by old (rows) and new (columns) relationship-matrix cell and pyramid
        level; '(new)' and '(gone)' hold the customers in one run only.
    base : pandas.DataFrame
        Rows ``old``, ``new``, ``change``; columns ``mean``, ``lo``, ``hi`` (the
        parameter interval; NaN when only score files were compared).
    top_movers : pandas.DataFrame
        The kept customers with the largest absolute change in value.
    interval : str
        What ``base``'s interval is, in words.
    """

    customers: pd.DataFrame
    counts: dict
    cell_moves: pd.DataFrame
    pyramid_moves: pd.DataFrame
    base: pd.DataFrame
    top_movers: pd.DataFrame
    interval: str = ""
    notes: list = field(default_factory=list)

    def to_text(self) -> str:
        """A plain-text account for logs and the terminal."""
        c = self.counts
        parts = [f"customers: {c['kept']:,} in both runs, {c['new']:,} new, "
                 f"{c['gone']:,} gone",
                 "base value (current, mean and interval):",
                 self.base.round(2).to_string(), self.interval,
                 "movement between matrix cells (rows: old, columns: new):",
                 self.cell_moves.to_string(),
                 "movement between pyramid levels (rows: old, columns: new):",
                 self.pyramid_moves.to_string(), "largest movers:",
                 self.top_movers.round(2).to_string()]
        return "\n".join(parts)


def _levels(scores: pd.DataFrame) -> pd.Series:
    if "pyramid" in scores:
        return scores["pyramid"].astype(str)
    from lifevalue.segments import customer_pyramid

    p_alive = scores["p_alive_mean"] if "p_alive_mean" in scores else None
    return customer_pyramid(scores[VALUE], p_alive).astype(str)


def _check_scores(scores, which: str) -> pd.DataFrame:
    if not isinstance(scores, pd.DataFrame):
        raise v.InputError(f"{which} scores must be a DataFrame, not {type(scores).__name__}",
                           column=which)
    missing = [c for c in (VALUE, "cell") if c not in scores]
    if missing:
        raise v.MissingColumnError(f"{which} scores lack the column {missing[0]!r}: not a "
                                   "lifevalue scores table", column=missing[0])
    if not scores.index.is_unique:
        raise v.InputError(f"{which} scores: customer ids (the index) are not unique",
                           column=which)
    return scores


def compare_runs(old_scores: pd.DataFrame, new_scores: pd.DataFrame, *,
                 top: int = 10) -> RunComparison:
    """Compare two score tables (indexed by customer).

    Parameters
    ----------
    old_scores, new_scores : pandas.DataFrame
        Scores of the two runs, with ``current_mean`` and ``cell`` (and ``pyramid``, or
        ``p_alive_mean`` to compute it).
    top : int
        Number of largest movers.

    Returns
    -------
    RunComparison
        Without an interval for the change in base value (see the module notes).

    Examples
    --------
    >>> old = pd.DataFrame({"current_mean": [10.0, 5.0], "cell": ["retain", "develop"]},
    ...                    index=["a", "b"])
    >>> new = pd.DataFrame({"current_mean": [4.0, 7.0], "cell": ["develop", "retain"]},
    ...                    index=["a", "c"])
    >>> cmp = compare_runs(old, new)
    >>> cmp.counts
    {'kept': 1, 'new': 1, 'gone': 1}
    >>> float(cmp.base.loc["change", "mean"])
    -4.0
    """
    old, new = _check_scores(old_scores, "old"), _check_scores(new_scores, "new")
    ids = old.index.union(new.index, sort=False)
    in_old, in_new = ids.isin(old.index), ids.isin(new.index)
    status = np.where(in_old & in_new, "kept", np.where(in_new, "new", "gone"))
    frame = pd.DataFrame({
        "status": status,
        "old_value": old[VALUE].reindex(ids).to_numpy(dtype="float64"),
        "new_value": new[VALUE].reindex(ids).to_numpy(dtype="float64"),
        "old_cell": old["cell"].astype(str).reindex(ids).fillna(NEW).to_numpy(),
        "new_cell": new["cell"].astype(str).reindex(ids).fillna(GONE).to_numpy(),
        "old_pyramid": _levels(old).reindex(ids).fillna(NEW).to_numpy(),
        "new_pyramid": _levels(new).reindex(ids).fillna(GONE).to_numpy(),
    }, index=ids)
    frame.insert(3, "change", frame["new_value"] - frame["old_value"])
    frame.index.name = old.index.name or new.index.name or "customer_id"
    base = pd.DataFrame({"mean": [old[VALUE].sum(), new[VALUE].sum()],
                         "lo": np.nan, "hi": np.nan}, index=["old", "new"])
    base.loc["change"] = [base.loc["new", "mean"] - base.loc["old", "mean"], np.nan, np.nan]
    note = ("no interval: score files hold no per-draw totals, and per-customer intervals "
            "do not add up (compare model folders with data for the interval)")
    return _finish(frame, base, top, note)


def _finish(frame, base, top, interval) -> RunComparison:
    counts = {k: int((frame["status"] == k).sum()) for k in ("kept", "new", "gone")}
    cell_moves = pd.crosstab(frame["old_cell"].rename("old"), frame["new_cell"].rename("new"))
    pyramid_moves = pd.crosstab(frame["old_pyramid"].rename("old"),
                                frame["new_pyramid"].rename("new"))
    kept = frame[frame["status"] == "kept"]
    order = kept["change"].abs().sort_values(ascending=False, kind="stable").index[:top]
    movers = kept.loc[order, ["old_value", "new_value", "change", "old_cell", "new_cell"]]
    base.index.name = "run"
    return RunComparison(frame, counts, cell_moves, pyramid_moves, base, movers, interval)


def compare_results(old, new, *, top: int = 10, ci: float = 0.9,
                    random_seed: int = 0) -> RunComparison:
    """Compare two :class:`~lifevalue.value.ValueResult`, with intervals for the base.

    The ``old`` and ``new`` rows of ``base`` take the parameter interval from each
    result's per-draw totals (``draw_totals[("current", "expected")]``); the
    ``change`` row pairs the draws of the two posteriors at random (they come from
    separate fits, so are taken as independent) and takes the interval of the
    differences.
    """
    from lifevalue.pipeline import score_frame

    cmp = compare_runs(score_frame(old), score_frame(new), top=top)
    v.check_probability(ci, "ci")
    lo_q, hi_q = (1 - ci) / 2, (1 + ci) / 2
    a = np.asarray(old.draw_totals[("current", "expected")], dtype="float64")
    b = np.asarray(new.draw_totals[("current", "expected")], dtype="float64")
    rng = np.random.default_rng(random_seed)
    n = max(len(a), len(b))
    diff = rng.choice(b, n) - rng.choice(a, n) if min(len(a), len(b)) > 1 else b.mean() - a
    rows = {"old": a, "new": b, "change": np.atleast_1d(diff)}
    cmp.base = pd.DataFrame({k: {"mean": float(np.mean(x)), "lo": float(np.quantile(x, lo_q)),
                                 "hi": float(np.quantile(x, hi_q))} for k, x in rows.items()}
                            ).T.rename_axis("run")
    cmp.base.loc["change", "mean"] = cmp.base.loc["new", "mean"] - cmp.base.loc["old", "mean"]
    cmp.interval = (f"{ci:.0%} parameter intervals from the per-draw base totals; the change "
                    "pairs the two fits' draws at random (independent posteriors)")
    return cmp


def read_scores(path) -> pd.DataFrame:
    """Read a scores file written by ``lifevalue score`` (.csv or .parquet)."""
    path = Path(path)
    if not path.is_file():
        raise v.InputError(f"scores file {str(path)!r} does not exist", column="scores")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, index_col=0)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise v.InputError(f"scores file {str(path)!r}: not a .csv or .parquet file",
                       column="scores")


def compare_paths(old, new, *, data=None, top: int = 10, margin: float | None = None
                  ) -> RunComparison:
    """Compare two score files, or two model folders valuing the log ``data`` (each with
    the options saved at its fit; ``margin`` overrides theirs)."""
    from lifevalue import pipeline as pl

    old, new = Path(old), Path(new)
    if old.is_dir() != new.is_dir():
        raise v.InputError(f"compare {str(old)!r} and {str(new)!r}: give two score files or "
                           "two model folders, not one of each", column="compare")
    if not old.is_dir():
        return compare_runs(read_scores(old), read_scores(new), top=top)
    if data is None:
        raise v.InputError("compare: two model folders need --data, the transaction log to "
                           "value with both", column="data")
    results = []
    for folder in (old, new):
        bg, gg, info = pl.load_bundle(folder)
        data_opts = pl.resolve({}, pl.saved_options(info, "data"), pl.DATA_DEFAULTS, "data")
        value_opts = pl.resolve({"margin": margin}, pl.saved_options(info, "value"),
                                pl.VALUE_DEFAULTS, "value")
        pl.check_margin_given(value_opts, f"compare {str(folder)!r} (--margin)")
        summary = pl.summarize_input(data, data_opts, None)
        results.append(pl.evaluate(bg, gg, summary, value_opts))
    return compare_results(*results, top=top)
