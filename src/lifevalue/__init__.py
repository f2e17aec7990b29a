"""lifevalue: Bayesian customer lifetime value.

The flow is transactions -> summary -> models -> value -> segments -> report/CLI:

>>> import lifevalue as lv
>>> summary = lv.summarize(lv.datasets.load_cdnow_transactions(), amount="amount")
>>> len(summary)
2357
"""

from lifevalue import datasets, validation
from lifevalue.data import summarize
from lifevalue.validation import InputError

__version__ = "0.1.0"

__all__ = ["InputError", "datasets", "summarize", "validation", "__version__"]
