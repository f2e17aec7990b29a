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
and re-exported here unchanged (the same classes), so ``except
lifevalue.errors.InputError`` catches them wherever raised. The warnings are defined
here; the models re-export them where they raise them.
"""

from __future__ import annotations

from lifevalue.validation import (
    EmptyInputError,
    InputError,
    InvalidOptionError,
    InvalidValueError,
    MissingColumnError,
    NotFittedError,
)

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


class ConvergenceWarning(UserWarning):
    """An MCMC fit shows divergences, rank-normalised r-hat > 1.01, or bulk or tail ESS
    < 400 (or a Laplace fit an importance-sampling ESS < 400)."""


class LaplaceFallbackWarning(UserWarning):
    """``fit(method="laplace")``: Pareto k-hat > 0.7, so the posterior was sampled by NUTS."""


class ZeroSpendWarning(UserWarning):
    """Repeat customers whose mean spend is 0 were left out of the Gamma-Gamma fit (their
    spend cannot enter its likelihood); they are still valued."""


class SpendFrequencyCorrelationWarning(UserWarning):
    """Spend and purchase frequency are correlated, against the model's assumption."""
