"""Cash flows per period and the value of a prospect: the parts of
:class:`~lifevalue.value.customer_value.CustomerValue` that report the return-based
formula period by period (for the whole base) and for a newly acquired customer.

:class:`CashFlows` is a mixin of ``CustomerValue``: its methods use the value engine's
tables, expectation and simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models import customer_posterior as cp
from lifevalue.models import pareto_nbd_formulas as pf
from lifevalue.models import predictions as pr
from lifevalue.models import scoring as sc
from lifevalue.models.compiled_closed_forms import p_alive_draws
from lifevalue.value import benchmarks as bm
from lifevalue.value import flow_kernel as fk
from lifevalue.value import scoring_kernel as sk
from lifevalue.value.results import _base_row
from lifevalue.value.scenarios import as_scenario


class CashFlows:
    """Expected cash flows per period of a base, and the value of a prospect (a mixin of
    :class:`~lifevalue.value.customer_value.CustomerValue`)."""

    def _flow_weights(self, bgd, ggd, plan, x, t_x, T, m, factors, mults, alive, grid,
                      bench=None):
        """Per draw and node of ``grid`` (:class:`~lifevalue.models.table_grid.TableGrid`),
        sums over customers of P(alive) and its products with spend, margin and costs,
        each spread on the nodes by the customer's row's interpolation weights: a cheap
        pass (no hypergeometric function) that lets :meth:`_tables` return the base's
        flows in the same pass as the node tables (the flows are linear in the tables).

        Within a row (x, T, scenario rate and dropout) P(alive) depends on t_x only, and
        expected spend (Fader & Hardie 2013, eq. 5) is linear in the customer's mean spend m:
        ``p (gamma + x m) / (p x + q - 1) = c1 + c2 m``. So the customers are grouped by
        (row, t_x), their settings summed once per group, and the draws run over the
        groups only: ``sum_i P(alive) s_i spend_i = P(alive) (c1 sum_i s_i + c2 sum_i
        s_i m_i)`` and likewise with the margin and the costs. A spend benchmark is not
        linear in m: the groups are then (row, t_x, m).
        """
        keys, u_idx = plan
        S = len(bgd["r"])
        b_spend = bench["spend"] if bench is not None else np.zeros(0)
        b_rate = bench["rate"] if bench is not None else np.zeros(0)
        by_m = len(b_spend) > 0
        srt = np.lexsort((m, t_x, u_idx) if by_m else (t_x, u_idx))
        su, st, sm = u_idx[srt], t_x[srt], m[srt]
        new = (su[1:] != su[:-1]) | (st[1:] != st[:-1])
        if by_m:
            new |= sm[1:] != sm[:-1]
        starts = np.flatnonzero(np.r_[True, new])
        first = srt[starts]
        smult = mults["spend"] * np.ones(len(x))
        marg = factors["M"][0] * mults["margin"]
        dev = factors["O"][0] * mults["development_cost"]
        ret = factors["R"][0] * mults["retention_cost"]
        sums = {"n": np.ones(len(x)), "s": smult, "sm": smult * m, "sM": smult * marg,
                "smM": smult * m * marg}
        if self.costs_stop_at_churn:
            sums["dev"], sums["ret"] = dev * np.ones(len(x)), ret * np.ones(len(x))
        g = {k: np.add.reduceat(val[srt], starts) for k, val in sums.items()}
        xg, tg, Tg, ug = x[first], t_x[first], T[first], u_idx[first]
        names = ["pa", "rev", "mar"] + (["cost_O", "cost_R"] if self.costs_stop_at_churn else [])
        group_sums = np.stack([g[k] for k in ("n", "s", "sm", "sM", "smM")
                               + (("dev", "ret") if self.costs_stop_at_churn else ())])
        acc = np.zeros((len(names), grid.n_nodes, S))
        # ranges of groups that start at the first row of a node group (rows are sorted
        # by x, rate, dropout, then T; see _plan): the ranges write disjoint nodes
        first_rows = np.flatnonzero(np.r_[True, np.any(np.diff(keys[:, [0, 2, 3]], axis=0)
                                                       != 0, axis=1)])
        cuts = np.linspace(0, len(keys), 4 * self.n_threads + 1).round().astype(int)
        cuts = first_rows[np.minimum(np.searchsorted(first_rows, cuts[1:-1]),
                                     len(first_rows) - 1)]
        bounds = np.unique(np.r_[0, np.searchsorted(ug, cuts), len(xg)])
        draws = [np.ascontiguousarray(bgd[k]) for k in ("r", "alpha", "a", "b")]
        draws += [np.ascontiguousarray(ggd[k]) for k in ("p", "q", "gamma")]

        def one_range(j):
            fk.flow_weights(*draws, xg, tg, Tg, *(i[first] for i in alive[2:]), *alive[:2], ug,
                            group_sums, bounds[j], bounds[j + 1], acc, m[first], b_spend, b_rate,
                            grid.below, grid.above, grid.weights, self._first_dropout)

        for _ in sc.map_threads(self.n_threads, one_range, range(len(bounds) - 1)):
            pass
        return dict(zip(names, acc, strict=True))  # (nodes, S) each

    def _p_alive(self, bgd, x, t_x, T) -> np.ndarray:
        """P(alive) per draw and customer ``(S, n)``: Fader, Hardie & Lee (2008) for the
        BG/NBD family (in its parametrisation given alive, see :meth:`_draws`), Fader &
        Hardie (2005) eq. 19 with SciPy's 2F1 for the Pareto/NBD."""
        if self._lifetime:
            r, alpha, s, beta = (bgd[k][:, None] for k in ("r", "alpha", "s", "beta"))
            return pf.p_alive(r, alpha, s, beta, x, t_x, T)
        return p_alive_draws(bgd["r"], bgd["alpha"], bgd["a"], bgd["b"], x, t_x, T,
                             self._first_dropout)

    def _period_draws(self, bgd, ggd, x, t_x, T, m, mults, bench, sl):
        """The customers ``sl``'s expected flows per draw, in NumPy/SciPy: P(alive)
        ``(S, n, 1)``; given alive, expected purchases in each period ``(S, n, P)`` and
        survival to each period's start ``(S, n, P)``; expected spend ``(S, n, 1)``; all
        with the scenario's multipliers (``mults``) and benchmarks (``bench``).

        BG/NBD family: FHL (2005a) eq. 10 and its survival
        (:func:`lifevalue.models.predictions.expected_purchases_if_alive`,
        :func:`~lifevalue.models.predictions.survival_if_alive`), a rate multiplier
        scaling time and a dropout multiplier ``a``. Pareto/NBD: Schmittlein et al.
        (1987) (:func:`lifevalue.models.pareto_nbd_formulas.expected_purchases_if_alive`,
        :func:`~lifevalue.models.pareto_nbd_formulas.survival_if_alive`) with the
        multipliers scaling the posterior rates of lambda and mu. Spend: Fader & Hardie
        (2013), eq. 5.
        """
        n, edges = len(x), self.grid.edges
        r, alpha, a, b = (bgd[k][:, None, None] for k in self.transactions_model.param_names)
        xs, Ts = x[sl][None, :, None], T[sl][None, :, None]
        up = down = w = 1.0
        if bench is not None:
            up, down, w = bm.row_multipliers(bench, r[..., 0], alpha[..., 0], a[..., 0],
                                             b[..., 0], x[sl], T[sl], self._lifetime)
        rate = (np.broadcast_to(mults["purchase_rate"], (n,))[sl] * up)[..., None]
        drop = (np.broadcast_to(mults["dropout"], (n,))[sl] * down)[..., None]
        alive = self._p_alive(bgd, x[sl], t_x[sl], T[sl])[..., None]
        if self._lifetime:  # a = s, b = beta; the multipliers scale the rates' posteriors
            alpha_c, beta_c = (alpha + Ts) / rate - Ts, (b + Ts) / drop - Ts
            cum = pf.expected_purchases_if_alive(r, alpha_c, a, beta_c, xs, Ts, edges)
            active = pf.survival_if_alive(a, beta_c, Ts, edges[:-1])
        else:
            tau = rate * edges
            cum = pr.expected_purchases_if_alive(r, alpha, a * drop, b, xs, Ts, tau)
            active = pr.survival_if_alive(r, alpha, a * drop, b, xs, Ts, tau[..., :-1])
        p, q, gam = (ggd[k][:, None] for k in ("p", "q", "gamma"))
        spend = pr.expected_spend(p, q, gam, x[sl], m[sl])
        if bench is not None and len(bench["spend"]):
            spend = spend * bm.spend_multiplier(bench["spend"][:, None], w, spend)
        spend = spend * np.broadcast_to(mults["spend"], (n,))[sl]
        return alive, np.diff(cum, axis=-1), np.broadcast_to(active, cum[..., 1:].shape), \
            spend[..., None]

    def _flows(self, f, factors, mults) -> pd.DataFrame:
        """The base's expected flows per period, from :meth:`_tables`."""
        d, P = self.grid.discount, self.grid.horizon
        dev = factors["O"][0] * mults["development_cost"]
        ret = factors["R"][0] * mults["retention_cost"]
        if self.costs_stop_at_churn:  # sum over customers of P_t (O_i o_t + R_i r_t)
            costs = f["cost_O"] * factors["O"][1] + f["cost_R"] * factors["R"][1]
        else:
            costs = dev.sum() * factors["O"][1] + ret.sum() * factors["R"][1]
        margin = f["margin"] * factors["M"][1]
        out = pd.DataFrame({"p_active": f["p_active"], "revenue": f["revenue"],
                            "margin": margin, "costs": costs,
                            "discounted_net": (margin - costs) * d},
                           index=pd.RangeIndex(1, P + 1, name="period"))
        return out

    def cash_flows(self, summary: pd.DataFrame, scenario=None) -> pd.DataFrame:
        """Each customer's expected cash flows per period (posterior means).

        One row per customer and period t: ``p_active`` (P_t), ``revenue`` (P_t V_t),
        ``margin`` (P_t V_t M_t), ``costs`` (O_t + R_t, weighted by P_t when costs stop
        at churn), ``discount`` (d^t) and ``discounted_net``. Summed over periods,
        ``discounted_net`` is the customer's ``current_mean`` (or ``potential_mean``
        under ``scenario``). For the BG/NBD family the period tables are computed on
        the grid in T that :meth:`evaluate` uses (within 1e-7 relative of the closed
        forms at each customer's own T), so the cost grows with the customers but not
        with how finely T is recorded; memory is bounded by chunks of customers and
        blocks of draws.

        Parameters
        ----------
        summary : pandas.DataFrame
            RFM summary with monetary value, in the models' time unit.
        scenario : str, dict or Scenario, optional
            The scenario whose flows to give (default ``'neutral'``: current value).

        Returns
        -------
        pandas.DataFrame
            Indexed by (customer, period 1..P); currency per period except
            ``p_active`` (a probability) and ``discount`` (a factor). Posterior means:
            no intervals (:meth:`evaluate` gives those of the sums).
        """
        scenario = as_scenario(scenario or "neutral")
        if self._design is not None:
            return self._cash_flows_by_profile(summary, scenario)
        v.check_time_unit_matches(summary, self.transactions_model.metadata_.get("time_unit"))
        cols = v.check_summary(summary, ("frequency", "recency", "T", "monetary_value"))
        x, t_x, T = cols["frequency"], cols["recency"], cols["T"]
        m = np.where(x > 0, cols["monetary_value"], 0.0)
        factors, mults = self._factors(summary), scenario.multipliers(summary)
        bgd, ggd = self._draws()[:2]
        bench = self._benchmarks(bgd, ggd, scenario)
        g, P, n = self.grid, self.grid.horizon, len(x)
        if self._lifetime:  # the closed forms per customer (Pareto/NBD)
            p_active, revenue = np.empty((n, P)), np.empty((n, P))
            for sl in sc.iter_chunks(n, None, len(bgd["r"]), P + 1):
                alive, bought, active, spend = self._period_draws(bgd, ggd, x, t_x, T, m,
                                                                  mults, bench, sl)
                p_active[sl] = (alive * active).mean(axis=0)
                revenue[sl] = (alive * bought * spend).mean(axis=0)
        else:
            p_active, revenue = self._grid_flows(bgd, ggd, x, t_x, T, m, mults, bench)
        margin_i = np.broadcast_to(factors["M"][0] * mults["margin"], (n,))
        dev = np.broadcast_to(factors["O"][0] * mults["development_cost"], (n,))
        ret = np.broadcast_to(factors["R"][0] * mults["retention_cost"], (n,))
        out = {"p_active": p_active, "revenue": revenue,
               "margin": revenue * margin_i[:, None] * factors["M"][1],
               "costs": dev[:, None] * factors["O"][1] + ret[:, None] * factors["R"][1]}
        if self.costs_stop_at_churn:
            out["costs"] = out["costs"] * p_active
        index = pd.MultiIndex.from_product([summary.index, pd.RangeIndex(1, P + 1)],
                                           names=[summary.index.name or "customer_id", "period"])
        frame = pd.DataFrame({k: val.reshape(-1) for k, val in out.items()}, index=index)
        frame["discount"] = np.tile(g.discount, n)
        frame["discounted_net"] = (frame["margin"] - frame["costs"]) * frame["discount"]
        return frame

    def _grid_flows(self, bgd, ggd, x, t_x, T, m, mults, bench):
        """Each customer's P_t and revenue P_t V_t per period, posterior means ``(n, P)``,
        for the BG/NBD family: the period tables on the nodes of the table grid
        (:meth:`_node_tables`, :mod:`lifevalue.models.table_grid`; within its 1e-7
        bound), interpolated at each customer's (x, T) draw by draw (on the branch of a
        rate benchmark's kink that the draw takes), times P(alive) and the spend.
        Blocks of draws and chunks of customers keep the memory bounded."""
        n, P, S = len(x), self.grid.horizon, len(bgd["r"])
        keys, u_idx = self._plan(None, x, T, mults)
        grid = self._grid(bgd, keys, bench)
        kink = bench is not None and len(bench["rate"]) > 0
        p_active, revenue = np.zeros((n, P)), np.zeros((n, P))
        block = max(1, sc.CELLS_PER_CHUNK // (grid.n_nodes * (P + 1)))
        for s0 in range(0, S, block):
            ds = slice(s0, min(s0 + block, S))
            part = {k: val[ds] for k, val in bgd.items()}
            part_gg = {k: val[ds] for k, val in ggd.items()}
            # the node tables, a part of the draws per thread (each draw's by itself)
            size = -(-(ds.stop - ds.start) // self.n_threads)
            pieces = [slice(a, min(a + size, ds.stop)) for a in range(ds.start, ds.stop, size)]
            parts = list(sc.map_threads(self.n_threads, lambda h: self._node_tables(
                bgd, grid.nodes, bench, h)[:2], pieces))
            cum, at_edges = (np.concatenate([q[j] for q in parts]) for j in (0, 1))
            # (nodes, P, draws): the sums over draws read contiguous rows
            bought = np.ascontiguousarray(np.diff(cum, axis=-1, prepend=0.0).transpose(1, 2, 0))
            active = np.ones((grid.n_nodes, P, ds.stop - ds.start))
            active[:, 1:] = at_edges[..., :-1].transpose(1, 2, 0)
            sub = None if bench is None else {k: (val[ds] if len(val) else val)
                                              for k, val in bench.items()}

            def one_chunk(sl, ds=ds, part=part, part_gg=part_gg, sub=sub, bought=bought,
                          active=active):
                rows = u_idx[sl]
                sel = np.zeros((0, 0))
                if kink:  # the draws at which the benchmark raises the customer's rate
                    sel = (bench["rate"][ds, None] * (part["alpha"][:, None] + T[sl])
                           > part["r"][:, None] + x[sl]).T.astype("float64")
                alive = self._p_alive(part, x[sl], t_x[sl], T[sl])
                spend = self._spend_draws(part, part_gg, x[sl], T[sl], m[sl],
                                          np.broadcast_to(mults["spend"], (n,))[sl], sub)
                fk.customer_flows(bought, active, grid.below[rows], grid.above[rows],
                                  np.ascontiguousarray(grid.weights[:, rows]),
                                  np.ascontiguousarray(sel), np.ascontiguousarray(alive.T),
                                  np.ascontiguousarray((alive * spend).T), p_active[sl],
                                  revenue[sl])

            chunks = sc.iter_chunks(n, None, ds.stop - ds.start, P + 1)
            for _ in sc.map_threads(self.n_threads, one_chunk, chunks):  # disjoint rows
                pass
        return p_active / S, revenue / S

    def prospect_value(self, acquisition_cost: float = 0.0, scenario=None, *,
                       profile=None) -> pd.DataFrame:
        """Value of a prospect: a new customer drawn from the population, minus A.

        A newly acquired customer has x = 0, t_x = T = 0 (just made the first purchase,
        not counted), so the same engine applies: P(alive) = 1, purchases follow FHL
        (2005a) eq. (9), and spend is the population mean p gamma / (q - 1). The first
        purchase itself is not counted. The parameter interval is across draws; this
        is the figure that sets an acquisition budget.

        With a transaction model with covariates, ``profile`` (a mapping from covariate
        to value, missing ones 0) gives the value of a prospect with those attributes:
        the profile to steer acquisition towards. Without it, the prospect is drawn from
        the fitted customers' profiles in their proportions.

        Returns a one-row frame (index ``prospect``): ``value_mean``, the parameter
        interval ``value_param_lo``/``_hi`` and the predictive ``value_pred_lo``/``_hi``,
        in currency over the horizon, discounted.
        """
        if profile is not None and self._design is None:
            raise v.InvalidOptionError(
                "profile= needs a transaction model with covariates (e.g. BetaGeo("
                "purchase_covariates=[...]))", column="profile")
        expected, simulated = self._prospect_draws(acquisition_cost, scenario, profile)
        row = _base_row(expected, simulated, self.ci)
        out = pd.DataFrame({f"value_{k}": [val] for k, val in row.items()},
                           index=pd.Index(["prospect"]))
        out.attrs["ci"] = self.ci
        return out

    def _prospect_value_draws(self, acquisition_cost, scenario):
        """A prospect's expected value per draw and simulated value per future, after
        the acquisition cost, for a model without covariates."""
        if not v.is_finite_number(acquisition_cost) or float(acquisition_cost) < 0:
            raise v.InvalidOptionError(
                f"acquisition_cost must be a number >= 0, got {acquisition_cost!r}",
                column="acquisition_cost")
        scenario = as_scenario(scenario or "neutral")
        if scenario.has_benchmark:
            raise v.InvalidOptionError(
                f"scenario {scenario.name!r} raises customers to a benchmark of their own "
                "history; a prospect has none: give a scenario of multipliers", column="scenario")
        prospect = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0],
                                 "monetary_value": [0.0]}, index=pd.Index(["prospect"]))
        mults = scenario.multipliers(prospect)
        factors = {}
        for key, name in (("M", "margin"), ("O", "development_cost"), ("R", "retention_cost")):
            value = getattr(self, name)
            if isinstance(value, str):
                raise v.InvalidOptionError(
                    f"a prospect has no summary row: give {name} as a number, per period or "
                    "as a customer Series (its mean is used)", column=name)
            if isinstance(value, pd.Series):
                value = float(value.mean())  # a prospect is an average customer
            per = self._per_period(value, prospect, name)[0]
            factors[key] = (np.ones(1), np.broadcast_to(per, (self.grid.horizon,)).astype(float))
        expected, simulated = self._score_draws(prospect, factors, mults)
        # the value itself after the acquisition cost A
        return expected - acquisition_cost, simulated - acquisition_cost

    def _score_draws(self, summary, factors, mults):
        """One customer's expected value per draw ``(S,)`` and simulated value per
        simulated future ``(S_sim,)``, from the same compiled scorer as
        :meth:`evaluate` (one compiled simulation for customers and prospects alike;
        its stream is that of the first customer of block 0)."""
        sk.notice_if_compiling()
        x, t_x, T, m = (np.zeros(1) for _ in range(4))
        draws = self._draws()
        bgd, ggd = draws[0], draws[1]
        S, S_sim = len(bgd["r"]), len(draws[2]["r"])
        plan = self._plan(summary, x, T, mults)
        grid = self._grid(bgd, plan[0])
        tables = {"current": {} if self._lifetime else self._tables(bgd, grid.nodes, factors)}
        alive = self._alive_tables(bgd, x, t_x, T)
        per, shared = self._kernel_inputs(bgd, ggd, x, t_x, T, m, factors, {"current": mults},
                                          {"current": plan}, tables, ["current"], alive, None,
                                          {"current": grid})
        seeds = cp.BlockRNG(self.random_seed, 0, 1).stream_seeds()
        lo_q, hi_q = sc.quantile_bounds(self.ci)
        de, dy = np.empty((1, 2, S)), np.empty((1, 1, S_sim))
        sk.score_customers(seeds, *shared[:7], *(np.ascontiguousarray(a) for a in per),
                           *shared[7:-3], S_sim, lo_q, hi_q, 0.0, 0.0,
                           np.empty((len(sk.COLUMNS), 1)), np.zeros((3, 3, S)),
                           np.zeros((3, 3, S_sim)), *shared[-3:], de, dy,
                           *self._scorer_model(shared[:4], x, t_x, T), None)
        return de[0, 0], dy[0, 0]
