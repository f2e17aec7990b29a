"""The period tables of customer value and the scorer's inputs.

Given alive, a customer's expected purchases per period and survival to each period's
start depend on them only through (x, T) and the scenario's multipliers. :class:`Tables`
(a mixin of :class:`~lifevalue.value.customer_value.CustomerValue`) computes them per
draw on the nodes of a grid in T (:mod:`lifevalue.models.table_grid`), reduces them to the
sums the return-based value needs, and lays out the arguments of the compiled scorer
(:func:`lifevalue.value.scoring_kernel.score_customers`).
"""

from __future__ import annotations

import numpy as np

from lifevalue.models import predictions as pr
from lifevalue.models import scoring as sc
from lifevalue.models import table_grid as tg
from lifevalue.models.compiled_closed_forms import (
    alive_log_tables,
    no_purchase_draws,
    purchases_and_survival,
)
from lifevalue.models.rows import unique_rows
from lifevalue.value import benchmarks as bm


class Tables:
    """Period tables and scorer inputs (a mixin of ``CustomerValue``)."""

    def _tables(self, bgd, keys, factors, flows_weights=None, bench=None):
        """Per draw and unique (x, T, rate, dropout) row, the period sums the value needs.

        Given alive, expected purchases per period (eq. 10 at the period edges) and
        survival to each period's start depend on the customer only through (x, T) and
        the scenario's multipliers, so they are computed once per unique row, in blocks
        of draws, and reduced at once: ``W = sum_t d^t m_t dE_t`` and, with costs that
        stop at churn, ``SO = sum_t d^t o_t S_t`` and ``SR`` likewise. With
        ``flows_weights`` (per-row, per-draw sums over customers, see
        :meth:`_flow_weights`) it also returns the base's expected flows per period.
        With ``bench`` (:func:`lifevalue.value.benchmarks.population_benchmarks`) the
        rows' rate and dropout multipliers are raised to the benchmarks at each draw.
        ``keys`` are either exact rows (x, T, rate, dropout) or the nodes of a
        :class:`~lifevalue.models.table_grid.TableGrid` (a fifth column: the branch of a
        rate benchmark's kink), whose tables the scorer interpolates.
        """
        g, d = self.grid, self.grid.discount
        S, U, P = len(bgd["r"]), len(keys), g.horizon
        # (rows, draws): a customer's draws are contiguous for the scorer
        tables = {"W": np.empty((U, S))}
        if self.costs_stop_at_churn:
            tables["SO"], tables["SR"] = np.empty((U, S)), np.empty((U, S))
        # no purchase in the whole horizon if alive, ((alpha+T)/(alpha+T+cH))^(r+x), for
        # the simulation (FHL 2005a, eq. 6 given the posterior of lambda)
        tables["Q0"] = np.empty((U, S))
        flows = {k: np.zeros(P) for k in ("p_active", "revenue", "margin", "cost_O", "cost_R")}
        # blocks of draws of equal size, a multiple of four of them: two or four threads
        # finish together (three blocks on two threads left one thread a second turn);
        # the count does not depend on the threads, so neither do the flows' sums
        n_blocks = -(-S // max(1, sc.CELLS_PER_CHUNK // (max(U, 1) * (P + 1))))
        block = max(1, -(-S // (-(-n_blocks // 4) * 4)))

        # bought_t = cum_t - cum_{t-1} and active_t = survival to the start of period t (1
        # for t = 0): sums over t are written on cum and the survival at the edges
        # directly, without the per-period arrays
        def telescoped(v):  # sum_t bought_t v_t = sum_t cum_t (v_t - v_{t+1})
            return v - np.append(v[1:], 0.0)

        v = {key: d * factors[key][1] for key in ("M", "O", "R")}

        def one_block(s0):
            sl = slice(s0, min(s0 + block, S))
            cum, at_edges, rate = self._node_tables(bgd, keys, bench, sl)
            tables["W"][:, sl] = (cum @ telescoped(v["M"])).T
            if bench is None:
                tables["Q0"][:, sl] = no_purchase_draws(bgd["r"][sl], bgd["alpha"][sl],
                                                        keys[:, 0], keys[:, 1],
                                                        rate * g.edges[-1]).T
            else:  # ((alpha+T)/(alpha+T+cH))^(r+x) with a rate c per draw and row
                base = bgd["alpha"][sl][:, None] + keys[:, 1]
                tables["Q0"][:, sl] = np.exp((bgd["r"][sl][:, None] + keys[:, 0]) * np.log(
                    base / (base + rate * g.edges[-1]))).T
            if self.costs_stop_at_churn:
                tables["SO"][:, sl] = (v["O"][0] + at_edges[..., :-1] @ v["O"][1:]).T
                tables["SR"][:, sl] = (v["R"][0] + at_edges[..., :-1] @ v["R"][1:]).T
            part = {}
            if flows_weights is not None:
                w = {k: val[:, sl].T for k, val in flows_weights.items()}

                def per_period(weights, of_cum):  # sum over draws and rows, per period
                    if of_cum:
                        return np.diff(np.einsum("su,sut->t", weights, cum), prepend=0.0)
                    return np.r_[weights.sum(), np.einsum("su,sut->t", weights,
                                                          at_edges[..., :-1])]

                part["p_active"] = per_period(w["pa"], False)
                part["revenue"] = per_period(w["rev"], True)
                part["margin"] = per_period(w["mar"], True)
                if self.costs_stop_at_churn:
                    part["cost_O"] = per_period(w["cost_O"], False)
                    part["cost_R"] = per_period(w["cost_R"], False)
            return part

        for part in sc.map_threads(self.n_threads, one_block, range(0, S, block)):
            for k, val in part.items():  # in block order, whatever the threads
                flows[k] += val
        tables["flows"] = {k: val / S for k, val in flows.items()}
        return tables

    def _node_tables(self, bgd, keys, bench, sl):
        """For the draws ``sl`` and the rows or grid nodes ``keys`` (see :meth:`_tables`):
        expected purchases given alive at the period edges (FHL 2005a, eq. 10) and
        survival to them, ``(draws, rows, P)`` each, one series per draw and row; and
        the rows' rate multipliers (per draw under a benchmark)."""
        rate, dropout = keys[:, 2], keys[:, 3]
        if bench is not None:  # per draw and row
            r_, al_, a_, b_ = (bgd[k][sl][:, None] for k in ("r", "alpha", "a", "b"))
            part = {k: val[sl] if len(val) else val for k, val in bench.items()}
            if keys.shape[1] > 4:  # grid nodes: each branch of a rate benchmark's kink
                up, down = node_multipliers(part, r_, al_, a_, b_, keys)
            else:
                up, down, _ = bm.row_multipliers(part, r_, al_, a_, b_, keys[:, 0],
                                                 keys[:, 1])
            rate, dropout = rate * up, dropout * down
        cum, at_edges = purchases_and_survival(
            *(bgd[k][sl] for k in ("r", "alpha", "a", "b")), keys[:, 0], keys[:, 1],
            rate, dropout, self.grid.edges[1:])
        return cum, at_edges, rate

    def _spend_draws(self, bgd, ggd, x, T, m, spend_multiplier, bench):
        """Expected spend per transaction ``(S, n)`` (Fader & Hardie 2013, eq. 5) with the
        scenario's spend benchmark and multiplier."""
        p, q, gam = (ggd[k][:, None] for k in ("p", "q", "gamma"))
        spend = pr.expected_spend(p, q, gam, x, m)
        if bench is not None and len(bench["spend"]):
            w = bm.evidence_weight(bench["rate"], bgd["r"][:, None], bgd["alpha"][:, None],
                                   x, T)
            spend = spend * bm.spend_multiplier(bench["spend"][:, None], w, spend)
        return spend * spend_multiplier

    def _expected(self, bgd, ggd, tables, u_idx, x, t_x, T, m, factors, mults, bench=None):
        """``E[KW | theta_s]`` for each draw and customer, ``(S, n)``, in NumPy: for the
        point-estimate thresholds and prospects (the scorer computes it compiled, see
        :mod:`lifevalue.value.scoring_kernel`).

        The return-based formula with P_t V_t = P(alive) * E[purchases_t | alive] *
        E[spend], factorised: ``M_i * spend * P(alive) * W - costs``.
        """
        if self._lifetime:  # no node tables: the closed forms per customer
            return self._expected_direct(bgd, ggd, x, t_x, T, m, factors, mults, bench)
        alive = self._p_alive(bgd, x, t_x, T)                                 # (S, n)
        spend = self._spend_draws(bgd, ggd, x, T, m, mults["spend"], bench)   # (S, n)
        margin = factors["M"][0] * mults["margin"]
        dev = factors["O"][0] * mults["development_cost"]
        ret = factors["R"][0] * mults["retention_cost"]
        d = self.grid.discount
        value = margin * spend
        value *= alive
        value *= tables["W"][u_idx].T
        if self.costs_stop_at_churn:
            value -= alive * (dev * tables["SO"][u_idx].T + ret * tables["SR"][u_idx].T)
        else:
            value -= dev * (d @ factors["O"][1]) + ret * (d @ factors["R"][1])
        return value

    def _expected_direct(self, bgd, ggd, x, t_x, T, m, factors, mults, bench=None):
        """:meth:`_expected` from :meth:`_period_draws`, the closed forms per customer."""
        alive, bought, active, spend = self._period_draws(bgd, ggd, x, t_x, T, m, mults, bench,
                                                          slice(None))
        d, n = self.grid.discount, len(x)
        margin = np.broadcast_to(factors["M"][0] * mults["margin"], (n,))
        dev = factors["O"][0] * mults["development_cost"]
        ret = factors["R"][0] * mults["retention_cost"]
        value = margin * spend[..., 0] * alive[..., 0] * (bought @ (d * factors["M"][1]))
        if self.costs_stop_at_churn:
            value -= alive[..., 0] * (dev * (active @ (d * factors["O"][1]))
                                      + ret * (active @ (d * factors["R"][1])))
        else:
            value -= dev * (d @ factors["O"][1]) + ret * (d @ factors["R"][1])
        return value

    def _alive_tables(self, bgd, x, t_x, T):
        """:func:`alive_tables` for the BG/NBD family; placeholders for the Pareto/NBD,
        whose P(alive) the scorer is given (:meth:`_scorer_model`)."""
        if self._lifetime:
            return no_alive_tables(len(x))
        return alive_tables(bgd, x, t_x, T, self._first_dropout)

    def _scorer_model(self, draws, x, t_x, T):
        """The scorer's ``first`` and ``pa_in`` for the customers (x, t_x, T): the
        purchase at which the first chance to drop out comes, and P(alive) per customer
        and draw for the Pareto/NBD, which the scorer does not compute (SciPy's 2F1,
        Fader & Hardie 2005 eq. 19; ``(n, S)``; None for the BG/NBD family). ``draws``
        are the scorer's four transaction-model draws."""
        if not self._lifetime:
            return self._first_dropout, None
        named = dict(zip(self.transactions_model.param_names, draws, strict=True))
        return 1.0, np.ascontiguousarray(self._p_alive(named, x, t_x, T).T)

    def _plan(self, summary, x, T, mults):
        """Unique (x, T, rate, dropout) rows, sorted by x, rate, dropout, then T (the
        rows of one node group of :meth:`_grid` consecutive), and each customer's row."""
        n = len(x)
        xs, rate, dropout, Ts, _, u_idx = unique_rows(
            x, *(np.broadcast_to(mults[k], (n,)) for k in ("purchase_rate", "dropout")), T,
            return_inverse=True)
        return np.stack([xs, Ts, rate, dropout], axis=1), u_idx

    def _grid(self, bgd, keys, bench=None) -> tg.TableGrid:
        """The nodes on which the period tables of the rows ``keys`` are computed, and
        the rows' interpolation weights (:mod:`lifevalue.models.table_grid`): their
        number does not depend on how finely T is recorded. None for the Pareto/NBD,
        whose period sums the scorer computes per customer."""
        if self._lifetime:
            return tg.no_grid(len(keys))
        kink = bench is not None and len(bench["rate"]) > 0
        return tg.build_grid(keys, 0.5 * float(np.min(bgd["alpha"])), kink,
                             benchmark=bench is not None)

    def _benchmarks(self, bgd, ggd, scenario):
        """The scenario's benchmarks per draw, or None."""
        if not scenario.has_benchmark:
            return None
        if not self._lifetime:
            # the population's dropout probability is Beta(a, b) in the model's own b
            bgd = {**bgd, "b": bgd["b"] - (1.0 - self._first_dropout)}
        return bm.population_benchmarks(bgd, ggd, scenario.benchmark_rate,
                                        scenario.benchmark_spend, scenario.benchmark_retention)

    def _kernel_inputs(self, bgd, ggd, x, t_x, T, m, factors, mults, plans, tables, names,
                       alive, bench, grids):
        """The arguments of :func:`lifevalue.value.scoring_kernel.score_customers`: the
        per-customer arrays (indexed by chunk) and the shared ones.

        The node tables of the scenarios are stacked row-wise, ``(nodes, S)`` so that a
        node's draws are contiguous; the potential's nodes (and rows) follow the
        current's, and the rows' first nodes are shifted accordingly.
        """
        # the expected spend must be finite for every draw and customer (Fader & Hardie 2013, eq. 5)
        pr.expected_spend(ggd["p"][:, None], ggd["q"][:, None], ggd["gamma"][:, None],
                          np.unique(x), 0.0)
        d = self.grid.discount
        rows, offset, node_offset = [], 0, 0
        per = {k: [] for k in ("u", "margin", "spend", "rate", "dropout", "dev", "ret")}
        grid_rows = {"below": [], "above": [], "weights": []}
        for name in names:
            keys, u_idx = plans[name]
            mu = mults[name]
            grid_rows["below"].append(grids[name].below + node_offset)
            grid_rows["above"].append(grids[name].above + node_offset)
            grid_rows["weights"].append(grids[name].weights)
            node_offset += grids[name].n_nodes
            per["u"].append(u_idx + offset)
            per["margin"].append(factors["M"][0] * mu["margin"])
            per["spend"].append(mu["spend"] * np.ones(len(x)))
            per["rate"].append(mu["purchase_rate"] * np.ones(len(x)))
            per["dropout"].append(mu["dropout"] * np.ones(len(x)))
            per["dev"].append(factors["O"][0] * mu["development_cost"])
            per["ret"].append(factors["R"][0] * mu["retention_cost"])
            rows.append(tables[name])
            offset += len(keys)
        per_customer_ = [x, t_x, T, m, *alive[2:]] + [np.stack(per[k]).astype(
            "int64" if k == "u" else "float64") for k in per]

        def stacked(key):
            if key not in rows[0]:
                return np.zeros((1, 1))
            return rows[0][key] if len(rows) == 1 else np.concatenate([t[key] for t in rows])

        g = self.grid
        steps = np.diff(g.edges)
        per_unit = (1.0 / steps[0] if np.allclose(steps, steps[0], rtol=1e-12, atol=0.0)
                    else 0.0)
        cum_O = np.concatenate([[0.0], np.cumsum(d * factors["O"][1])])
        cum_R = np.concatenate([[0.0], np.cumsum(d * factors["R"][1])])
        shared = [np.ascontiguousarray(bgd[k], dtype="float64")
                  for k in self.transactions_model.param_names]
        shared += [np.ascontiguousarray(ggd[k], dtype="float64") for k in ("p", "q", "gamma")]
        shared += [stacked("W"), stacked("Q0"), stacked("SO"), stacked("SR"),
                   *(np.ascontiguousarray(np.concatenate(grid_rows[k], axis=-1))
                     for k in ("below", "above", "weights")), *alive[:2],
                   np.asarray(g.edges, dtype="float64"), per_unit, d * factors["M"][1],
                   float(d @ factors["O"][1]), float(d @ factors["R"][1]), cum_O, cum_R,
                   self.costs_stop_at_churn]
        none = np.zeros(0)
        shared += [none, none, none] if bench is None or len(names) == 1 else [
            bench["rate"], bench["spend"], bench["dropout"]]
        return per_customer_, shared


def alive_tables(bgd, x, t_x, T, first_dropout):
    """:func:`~lifevalue.models.compiled_closed_forms.alive_log_tables` for the scorer, or
    placeholders (rows -1: P(alive) computed directly) when there are too many distinct
    values."""
    tabs = alive_log_tables(bgd["r"], bgd["alpha"], bgd["a"], bgd["b"], x, t_x, T,
                            first_dropout)
    return no_alive_tables(len(x)) if tabs is None else tabs


def no_alive_tables(n: int):
    """Placeholders of :func:`alive_tables` for ``n`` customers: every row -1, so the
    scorer computes P(alive) directly (or is given it)."""
    none = np.full(n, -1, dtype=np.int64)
    return np.zeros((1, 1)), np.zeros((1, 1)), none, none, none


def node_multipliers(bench: dict, r, alpha, a, b, nodes: np.ndarray):
    """Per draw ``(S, 1)`` and node, the rate and dropout multipliers of a benchmark
    scenario on each branch: the dropout as :func:`lifevalue.value.benchmarks.row_multipliers`;
    the rate 1 on the branch below the kink and ``1 + w (lambda* (alpha + T) / (r + x) -
    1)`` above it (``w`` the evidence weight). Returns two ``(S, N)`` arrays."""
    x, T, above = nodes[:, 0], nodes[:, 1], nodes[:, 4] > 0
    _, dropout, w = bm.row_multipliers({**bench, "rate": np.zeros(0)}, r, alpha, a, b, x, T)
    rate = np.ones(w.shape)
    if len(bench["rate"]):
        lam = bench["rate"][:, None]
        rate = np.where(above, 1.0 + w * (lam * (alpha + T) / (r + x) - 1.0), 1.0)
    return rate, dropout
