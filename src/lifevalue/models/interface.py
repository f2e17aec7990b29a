"""What downstream code needs from a transaction model: :class:`TransactionModelProtocol`.

A transaction model describes how often customers buy and when they stop. The value
layer, segments, report, CLI, Spark scoring and holdout checks need, from any such
model, its parameter names and priors, its likelihood on the customers' sufficient
statistics (for fitting and model comparison), P(alive), the expected purchases of a
customer with a given history and of a new customer, the probability of no purchase,
and a per-customer posterior simulator of future purchases (for predictive intervals).
:class:`~lifevalue.models.BetaGeo`, :class:`~lifevalue.models.ModifiedBetaGeo` and
:class:`~lifevalue.models.ParetoNBD` satisfy it; a new model satisfies it by subclassing
:class:`~lifevalue.models.transaction.TransactionModel` and supplying its formulas.

Examples
--------
>>> from lifevalue.models import BetaGeo, ModifiedBetaGeo, ParetoNBD
>>> all(isinstance(cls(), TransactionModelProtocol)
...     for cls in (BetaGeo, ModifiedBetaGeo, ParetoNBD))
True
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class TransactionModelProtocol(Protocol):
    """A Bayesian model of purchases and dropout fitted on (frequency, recency, T).

    Every prediction is per customer of an RFM summary (:func:`lifevalue.summarize`,
    in the time unit the model was fitted in) and comes as a frame with the posterior
    mean and a parameter interval (``<name>_mean``, ``<name>_param_lo``/``_hi``, see
    :mod:`lifevalue.models.scoring`); ``ci`` is the interval's mass and ``max_draws``
    thins the posterior draws used.
    """

    #: Names of the population parameters, in the order of the likelihood's arguments.
    param_names: ClassVar[tuple[str, ...]]
    #: Columns of the summary the model reads.
    summary_names: ClassVar[tuple[str, ...]]
    #: The user's prior overrides (name -> PyMC distribution spec).
    priors: dict[str, dict]

    def default_priors(self, stats) -> dict[str, dict]:
        """Default prior of each parameter for these sufficient statistics."""

    def resolved_priors(self, stats) -> dict[str, dict]:
        """The default priors overridden by the user's."""

    def fit(self, summary: pd.DataFrame, *, method: str = "mcmc", **kwargs) -> Any:
        """Fit the population parameters (NUTS, MAP or Laplace); returns the model."""

    def draws(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """Posterior draws of each parameter, 1-D arrays, chains pooled."""

    def point_estimate(self) -> dict[str, float]:
        """Posterior mean of each parameter."""

    def loglik(self, summary: pd.DataFrame, params: dict[str, float] | None = None) -> float:
        """Total log-likelihood of the summary at ``params`` (default: posterior mean),
        evaluated on the unique (frequency, recency, T) rows with their counts."""

    def p_alive(self, summary: pd.DataFrame, *, ci: float = 0.9,
                max_draws: int | None = None) -> pd.DataFrame:
        """P(alive) at the end of each customer's observation period."""

    def expected_purchases(self, summary: pd.DataFrame, t: float, *, ci: float = 0.9,
                           predictive: bool = True, random_seed: int = 0,
                           max_draws: int | None = None, chunk_size: int | None = None,
                           rng_offset: int = 0) -> pd.DataFrame:
        """Expected purchases in (T, T+t] given the history, with the parameter and
        (``predictive=True``) the predictive interval."""

    def expected_purchases_new_customer(self, t, *, ci: float = 0.9) -> pd.DataFrame:
        """Expected purchases in (0, t] of a newly acquired customer, indexed by t."""

    def prob_no_purchase(self, summary: pd.DataFrame, t: float, *, ci: float = 0.9,
                         max_draws: int | None = None) -> pd.DataFrame:
        """Probability of no purchase in (T, T+t]."""

    def simulate_purchases(self, summary: pd.DataFrame, lengths, *, ci: float = 0.9,
                           random_seed: int = 0, max_draws: int | None = None,
                           chunk_size: int | None = None, rng_offset: int = 0,
                           n_threads: int | None = None) -> pd.DataFrame:
        """Simulated total purchases over future periods of the given lengths, one
        future per posterior draw from the customer's posterior: ``purchases_sim_mean``,
        the predictive interval ``purchases_pred_lo``/``_hi`` and ``active_end_mean``."""
