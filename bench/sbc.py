"""Simulation-based calibration (SBC) of BetaGeo's population posterior.

Talts, Betancourt, Simpson, Vehtari & Gelman (2018), "Validating Bayesian inference
algorithms with simulation-based calibration": draw the parameters from the prior,
simulate a data set from the model, fit it, and record the rank of the true value among
L posterior draws. If the likelihood, the prior and the sampler are right, each rank is
uniform on 0..L, whatever the prior. A bug in the likelihood (or a sampler that does not
reach the posterior) bends the rank histogram: a U shape for too narrow posteriors, a
hump for too wide ones, a slope for a bias.

What runs, and why it is honest:

* the prior is a proper, moderately informative one passed as the user's ``priors=``
  (the vague defaults would simulate absurd populations);
* each data set is simulated by an independent, plain re-implementation of the
  BG/NBD story (FHL 2005a, section 2): per customer lambda ~ Gamma(r, alpha), p ~
  Beta(a, b), exponential gaps between purchases, a coin with probability p after each
  purchase, observed up to T. It shares no code with lifevalue's likelihood or its
  per-customer simulator;
* every fit is lifevalue's own ``BetaGeo.fit(method="mcmc")``: PyMC's NUTS on the
  compressed likelihood, started at the MAP, one chain (tune + draws per the options),
  thinned to L draws to cut autocorrelation before ranking (Talts et al., section 5.1).

Small data sets (default 200 customers) keep a replication at a few seconds; the check
does not need big data, it needs many replications. The result is a chi-square test of
the rank histogram (10 bins) per parameter, and the share of fits with divergences or a
low ESS.

Run (about 12-15 CPU minutes on a 2-core machine at the defaults)::

    .venv/bin/python bench/sbc.py --reps 200 --out reports/sbc.csv
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

#: The SBC prior (PyMC Gamma(alpha=shape, beta=rate)): populations like CDNOW's, in
#: weeks: r around 0.5, alpha around 4 weeks, a around 1, b around 4.
PRIOR = {
    "r": {"dist": "Gamma", "alpha": 4.0, "beta": 8.0},
    "alpha": {"dist": "Gamma", "alpha": 4.0, "beta": 1.0},
    "a": {"dist": "Gamma", "alpha": 4.0, "beta": 4.0},
    "b": {"dist": "Gamma", "alpha": 4.0, "beta": 1.0},
}
PARAMS = ("r", "alpha", "a", "b")


def draw_prior(rng) -> dict[str, float]:
    return {k: float(rng.gamma(PRIOR[k]["alpha"], 1.0 / PRIOR[k]["beta"])) for k in PARAMS}


def simulate_summary(theta: dict[str, float], n: int, rng, t_min=20.0, t_max=52.0
                     ) -> pd.DataFrame:
    """An RFM summary of ``n`` customers simulated from the BG/NBD story.

    Customers were acquired at different times: T ~ Uniform(t_min, t_max) weeks.
    """
    lam = rng.gamma(theta["r"], 1.0 / theta["alpha"], n)
    p = rng.beta(theta["a"], theta["b"], n)
    T = np.round(rng.uniform(t_min, t_max, n) * 7.0) / 7.0  # whole days, in weeks
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i]) if lam[i] > 0 else np.inf
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:  # drops out right after this purchase
                break
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T})


def one_replication(seed: int, n_customers: int, draws: int, tune: int, n_ranks: int
                    ) -> dict:
    from lifevalue.models import BetaGeo

    rng = np.random.default_rng([20180418, seed])
    theta = draw_prior(rng)
    summary = simulate_summary(theta, n_customers, rng)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning is recorded below instead
        model = BetaGeo(priors=PRIOR).fit(summary, draws=draws, tune=tune, chains=1,
                                          random_seed=seed)
    post = model.draws()
    keep = np.linspace(0, len(post["r"]) - 1, n_ranks).round().astype(int)
    row = {"seed": seed, "seconds": time.perf_counter() - start,
           "repeaters": int((summary["frequency"] > 0).sum()),
           "divergences": model.diagnostics_.get("divergences", 0),
           "ess_bulk_min": model.diagnostics_.get("ess_bulk_min", np.nan),
           "ess_tail_min": model.diagnostics_.get("ess_tail_min", np.nan)}
    for k in PARAMS:
        row[f"true_{k}"] = theta[k]
        row[f"rank_{k}"] = int((post[k][keep] < theta[k]).sum())  # 0..n_ranks
    return row


def uniformity(ranks: np.ndarray, n_ranks: int, bins: int = 10) -> dict:
    """Chi-square test that ranks 0..n_ranks are uniform, on ``bins`` equal bins."""
    edges = np.linspace(-0.5, n_ranks + 0.5, bins + 1)
    counts, _ = np.histogram(ranks, bins=edges)
    chi2, p = stats.chisquare(counts)
    return {"counts": counts.tolist(), "chi2": float(chi2), "p_value": float(p)}


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--ranks", type=int, default=99,
                        help="L: posterior draws (thinned evenly) each rank is taken among")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("reports/sbc.csv"))
    args = parser.parse_args(argv)
    if args.ranks > args.draws:
        parser.error("--ranks must not exceed --draws")

    import logging

    logging.getLogger("pymc").setLevel(logging.ERROR)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    done = pd.read_csv(args.out) if args.out.exists() else None
    seeds = range(args.first_seed, args.first_seed + args.reps)
    if done is not None:  # resume an interrupted run
        rows = done.to_dict("records")
        seeds = [s for s in seeds if s not in set(done["seed"])]
    start = time.perf_counter()
    for i, seed in enumerate(seeds):
        rows.append(one_replication(seed, args.customers, args.draws, args.tune, args.ranks))
        pd.DataFrame(rows).to_csv(args.out, index=False)
        if (i + 1) % 10 == 0:
            print(f"{len(rows)} replications, {time.perf_counter() - start:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    print(f"\nSBC of BetaGeo: {len(table)} replications of {args.customers} customers, "
          f"NUTS 1 chain x ({args.tune} tune + {args.draws} draws), ranks among "
          f"{args.ranks} thinned draws; {table['seconds'].sum():.0f} s of fitting")
    tail = table["ess_tail_min"].median() if "ess_tail_min" in table else np.nan
    print(f"fits with divergences: {(table['divergences'] > 0).mean():.1%}; median bulk ESS "
          f"{table['ess_bulk_min'].median():.0f}, median tail ESS {tail:.0f}")
    for k in PARAMS:
        res = uniformity(table[f"rank_{k}"].to_numpy(), args.ranks)
        print(f"{k:>5}: chi-square p = {res['p_value']:.3f}  rank histogram {res['counts']}")
    return table


if __name__ == "__main__":
    main()
