"""Benchmark scoring P(alive) and expected purchases per customer, with intervals.

The customers and posterior draws are those of ``bench/bench_value.py`` (BG/NBD with
the CDNOW estimates in weeks at daily resolution, 1000 draws around the true values,
nothing fitted). Each case scores P(alive) now and the purchases over the next year
(``HORIZON_WEEKS`` = 365.25 / 7 weeks):

``lifevalue``
    ``BetaGeo.p_alive(summary)`` (mean and parameter interval over the draws) and
    ``BetaGeo.expected_purchases(summary, t, predictive=True)`` (mean, parameter
    interval, and the predictive interval from one simulation of each customer per
    draw);
``lifetimes``
    lifetimes 0.11.3 at the point estimate (the true values): ``BetaGeoFitter``'s
    ``conditional_probability_alive`` and
    ``conditional_expected_number_of_purchases_up_to_time``. No intervals: it has none,
    so it does less work;
``pymc-marketing``
    pymc-marketing 1.3.0's ``BetaGeoModel.expected_probability_alive(data)`` and
    ``expected_purchases(data, future_t=t)`` over the same draws, each reduced to the
    mean and the 5% / 95% quantiles over the draws: its parameter interval
    (pymc-marketing has no predictive interval of the count). The model is built with
    ``build_model(data)`` (untimed) and given the draws as ``idata``, an
    ``xarray.DataTree`` with a ``posterior`` group (ArviZ 1's ``from_dict``).

Each case runs in a fresh process (``bench/_common.py``): the inputs are loaded and the
library imported untimed, then the scoring call is timed alone with its peak RSS. A case
over ``--cap-seconds`` is killed and reported as such; a failure is reported with its
error. Run it from the repository root::

    .venv/bin/python bench/bench_scoring.py --sizes 10000 100000

``--resolution continuous`` records T to 0.01 week (as timestamps give), so that nearly
every customer has an (x, T) of their own.

``bench/run.py`` runs it as one section of the whole suite.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import measure, ratio, run_worker
from bench_value import (
    CI,
    RESOLUTIONS,
    TRUE_BG,
    _limit_memory,
    _load,
    posterior_draws,
    simulate,
    write_inputs,
)

HORIZON_WEEKS = 365.25 / 7
CASES = {"lifevalue": "lifevalue (both intervals)", "lifetimes": "lifetimes 0.11.3 (point)",
         "pymc-marketing": "pymc-marketing (parameter interval)"}


def _lifevalue(cols, post):
    import arviz as az
    import pandas as pd

    from lifevalue.models import BetaGeo

    summary = pd.DataFrame({k: cols[k] for k in ("frequency", "recency", "T")},
                           index=pd.Index(cols["customer_id"], name="customer_id"))
    summary.attrs["time_unit"] = "W"
    bg = BetaGeo.from_params(TRUE_BG, time_unit="W")
    # ArviZ 1: a DataTree with a posterior group
    bg.idata_ = az.from_dict({"posterior": {k: post[k] for k in TRUE_BG}})
    # compile the kernels (cached on disk after the first run in an environment) on a
    # few customers, untimed: the timing is that of a scoring run, not of the compiler
    bg.p_alive(summary.iloc[:256], ci=CI)
    bg.expected_purchases(summary.iloc[:256], HORIZON_WEEKS, ci=CI, predictive=True)

    def call():
        alive = bg.p_alive(summary, ci=CI)
        bought = bg.expected_purchases(summary, HORIZON_WEEKS, ci=CI, predictive=True)
        return alive, bought

    def results(res):
        return res[1]["purchases_mean"].to_numpy(), float(res[0]["p_alive_mean"].sum())

    return call, results


def _lifetimes(cols, post):
    from lifetimes import BetaGeoFitter

    fitter = BetaGeoFitter()
    import pandas as pd

    fitter.params_ = pd.Series(TRUE_BG)
    x, t_x, T = cols["frequency"], cols["recency"], cols["T"]

    def call():
        alive = fitter.conditional_probability_alive(x, t_x, T)
        bought = fitter.conditional_expected_number_of_purchases_up_to_time(
            HORIZON_WEEKS, x, t_x, T)
        return alive, bought

    def results(res):
        return np.asarray(res[1], dtype="float64"), float(np.sum(res[0]))

    return call, results


def _pymc_marketing(cols, post):
    import arviz as az
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel

    data = pd.DataFrame({k: cols[k] for k in ("customer_id", "frequency", "recency", "T")})
    bg = BetaGeoModel()
    bg.build_model(data)
    bg.idata = az.from_dict({"posterior": {k: post[k] for k in ("alpha", "r", "a", "b")}})
    lo, hi = (1.0 - CI) / 2.0, (1.0 + CI) / 2.0

    def call():
        out = []
        for values in (bg.expected_probability_alive(data),
                       bg.expected_purchases(data, future_t=HORIZON_WEEKS)):
            out.append((values.mean(("chain", "draw")),
                        values.quantile([lo, hi], dim=("chain", "draw"))))
        return out

    def results(res):
        return np.asarray(res[1][0].values), float(res[0][0].values.sum())

    return call, results


BUILDERS = {"lifevalue": _lifevalue, "lifetimes": _lifetimes,
            "pymc-marketing": _pymc_marketing}


def worker(spec: dict) -> dict:
    """Run one case in this (fresh) process and return its measurements."""
    import warnings

    warnings.simplefilter("ignore")
    _limit_memory(spec.get("mem_limit_gb", 0.0))
    cols, post = _load(spec["data"])
    call, results = BUILDERS[spec["case"]](cols, post)
    out, measured = measure(call)
    purchases, alive_total = results(out)
    return {**measured, "purchases_total": float(np.sum(purchases)),
            "p_alive_total": alive_total}


def make_inputs(folder: Path, size: int, draws: int, seed: int,
                resolution: str = "day") -> Path:
    """Simulate ``size`` customers (T in whole days, or to 0.01 week) and write them with
    the draws (as bench_value does)."""
    path = folder / f"scoring-{resolution}-{size}.npz"
    if not path.exists():
        write_inputs(path, simulate(size, seed, resolution), posterior_draws(draws, seed))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--cap-seconds", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument("--resolution", choices=list(RESOLUTIONS), default="day",
                        help="T in whole days (default) or to 0.01 week")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="lifevalue-bench-") as tmp:
        for size in args.sizes:
            data = make_inputs(Path(tmp), size, args.draws, args.seed, args.resolution)
            for case in args.cases:
                res = run_worker(__file__, {"case": case, "data": str(data)}, args.cap_seconds)
                rows.append({"size": size, "case": case, "cap": args.cap_seconds, **res})
    print("| size | case | seconds | peak RSS MB | peer / lifevalue |\n|---:|:---|---:|---:|---:|")
    for r in rows:
        ref = next((x for x in rows if x["size"] == r["size"] and x["case"] == "lifevalue"),
                   None) if r["case"] != "lifevalue" else None
        shown = (f"{r['seconds']:.2f} | {r['peak_mb']:.0f}" if r["status"] == "ok"
                 else f"{r['status']} {r.get('reason', '')} | -")
        print(f"| {r['size']:,} | {CASES[r['case']]} | {shown} | {ratio(r, ref)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
