"""Which NUTS implementation should lifevalue use by default? Measure them.

Fits lifevalue's ``BetaGeo`` by ``fit(method="mcmc", sampler=S)`` with S in ``compiled``
(nutpie's Rust NUTS on lifevalue's numba kernels, :mod:`lifevalue.models.kernels`),
``pymc`` (PyMC's own NUTS, compiled C), ``nutpie`` (the PyMC model compiled by numba)
and ``numpyro`` (JAX), on the same
simulated customers, each case in a fresh process with a time cap, and prints seconds,
peak memory, the smallest bulk ESS, ESS per second and the largest r-hat. A sampler that
is not installed is reported as failed, never skipped.

Run it as::

    .venv/bin/python bench/bench_samplers.py --sizes 10000 100000

nutpie and numpyro are not lifevalue dependencies: ``pip install nutpie numpyro jax``
into the environment first (the ``bench`` extra installs nutpie).

Simulated customers: CDNOW's BG/NBD estimates (Fader, Hardie & Lee 2005) in days,
r=0.243, alpha=4.414*7, a=0.793, b=2.426, T uniform on 1..730 days, purchase times
floored to whole days. Every sampler runs 2 chains of 1000 tuning and 1000 kept draws
(``--draws``, ``--tune``) on two cores. A first warm-up fit on 2,000 customers per case
fills PyTensor's compile cache, as on a machine that has fitted before.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure, run_worker  # noqa: E402

SAMPLERS = ("compiled", "pymc", "nutpie", "numpyro")


def simulate(n: int, seed: int):
    from lifevalue.models.simulation import simulate_bgnbd

    rng = np.random.default_rng(seed)
    T = rng.integers(1, 731, n).astype("float64")
    s = simulate_bgnbd(n, 0.243, 4.414 * 7, 0.793, 2.426, T, rng=rng)
    s["recency"] = np.floor(s["recency"])
    s.attrs["time_unit"] = "D"
    return s


def worker(spec: dict) -> dict:
    import warnings

    import pandas as pd

    from lifevalue.models import BetaGeo

    summary = pd.read_parquet(spec["path"])
    summary.attrs["time_unit"] = "D"

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return BetaGeo().fit(summary, draws=spec["draws"], tune=spec["tune"], chains=2,
                                 sampler=spec["sampler"], random_seed=1)

    if spec.get("warmup"):
        small = summary.iloc[:2000].copy()
        small.attrs["time_unit"] = "D"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BetaGeo().fit(small, draws=100, tune=100, chains=2, sampler=spec["sampler"])
    model, m = measure(fit, track_children=True)
    d = model.diagnostics_
    return {**m, "ess_min": d["ess_bulk_min"], "rhat_max": d["rhat_max"],
            "divergences": d["divergences"], "unique": model.metadata_["n_unique"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--cap-seconds", type=float, default=900.0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"summary_{n}.parquet"
            simulate(n, 2005).to_parquet(path)
            for sampler in args.samplers:
                spec = {"path": str(path), "sampler": sampler, "draws": args.draws,
                        "tune": args.tune, "warmup": True}
                res = run_worker(__file__, spec, args.cap_seconds)
                rows.append({"customers": n, "sampler": sampler, **res})
                print(f"done: {n} {sampler} {res.get('status')}", file=sys.stderr)
    print("| customers | unique triples | sampler | seconds | peak RSS MB | ESS bulk min | "
          "ESS/s | r-hat max | divergences |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["status"] != "ok":
            print(f"| {r['customers']:,} | - | {r['sampler']} | {r['status']} "
                  f"{r.get('reason', '')} | | | | | |")
            continue
        print(f"| {r['customers']:,} | {r['unique']:,} | {r['sampler']} | {r['seconds']:.1f} | "
              f"{r['peak_mb']:.0f} | {r['ess_min']:.0f} | {r['ess_min'] / r['seconds']:.1f} | "
              f"{r['rhat_max']:.3f} | {r['divergences']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
