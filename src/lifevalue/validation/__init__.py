"""Every input check of lifevalue, in one place.

Each check raises a subclass of :class:`InputError` (itself a ``ValueError``) whose
message names the offending column or option and shows up to five offending rows.
Row labels are the input's own index; for a file read from disk they count data
rows from 0, header excluded. Tests match these messages exactly, so change a
message here and in the tests together.

The checks are arranged by concern: :mod:`~lifevalue.validation.core` (error classes,
options, the pandas row rules of a transaction log), :mod:`~lifevalue.validation.sql`
(the same rules for DuckDB and Spark) and :mod:`~lifevalue.validation.summaries` (RFM
summaries, their time unit and "as of" dates); every name is importable from
``lifevalue.validation``.

The checks exist in two dialects: pandas, for frames, and SQL, for the DuckDB
engine that validates a large file without loading it into pandas. Both produce the
same messages through :func:`offending_rows_error`.
"""

from lifevalue.validation.core import *  # noqa: F403
from lifevalue.validation.core import _count_words, _day_number  # noqa: F401 - for data
from lifevalue.validation.covariates import *  # noqa: F403
from lifevalue.validation.settings import *  # noqa: F403
from lifevalue.validation.sql import *  # noqa: F403
from lifevalue.validation.summaries import *  # noqa: F403
