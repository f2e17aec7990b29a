"""Comparisons between customers from the posterior draws: the second pass of
``evaluate(..., comparisons=True)`` (ranks, level probabilities, Lorenz band) and
``prob_more_valuable``. The per-draw sketches themselves are
:mod:`lifevalue.value.comparisons`.

:class:`Ranking` is a mixin of :class:`~lifevalue.value.customer_value.CustomerValue`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models import customer_posterior as cp
from lifevalue.models import scoring as sc
from lifevalue.value import comparisons as cmp
from lifevalue.value import scoring_kernel as sk


class Ranking:
    """Comparisons between customers (a mixin of ``CustomerValue``)."""

    def prob_more_valuable(self, summary: pd.DataFrame, a, b, *, kind: str = "pred") -> float:
        """P(customer ``a``'s current value > customer ``b``'s), from the posterior draws.

        Parameters
        ----------
        summary : pandas.DataFrame
            The RFM summary holding both customers (only their rows are scored).
        a, b
            Customer ids.
        kind : {'pred', 'param'}
            ``'pred'``: the customers' simulated futures, paired by population draw
            (each customer's own luck included: what a decision about the two needs);
            ``'param'``: their expected values at each population draw.

        Returns
        -------
        float
            Ties count half, so ``prob_more_valuable(a, b) + prob_more_valuable(b, a)
            == 1``.
        """
        if kind not in ("pred", "param"):
            raise v.InvalidOptionError(f"kind must be 'pred' or 'param', got {kind!r}",
                                       column="kind")
        pair = summary.loc[[a, b]]
        kept = {}
        self.evaluate(pair, "neutral", thresholds=(0.0, 0.0), comparisons=False, _keep=kept)
        rows = {}
        for idx, e, y in kept.values():
            for j, i in enumerate(idx):
                rows[i] = e[j] if kind == "param" else y[j]
        return cmp.prob_more_valuable(rows[0], rows[1])

    def _compare(self, customers, sketches, order, offset, chunks, kernel_args, consts,
                 kept=None, n_total=None):
        """The second pass of the comparisons: each customer's current values again,
        placed in the per-draw sketches of the first (:mod:`lifevalue.value.comparisons`).
        ``kept`` (per chunk start: expected values, P(alive) and simulated values, as the
        first pass scored them) spares scoring them again. Adds the rank, top-20% and
        level columns to ``customers``; returns the Lorenz table. ``n_total``: the
        customers the sketches hold, when more than ``customers`` (other profiles)."""
        S, S_sim, lo_q, hi_q, c_thr, p_thr = consts
        param, pred = sketches[0]
        for other in sketches[1:]:
            param.merge(other[0])
            pred.merge(other[1])
        param.finish()
        pred.finish()
        n = len(customers) if n_total is None else n_total
        cols = np.empty((6 + len(cmp.LEVELS), len(customers)))
        per_customer_, shared = kernel_args
        current_only = [a[:1] if a.ndim == 2 else a for a in per_customer_]

        def one_chunk(sl):
            idx = order[sl]
            if kept is not None:
                expected, pa, simulated = kept[sl.start]
            else:
                seeds = cp.BlockRNG(self.random_seed, offset + sl.start, offset + sl.stop
                                    ).stream_seeds()
                chunk = [np.ascontiguousarray(a[..., idx]) for a in current_only]
                part = np.empty((len(sk.COLUMNS), len(idx)))
                de, dy = np.empty((len(idx), 2, S)), np.empty((len(idx), 1, S_sim))
                sk.score_customers(seeds, *shared[:7], *chunk, *shared[7:-3], S_sim, lo_q,
                                   hi_q, c_thr, p_thr, part, np.zeros((3, 3, S)),
                                   np.zeros((3, 3, S_sim)), np.zeros(0), np.zeros(0),
                                   np.zeros(0), de, dy,
                                   *self._scorer_model(shared[:4], *chunk[:3]), None)
                expected, pa, simulated = de[:, 0], de[:, 1], dy[:, 0]
            r_param, _ = param.place(expected, pa)
            r_pred, levels = pred.place(simulated, cycled(pa, S_sim))
            block = np.empty((len(cols), len(idx)))
            block[0:2] = np.quantile(r_param, [lo_q, hi_q], axis=1)
            block[2:4] = np.quantile(r_pred, [lo_q, hi_q], axis=1)
            block[4] = (r_pred <= 0.2 * n).mean(axis=1)
            block[5] = 0.0
            block[6:] = (levels / S_sim).T
            cols[:, idx] = block

        for _ in sc.map_threads(self.n_threads, one_chunk, chunks):
            pass
        customers["rank_mean"] = cmp.rank_of_mean(customers["current_mean"])
        for j, name in enumerate(("rank_param_lo", "rank_param_hi", "rank_pred_lo",
                                  "rank_pred_hi", "p_top20")):
            customers[name] = cols[j]
        for j, level in enumerate(cmp.LEVELS):
            customers[f"p_{level}"] = cols[6 + j]
        levels = customers[[f"p_{lv}" for lv in cmp.LEVELS]].to_numpy()
        customers["most_likely_level"] = pd.Categorical.from_codes(levels.argmax(axis=1),
                                                                   cmp.LEVELS)
        return pd.concat([cmp.lorenz_band(param.lorenz(), self.ci).assign(kind="param"),
                          cmp.lorenz_band(pred.lorenz(), self.ci).assign(kind="pred")],
                         ignore_index=True)


def cycled(per_draw, n_sim):
    """Columns ``(n, S)`` cycled to ``(n, n_sim)``: simulated future j uses draw j % S."""
    S = per_draw.shape[1]
    return per_draw if n_sim == S else per_draw[:, np.arange(n_sim) % S]


def pyramid_table(customers: pd.DataFrame) -> pd.DataFrame:
    """Per level: expected and most-likely customers, and their current value (see
    :attr:`ValueResult.pyramid`)."""
    value = customers["current_mean"]
    frame = pd.DataFrame({"level": customers["most_likely_level"], "value": value,
                          "positive": value.clip(lower=0.0), "negative": value.clip(upper=0.0)})
    g = frame.groupby("level", observed=False)
    out = pd.DataFrame({
        "expected_customers": pd.Series({lv: customers[f"p_{lv}"].sum() for lv in cmp.LEVELS}),
        "customers": g.size(), "value": g["value"].sum(), "positive_value": g["positive"].sum(),
        "negative_value": g["negative"].sum()}).reindex(list(cmp.LEVELS))
    total = out["positive_value"].sum()
    out["share_of_value"] = out["positive_value"] / total if total > 0 else np.nan
    out.index.name = "level"
    return out
