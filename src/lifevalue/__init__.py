"""lifevalue: Bayesian customer lifetime value.

The flow is transactions -> summary -> models -> value -> segments -> report/CLI:

>>> import lifevalue as lv
>>> summary = lv.summarize(lv.datasets.load_cdnow_transactions(), amount="amount")
>>> len(summary)
2357
"""

from lifevalue import datasets, errors, validation
from lifevalue.data import calibration_part, join_attributes, summarize
from lifevalue.errors import ModelError
from lifevalue.models import BetaGeo, ConvergenceWarning, GammaGamma, ModifiedBetaGeo, ParetoNBD
from lifevalue.validation import InputError
from lifevalue.value import CustomerValue, PeriodGrid, Scenario

__version__ = "0.2.0"

__all__ = ["BetaGeo", "ConvergenceWarning", "CustomerValue", "GammaGamma", "InputError",
           "ModelError", "ModifiedBetaGeo", "ParetoNBD", "PeriodGrid", "Scenario", "__version__",
           "calibration_part", "datasets", "errors", "join_attributes", "summarize",
           "validation"]

#: Submodules imported on first use (``lv.plots``, ``lv.report``, ...), so that
#: ``import lifevalue`` stays light and no attribute needs an explicit import first.
_LAZY = ("plots", "report", "spark", "segments", "runs", "jobs", "tracking", "files",
         "pipeline")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"lifevalue.{name}")
    raise AttributeError(f"module 'lifevalue' has no attribute {name!r}")

