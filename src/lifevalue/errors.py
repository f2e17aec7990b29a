"""Every error and warning lifevalue raises, in one place.

* :class:`InputError` (a ``ValueError``) and its subclasses: the data, an option or a
  file is wrong; the message names the column, option or file and the rows. The CLI
  exits with code 3.
* :class:`ModelError` (a subclass of :class:`InputError`, so that code written for the
  earlier releases still catches it): the data and options are valid but the fitted
  model cannot value these customers, e.g. a Gamma-Gamma posterior draw with
  ``p x + q <= 1`` has no finite expected spend. Refit with more data or a prior that
  keeps ``q`` above 1. The CLI exits with code 5.
* :class:`JobFileError`: a ``lifevalue run`` job file is not valid (unknown key, wrong
  type, missing key); the CLI exits with code 3.
* :class:`NotFittedError`: a model was used before ``fit`` or ``load``.
* Warnings: :class:`ConvergenceWarning`, :class:`LaplaceFallbackWarning`,
  :class:`SpendFrequencyCorrelationWarning`, :class:`ZeroSpendWarning`.

The input errors and :class:`NotFittedError` are defined in :mod:`lifevalue.validation`
and the warnings with their models; they are re-exported here unchanged (the same
classes), so ``except lifevalue.errors.InputError`` catches them wherever raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifevalue.validation import (
    EmptyInputError,
    InputError,
    InvalidOptionError,
    InvalidValueError,
    MissingColumnError,
    NotFittedError,
)

if TYPE_CHECKING:  # imported on first use, see __getattr__
    from lifevalue.models.base import ConvergenceWarning, LaplaceFallbackWarning
    from lifevalue.models.gamma_gamma import SpendFrequencyCorrelationWarning, ZeroSpendWarning

__all__ = ["ConvergenceWarning", "EmptyInputError", "InputError", "InvalidOptionError",
           "InvalidValueError", "JobFileError", "LaplaceFallbackWarning",
           "MissingColumnError", "ModelError", "NotFittedError",
           "SpendFrequencyCorrelationWarning", "ZeroSpendWarning"]


class ModelError(InputError):
    """The fitted model cannot value these customers (a model or prior condition, not
    bad input), e.g. a posterior draw with ``q <= 1`` gives an infinite mean spend.

    Examples
    --------
    >>> from lifevalue.errors import InputError, ModelError
    >>> issubclass(ModelError, InputError)
    True
    """


class JobFileError(InvalidOptionError):
    """A job file for ``lifevalue run`` is not valid; ``column`` names the key."""


_LAZY = {
    "ConvergenceWarning": "lifevalue.models.base",
    "LaplaceFallbackWarning": "lifevalue.models.base",
    "SpendFrequencyCorrelationWarning": "lifevalue.models.gamma_gamma",
    "ZeroSpendWarning": "lifevalue.models.gamma_gamma",
}


def __getattr__(name: str):
    # the warnings live with the models, which import this module's neighbours: import
    # them on first use so that this module stays free of import cycles
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lifevalue.errors' has no attribute {name!r}")
