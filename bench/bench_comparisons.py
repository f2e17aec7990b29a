"""What potential value and the comparisons between customers cost, at every size.

Scores the same simulated customers as ``bench_value.py`` (CDNOW's estimates, T in
whole days; ``--continuous-t``: T to 0.01 week) with the same 1000 posterior draws over
12 monthly periods, three ways, each in a fresh process:

``current``
    ``evaluate(summary, "neutral")``: current value with both intervals (the neutral
    potential equals it and is not computed twice).
``potential``
    ``evaluate(summary, "realistic")``: current value and the default potential (benchmark
    headroom at the population's 75th percentile of rate, spend and retention).
``comparisons``
    ``evaluate(summary, "realistic", comparisons=True)``: the same plus the rank interval,
    P(top 20%), the pyramid level probabilities of every customer and the Lorenz curve
    with its band (a second pass over the customers).

It prints seconds, peak RSS and each case's ratio to ``current``. The targets: potential
at most 1.3x current; comparisons within the memory of the scoring itself (their
sketches are draws x 2048 bins whatever the number of customers). Run it as::

    .venv/bin/python bench/bench_comparisons.py --sizes 10000 100000 1000000

Compilation is not timed (each worker scores 256 customers first). See
``bench/_common.py`` for how time and memory are measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure, ratio, run_worker  # noqa: E402
from bench_value import (  # noqa: E402
    ANNUAL_RATE,
    CI,
    HORIZON,
    _load,
    lifevalue_inputs,
    make_inputs,
)

CASES = {"current": ("neutral", False), "potential": ("realistic", False),
         "comparisons": ("realistic", True)}


def worker(spec: dict) -> dict:
    import warnings

    from lifevalue.value import CustomerValue

    warnings.simplefilter("ignore")
    summary, models = lifevalue_inputs(*_load(spec["data"]))
    cv = CustomerValue(*models, period="M", horizon=HORIZON, annual_discount_rate=ANNUAL_RATE,
                       margin=1.0, retention_cost=0.5, ci=CI, max_draws=spec["draws"])
    potential, comparisons = CASES[spec["case"]]
    cv.evaluate(summary.iloc[:256], potential, comparisons=comparisons)  # compile, untimed
    res, measured = measure(lambda: cv.evaluate(summary, potential, comparisons=comparisons))
    c = res.customers
    return {**measured, "current_total": float(c["current_mean"].sum()),
            "potential_total": float(c["potential_mean"].sum()),
            "develop": int((c["cell"] == "develop").sum())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--continuous-t", action="store_true",
                    help="T to 0.01 week (as timestamps give) instead of whole days")
    ap.add_argument("--cap-seconds", type=float, default=1800)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    rows = []
    resolution = "continuous" if args.continuous_t else "day"
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = make_inputs(Path(tmp), n, args.draws, args.seed, resolution)
            ref = None
            for case in args.cases:
                row = run_worker(__file__, {"data": str(path), "draws": args.draws,
                                            "case": case}, args.cap_seconds)
                row.update(size=n, case=case, cap=args.cap_seconds)
                ref = row if case == "current" else ref
                row["ratio"] = ratio(row, ref) if case != "current" else ""
                row["mem_ratio"] = ratio(row, ref, "peak_mb", digits=2) \
                    if case != "current" else ""
                rows.append(row)
                print(_line(row), flush=True)
    print()
    print(f"T: {'continuous (0.01 week)' if args.continuous_t else 'whole days'}; "
          f"{args.draws} draws, {HORIZON} monthly periods")
    print("| size | case | seconds | x current | peak RSS MB | x current | develop |")
    print("|---:|:---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(_line(row))
    return 0


def _line(row: dict) -> str:
    if row["status"] != "ok":
        return f"| {row['size']:,} | {row['case']} | {row['status']} {row.get('reason', '')} |"
    return (f"| {row['size']:,} | {row['case']} | {row['seconds']:.2f} | {row['ratio']} | "
            f"{row['peak_mb']:,.0f} | {row['mem_ratio']} | {row['develop']:,} |")


if __name__ == "__main__":
    sys.exit(main())
