"""Models: Bayesian transaction models (BG/NBD, MBG/NBD, Pareto/NBD: purchases and
dropout) and Gamma-Gamma (spend)."""

from lifevalue.models.base import ConvergenceWarning
from lifevalue.models.beta_geo import BetaGeo
from lifevalue.models.gamma_gamma import (
    GammaGamma,
    SpendFrequencyCorrelationWarning,
    ZeroSpendWarning,
)
from lifevalue.models.interface import TransactionModelProtocol
from lifevalue.models.modified_beta_geo import ModifiedBetaGeo
from lifevalue.models.pareto_nbd import ParetoNBD

__all__ = ["BetaGeo", "ConvergenceWarning", "GammaGamma", "ModifiedBetaGeo", "ParetoNBD",
           "SpendFrequencyCorrelationWarning", "TransactionModelProtocol",
           "ZeroSpendWarning"]
