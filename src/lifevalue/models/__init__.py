"""Models: Bayesian BG/NBD (purchases and dropout) and Gamma-Gamma (spend)."""

from lifevalue.models.base import ConvergenceWarning
from lifevalue.models.beta_geo import BetaGeo
from lifevalue.models.gamma_gamma import (
    GammaGamma,
    SpendFrequencyCorrelationWarning,
    ZeroSpendWarning,
)

__all__ = ["BetaGeo", "ConvergenceWarning", "GammaGamma", "SpendFrequencyCorrelationWarning",
           "ZeroSpendWarning"]
