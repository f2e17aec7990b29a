"""Benchmark per-customer customer-value (CLV) scoring: lifevalue against pymc-marketing.

Both libraries score the same simulated customers with the same posterior draws over 12
monthly periods at a 10% annual discount rate:

``lifevalue``
    ``CustomerValue(bg, gg, period="M", horizon=12, annual_discount_rate=0.1, margin=1.0,
    max_draws=DRAWS).evaluate(summary, "neutral")``: per customer the mean, the parameter
    interval and the predictive interval (a simulation of each customer's future per
    draw) of current and potential value, the relationship-matrix probabilities and the
    base totals. With the ``"neutral"`` potential scenario, current and potential are
    the same computation done twice.
``pymc-marketing``
    pymc-marketing 1.3.0's
    ``GammaGammaModel.expected_customer_lifetime_value(bg, data, future_t=12,
    discount_rate=1.1 ** (1 / 12) - 1, time_unit="W")`` (the method that wraps
    ``pymc_marketing.clv.utils.customer_lifetime_value`` after computing the
    posterior-mean spend), followed by the mean and the 5% / 95% quantiles over the
    draws of each customer's value: pymc-marketing's parameter interval. pymc-marketing
    has no predictive interval of CLV, so this case does less work than lifevalue's.
    Its monthly steps are 30.4375 / 7 = 4.348 weeks, as lifevalue's (365.25 / 12 / 7).

The simulated customers, with the CDNOW estimates of Fader, Hardie & Lee (2005) in
weeks at daily resolution:

* BG/NBD (:func:`lifevalue.models.simulation.simulate_bgnbd`) with ``r=0.243,
  alpha=4.414, a=0.793, b=2.426``; ``T`` whole days uniform on 7..546, divided by 7;
  recency floored to whole days (then divided by 7);
* mean spend of the repeat purchases from Gamma-Gamma
  (:func:`lifevalue.models.simulation.simulate_gamma_gamma`) with ``p=6.25, q=3.74,
  gamma=15.44``.

Nothing is fitted. The posterior is ``--draws`` draws (2 chains of ``draws / 2``) around
those true values: each parameter times a lognormal jitter with sd 0.05 (seeded), drawn
once and saved, so both libraries score the very same draws. lifevalue's models are
``BetaGeo.from_params(TRUE, time_unit="W")`` and ``GammaGamma.from_params(...)`` with
``idata_`` replaced by an ``xarray.DataTree`` holding the draws in its ``posterior``
group (ArviZ 1's ``az.from_dict({"posterior": ...})``); pymc-marketing's
``BetaGeoModel`` (``alpha, r, a, b``) and ``GammaGammaModel`` (``p, q, v``, ``v`` being
lifevalue's ``gamma``) are built with ``build_model(data)`` (not timed; the
Gamma-Gamma one on the repeat customers) and get the same draws as ``idata``.

Each case runs in a fresh Python process (so peak memory is per case): the worker loads
the inputs and imports its library (not timed; lifevalue also scores 256 customers first,
so that numba's one-off compilation in a new environment is not timed), then times the
scoring call alone with
:func:`time.perf_counter`. Peak RSS is the worker's ``VmHWM`` after a reset just before
the call (see ``bench/_common.py``): it includes what was already resident (libraries,
inputs). A worker that runs past ``--cap-seconds`` (start-up included) is killed and
reported as over the cap; with ``--mem-limit-gb`` (default: 80% of the machine's memory)
each worker's address space is limited so that running out of memory fails the case
with a ``MemoryError`` (reported) instead of calling the kernel's OOM killer. Nothing is
skipped silently. The table also shows the CPU time of the call (user + system, from
``bench/_common.py``; on a machine shared with other work it is steadier than the wall
clock, as all the scoring here is single-threaded NumPy/SciPy) and the 1-minute load
average before and after each case: above the CPU count, other work was competing.

A second table compares the two libraries' answers where both ran: the base total of
the per-customer mean values and the median relative difference per customer.

Run it from the repository root with lifevalue's environment::

    .venv/bin/python bench/bench_value.py --sizes 10000 100000 1000000

(``make bench`` installs the benchmark extras ``.[dev,bench]``, pymc-marketing included,
and runs it so.) The pymc-marketing case runs under ``--peer-python`` (default: the same
interpreter); point it at another environment if ``.venv`` has no pymc-marketing, e.g.
``--peer-python /tmp/benchvenv/bin/python``; without pymc-marketing the case is reported
as failed. Other options: ``--cases`` (``lifevalue``, ``pymc-marketing``), ``--draws``
(default 1000, even), ``--cap-seconds`` (per case, default 1800), ``--seed``
(simulation and draws), ``--tmpdir`` (folder for the inputs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from _common import measure, ratio, run_worker

# CDNOW estimates (Fader, Hardie & Lee 2005a, b), BG/NBD rate scale in weeks
TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
#: MBG/NBD maximum-likelihood estimates on the CDNOW sample (lifevalue's and lifetimes'
#: ModifiedBetaGeoFitter agree), for ``--model mbgnbd``: the same customers, valued
#: with the MBG/NBD
TRUE_MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
#: Pareto/NBD estimates on the CDNOW sample (Fader, Hardie & Lee 2005a), for ``--model
#: paretonbd``: the same customers, valued with the Pareto/NBD
TRUE_PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
#: the transaction models that can be valued: name -> (lifevalue class, lifetimes class,
#: pymc-marketing class, the prefix of their draws in the inputs)
MODELS = {"bgnbd": ("BetaGeo", "BetaGeoFitter", "BetaGeoModel", ""),
          "mbgnbd": ("ModifiedBetaGeo", "ModifiedBetaGeoFitter", "ModifiedBetaGeoModel",
                     "mbg_"),
          "paretonbd": ("ParetoNBD", "ParetoNBDFitter", "ParetoNBDModel", "pnbd_")}
T_DAYS = (7, 546)
JITTER_SD = 0.05
HORIZON = 12
ANNUAL_RATE = 0.10
CI = 0.9

CASES = {"lifevalue": "lifevalue (current + neutral potential)",
         "lifevalue-realistic": "lifevalue (current + realistic potential)",
         "lifevalue-first-call": "lifevalue first call, empty compile cache",
         "pymc-marketing": "pymc-marketing"}
#: how finely T and recency are recorded: whole days (the project's own benchmark data)
#: or 0.01 week (timestamps): nearly every customer then has an (x, T) of their own
RESOLUTIONS = {"day": "T in days", "continuous": "T to 0.01 week"}
#: the potential scenario each lifevalue case scores
POTENTIAL = {"lifevalue": "neutral", "lifevalue-realistic": "realistic",
             "lifevalue-first-call": "realistic"}


# --------------------------------------------------------------------------- inputs


def simulate(n: int, seed: int, resolution: str = "day"):
    """``n`` customers' RFM summary in weeks, with monetary value: T and recency in whole
    days (``"day"``) or to 0.01 week (``"continuous"``, as timestamps give)."""
    from lifevalue.models.simulation import simulate_bgnbd, simulate_gamma_gamma

    rng = np.random.default_rng(seed)
    T = rng.integers(T_DAYS[0], T_DAYS[1] + 1, n).astype("float64") / 7.0
    if resolution == "continuous":
        T = np.round(rng.uniform(T_DAYS[0], T_DAYS[1], n) / 7.0, 2)
    s = simulate_bgnbd(n, TRUE_BG["r"], TRUE_BG["alpha"], TRUE_BG["a"], TRUE_BG["b"], T,
                       rng=rng)
    if resolution == "continuous":
        s["recency"] = np.minimum(np.round(s["recency"].to_numpy(), 2), s["T"].to_numpy())
    else:
        s["recency"] = np.floor(s["recency"].to_numpy() * 7.0 + 1e-9) / 7.0
    s["monetary_value"] = simulate_gamma_gamma(s["frequency"].to_numpy(), TRUE_GG["p"],
                                               TRUE_GG["q"], TRUE_GG["gamma"], rng=rng)
    s.attrs["time_unit"] = "W"
    return s


def posterior_draws(draws: int, seed: int) -> dict[str, np.ndarray]:
    """Draws of every parameter, shape ``(2, draws / 2)``: true value x lognormal jitter
    (the MBG/NBD's under the prefix ``mbg_``)."""
    rng = np.random.default_rng([seed, draws])
    mbg = {f"mbg_{k}": val for k, val in TRUE_MBG.items()}
    pnbd = {f"pnbd_{k}": val for k, val in TRUE_PNBD.items()}
    return {k: val * rng.lognormal(0.0, JITTER_SD, (2, draws // 2))
            for k, val in {**TRUE_BG, **TRUE_GG, **mbg, **pnbd}.items()}


def _true(model: str) -> dict[str, float]:
    return {"bgnbd": TRUE_BG, "mbgnbd": TRUE_MBG, "paretonbd": TRUE_PNBD}[model]


def write_inputs(path: Path, summary, post: dict[str, np.ndarray]) -> None:
    """One ``.npz`` per size: the summary's columns and the posterior draws."""
    np.savez(path, customer_id=summary.index.to_numpy(),
             **{c: summary[c].to_numpy() for c in ("frequency", "recency", "T",
                                                     "monetary_value")},
             **{f"post_{k}": a for k, a in post.items()})


def make_inputs(tmp: Path, size: int, draws: int, seed: int, resolution: str) -> Path:
    """Write (once) and return the inputs of ``size`` customers at ``resolution``."""
    path = Path(tmp) / f"value-inputs-{resolution}-{size}-{draws}.npz"
    if not path.exists():
        write_inputs(path, simulate(size, seed, resolution), posterior_draws(draws, seed))
    return path


def _load(path: str):
    with np.load(path) as f:
        cols = {k: f[k] for k in ("customer_id", "frequency", "recency", "T",
                                  "monetary_value")}
        post = {k[5:]: f[k] for k in f.files if k.startswith("post_")}
    return cols, post


# --------------------------------------------------------------------------- one case


def _lifetimes_seconds(cols, model: str = "bgnbd") -> float:
    """lifetimes 0.11.3's point CLV (``GammaGammaFitter.customer_lifetime_value`` at the
    true values, 12 months at the same monthly rate) on the same customers, in this
    process: the best of three runs."""
    import lifetimes
    import pandas as pd
    from lifetimes import GammaGammaFitter

    bgf = getattr(lifetimes, MODELS[model][1])()
    bgf.params_ = pd.Series(_true(model))
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # as fit sets it
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series({"p": TRUE_GG["p"], "q": TRUE_GG["q"], "v": TRUE_GG["gamma"]})
    args = [pd.Series(cols[k]) for k in ("frequency", "recency", "T", "monetary_value")]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        ggf.customer_lifetime_value(bgf, *args, time=HORIZON,
                                    discount_rate=(1.0 + ANNUAL_RATE) ** (1 / 12) - 1.0,
                                    freq="W")
        best = min(best, time.perf_counter() - t0)
    return best


def lifevalue_inputs(cols, post, model: str = "bgnbd"):
    """The summary frame of the inputs and lifevalue's transaction model (``BetaGeo``,
    ``ModifiedBetaGeo`` or ``ParetoNBD``) and ``GammaGamma`` holding the saved draws (not
    fitted)."""
    import arviz as az
    import pandas as pd

    from lifevalue import models as lm
    from lifevalue.models import GammaGamma

    summary = pd.DataFrame({k: cols[k] for k in ("frequency", "recency", "T",
                                                  "monetary_value")},
                           index=pd.Index(cols["customer_id"], name="customer_id"))
    summary.attrs["time_unit"] = "W"
    models = []
    prefix = MODELS[model][3]
    for cls, names, pre in ((getattr(lm, MODELS[model][0]), _true(model), prefix),
                            (GammaGamma, TRUE_GG, "")):
        fitted = cls.from_params(names, time_unit="W")
        # ArviZ 1: a DataTree with a posterior group
        fitted.idata_ = az.from_dict({"posterior": {k: post[pre + k] for k in names}})
        models.append(fitted)
    return summary, models


def _lifevalue(cols, post, draws, case="lifevalue", model="bgnbd"):
    from lifevalue.value.customer_value import CustomerValue

    summary, models = lifevalue_inputs(cols, post, model)
    cv = CustomerValue(*models, period="M", horizon=HORIZON,
                       annual_discount_rate=ANNUAL_RATE, margin=1.0, ci=CI, max_draws=draws)
    potential = POTENTIAL[case]
    if case != "lifevalue-first-call":
        # compile the kernels (cached on disk after the first run in an environment) on a
        # few customers, untimed: the timing is that of a warm scoring run
        cv.evaluate(summary.iloc[:256], potential)

    def call():
        return cv.evaluate(summary, potential)

    def results(res):
        extra = {"columns": len(res.customers.columns)}
        if case == "lifevalue":
            extra["lifetimes_seconds"] = _lifetimes_seconds(cols, model)
        return res.customers["current_mean"].to_numpy(), extra

    return call, results


def _pymc_marketing(cols, post, draws, model="bgnbd"):
    import arviz as az
    import pandas as pd
    from pymc_marketing import clv

    data = pd.DataFrame(cols)
    bg = getattr(clv, MODELS[model][2])()
    bg.build_model(data[["customer_id", "frequency", "recency", "T"]])
    pre = MODELS[model][3]
    bg.idata = az.from_dict({"posterior": {k: post[pre + k] for k in _true(model)}})
    gg = clv.GammaGammaModel()
    gg.build_model(data.loc[data["frequency"] > 0,
                            ["customer_id", "frequency", "monetary_value"]]
                   .reset_index(drop=True))
    gg.idata = az.from_dict({"posterior": {"p": post["p"], "q": post["q"],
                                           "v": post["gamma"]}})
    monthly_rate = (1.0 + ANNUAL_RATE) ** (1.0 / 12.0) - 1.0
    lo, hi = (1.0 - CI) / 2.0, (1.0 + CI) / 2.0

    def call():
        clv = gg.expected_customer_lifetime_value(
            transaction_model=bg, data=data.copy(), future_t=HORIZON,
            discount_rate=monthly_rate, time_unit="W")
        mean = clv.mean(("chain", "draw"))
        q = clv.quantile([lo, hi], dim=("chain", "draw"))
        return mean, q

    def results(res):
        return np.asarray(res[0].values), {"columns": 3}

    return call, results


def _limit_memory(gb: float) -> None:
    if gb > 0:
        limit = int(gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker(spec: dict) -> dict:
    """Run one case in this (fresh) process and return its measurements."""
    import warnings

    warnings.simplefilter("ignore")
    _limit_memory(spec["mem_limit_gb"])
    if spec.get("numba_cache_dir"):  # an empty cache: numba compiles as in a new environment
        os.environ["NUMBA_CACHE_DIR"] = spec["numba_cache_dir"]
    cols, post = _load(spec["data"])
    if spec["case"].startswith("lifevalue"):
        call, results = _lifevalue(cols, post, spec["draws"], spec["case"],
                                   spec.get("model", "bgnbd"))
    else:
        call, results = _pymc_marketing(cols, post, spec["draws"], spec.get("model", "bgnbd"))
    out, measured = measure(call)
    means, extra = results(out)
    np.save(spec["out"], np.asarray(means, dtype="float64"))
    return {**measured, **extra, "total_mean": float(np.sum(means))}


# --------------------------------------------------------------------------- report


def table(rows: list[dict]) -> str:
    out = ["| size | case | seconds | peak RSS MB | ratio (pymc-marketing s / lifevalue s) "
           "| CPU s | CPU ratio | load avg (1 min) before / after |",
           "|---:|:---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cpu = r.get("cpu_seconds")
        cpu = "-" if cpu is None else f"{cpu:.1f}"
        if r["status"] == "ok":
            seconds, peak = f"{r['seconds']:.2f}", f"{r['peak_mb']:.0f}"
        elif r["status"] == "over cap":
            seconds, peak = f"over cap (> {r['cap']:g} s)", "-"
        else:
            seconds, peak = f"failed: {r['reason']}", "-"
        after = r.get("load1")
        load = f"{r['load_before']:.2f} / " + ("-" if after is None else f"{after:.2f}")
        ref = next((x for x in rows if x["size"] == r["size"] and x["case"] == "lifevalue"),
                   None) if r["case"] == "pymc-marketing" else None
        out.append(f"| {r['size']:,} | {CASES[r['case']]} | {seconds} | {peak} "
                   f"| {ratio(r, ref, digits=2, unit='')} | {cpu} "
                   f"| {ratio(r, ref, 'cpu_seconds', digits=2, unit='')} | {load} |")
    return "\n".join(out)


def agreement_table(rows: list[dict]) -> str:
    out = ["| size | lifevalue base total | pymc-marketing base total "
           "| median per-customer relative difference |", "|---:|---:|---:|---:|"]
    for size in dict.fromkeys(r["size"] for r in rows):
        got = {r["case"]: r for r in rows if r["size"] == size and r["status"] == "ok"}
        if not {"lifevalue", "pymc-marketing"} <= set(got):
            continue
        lv, pm = (np.load(got[c]["out"]) for c in ("lifevalue", "pymc-marketing"))
        rel = np.abs(pm - lv) / np.maximum(np.abs(lv), 1e-12)
        out.append(f"| {size:,} | {got['lifevalue']['total_mean']:,.0f} "
                   f"| {got['pymc-marketing']['total_mean']:,.0f} | {np.median(rel):.2%} |")
    return "\n".join(out) if len(out) > 2 else ""


def _versions(python: str) -> str:
    names = ["lifevalue", "numpy", "scipy", "arviz", "pymc", "pymc-marketing", "xarray"]
    if python == sys.executable:
        found = []
        for name in names:
            try:
                found.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                found.append(f"{name} (not installed)")
        return ", ".join(found)
    code = ("from importlib import metadata as m\n"
            f"for n in {names!r}:\n"
            "    try: print(n, m.version(n))\n"
            "    except m.PackageNotFoundError: print(n, '(not installed)')\n")
    try:
        text = subprocess.run([python, "-c", code], capture_output=True, text=True,
                              timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unknown ({err})"
    return ", ".join(text.strip().splitlines())


def _default_mem_limit_gb() -> float:
    try:
        return 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError):
        return 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="numbers of customers (default: 10000 100000 1000000)")
    parser.add_argument("--draws", type=int, default=1000,
                        help="posterior draws, 2 chains of draws/2 (default: 1000)")
    parser.add_argument("--cap-seconds", type=float, default=1800.0,
                        help="wall-clock cap per case (default: 1800)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES),
                        default=["lifevalue", "pymc-marketing"])
    parser.add_argument("--resolution", choices=list(RESOLUTIONS), default="day",
                        help="T in whole days (default) or to 0.01 week")
    parser.add_argument("--peer-python", default=sys.executable,
                        help="interpreter with pymc-marketing (default: this one)")
    parser.add_argument("--mem-limit-gb", type=float, default=_default_mem_limit_gb(),
                        help="address-space limit per worker in GB (default: 80%% of the "
                             "machine's memory; 0: none)")
    parser.add_argument("--model", choices=list(MODELS), default="bgnbd",
                        help="transaction model both libraries value with (default: bgnbd; "
                             "mbgnbd, paretonbd: the MBG/NBD or Pareto/NBD at its CDNOW "
                             "estimates, same customers)")
    parser.add_argument("--seed", type=int, default=2005, help="simulation and draws seed")
    parser.add_argument("--tmpdir", default=None, help="folder for the inputs")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.draws < 2 or args.draws % 2:
        parser.error("--draws must be an even number >= 2 (two chains)")

    import lifevalue

    print(f"{platform.platform()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs\nlifevalue side: {_versions(sys.executable)}\n"
          f"lifevalue imported from {Path(lifevalue.__file__).parent}", flush=True)
    if "pymc-marketing" in args.cases:
        print(f"pymc-marketing side ({args.peer_python}): {_versions(args.peer_python)}",
              flush=True)
    limit = f"{args.mem_limit_gb:.1f} GB" if args.mem_limit_gb > 0 else "none"
    print(f"transaction model {MODELS[args.model][0]}; "
          f"{args.draws} draws, {HORIZON} monthly periods, {ANNUAL_RATE:.0%} a year, "
          f"cap {args.cap_seconds:g} s, memory limit per worker {limit}", flush=True)
    post = posterior_draws(args.draws, args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lifevalue-bench-", dir=args.tmpdir) as tmp:
        for size in args.sizes:
            t0 = time.perf_counter()
            summary = simulate(size, args.seed, args.resolution)
            data = Path(tmp) / f"inputs-{size}.npz"
            write_inputs(data, summary, post)
            n_rep = int((summary["frequency"] > 0).sum())
            print(f"\n{size:,} customers ({n_rep:,} repeat), simulated in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            del summary
            for case in args.cases:
                spec = {"case": case, "data": str(data), "draws": args.draws,
                        "model": args.model,
                        "mem_limit_gb": args.mem_limit_gb,
                        "out": str(Path(tmp) / f"means-{case}-{size}.npy")}
                if case == "lifevalue-first-call":
                    spec["numba_cache_dir"] = tempfile.mkdtemp(dir=tmp)
                load = os.getloadavg()[0]
                python = args.peer_python if case == "pymc-marketing" else sys.executable
                result = {"size": size, "case": case, "cap": args.cap_seconds,
                          "load_before": load, "out": spec["out"],
                          **run_worker(__file__, spec, args.cap_seconds, python=python)}
                if result["status"] == "ok":
                    shown = f"{result['seconds']:.2f} s, peak {result['peak_mb']:.0f} MB"
                elif result["status"] == "over cap":
                    shown = f"over cap (> {args.cap_seconds:g} s)"
                else:
                    shown = f"failed: {result['reason']}"
                print(f"  {CASES[case]:<16} {shown} (load before {load:.2f})", flush=True)
                rows.append(result)
        print("\n" + table(rows))
        agree = agreement_table(rows)
        if agree:
            print("\nAgreement of the per-customer mean values (same draws):\n\n" + agree)
    if any(r["status"] == "ok" and not r["peak_reset"] for r in rows):
        print("\nNote: peak RSS is the whole-process ru_maxrss where VmHWM could not be reset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
