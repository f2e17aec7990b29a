"""Benchmark BG/NBD with covariates: lifevalue against pymc-marketing 1.3.0, side by side.

The same simulated customers, per size: a 0/1 attribute ``web`` (40% of customers) and a
three-level ``tier`` (0, 1, 2) with known effects (``alpha[web]`` 0.5, ``alpha[tier]``
-0.3 on the purchase rate's scale; ``a[web]`` -0.4 and ``b[web]`` 0.3 on dropout; the
parametrisation of pymc-marketing's ``BetaGeoModel`` and of Fader & Hardie 2007), T
uniform in 20-52 weeks. Cases, each in a fresh process under a wall-clock cap:

``lifevalue-map``, ``lifevalue-mcmc``
    ``BetaGeo(purchase_covariates=["web", "tier"], dropout_covariates=["web"])``
    ``.fit(summary, method=...)`` with lifevalue's defaults (NUTS: 4 chains x (300 tune +
    500 draws), its compiled sampler);
``pymc-marketing-map``, ``pymc-marketing-mcmc-nutpie``
    ``BetaGeoModel(model_config={"purchase_covariate_cols": ["web", "tier"],
    "dropout_covariate_cols": ["web"]}).fit(df, method=...)``, NUTS with
    ``nuts_sampler="nutpie"`` and the same chains, tune and draws.

Each row shows the fit's wall-clock seconds, peak memory, the ratio to lifevalue's fit by
the same method, and the estimates of the four effects (posterior means), so that the
two libraries can be seen to agree. Not a timed test: run it by hand,

    python bench/bench_covariates.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import git_state, measure, ratio, run_worker

EFFECTS = {"alpha[web]": 0.5, "alpha[tier]": -0.3, "a[web]": -0.4, "b[web]": 0.3}
TRUE = {"r": 0.5, "alpha": 8.0, "a": 0.8, "b": 2.5}
CASES = ("lifevalue-map", "lifevalue-mcmc", "pymc-marketing-map", "pymc-marketing-mcmc-nutpie")


def simulate(n: int, seed: int):
    """``n`` customers with the attributes ``web`` and ``tier`` and the effects above."""
    import pandas as pd

    from lifevalue.models.simulation import simulate_bgnbd

    rng = np.random.default_rng(seed)
    web = (rng.random(n) < 0.4).astype(float)
    tier = rng.integers(0, 3, n).astype(float)
    T = rng.uniform(20, 52, n)
    parts = []
    for w in (0.0, 1.0):
        for t in (0.0, 1.0, 2.0):
            k = np.flatnonzero((web == w) & (tier == t))
            alpha = TRUE["alpha"] * np.exp(-(EFFECTS["alpha[web]"] * w
                                             + EFFECTS["alpha[tier]"] * t))
            sim = simulate_bgnbd(len(k), TRUE["r"], alpha,
                                 TRUE["a"] * np.exp(EFFECTS["a[web]"] * w),
                                 TRUE["b"] * np.exp(EFFECTS["b[web]"] * w), T[k], rng=rng)
            sim.index = pd.Index(k, name="customer_id")
            parts.append(sim.assign(web=w, tier=t))
    out = pd.concat(parts).sort_index()
    out.attrs["time_unit"] = "W"
    return out


def worker(spec: dict) -> dict:
    summary = simulate(spec["size"], spec["seed"])
    case = spec["case"]
    if case.startswith("lifevalue"):
        from lifevalue.models import BetaGeo

        model = BetaGeo(purchase_covariates=["web", "tier"], dropout_covariates=["web"])
        method = case.split("-")[1]
        _, m = measure(lambda: model.fit(summary, method=method, random_seed=1))
        est = model.point_estimate()
        m["effects"] = {k: est[k] for k in EFFECTS}
        return m
    from pymc_marketing.clv import BetaGeoModel

    from lifevalue.models import BetaGeo

    df = summary.reset_index()
    model = BetaGeoModel(model_config={"purchase_covariate_cols": ["web", "tier"],
                                       "dropout_covariate_cols": ["web"]})
    if case == "pymc-marketing-map":
        _, m = measure(lambda: model.fit(df, method="map", progressbar=False))
    else:
        kw = dict(chains=BetaGeo.default_chains, draws=BetaGeo.default_draws,
                  tune=BetaGeo.default_tune)
        _, m = measure(lambda: model.fit(df, method="mcmc", nuts_sampler="nutpie",
                                         random_seed=1, progressbar=False, cores=2, **kw),
                       track_children=True)
    post = model.fit_result
    names = {"alpha[web]": ("purchase_coefficient_alpha", "web"),
             "alpha[tier]": ("purchase_coefficient_alpha", "tier"),
             "a[web]": ("dropout_coefficient_a", "web"),
             "b[web]": ("dropout_coefficient_b", "web")}
    m["effects"] = {}
    for ours, (var, col) in names.items():
        da = post[var]
        dim = next(d for d in da.dims if d not in ("chain", "draw"))
        m["effects"][ours] = float(da.sel({dim: col}).mean())
    return m


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--cap", type=float, default=900.0, help="seconds per case")
    parser.add_argument("--seed", type=int, default=2007)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    print(f"BG/NBD with covariates, {git_state()}; true effects {EFFECTS}")
    header = ("| customers | case | seconds | peak MB | vs lifevalue | "
              + " | ".join(EFFECTS) + " |")
    print(header + "\n|" + "---|" * (5 + len(EFFECTS)))
    for size in args.sizes:
        rows = {}
        for case in args.cases:
            res = run_worker(Path(__file__), {"size": size, "seed": args.seed, "case": case},
                             args.cap)
            res["cap"] = args.cap
            rows[case] = res
            ref = rows.get("lifevalue-" + ("map" if case.endswith("map") else "mcmc"))
            vs = ratio(res, ref) if not case.startswith("lifevalue") else ""
            if res["status"] == "ok":
                cells = [f"{res['seconds']:.2f}", f"{res['peak_mb']:.0f}", vs] + [
                    f"{res['effects'][k]:.3f}" for k in EFFECTS]
            else:
                cells = [res["status"] + (f" ({res.get('reason')})" if res.get("reason")
                                          else ""), "", vs] + [""] * len(EFFECTS)
            print(f"| {size:,} | {case} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
