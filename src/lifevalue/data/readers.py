"""Reading a transaction file, with lifevalue's errors instead of the readers' own.

DuckDB's and pandas' messages for a broken CSV file mislead: an empty file or a ragged
line makes DuckDB claim that columns do not exist, and pandas raises ``EmptyDataError``
or ``ParserError``. When a reader fails, :func:`diagnose_csv` reads the file with
Python's ``csv`` module and says what is wrong in lifevalue's terms: an empty file
(:class:`~lifevalue.validation.EmptyInputError`), a required column absent from the
header (:class:`~lifevalue.validation.MissingColumnError`) or a line whose fields do
not match the header (:class:`~lifevalue.validation.InvalidValueError`, naming the
line). Good files pay nothing for it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from lifevalue import validation as v

_DELIMITERS = ",;\t|"


def _header_and_dialect(path: Path):
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        first = f.readline()
    if not first.strip():
        raise v.EmptyInputError(
            f"transactions file {str(path)!r} is empty: no header and no rows")
    delim = max(_DELIMITERS, key=first.count)
    header = next(csv.reader([first], delimiter=delim))
    return [h.strip() for h in header], delim


def diagnose_csv(path: Path, required, error: Exception | None = None):
    """Raise lifevalue's error for a CSV file a reader could not read.

    Checks, in order: the file is empty; a required column is absent from the header;
    a line has another number of fields than the header, or a quote is not closed.
    Lines count from 1 with the header; data rows from 0, as in every other message.
    Without any of these it raises :class:`~lifevalue.validation.InputError` quoting the
    reader's first line (``error``), or returns when there is no error to report.
    """
    header, delim = _header_and_dialect(path)
    v.check_columns(header, required)
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f, delimiter=delim, strict=True)
        try:
            for fields in reader:
                line = reader.line_num
                if line == 1 or not fields:
                    continue
                if len(fields) != len(header):
                    raise v.InvalidValueError(
                        f"transactions file {str(path)!r}, line {line} (data row "
                        f"{line - 2}): {len(fields)} fields where the header has "
                        f"{len(header)} ({header}); fix or remove the line")
        except csv.Error as err:
            raise v.InvalidValueError(
                f"transactions file {str(path)!r}, line {reader.line_num}: {err}; "
                "fix or remove the line") from err
    if error is not None:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise v.InputError(f"cannot read transactions file {str(path)!r}: {first}") from error


def read_pandas(path: Path, date: str, amount: str | None, required) -> pd.DataFrame:
    """Read a CSV or Parquet file into pandas (dates and amounts as text, so that one
    bad value is reported by the row checks); reader errors become lifevalue's."""
    if path.suffix.lower() in (".parquet", ".pq") or path.is_dir():
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as err:
            raise v.InputError(f"cannot read transactions file {str(path)!r}: "
                               f"{str(err).splitlines()[0] if str(err) else err!r}") from err
    try:
        return pd.read_csv(path, dtype={date: "string", **({amount: "string"} if amount else {})})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        diagnose_csv(path, required, err)
        raise  # pragma: no cover - diagnose_csv always raises when given an error
