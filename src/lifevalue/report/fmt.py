"""How the report writes numbers, money, tables and figures."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: Currency symbols written before the amount; any other currency (a code such as USD)
#: is written after it.
SYMBOLS = ("$", "€", "£", "¥", "₹", "₩", "₽", "₺", "R$", "A$", "C$", "CHF ")
MINUS = "\u2212"

PERIOD_NAMES = {"W": "week", "M": "month", "Q": "quarter", "Y": "year"}
TIME_UNIT_NAMES = {"D": "day", "W": "week", "M": "month"}

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;
max-width:1180px;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:3px solid #2166ac;padding-bottom:.2em;margin-bottom:.3em}
h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em;max-width:100%}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;vertical-align:top}
th{background:#f0f4f8;font-weight:600}
td:first-child,th:first-child{text-align:left}
td{white-space:nowrap}
td.text{white-space:normal;text-align:left}
th{white-space:normal}
.warn{background:#fde0dc;border:2px solid #b2182b;padding:.8em 1em;margin:.8em 0}
p.warn{font-weight:600}
.warn .warn{border:0;padding:0;margin:0 0 .5em}
.care{background:#fff4d6;border:2px solid #d08c00;padding:.8em 1em;margin:.8em 0}
.ok{background:#e5f5e0;border:1px solid #1b7837;padding:.6em 1em;margin:.8em 0}
#verdict h3,#verdict-details h3{margin:.2em 0}
.note{color:#555;font-size:.9em}
img{max-width:100%;height:auto}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.cards{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:.8em}
.card{border:1px solid #c8d3de;border-radius:6px;padding:.6em 1em;background:#fafcfe}
.card.wide{grid-column:1/-1}
.card h3{margin:.1em 0 .3em;font-size:1.05em;color:#2166ac}
.big{font-size:1.35em;font-weight:700}
.howto{background:#f4f4f4;padding:.5em 1em;border-left:4px solid #2166ac;font-size:.92em}
a.csv{display:inline-block;margin:.2em 0 .6em;padding:.2em .7em;border:1px solid #2166ac;
border-radius:4px;text-decoration:none;color:#2166ac}
"""


#: The usual names of the transaction models, by class and by command-line name.
MODEL_NAMES = {"BetaGeo": "BG/NBD", "ModifiedBetaGeo": "MBG/NBD", "ParetoNBD": "Pareto/NBD",
               "bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "paretonbd": "Pareto/NBD"}


def money(value: float, currency: str | None = None) -> str:
    """An amount as the report writes it.

    Amounts of 100 or more are rounded to whole units, smaller ones to cents, with a
    thousands separator; a currency symbol goes before the number, a currency code
    after it; no currency writes the bare number.

    Examples
    --------
    >>> money(12345.678), money(-5.7, "$"), money(950.2, "EUR")
    ('12,346', '−$5.70', '950 EUR')
    """
    value = float(value)
    if not np.isfinite(value):
        return "n/a"
    digits = 0 if abs(value) >= 99.995 else 2
    text = f"{abs(value):,.{digits}f}"
    sign = MINUS if round(value, digits) < 0 else ""
    if not currency:
        return sign + text
    if currency in SYMBOLS or len(currency) == 1:
        return f"{sign}{currency}{text}"
    return f"{sign}{text} {currency}"


def money_range(lo: float, hi: float, currency: str | None = None) -> str:
    """An interval of money, "lo to hi"; a currency code is written once, at the end.

    >>> money_range(-5.7, 52.66, "USD"), money_range(1200, 3400, "$")
    ('−5.70 to 52.66 USD', '$1,200 to $3,400')
    """
    if currency and not (currency in SYMBOLS or len(currency) == 1):
        return f"{money(lo)} to {money(hi)} {currency}"
    return f"{money(lo, currency)} to {money(hi, currency)}"


def percent(value: float, digits: int = 0) -> str:
    """A fraction as a percentage: ``percent(0.136) == '14%'``."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def count(value: float) -> str:
    """A whole count with a thousands separator."""
    return f"{int(round(float(value))):,}"


def number(value: float, digits: int = 2) -> str:
    """A plain number (not money)."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def esc(text) -> str:
    return html.escape(str(text))


def png(draw, figsize=(6.4, 4.2), alt="figure") -> str:
    """An ``<img>`` of what ``draw(ax)`` draws, as an embedded PNG."""
    fig = Figure(figsize=figsize, dpi=100)
    ax = fig.add_subplot()
    draw(ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(frame: pd.DataFrame, formats: dict | None = None, *, index: bool = True,
          table_id: str | None = None, text: bool = False) -> str:
    """An HTML table; ``formats`` maps a column to a function of its value (text is
    escaped; numbers not named are written with two decimals). ``text``: the cells
    hold words, aligned left."""
    formats = formats or {}

    def fmt(col, value):
        if col in formats:
            return esc(formats[col](value))
        if isinstance(value, str):
            return esc(value)
        if isinstance(value, float | np.floating):
            return esc(number(value))
        if isinstance(value, int | np.integer):
            return esc(count(value))
        return esc(value)

    cols = list(frame.columns)
    head = ([f"<th>{esc(frame.index.name or '')}</th>"] if index else []) + [
        f"<th>{esc(c)}</th>" for c in cols]
    rows = []
    for i, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = ([f"<td>{esc(i)}</td>"] if index else []) + [
            (f'<td class="text">{fmt(c, v)}</td>' if text or (isinstance(v, str) and len(v) > 40)
             else f"<td>{fmt(c, v)}</td>") for c, v in zip(cols, row, strict=True)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return (f"<table{ident}><thead><tr>{''.join(head)}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")
