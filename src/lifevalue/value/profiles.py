"""Customer value from a transaction model with covariates.

Customers with the same attributes (a covariate **profile**) share their population
parameters, so each profile is valued by the same engine as a model without covariates
(:meth:`lifevalue.models.transaction.TransactionModel.for_profile`), and the results are
put back together:

* per customer, the profile's values, in the summary's order;
* the base, the cells and the cash flows: per-draw totals added up across profiles.
  The profiles' draws come from the same population draws, draw by draw, so the sums
  are draws of the whole base (its intervals stay those of a sum over customers who
  share their parameters);
* the matrix thresholds are set once for all customers. Their default reference, the
  value of an average new customer, is that of a new customer drawn from the fitted
  customers' profiles in their proportions (:meth:`ProfileValue.prospect_value` without
  a profile);
* a benchmark scenario (``'realistic'``, ...) raises a customer to what the given
  share of customers **with the same attributes** reach;
* each profile's customers have random streams of their own (block-aligned after the
  previous profile's), so simulated futures are independent across customers.

* comparisons (``comparisons=True``: rank intervals, P(top 20%), pyramid level
  probabilities, the Lorenz band) place every customer among all the customers scored,
  whatever their profile: the first pass of each profile fills per-draw sketches
  (:mod:`lifevalue.value.comparisons`), which are added up (the draws are the same
  population draws) before each profile's customers are placed in them.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.models import covariates as cov
from lifevalue.value import comparisons as cmp
from lifevalue.value.ranking import pyramid_table
from lifevalue.value.results import ValueResult, base_table


class ProfileValue:
    """The covariate routes of :class:`~lifevalue.value.CustomerValue` (a mixin)."""

    @property
    def _design(self):
        return getattr(self.transactions_model, "_design", None)

    def _for_profile(self, profile):
        """This valuation with the transaction model of one attribute profile."""
        view = copy.copy(self)
        view.transactions_model = self.transactions_model.for_profile(profile)
        return view

    def _profile_mixture(self):
        """The fitted customers' profiles and their shares."""
        fitted = self.transactions_model.metadata_.get("covariates") or {}
        if not fitted:
            raise v.InvalidOptionError(
                "this model with covariates does not record its customers' profiles: give "
                "the new customer's profile=", column="profile")
        counts = np.asarray(fitted["counts"], dtype="float64")
        return np.asarray(fitted["profiles"], dtype="float64"), counts / counts.sum()

    def _prospect_draws(self, acquisition_cost, scenario, profile):
        """Expected and simulated value draws of a prospect, before ``_base_row``."""
        if self._design is None or profile is not None:
            view = self if self._design is None else self._for_profile(profile)
            return view._prospect_value_draws(acquisition_cost, scenario)
        profiles, shares = self._profile_mixture()
        parts = [self._for_profile(z)._prospect_value_draws(acquisition_cost, scenario)
                 for z in profiles]
        expected = sum(w * e for w, (e, _) in zip(shares, parts, strict=True))
        # a simulated prospect: a profile drawn in the customers' proportions, its future
        pick = np.random.default_rng(self.random_seed).choice(len(shares), len(parts[0][1]),
                                                              p=shares)
        simulated = np.stack([y for _, y in parts])[pick, np.arange(len(pick))]
        return expected, simulated

    def _evaluate_by_profile(self, summary, scenario, thresholds, comparisons, rng_offset,
                             keep):
        profiles, positions = cov.profile_groups(self._design, summary)
        c_thr, p_thr = self.matrix_thresholds(thresholds)
        offsets = cov.profile_offsets(map(len, positions), rng_offset)
        results, views, passes = [], [], []
        for z, pos, offset in zip(profiles, positions, offsets, strict=True):
            kept = {} if keep is not None else None
            views.append(self._for_profile(z))
            passes.append({})
            res = views[-1].evaluate(
                summary.iloc[pos], scenario, thresholds=(c_thr, p_thr),
                comparisons=comparisons, rng_offset=offset, _keep=kept, _defer=passes[-1])
            if keep is not None:  # positions in the whole summary, keys apart
                for start, (idx, e, y) in kept.items():
                    keep[(offset, start)] = (pos[idx], e, y)
            results.append(res)
        lorenz = pyramid = None
        if comparisons:
            lorenz = _place_among_all(views, results, passes, len(summary))
        customers = pd.concat([r.customers for r in results]).reindex(summary.index)
        customers.attrs.update(results[0].customers.attrs)
        if comparisons:
            customers["rank_mean"] = cmp.rank_of_mean(customers["current_mean"])
            pyramid = pyramid_table(customers)
        totals = {k: sum(r.draw_totals[k] for r in results) for k in results[0].draw_totals}
        cells = {k: sum(r.cell_totals[k] for r in results) for k in results[0].cell_totals}
        flows = sum(r.cash_flows for r in results)  # every column is a base total
        assumptions = dict(results[0].assumptions)
        assumptions["covariate_profiles"] = len(results)
        return ValueResult(customers, base_table(totals, self.ci), flows, assumptions,
                           draw_totals=totals, lorenz=lorenz, pyramid=pyramid, cell_totals=cells)

    def _point_current_by_profile(self, summary) -> np.ndarray:
        profiles, positions = cov.profile_groups(self._design, summary)
        out = np.empty(len(summary))
        for z, pos in zip(profiles, positions, strict=True):
            out[pos] = self._for_profile(z).point_current_values(summary.iloc[pos])
        return out

    def _cash_flows_by_profile(self, summary, scenario) -> pd.DataFrame:
        profiles, positions = cov.profile_groups(self._design, summary)
        parts = [self._for_profile(z).cash_flows(summary.iloc[pos], scenario)
                 for z, pos in zip(profiles, positions, strict=True)]
        out = pd.concat(parts)
        return out.reindex(pd.MultiIndex.from_product(
            [summary.index, out.index.levels[1]], names=out.index.names))


def _place_among_all(views, results, passes, n_total):
    """The comparisons' second pass of every profile in the sketches of all of them:
    adds the rank, top-20% and level columns to each profile's customers; returns the
    Lorenz table."""
    firsts = [p["pass"][0] for p in passes]
    merged = firsts[0][0]
    for sketches in firsts:
        for k, pair in enumerate(sketches):
            if sketches is firsts[0] and k == 0:
                continue
            merged[0].merge(pair[0])
            merged[1].merge(pair[1])
    lorenz = None
    for view, res, p in zip(views, results, passes, strict=True):
        _, order, offset, chunks, kernel_args, consts, kept = p["pass"]
        lorenz = view._compare(res.customers, [merged], order, offset, chunks, kernel_args,
                               consts, kept, n_total=n_total)
    return lorenz
