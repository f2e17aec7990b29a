"""Which NUTS implementation should lifevalue use by default? Measure them.

Fits lifevalue's ``BetaGeo`` by ``fit(method="mcmc", sampler=S)`` with S in ``compiled``
(nutpie's Rust NUTS on lifevalue's numba kernels, :mod:`lifevalue.models.kernels`),
``pymc`` (PyMC's own NUTS, compiled C), ``nutpie`` (the PyMC model compiled by numba)
and ``numpyro`` (JAX), on the same
simulated customers, each case in a fresh process with a time cap, and prints seconds,
peak memory, the smallest bulk and tail ESS, bulk ESS per second and the largest r-hat.
A sampler that is not installed is reported as failed, never skipped.

Run it as::

    .venv/bin/python bench/bench_samplers.py --sizes 10000 100000

nutpie and numpyro are not lifevalue dependencies: ``pip install nutpie numpyro jax``
into the environment first (the ``bench`` extra installs nutpie).

Simulated customers: CDNOW's BG/NBD estimates (Fader, Hardie & Lee 2005) in days,
r=0.243, alpha=4.414*7, a=0.793, b=2.426, T uniform on 1..730 days, purchase times
floored to whole days. Every sampler runs lifevalue's default MCMC settings (chains,
tuning steps and draws per chain of ``BetaGeo.fit``; the table's header says which)
unless ``--chains``, ``--tune`` or ``--draws`` is given; chains share the CPUs as
lifevalue's ``fit`` arranges. A first warm-up fit on 2,000 customers per case (100
tuning steps and 100 draws) fills PyTensor's compile cache, as on a machine that has
fitted before. Tail ESS is ``diagnostics_["ess_tail_min"]`` where lifevalue records it,
else ArviZ 1's ``az.ess(..., method="tail")`` on the posterior.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_mcmc_options, measure, run_worker  # noqa: E402
from bench_models import mcmc_settings  # noqa: E402

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
    # only the settings given: lifevalue's defaults for the others
    given = {k: spec[k] for k in ("draws", "tune", "chains") if spec.get(k) is not None}

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return BetaGeo().fit(summary, sampler=spec["sampler"], random_seed=1, **given)

    if spec.get("warmup"):
        small = summary.iloc[:2000].copy()
        small.attrs["time_unit"] = "D"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BetaGeo().fit(small, sampler=spec["sampler"],
                          **{**given, "draws": 100, "tune": 100})
    model, m = measure(fit, track_children=True)
    d = model.diagnostics_
    tail = d.get("ess_tail_min")
    if tail is None:
        from bench_models import _mcmc_diagnostics

        tail = _mcmc_diagnostics(model.idata_, model.param_names)["ess_tail_min"]
    post = model.idata_["posterior"]
    return {**m, "ess_min": d["ess_bulk_min"], "ess_tail_min": tail,
            "rhat_max": d["rhat_max"], "divergences": d["divergences"],
            "unique": model.metadata_["n_unique"], "chains": int(post.sizes["chain"]),
            "draws": int(post.sizes["draw"])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    add_mcmc_options(parser)
    parser.add_argument("--cap-seconds", type=float, default=900.0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    settings = mcmc_settings("bgnbd", draws=args.draws, tune=args.tune, chains=args.chains)
    print(f"BetaGeo MCMC: {settings['chains']} chains x ({settings['tune']} tune + "
          f"{settings['draws']} draws)" + ("" if any(
              v is not None for v in (args.draws, args.tune, args.chains))
              else " (lifevalue's defaults)"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"summary_{n}.parquet"
            simulate(n, 2005).to_parquet(path)
            for sampler in args.samplers:
                spec = {"path": str(path), "sampler": sampler, "draws": args.draws,
                        "tune": args.tune, "chains": args.chains, "warmup": True}
                res = run_worker(__file__, spec, args.cap_seconds)
                rows.append({"customers": n, "sampler": sampler, **res})
                print(f"done: {n} {sampler} {res.get('status')}", file=sys.stderr)
    print("| customers | unique triples | sampler | chains x draws | seconds | peak RSS MB "
          "| ESS bulk min | ESS tail min | ESS bulk/s | r-hat max | divergences |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["status"] != "ok":
            print(f"| {r['customers']:,} | - | {r['sampler']} | | {r['status']} "
                  f"{r.get('reason', '')} | | | | | | |")
            continue
        print(f"| {r['customers']:,} | {r['unique']:,} | {r['sampler']} "
              f"| {r['chains']} x {r['draws']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} "
              f"| {r['ess_min']:.0f} | {r['ess_tail_min']:.0f} "
              f"| {r['ess_min'] / r['seconds']:.1f} | {r['rhat_max']:.3f} "
              f"| {r['divergences']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
