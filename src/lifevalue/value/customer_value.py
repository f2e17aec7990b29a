"""Customer value under the return-based formula: current and potential, per customer
and for the whole base, with both kinds of interval.

For each population draw s (BG/NBD and Gamma-Gamma draws paired, draw by draw):

* the **expectation** ``E[KW | theta_s]`` uses the closed forms: P(alive) (Fader, Hardie
  & Lee 2008), expected purchases per period from eq. (10) evaluated at the period
  boundaries, survival to the start of each period, and expected spend (Fader & Hardie
  2013, eq. 5). Its spread across draws is the **parameter interval**;
* a **simulation** of the customer's own future (alive or not, own rate, own dropout,
  Poisson purchases, Gamma spends) gives one realised value per draw. Their spread is
  the **predictive interval**, and P(value < 0) is the share of negative ones. The
  customer's own rate and dropout are integrated out exactly (a Polya walk from
  purchase to purchase), so a customer who buys nothing in the horizon costs one
  uniform per draw.

In :func:`lifevalue.value.formulas.return_based_value`, ``P_t`` is the probability of
being active at the start of period t and ``V_t`` the expected revenue in period t
given active. The simulation evaluates that formula on the realised flows (P_t = 1,
V_t the simulated revenue), summed as it goes
(:func:`~lifevalue.models.customer_posterior.buyer_revenue`). The expectation is the
same sum, factorised: the parts that depend on the customer only through (x, T) and the
scenario are computed per draw at a few ages per x and interpolated to each customer's T
(:mod:`lifevalue.models.table_grid`; within 1e-7 relative of the exact tables, so that
their cost and memory do not depend on how finely T is recorded); a test checks it
against the formula written out period by period.

The Pareto/NBD's period sums are its closed forms per customer and draw, without
tables, and its simulated futures end at a drawn lifetime (see the scorer). A model
with covariates is valued per attribute profile (:mod:`lifevalue.value.profiles`).

Costs: by default O_t and R_t are spent every period of the horizon, exactly as the
formula is written (in a non-contractual setting the firm does not see who has
churned). With ``costs_stop_at_churn=True`` they are weighted by P_t instead (in the
simulation: spent only while the customer is active).

Customers are scored in chunks by one compiled pass per customer
(:mod:`lifevalue.value.scoring_kernel`): the expectation and the simulation of every draw
are reduced at once, while in cache, to the customer's columns; only per-draw totals of
the base (a vector of S numbers) are kept across chunks, so memory does not grow with
customers x draws x periods. A potential scenario that changes nothing reuses the
current values. Chunks run on ``n_threads`` threads; every customer has its own random
stream (from its block's seed and its place in it) and the chunks' totals are added in
chunk order, so the results do not depend on the threads or the chunking.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models import customer_posterior as cp
from lifevalue.models import scoring as sc
from lifevalue.value import comparisons as cmp
from lifevalue.value import scoring_kernel as sk
from lifevalue.value.flows import CashFlows
from lifevalue.value.periods import PeriodGrid
from lifevalue.value.profiles import ProfileValue
from lifevalue.value.ranking import Ranking, cycled, pyramid_table
from lifevalue.value.results import ValueResult, base_table
from lifevalue.value.scenarios import Scenario, as_scenario, per_customer, renamed_potential
from lifevalue.value.tables import Tables
from lifevalue.value.thresholds import CELLS, MatrixThresholds, classify


class CustomerValue(Tables, CashFlows, Ranking, ProfileValue):
    """Return-based customer value from a fitted transaction model (BG/NBD, MBG/NBD or
    Pareto/NBD) and a Gamma-Gamma model.

    With margin 1, no costs and monthly discounting it reduces to ``lifetimes``'
    ``GammaGammaFitter.customer_lifetime_value`` (tested on CDNOW to within 1%). The
    small remaining difference is the month: lifetimes takes 4.345 weeks, lifevalue
    365.25/12/7 = 4.348 weeks; and lifetimes uses the spend of a point estimate, while
    lifevalue averages spend times purchases over the posterior draws.

    Parameters
    ----------
    transactions_model : BetaGeo, ModifiedBetaGeo or ParetoNBD
        The Pareto/NBD's expectations use its own closed forms per customer
        (Schmittlein et al. 1987; P(alive) Fader & Hardie 2005, eq. 19) and its simulated
        futures end at a drawn lifetime; a scenario's ``dropout`` multiplies its dropout
        rate mu. A model with covariates is valued per attribute profile (the summary
        holds the covariate columns): see :mod:`lifevalue.value.profiles`.
    spend_model : GammaGamma
    period, horizon, annual_discount_rate
        The period grid (see :class:`~lifevalue.value.periods.PeriodGrid`). The model
        time unit comes from the BG/NBD fit.
    margin : float, sequence, Series or str
        Net margin M_t in [0, 1]: a number, one per period, one per customer (a
        customer-indexed Series or a summary column name).
    development_cost, retention_cost : float, sequence, Series or str
        O_t and R_t per customer and period, >= 0, same forms as ``margin``.
    costs_stop_at_churn : bool
        Default False: costs run for the whole horizon as the formula is written.
    ci : float
        Interval level (default 0.9).
    max_draws : int
        Population draws used (thinned evenly), default 1000.
    random_seed : int, numpy.random.Generator or None
        Seed of the simulated futures (a generator gives one number; None: fresh
        randomness, results not repeatable).
    chunk_size : int, optional
        Customers per chunk (rounded up to a random-number block); results do not
        depend on it.
    min_simulations : int
        Fewest simulated futures per customer behind a predictive interval (default
        1000): a posterior with fewer draws, such as MAP, is cycled up to it.
    n_threads : int, optional
        Threads that score chunks of customers (and blocks of draws of the tables) at
        once; default the CPU count, at most 4. The compiled kernels release the GIL.
        Results do not depend on it: every customer has its own random stream and
        per-draw totals are added in chunk order.

    Examples
    --------
    >>> from lifevalue.datasets import load_cdnow_summary
    >>> from lifevalue.models import BetaGeo, GammaGamma
    >>> s = load_cdnow_summary()
    >>> cv = CustomerValue(BetaGeo().fit(s, method="map"), GammaGamma().fit(s, method="map"),
    ...                    margin=0.3, max_draws=200)
    >>> result = cv.evaluate(s.iloc[:300], scenario="realistic")
    >>> bool((result.customers["potential_mean"] >= result.customers["current_mean"]).all())
    True
    """

    def __init__(self, transactions_model, spend_model, *, period: str = "M",
                 horizon: int = 12, annual_discount_rate: float = 0.10, margin=1.0,
                 development_cost=0.0, retention_cost=0.0, costs_stop_at_churn: bool = False,
                 ci: float = 0.9, max_draws: int = 1000, random_seed: int = 0,
                 chunk_size: int | None = None,
                 min_simulations: int = sc.MIN_SIMULATIONS, n_threads: int | None = None):
        transactions_model._check_fitted()
        spend_model._check_fitted()
        process = getattr(transactions_model, "dropout_process", None)
        if process not in ("purchase", "lifetime"):
            raise v.InvalidOptionError(
                "CustomerValue values BetaGeo, ModifiedBetaGeo and ParetoNBD models; got "
                f"{type(transactions_model).__name__}", column="transactions_model")
        self._lifetime = process == "lifetime"
        first = getattr(transactions_model, "first_dropout", None)  # None: Pareto/NBD
        self._first_dropout = 1.0 if first is None else float(first)
        self.transactions_model = transactions_model
        self.spend_model = spend_model
        unit = v.model_time_unit(transactions_model)  # never guessed
        self.grid = PeriodGrid(period, horizon, annual_discount_rate, unit)
        self.margin = margin
        self.development_cost = development_cost
        self.retention_cost = retention_cost
        self.costs_stop_at_churn = bool(costs_stop_at_churn)
        self.ci = v.check_probability(ci, "ci")
        self.max_draws = int(max_draws)
        self.random_seed = v.check_random_seed(random_seed)
        self.chunk_size = chunk_size
        self.min_simulations = int(min_simulations)
        self.n_threads = sc.check_threads(n_threads)
        v.check_margin(margin)
        for name in ("development_cost", "retention_cost"):
            v.check_cost(getattr(self, name), name)

    def __repr__(self) -> str:
        a = self.assumptions()
        settings = ", ".join(f"{k}={a[k]!r}" for k in (
            "period", "horizon", "annual_discount_rate", "margin", "development_cost",
            "retention_cost", "costs_stop_at_churn", "ci", "max_draws"))
        return (f"CustomerValue({type(self.transactions_model).__name__}, "
                f"{type(self.spend_model).__name__}, {settings}, "
                f"time_unit={self.grid.time_unit!r})")

    # ------------------------------------------------------------------ inputs

    def _draws(self):
        """Paired draws of both models (the shorter cycled), and their simulation copies.

        The transaction draws are in the BG/NBD's parametrisation given alive: the MBG/NBD
        (dropout at the first purchase too) has the BG/NBD's futures with ``b + 1``, as a
        customer alive after x repeat purchases has survived x + 1 chances to drop out,
        not x (its own P(alive) is kept by ``first_dropout``; see
        :func:`lifevalue.models.compiled_closed_forms.p_alive_draws`)."""
        bg = dict(self.transactions_model.draws(self.max_draws))
        if not self._lifetime:
            bg["b"] = bg["b"] + (1.0 - self._first_dropout)
        gg = self.spend_model.draws(self.max_draws)
        n = max(len(bg["r"]), len(gg["p"]))
        bg = {k: np.resize(a, n) for k, a in bg.items()}
        gg = {k: np.resize(a, n) for k, a in gg.items()}
        return (bg, gg, sc.simulation_draws(bg, self.min_simulations),
                sc.simulation_draws(gg, self.min_simulations))

    def _per_period(self, value, summary, name) -> np.ndarray:
        """A setting as an ``(n_customers, n_periods)``-broadcastable array."""
        P = self.grid.horizon
        if isinstance(value, str | pd.Series):
            return per_customer(value, summary, name)[:, None]
        arr = np.asarray(value, dtype="float64")
        if arr.ndim == 0:
            return arr.reshape(1, 1)
        if arr.shape != (P,):
            raise v.InvalidOptionError(
                f"{name} has {arr.size} values; give one number, one per period ({P}), or "
                "one per customer (a Series or a column name)", column=name)
        return arr[None, :]

    def assumptions(self, potential: Scenario | None = None) -> dict:
        def show(value):
            if isinstance(value, pd.Series):
                return f"per customer (mean {value.mean():.4g})"
            if isinstance(value, str):
                return f"column {value!r}"
            arr = np.asarray(value, dtype="float64")
            return float(arr) if arr.ndim == 0 else arr.tolist()

        out = {
            "period": self.grid.period, "horizon": self.grid.horizon,
            "annual_discount_rate": float(self.grid.annual_discount_rate),
            "period_discount_rate": self.grid.period_rate, "time_unit": self.grid.time_unit,
            "margin": show(self.margin), "development_cost": show(self.development_cost),
            "retention_cost": show(self.retention_cost),
            "costs_stop_at_churn": self.costs_stop_at_churn, "ci": self.ci,
            "max_draws": self.max_draws, "random_seed": self.random_seed,
        }
        if potential is not None:
            out["potential_scenario"] = {
                f: show(getattr(potential, f)) for f in
                ("purchase_rate", "dropout", "spend", "margin", "development_cost",
                 "retention_cost")}
            out["potential_scenario"]["name"] = potential.name
            out["potential_scenario"]["target_share_of_wallet"] = potential.target_share_of_wallet
        return out

    # ----------------------------------------------------------------- engine

    def _factors(self, summary) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Margin and costs as a customer factor ``(n,)`` times a period factor ``(P,)``.

        A setting is a number, one value per period or one per customer, so
        ``M_it = customer_i * period_t`` always holds.
        """
        n, P = len(summary), self.grid.horizon
        out = {}
        for key, name in (("M", "margin"), ("O", "development_cost"), ("R", "retention_cost")):
            value = getattr(self, name)
            if isinstance(value, str | pd.Series):
                out[key] = (per_customer(value, summary, name), np.ones(P))
            else:
                per = self._per_period(value, summary, name)[0]
                out[key] = (np.ones(n), np.broadcast_to(per, (P,)).astype("float64"))
        return out

    def _inputs(self, summary: pd.DataFrame):
        """The checked summary columns (x, t_x, T, m) and the settings' factors."""
        v.check_time_unit_matches(summary, self.transactions_model.metadata_.get("time_unit"))
        cols = v.check_summary(summary, ("frequency", "recency", "T", "monetary_value"))
        x, t_x, T = cols["frequency"], cols["recency"], cols["T"]
        m = np.where(x > 0, cols["monetary_value"], 0.0)
        factors = self._factors(summary)
        if isinstance(self.margin, str | pd.Series):
            v.check_margin(factors["M"][0])
        return x, t_x, T, m, factors

    def _point_current(self, bgd, ggd, plan, x, t_x, T, m, factors, mults) -> np.ndarray:
        """Current value of each customer at the posterior-mean parameters."""
        point = tuple({k: np.array([a.mean()]) for k, a in d.items()} for d in (bgd, ggd))
        keys, u_idx = plan
        tab = {} if self._lifetime else self._tables(point[0], keys, factors)
        return self._expected(point[0], point[1], tab, u_idx, x, t_x, T, m, factors, mults)[0]

    def point_current_values(self, summary: pd.DataFrame) -> np.ndarray:
        """Current value of each customer at the posterior-mean parameters: what the
        default matrix thresholds rank (see :meth:`threshold_of`)."""
        if self._design is not None:
            return self._point_current_by_profile(summary)
        x, t_x, T, m, factors = self._inputs(summary)
        mults = Scenario("current").multipliers(summary)
        bgd, ggd = self._draws()[:2]
        return self._point_current(bgd, ggd, self._plan(summary, x, T, mults), x, t_x, T, m,
                                   factors, mults)

    @staticmethod
    def threshold_of(point_current_values: np.ndarray) -> float:
        """The 80th percentile of the customers' current values at the posterior-mean
        parameters (the thresholds before they became fixed business inputs; kept for
        callers that want a threshold relative to a given base, to pass as
        ``thresholds``)."""
        return float(np.quantile(point_current_values, 0.8))

    def matrix_thresholds(self, thresholds=None) -> tuple[float, float]:
        """The relationship matrix's thresholds (current, potential), in currency over
        the horizon: ``thresholds`` as given (see
        :class:`~lifevalue.value.thresholds.MatrixThresholds`), the missing ones from
        the value of an average new customer under these settings, floored at 0. They
        do not depend on the customers scored."""
        spec = MatrixThresholds.coerce(thresholds)
        reference = None
        if spec.needs_reference:
            reference = float(self.prospect_value(0.0, "neutral")["value_mean"].iloc[0])
        return spec.resolve(self.grid, reference)

    def evaluate(self, summary: pd.DataFrame, scenario="realistic", *, thresholds=None,
                 comparisons: bool = False, rng_offset: int = 0, potential=None,
                 _keep=None, _defer=None) -> ValueResult:
        """Current and potential value of every customer, the matrix and the base.

        Parameters
        ----------
        summary : pandas.DataFrame
            RFM summary with monetary value (calibration columns are used when the
            plain ones are absent); optional per-customer setting columns.
        scenario : str, dict or Scenario
            The scenario of potential value: a preset name, a mapping or a
            :class:`Scenario` (default ``'realistic'``: every customer raised to what the
            top 25% of the population reach in purchase rate, spend and retention; see
            :mod:`lifevalue.value.scenarios`). Current value is always the neutral
            scenario.
        thresholds : (float, float), dict or MatrixThresholds, optional
            Current value at or above which a customer is retained, and potential value
            at or above which a customer who is not is developed; the rest are phased
            out (currency over the horizon, or per period with ``per_period=True``).
            Default: the value of an average new customer under the same settings,
            floored at 0 (:meth:`matrix_thresholds`): fixed by the model, not by the
            customers scored.
        comparisons : bool
            Also rank the customers against each other at every draw (rank intervals,
            P(top 20%), pyramid level probabilities, Lorenz curve with a band; see
            :mod:`lifevalue.value.comparisons`). Off by default: it scores current value
            a second time.
        rng_offset : int
            Position, in customer-id order, of this summary's first customer within a
            larger population (a multiple of the random-number block): scoring the
            customers ``[k, k + n)`` of the sorted population with ``rng_offset=k``
            gives exactly their values in the whole (see :mod:`lifevalue.spark`).
            Comparisons are relative to the customers scored together.
        potential : str, dict or Scenario
            The former name of ``scenario`` (deprecated: a FutureWarning).

        Returns
        -------
        ValueResult
        """
        potential = as_scenario(renamed_potential(scenario, potential, "evaluate"))
        offset = sc.check_rng_offset(rng_offset)
        if self._design is not None:  # each attribute profile by itself (value.profiles)
            return self._evaluate_by_profile(summary, potential, thresholds, comparisons,
                                             offset, _keep)
        sk.notice_if_compiling()  # a log record if the first call must compile the kernels
        x, t_x, T, m, factors = self._inputs(summary)
        c_thr, p_thr = self.matrix_thresholds(thresholds)
        scenarios = {"current": Scenario("current"), "potential": potential}
        mults = {name: s.multipliers(summary) for name, s in scenarios.items()}
        draws = self._draws()
        bgd, ggd = draws[0], draws[1]
        S, S_sim, n = len(bgd["r"]), len(draws[2]["r"]), len(x)
        bench = self._benchmarks(bgd, ggd, potential)
        # a potential whose multipliers equal the current ones and without benchmark
        # changes nothing the plans, tables, flows or values depend on: all of them are
        # computed once
        same_potential = bench is None and all(
            np.array_equal(mults["current"][k], mults["potential"][k]) for k in mults["current"])
        plans = {"current": self._plan(summary, x, T, mults["current"])}
        plans["potential"] = plans["current"] if same_potential else self._plan(
            summary, x, T, mults["potential"])
        order = sc.canonical_order(summary.index)
        alive = self._alive_tables(bgd, x, t_x, T)
        tables, grids = {}, {}
        for name in scenarios:
            same = name == "potential" and same_potential
            b = bench if name == "potential" else None
            if same:
                tables[name], grids[name] = tables["current"], grids["current"]
                continue
            grids[name] = self._grid(bgd, plans[name][0], b)
            if self._lifetime:  # no node tables: the scorer computes the period sums and
                tables[name] = {}  # adds up the flows (below)
                continue
            tables[name] = self._tables(
                bgd, grids[name].nodes, factors,
                self._flow_weights(bgd, ggd, plans[name], x, t_x, T, m, factors, mults[name],
                                   alive, grids[name], b), b)
        names = ["current"] if same_potential else list(scenarios)
        kernel_args = self._kernel_inputs(bgd, ggd, x, t_x, T, m, factors, mults, plans,
                                          tables, names, alive, bench, grids)
        out = np.empty((len(sk.COLUMNS), n))  # a column per row: no strided stacking
        lo_q, hi_q = sc.quantile_bounds(self.ci)
        scale = 0.01 * float(np.mean(ggd["p"] * ggd["gamma"] / (ggd["q"] - 1.0)))
        local = threading.local()
        sketches = []

        def one_chunk(sl, kernel_args=kernel_args, sketch=comparisons):
            """Score one chunk into ``out``; return its per-draw totals."""
            idx = order[sl]
            seeds = cp.BlockRNG(self.random_seed, offset + sl.start, offset + sl.stop
                                ).stream_seeds()
            per_customer_, shared = kernel_args
            # C order whatever K (a fancy index of a (2, n) array is in F order): one
            # compiled specialisation of the scorer, not two
            chunk = [np.ascontiguousarray(a[..., idx]) for a in per_customer_]
            K = chunk[7].shape[0]  # the scenarios' table rows u_idx: (K, n)
            part = np.empty((len(sk.COLUMNS), len(idx)))
            tot_e, tot_s = np.zeros((3, 3, S)), np.zeros((3, 3, S_sim))  # cell, quantity
            flows_out = (np.zeros((K, len(FLOWS), self.grid.horizon)) if self._lifetime
                         else None)
            de, dy = (np.empty((len(idx), K + 1, S)), np.empty((len(idx), K, S_sim))) \
                if sketch or _keep is not None else (np.zeros((0, 0, 0)), np.zeros((0, 0, 0)))
            sk.score_customers(seeds, *shared[:7], *chunk, *shared[7:-3], S_sim, lo_q, hi_q,
                               c_thr, p_thr, part, tot_e, tot_s, *shared[-3:], de, dy,
                               *self._scorer_model(shared[:4], *chunk[:3]), flows_out)
            if _keep is not None:  # after scoring: de and dy are filled by the scorer
                _keep[sl.start] = (idx, de[:, 0].copy(), dy[:, 0].copy())
            if kept is not None:  # the comparisons' second pass reads them back
                kept[sl.start] = (de[:, 0].copy(), de[:, K].copy(), dy[:, 0].copy())
            if sketch:
                if not hasattr(local, "sketch"):
                    local.sketch = (cmp.DrawSketch(S, scale), cmp.DrawSketch(S_sim, scale))
                    sketches.append(local.sketch)
                pa = de[:, K]
                local.sketch[0].add(de[:, 0], pa)
                local.sketch[1].add(dy[:, 0], cycled(pa, S_sim))
            out[:, idx] = part
            return tot_e, tot_s, flows_out

        # a small call keeps each customer's current values for the comparisons' second
        # pass instead of scoring them again (a large one could not hold them)
        kept = {} if comparisons and n * (2 * S + S_sim) * 8 <= KEEP_BYTES else None
        chunks = list(sc.iter_chunks(n, self.chunk_size, S_sim, _ARRAYS_PER_CHUNK))
        by_cell = {(cell, name, kind): np.zeros(S if kind == "expected" else S_sim)
                   for cell in CELLS for name in ("current", "potential", "growth")
                   for kind in ("expected", "simulated")}
        chunk_flows = 0.0
        for tot_e, tot_s, flows_out in sc.map_threads(self.n_threads, one_chunk, chunks):
            if flows_out is not None:
                chunk_flows = chunk_flows + flows_out
            for c, cell in enumerate(CELLS):  # in chunk order
                for k, name in enumerate(("current", "potential", "growth")):
                    by_cell[(cell, name, "expected")] += tot_e[c, k]
                    by_cell[(cell, name, "simulated")] += tot_s[c, k]
        if self._lifetime:  # the flows the scorer added up, per scenario
            for k, name in enumerate(scenarios):
                tables[name]["flows"] = dict(zip(FLOWS, chunk_flows[min(k, len(names) - 1)],
                                                 strict=True))
        col = {name: j for j, name in enumerate(sk.COLUMNS)}
        if same_potential:  # potential = current, growth = 0, exactly
            for kind in ("mean", "param_lo", "param_hi", "pred_lo", "pred_hi", "p_negative"):
                out[col[f"potential_{kind}"]] = out[col[f"current_{kind}"]]
                if kind != "p_negative":
                    out[col[f"growth_{kind}"]] = 0.0
            for cell in CELLS:
                for kind in ("expected", "simulated"):
                    current = by_cell[(cell, "current", kind)]
                    by_cell[(cell, "potential", kind)] = current.copy()
                    by_cell[(cell, "growth", kind)] = np.zeros_like(current)
        # the base is the sum of its cells (in the order retain, develop, phase out)
        totals = {(name, kind): by_cell[(CELLS[0], name, kind)] + by_cell[(CELLS[1], name, kind)]
                  + by_cell[(CELLS[2], name, kind)]
                  for name in ("current", "potential", "growth")
                  for kind in ("expected", "simulated")}
        # the block as it is (a copy of 1M x 21 values took 0.6 s)
        customers = pd.DataFrame(out.T, columns=list(sk.COLUMNS), index=summary.index,
                                 copy=False)
        mean_cell = classify(customers["current_mean"].to_numpy()[None, :],
                             customers["potential_mean"].to_numpy()[None, :], c_thr, p_thr)[0]
        customers["cell"] = pd.Categorical.from_codes(mean_cell, CELLS)
        probs = customers[[f"p_{c}" for c in CELLS]].to_numpy()
        customers["most_likely_cell"] = pd.Categorical.from_codes(probs.argmax(axis=1), CELLS)
        lorenz = pyramid = None
        consts = (S, S_sim, lo_q, hi_q, c_thr, p_thr)
        if comparisons and _defer is not None:  # placed later, among more customers
            _defer["pass"] = (sketches, order, offset, chunks, kernel_args, consts, kept)
        elif comparisons:
            lorenz = self._compare(customers, sketches, order, offset, chunks, kernel_args,
                                   consts, kept)
            pyramid = pyramid_table(customers)
        customers.attrs["ci"] = self.ci
        base = base_table(totals, self.ci)
        flows = pd.concat({name: self._flows(tables[name]["flows"], factors, mults[name])
                           for name in scenarios}, names=["scenario"])
        assumptions = self.assumptions(potential)
        assumptions["thresholds"] = {"current": c_thr, "potential": p_thr}
        return ValueResult(customers, base, flows, assumptions, draw_totals=totals,
                           lorenz=lorenz, pyramid=pyramid, cell_totals=by_cell)


#: The base's expected flows per period (see ``CustomerValue._flows``).
FLOWS = ("p_active", "revenue", "margin", "cost_O", "cost_R")
#: Chunks hold about ``CELLS_PER_CHUNK / _ARRAYS_PER_CHUNK`` draws x customers (768
#: customers at 1000 draws): many chunks to share among the threads, each small.
_ARRAYS_PER_CHUNK = 4
#: Up to this many bytes of current values (expected and P(alive) per draw, simulated per
#: future) are kept for the comparisons instead of being scored a second time.
KEEP_BYTES = 256 * 2**20

