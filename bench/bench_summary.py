"""Benchmark the RFM summary of :func:`lifevalue.data.summary.summarize` against ``lifetimes``.

A synthetic transaction log is simulated from a BG/NBD process with the CDNOW
parameters of Fader, Hardie & Lee (2005), then summarised these ways:

``auto``
    lifevalue, ``engine='auto'`` (what ``summarize(frame)`` does), on an in-memory
    pandas frame: the target case, 10M transactions in at most 3 s;
``pandas``
    lifevalue, ``engine='pandas'`` (the in-memory engine), on the pandas frame;
``polars``
    lifevalue, ``engine='auto'``, on the log as a Polars DataFrame;
``duckdb-frame``
    lifevalue, ``engine='duckdb'``, on the pandas frame;
``duckdb-polars``
    lifevalue, ``engine='duckdb'``, on the Polars DataFrame (scanned through Arrow);
``duckdb-parquet``
    lifevalue, ``engine='duckdb'``, reading the log from a Parquet file;
``duckdb-csv``
    lifevalue, ``engine='duckdb'``, reading the log from a CSV file;
``lifetimes``
    ``lifetimes.utils.summary_data_from_transaction_data(..., freq='D',
    freq_multiplier=7)`` (lifetimes 0.11.3), the reference, on the in-memory frame.

All of them use weeks as the time unit and calendar days as purchase occasions, with
the same ``observation_end``.

Each case runs in a fresh Python process, so that one case's memory does not count
against the next. The worker loads its input first (the in-memory frame from the
Parquet file; that load is neither timed nor part of the peak), then times the call
alone with :func:`time.perf_counter`. Its peak RSS is the process's ``VmHWM`` from
``/proc/self/status`` after the high-water mark was reset (``/proc/self/clear_refs``)
just before the call, so it includes the resident input frame and the imported
libraries (shown as "RSS at start") plus everything the call allocates. Where the
kernel does not allow that reset, the whole-process ``ru_maxrss`` is reported instead.
A case whose worker runs longer than ``--cap-seconds`` (start-up and input load
included, a few seconds at most) is killed and reported as over the cap.

The simulated log:

* purchase rates ``lambda ~ Gamma(r=0.243, alpha=4.414)`` per week, i.e. per day
  ``lambda / 7``, which is ``Gamma(0.243, rate=7 * 4.414)``;
* dropout probabilities ``p ~ Beta(a=0.793, b=2.426)``: after each purchase the
  customer becomes inactive with probability ``p``;
* first purchases uniform over the first year, a two-year observation window
  (``observation_end`` is its last day), dates at day resolution (``datetime64``);
* about 5 % extra same-day duplicates of existing transactions, which the summary
  must merge into one occasion;
* amounts Gamma-Gamma distributed (``p=6.25, q=3.74, gamma=15.44``), rounded to cents.

The log is cut to exactly the requested number of transactions, written once per size
to a temporary folder as Parquet and as CSV (not timed), and deleted at the end.

Besides the timings the script checks that the lifevalue cases give the same summary
(the same customers, ``frequency`` exactly, ``recency``, ``T`` and ``monetary_value``
within a relative tolerance of 1e-9) and reports how far ``lifetimes`` is from them.

The run ends with the timings side by side, one row per size, and says whether the
target (``auto`` at 10M transactions in at most ``TARGET_SECONDS``) is met. The machine it
ran on is the reader's to state: on a shared machine the figures are slower and noisier.

Run it from the repository root with the development environment::

    .venv/bin/python bench/bench_summary.py --sizes 1000000 10000000

Options: ``--sizes`` (numbers of transactions, default 1e6 and 1e7; the target is read
at 1e7), ``--cap-seconds``
(default 600), ``--cases`` (a subset of the case names above), ``--seed`` and
``--tmpdir`` (where the Parquet and CSV files go).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import measure, run_worker

# BG/NBD purchase and dropout parameters for CDNOW (weekly rates), Fader et al. (2005)
R_SHAPE, ALPHA_WEEK = 0.243, 4.414
A_DROP, B_DROP = 0.793, 2.426
# Gamma-Gamma spend parameters for CDNOW, Fader, Hardie & Lee (2005b)
P_SPEND, Q_SPEND, GAMMA_SPEND = 6.25, 3.74, 15.44

START = np.datetime64("2020-01-01", "D")
FIRST_PURCHASE_DAYS = 365
WINDOW_DAYS = 730
OBSERVATION_END = str(START + np.timedelta64(WINDOW_DAYS - 1, "D"))
DUPLICATE_SHARE = 0.05

CASES = {
    "auto": "lifevalue auto, frame",
    "pandas": "lifevalue pandas, frame",
    "polars": "lifevalue auto, Polars",
    "duckdb-frame": "lifevalue duckdb, frame",
    "duckdb-polars": "lifevalue duckdb, Polars",
    "duckdb-parquet": "lifevalue duckdb, Parquet",
    "duckdb-csv": "lifevalue duckdb, CSV",
    "lifetimes": "lifetimes 0.11.3, frame",
}
LIFEVALUE_CASES = [c for c in CASES if c != "lifetimes"]
FLOAT_COLUMNS = ["recency", "T", "monetary_value"]
RTOL = 1e-9
#: The target: the ``auto`` case summarises TARGET_ROWS transactions in this many seconds.
TARGET_ROWS, TARGET_SECONDS = 10_000_000, 3.0


# --------------------------------------------------------------------------- simulation


def _simulate_customers(rng: np.random.Generator, n: int):
    """Simulate ``n`` customers; return ``(customer index, day, amount)`` per transaction."""
    lam = rng.gamma(R_SHAPE, 1.0 / (ALPHA_WEEK * 7.0), n)  # purchases per day
    p = rng.beta(A_DROP, B_DROP, n)
    first = rng.uniform(0.0, FIRST_PURCHASE_DAYS, n)
    span = WINDOW_DAYS - first
    # repeat purchases a Poisson process would make before the window closes, and the
    # repeat purchases made before dropping out; the customer makes the smaller number
    in_window = rng.poisson(lam * span)
    before_dropout = rng.geometric(p) - 1
    repeats = np.minimum(in_window, before_dropout)
    # given their number, a Poisson process's event times are sorted uniforms: keep the
    # first `repeats` of the `in_window` ones
    owner = np.repeat(np.arange(n), in_window)
    times = first[owner] + rng.uniform(0.0, 1.0, owner.size) * span[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    starts = np.cumsum(in_window) - in_window
    rank = np.arange(owner.size) - starts[owner]
    keep = rank < repeats[owner]
    cust = np.concatenate([np.arange(n), owner[keep]])
    day = np.floor(np.concatenate([first, times[keep]])).astype("int64")
    nu = rng.gamma(Q_SPEND, 1.0 / GAMMA_SPEND, n)
    amount = rng.gamma(P_SPEND, 1.0 / nu[cust])
    return cust, day, amount


def simulate_log(n_transactions: int, seed: int):
    """Return a synthetic log of exactly ``n_transactions`` rows, sorted by date.

    Columns ``customer_id`` (int64), ``date`` (``datetime64[ns]`` at midnight) and
    ``amount`` (float64, rounded to cents).
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_base = n_transactions - int(round(n_transactions * DUPLICATE_SHARE / (1 + DUPLICATE_SHARE)))
    pilot = _simulate_customers(np.random.default_rng(seed + 1), 100_000)[0].size / 100_000
    parts, total, offset = [], 0, 0
    while total < n_base:
        n_cust = int((n_base - total) / pilot * 1.02) + 100
        cust, day, amount = _simulate_customers(rng, n_cust)
        parts.append((cust + offset, day, amount))
        total += cust.size
        offset += n_cust
    cust, day, amount = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    # keep whole customers in simulation order; the last one kept may lose its latest
    # purchases
    order = np.lexsort((day, cust))[:n_base]
    cust, day, amount = cust[order], day[order], amount[order]
    dup = rng.integers(0, n_base, n_transactions - n_base)
    cust = np.concatenate([cust, cust[dup]])
    day = np.concatenate([day, day[dup]])
    amount = np.concatenate([amount, rng.gamma(P_SPEND, amount[dup] / P_SPEND)])
    # customer ids in random order, rows sorted by date as a log would be
    ids = rng.permutation(int(cust.max()) + 1).astype("int64") + 1
    perm = rng.permutation(day.size)
    order = perm[np.argsort(day[perm], kind="stable")]
    return pd.DataFrame(
        {
            "customer_id": ids[cust[order]],
            "date": (START + day[order].astype("timedelta64[D]")).astype("datetime64[ns]"),
            "amount": np.round(amount[order], 2),
        }
    )


def write_inputs(frame, folder: Path) -> tuple[Path, Path]:
    """Write ``frame`` as Parquet and as CSV (dates as ``YYYY-MM-DD``)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    parquet = folder / "transactions.parquet"
    pq.write_table(table, parquet)
    csv = folder / "transactions.csv"
    days = table.set_column(1, "date", table["date"].cast(pa.date32()))
    pacsv.write_csv(days, csv)
    return parquet, csv


# --------------------------------------------------------------------------- one case


def worker(spec: dict) -> dict:
    """Run one case in this (fresh) process and return its measurements."""
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    case = spec["case"]
    obs_end = spec["observation_end"]
    if case in ("auto", "pandas", "duckdb-frame", "lifetimes"):
        source = pd.read_parquet(spec["parquet"])
    elif case in ("polars", "duckdb-polars"):
        import polars as pl

        source = pl.read_parquet(spec["parquet"])
    elif case == "duckdb-parquet":
        source = spec["parquet"]
    else:
        source = spec["csv"]
    if case == "lifetimes":
        from lifetimes.utils import summary_data_from_transaction_data

        def call():
            return summary_data_from_transaction_data(
                source, "customer_id", "date", monetary_value_col="amount",
                observation_period_end=obs_end, freq="D", freq_multiplier=7,
            )
    else:
        import duckdb  # noqa: F401  (imported here so that the import is not timed)

        from lifevalue.data.summary import summarize

        engine = {"auto": "auto", "pandas": "pandas", "polars": "auto"}.get(case, "duckdb")

        def call():
            return summarize(source, amount="amount", observation_end=obs_end, engine=engine)

    cpu = {}

    def timed():
        # the CPU seconds of the call, besides measure()'s wall seconds: on a shared
        # machine the wall clock also counts the time other processes held the cores
        start = time.process_time()
        try:
            return call()
        finally:
            cpu["seconds"] = time.process_time() - start

    summary, measured = measure(timed)
    measured["cpu_seconds"] = cpu["seconds"]
    out = pd.DataFrame(
        {c: summary[c].to_numpy() for c in ["frequency", *FLOAT_COLUMNS]},
        index=pd.Index(summary.index.to_numpy(), name="customer_id"),
    )
    out.to_parquet(spec["out"])
    return {**measured, "customers": len(summary)}


def run_case(spec: dict, cap: float) -> dict:
    """Run one case in a fresh interpreter with a wall-clock cap."""
    return run_worker(__file__, spec, cap)


# --------------------------------------------------------------------------- agreement


def compare(reference, other) -> tuple[bool, str]:
    """Whether two summaries agree: same ids, frequency exact, floats within ``RTOL``."""
    if len(reference) != len(other) or not reference.index.equals(other.index):
        return False, f"different customers ({len(reference)} vs {len(other)} rows)"
    notes, ok = [], True
    freq_diff = int(np.sum(reference["frequency"].to_numpy() != other["frequency"].to_numpy()))
    if freq_diff:
        ok = False
        notes.append(f"frequency differs for {freq_diff} customers")
    for col in FLOAT_COLUMNS:
        a = reference[col].to_numpy(dtype="float64")
        b = other[col].to_numpy(dtype="float64")
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.abs(a - b) / np.where(scale > 0, scale, 1.0)
        worst = float(rel.max()) if rel.size else 0.0
        if worst > RTOL:
            ok = False
            notes.append(f"{col} max rel. diff {worst:.2e} ({int(np.sum(rel > RTOL))} rows)")
        elif worst > 0:
            notes.append(f"{col} max rel. diff {worst:.1e}")
    return ok, "; ".join(notes) if notes else "identical"


def agreement(outputs: dict[str, Path]) -> list[str]:
    """Compare the lifevalue summaries with each other and with lifetimes."""
    import pandas as pd

    done = {c: pd.read_parquet(p) for c, p in outputs.items() if p.exists()}
    mine = [c for c in LIFEVALUE_CASES if c in done]
    lines = []
    if len(mine) >= 2:
        ref = mine[0]
        results = {c: compare(done[ref], done[c]) for c in mine[1:]}
        verdict = "AGREE" if all(ok for ok, _ in results.values()) else "DISAGREE"
        lines.append(f"lifevalue engines {verdict} (frequency exact, floats rtol {RTOL:g}):")
        lines += [f"  {c} vs {ref}: {'ok' if ok else 'MISMATCH'}, {note}"
                  for c, (ok, note) in results.items()]
    elif mine:
        lines.append("lifevalue engines: only one case finished, nothing to compare")
    if mine and "lifetimes" in done:
        ok, note = compare(done[mine[0]], done["lifetimes"])
        lines.append(f"lifetimes vs {mine[0]}: {'agree' if ok else 'DIFFER'}, {note}")
    return lines


# --------------------------------------------------------------------------- report


def _table(rows: list[dict], cap: float) -> str:
    head = ("| size | case | seconds | peak RSS MB | RSS at start MB | ratio vs lifetimes |\n"
            "|---:|:---|---:|---:|---:|---:|")
    out = [head]
    for size in dict.fromkeys(r["size"] for r in rows):
        group = [r for r in rows if r["size"] == size]
        ref = next((r for r in group if r["case"] == "lifetimes"), None)
        for r in group:
            if r["status"] == "ok":
                seconds, peak = f"{r['seconds']:.2f}", f"{r['peak_mb']:.0f}"
                start = f"{r['start_mb']:.0f}"
            elif r["status"] == "over cap":
                seconds, peak, start = f"over cap (> {cap:g})", "-", "-"
            else:
                seconds, peak, start = f"failed: {r['reason']}", "-", "-"
            if ref is None or r["status"] != "ok":
                ratio = "-"
            elif ref["status"] == "ok":
                ratio = f"{ref['seconds'] / r['seconds']:.1f}x"
            elif ref["status"] == "over cap":
                ratio = f"> {cap / r['seconds']:.0f}x"
            else:
                ratio = "-"
            out.append(f"| {size:,} | {CASES[r['case']]} | {seconds} | {peak} | {start} "
                       f"| {ratio} |")
    return "\n".join(out)


def side_by_side(rows: list[dict]) -> str:
    """Wall seconds (CPU seconds) of every case, one row per size, and the target met or
    not (on the wall seconds)."""
    cases = list(dict.fromkeys(r["case"] for r in rows))
    out = ["| transactions | " + " | ".join(CASES[c] for c in cases) + " |",
           "|---:|" + "---:|" * len(cases)]
    for size in dict.fromkeys(r["size"] for r in rows):
        cells = {r["case"]: (f"{r['seconds']:.2f} ({r['cpu_seconds']:.2f})"
                             if r["status"] == "ok" else r["status"])
                 for r in rows if r["size"] == size}
        out.append(f"| {size:,} | " + " | ".join(cells.get(c, "-") for c in cases) + " |")
    target = next((r for r in rows if r["size"] == TARGET_ROWS and r["case"] == "auto"), None)
    goal = f"target: {TARGET_ROWS:,} transactions in <= {TARGET_SECONDS:g} s (auto, frame)"
    if target is None:
        out.append(f"\n{goal}: not measured (run the auto case at {TARGET_ROWS:,})")
    elif target["status"] != "ok":
        out.append(f"\n{goal}: NOT MET ({target['status']})")
    else:
        met = "met" if target["seconds"] <= TARGET_SECONDS else "NOT MET"
        out.append(f"\n{goal}: {met} ({target['seconds']:.2f} s wall, "
                   f"{target['cpu_seconds']:.2f} s CPU)")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="numbers of transactions (default: 1000000 10000000)")
    parser.add_argument("--cap-seconds", type=float, default=600.0,
                        help="wall-clock cap per case (default: 600)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument("--tmpdir", default=None, help="folder for the Parquet and CSV files")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    rows, notes = [], []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="lifevalue-bench-", dir=args.tmpdir) as tmp:
            folder = Path(tmp)
            t0 = time.perf_counter()
            frame = simulate_log(size, args.seed)
            n_customers = frame["customer_id"].nunique()
            parquet, csv = write_inputs(frame, folder)
            del frame
            mb = {p.suffix[1:]: p.stat().st_size / 2**20 for p in (parquet, csv)}
            print(f"\n{size:,} transactions, {n_customers:,} customers: simulated and written "
                  f"in {time.perf_counter() - t0:.1f} s (Parquet {mb['parquet']:.0f} MB, "
                  f"CSV {mb['csv']:.0f} MB)", flush=True)
            outputs = {}
            for case in args.cases:
                outputs[case] = folder / f"summary-{case}.parquet"
                spec = {"case": case, "parquet": str(parquet), "csv": str(csv),
                        "observation_end": OBSERVATION_END, "out": str(outputs[case])}
                result = {"size": size, "case": case, **run_case(spec, args.cap_seconds)}
                rows.append(result)
                shown = (f"{result['seconds']:.2f} s, peak {result['peak_mb']:.0f} MB"
                         if result["status"] == "ok" else result["status"])
                print(f"  {CASES[case]:<28} {shown}", flush=True)
                if result["status"] == "failed":
                    print(f"    {result['reason']}", flush=True)
            for line in agreement(outputs):
                print("  " + line, flush=True)
            if any(r["status"] == "ok" and not r["peak_reset"] for r in rows):
                notes.append("peak RSS is the whole-process ru_maxrss: VmHWM could not be reset")
    print("\n" + _table(rows, args.cap_seconds))
    print("\nWall seconds (CPU seconds) side by side, the call alone, each case in a fresh "
          "process:\n")
    print(side_by_side(rows))
    for note in dict.fromkeys(notes):
        print(f"\nNote: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
