"""Benchmark fitting lifevalue's BetaGeo and GammaGamma against lifetimes and pymc-marketing.

The same simulated customers, per size, are fitted by:

``lifevalue-map``
    ``BetaGeo().fit(summary, method="map")`` and ``GammaGamma().fit(summary, method="map")``;
``lifevalue-laplace``
    ``fit(summary, method="laplace", random_seed=1)`` with lifevalue's default draws and
    chains: Laplace proposal at the mode corrected by Pareto-smoothed importance
    sampling, the proposals (likelihood evaluations) resampled to ``chains x draws``
    draws (falls back to NUTS when k-hat > 0.7; the table's k-hat column says which);
``lifevalue-mcmc-pymc``, ``lifevalue-mcmc-nutpie``, ``lifevalue-mcmc-compiled``
    ``fit(summary, method="mcmc", sampler=S, random_seed=1)`` with lifevalue's default
    ``chains``, ``tune`` and ``draws`` (see "MCMC settings" below) and ``S`` =
    ``"pymc"``, ``"nutpie"`` (both on the PyMC model) or ``"compiled"`` (nutpie's NUTS
    on lifevalue's numba kernels, whitened at the mode); the row also records the mean
    number of leapfrog steps (gradient evaluations) per draw after tuning,
    ``n_steps_mean``;
``lifetimes``
    lifetimes 0.11.3: ``BetaGeoFitter().fit(frequency, recency, T)`` on all customers and
    ``GammaGammaFitter().fit(frequency, monetary_value)`` on the repeat customers;
``pymc-marketing-map``
    pymc-marketing 1.3.0: ``pymc_marketing.clv.BetaGeoModel().fit(df, method="map",
    progressbar=False)`` (``df`` with columns ``customer_id, frequency, recency, T``;
    ``pymc.find_MAP``) and ``GammaGammaModel().fit(df, method="map", ...)`` (repeat
    customers, columns ``customer_id, frequency, monetary_value``), with
    pymc-marketing's default priors (BG/NBD: ``a`` and ``b`` are deterministics of
    ``phi_dropout`` and ``kappa_dropout``);
``pymc-marketing-mcmc-pymc``, ``pymc-marketing-mcmc-nutpie``
    the same models with ``fit(df, method="mcmc", chains=C, draws=D, tune=T,
    random_seed=1, progressbar=False, nuts_sampler=S, cores=min(C, os.cpu_count()))``:
    the same ``C, T, D`` as lifevalue's fit of that model, ``S = "pymc"`` (PyMC's own
    NUTS) or ``"nutpie"``, and ``cores`` as lifevalue passes (PyMC's own default, half
    the CPU count, would run chains one after the other on two CPUs). ``nuts_sampler``
    is always passed: PyMC 6 runs nutpie when it is installed and ``nuts_sampler`` is
    left out, so "PyMC's default" would be nutpie, not PyMC's NUTS.

In pymc-marketing 1.x the constructor takes no data: ``fit(data)`` builds the model
(``build_model(data)``) and samples, and returns the ``xarray.DataTree`` it also keeps
as ``model.idata``; the ``fit`` call is what is timed, model building included.

MCMC settings: without ``--chains``, ``--tune`` or ``--draws`` every MCMC fit (lifevalue's
and the peers') runs lifevalue's defaults for that model, read when the run starts from
``fit``'s signature and, where a default there is None, from the model class's
``default_chains``, ``default_tune`` and ``default_draws`` (``BaseModel`` in
``src/lifevalue/models/base.py``: 4 chains of 500 tuning steps and 500 draws when this
was written), so that the benchmark follows the library when they change; lifevalue's own
cases leave the unset ones out of the ``fit`` call. Each row records the chains and
draws per chain its posterior has.

Each fit of each model is a case that runs in a fresh Python process: the worker loads
the summary from a Parquet file and imports its library (neither is timed), then times
the ``fit`` call alone with :func:`time.perf_counter`: model building and compilation
included, and for lifevalue's MCMC the MAP that initialises the chains. Peak memory is
measured as described in ``bench/_common.py``: the worker's ``VmHWM`` after a reset just
before the call, or the sampled resident-set sum of the worker and its child processes
(PyMC runs chains in child processes) where that is larger. The table also shows each
library's MCMC diagnostics over its population parameters: the largest rank-normalised
r-hat, the smallest bulk ESS, the smallest tail ESS (5% and 95% quantiles) and the number
of divergent transitions after tuning; lifevalue's come from ``model.diagnostics_`` (tail
ESS computed here where it has none), the peers' from ArviZ 1 (``arviz-stats``:
``az.rhat``, ``az.ess(method="bulk")``, ``az.ess(method="tail")``) on the posterior.
For ``lifevalue-laplace`` the bulk ESS column holds the effective sample size of the
importance weights and the k-hat column their Pareto k-hat (above 0.7 the fit fell back
to NUTS, whose r-hat and bulk and tail ESS are then shown). A peer's time is
divided by each of its lifevalue references in the run (pymc-marketing's MCMC by
lifevalue's MCMC with the same sampler and by lifevalue's Laplace fit). Each lifevalue
case records a hash of the lifevalue source it imported, and the report says so when they
differ (the package changed under a running benchmark).

A case's worker that runs longer than its cap (``--cap-seconds``, or
``--peer-cap-seconds`` for the lifetimes and pymc-marketing cases; start-up and input
load included) is killed, with the sampler processes it started, and reported as
over the cap; a case that fails (nutpie not installed, say) is reported with its error.
Nothing is skipped silently.

Before the timed runs every selected case is run once on a small simulation
(``--warmup-customers``, 2000 by default, 0 to skip; the timed run's chains of 100
tuning steps and 100 draws) and its result thrown
away, so that PyTensor's on-disk compilation cache is warm as it is on a machine that
has fitted once before: the timings are not those of a first-ever run.

The simulated customers, with the CDNOW estimates of Fader, Hardie & Lee (2005) in days:

* BG/NBD (:func:`lifevalue.models.simulation.simulate_bgnbd`) with ``r=0.243,
  alpha=4.414 * 7, a=0.793, b=2.426``; ``T`` whole days, uniform on 1..730; recency
  floored to whole days (daily resolution);
* mean spend of the repeat purchases from Gamma-Gamma
  (:func:`lifevalue.models.simulation.simulate_gamma_gamma`) with ``p=6.25, q=3.74,
  gamma=15.44`` (not rounded).

Besides wall-clock seconds the table shows the CPU time of the worker and of the
sampler processes it waited for ("CPU s"), and the one-minute load average when the
case ended ("load"): where the load exceeds the CPU count, something else competed for
the machine and the wall-clock times are inflated.

A second table lists each fit's estimates (posterior means after MCMC) against those
true values.

Run it from the repository root in an environment with the benchmark extras (``make
bench`` installs ``.[dev,bench]``)::

    .venv/bin/python bench/bench_models.py --sizes 100000 1000000

Options: ``--sizes`` (numbers of customers; default 100000 1000000), ``--cap-seconds``
(per case, default 900), ``--peer-cap-seconds`` (per lifetimes or pymc-marketing case;
default: ``--cap-seconds``), ``--cases`` (a subset of the names above), ``--models``
(``bgnbd``, ``gg``), ``--draws``/``--tune``/``--chains`` (per chain; default: lifevalue's
defaults, see above), ``--seed`` (simulation),
``--warmup-customers``, ``--tmpdir``, ``--json PATH`` (save the rows) and ``--render
PATH...`` (print the tables of saved rows, e.g. of runs with different caps, and run
nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from _common import add_mcmc_options, git_state, measure, ratio, run_worker

# CDNOW estimates (Fader, Hardie & Lee 2005a, b), BG/NBD rate scale in days
TRUE = {
    "bgnbd": {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426},
    "gg": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}
MAX_T_DAYS = 730
MCMC_SEED = 1

CASES = {
    "lifevalue-map": "lifevalue MAP",
    "lifevalue-laplace": "lifevalue Laplace+PSIS",
    "lifevalue-mcmc-pymc": "lifevalue MCMC, pymc",
    "lifevalue-mcmc-nutpie": "lifevalue MCMC, nutpie",
    "lifevalue-mcmc-compiled": "lifevalue MCMC, compiled kernels",
    "lifetimes": "lifetimes 0.11.3 (MLE)",
    "pymc-marketing-map": "pymc-marketing MAP",
    "pymc-marketing-mcmc-pymc": "pymc-marketing MCMC, pymc",
    "pymc-marketing-mcmc-nutpie": "pymc-marketing MCMC, nutpie",
}
#: Which lifevalue cases each peer's time is divided by (those in the run).
REFERENCE = {
    "lifetimes": ("lifevalue-map",),
    "pymc-marketing-map": ("lifevalue-map",),
    "pymc-marketing-mcmc-pymc": ("lifevalue-mcmc-pymc", "lifevalue-mcmc-compiled",
                                 "lifevalue-laplace"),
    "pymc-marketing-mcmc-nutpie": ("lifevalue-mcmc-nutpie", "lifevalue-mcmc-compiled",
                                   "lifevalue-laplace"),
}
MODELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "paretonbd": "Pareto/NBD",
          "gg": "Gamma-Gamma"}
#: Run by default; MBG/NBD and Pareto/NBD on request (``--models``), on the same
#: simulated BG/NBD customers (they have no true values there).
DEFAULT_MODELS = ("bgnbd", "gg")
#: Parameter names of the transaction models without true values.
PARAMS = {"mbgnbd": ("r", "alpha", "a", "b"), "paretonbd": ("r", "alpha", "s", "beta")}
#: lifevalue's class, lifetimes' fitter and pymc-marketing's model of each model.
CLASSES = {"bgnbd": ("BetaGeo", "BetaGeoFitter", "BetaGeoModel"),
           "mbgnbd": ("ModifiedBetaGeo", "ModifiedBetaGeoFitter", "ModifiedBetaGeoModel"),
           "paretonbd": ("ParetoNBD", "ParetoNBDFitter", "ParetoNBDModel"),
           "gg": ("GammaGamma", "GammaGammaFitter", "GammaGammaModel")}


# --------------------------------------------------------------------------- simulation


def simulate(n: int, seed: int):
    """``n`` customers' RFM summary in days: frequency, recency, T, monetary_value."""
    from lifevalue.models.simulation import simulate_bgnbd, simulate_gamma_gamma

    rng = np.random.default_rng(seed)
    T = rng.integers(1, MAX_T_DAYS + 1, n).astype("float64")
    bg = TRUE["bgnbd"]
    summary = simulate_bgnbd(n, bg["r"], bg["alpha"], bg["a"], bg["b"], T, rng=rng)
    summary["recency"] = np.floor(summary["recency"].to_numpy())
    gg = TRUE["gg"]
    summary["monetary_value"] = simulate_gamma_gamma(summary["frequency"].to_numpy(), gg["p"],
                                                     gg["q"], gg["gamma"], rng=rng)
    summary.attrs["time_unit"] = "D"
    return summary


# --------------------------------------------------------------------------- one case


def _mcmc_diagnostics(idata, names) -> dict:
    """r-hat, bulk and tail ESS, divergences, chains and draws of a fit's ``DataTree``."""
    import arviz as az

    post = idata["posterior"].to_dataset()[list(names)]
    rhat = az.rhat(post, method="rank")
    bulk = az.ess(post, method="bulk")
    tail = az.ess(post, method="tail")
    stats = idata["sample_stats"] if "sample_stats" in idata.children else None
    div = stats["diverging"] if stats is not None and "diverging" in stats.data_vars else None
    return {
        "rhat_max": max(float(rhat[n]) for n in names),
        "ess_bulk_min": min(float(bulk[n]) for n in names),
        "ess_tail_min": min(float(tail[n]) for n in names),
        "divergences": int(div.values.sum()) if div is not None else None,
        **_shape(idata),
    }


def _shape(idata) -> dict:
    """Chains and draws per chain of a fit's posterior."""
    post = idata["posterior"]
    return {"chains": int(post.sizes["chain"]), "draws": int(post.sizes["draw"])}


def _model_class(model: str):
    from lifevalue import models

    return getattr(models, CLASSES[model][0])


def mcmc_settings(model: str, *, draws: int | None = None, tune: int | None = None,
                  chains: int | None = None) -> dict:
    """``{"chains", "tune", "draws"}`` of an MCMC fit of ``model``: as given, else lifevalue's.

    lifevalue's defaults are read from its ``fit`` signature and, for a default of None,
    from the class's ``default_<name>`` (``default_chains``, ``default_tune``,
    ``default_draws``), so that this follows the library. Also ``"default_chains"``:
    lifevalue's own default number of chains.
    """
    import inspect

    cls = _model_class(model)
    params = inspect.signature(cls.fit).parameters

    def default(name):
        value = params[name].default if name in params else None
        if value is None or value is inspect.Parameter.empty:
            value = getattr(cls, f"default_{name}", None)
        if not isinstance(value, int):
            raise RuntimeError(f"cannot read lifevalue's default {name} for "
                               f"{cls.__name__}.fit; pass --{name}")
        return value

    given = {"chains": chains, "tune": tune, "draws": draws}
    out = {k: int(v) if v is not None else default(k) for k, v in given.items()}
    out["default_chains"] = default("chains")
    return out


def _lifevalue(spec, summary):
    model = _model_class(spec["model"])()
    # only the settings given: lifevalue's own defaults for the others
    given = {k: spec[k] for k in ("draws", "tune", "chains") if spec.get(k) is not None}
    if spec["case"] == "lifevalue-map":
        kwargs = {"method": "map"}
    elif spec["case"] == "lifevalue-laplace":
        kwargs = {"method": "laplace", **given, "random_seed": MCMC_SEED}
    else:
        kwargs = {"method": "mcmc", **given, "sampler": spec["case"].rsplit("-", 1)[1],
                  "random_seed": MCMC_SEED}

    def call():
        return model.fit(summary, **kwargs)

    def results(_):
        d = model.diagnostics_
        out = {k: d.get(k) for k in ("rhat_max", "ess_bulk_min", "divergences", "pareto_k",
                                     "importance_ess")}
        out["draws_from"] = model.metadata_.get("draws_from")
        idata = model.idata_
        if out["draws_from"] == "nuts":
            out["ess_tail_min"] = d.get("ess_tail_min")
            if out["ess_tail_min"] is None:  # a lifevalue without tail ESS in diagnostics_
                out["ess_tail_min"] = _mcmc_diagnostics(idata, model.param_names)[
                    "ess_tail_min"]
        if out["draws_from"] != "mode":
            out.update(_shape(idata))
        stats = idata["sample_stats"] if "sample_stats" in idata.children else None
        if stats is not None and "n_steps" in stats.data_vars:
            out["n_steps_mean"] = float(stats["n_steps"].mean())
        return {**out, "params": model.point_estimate(),
                "n_unique": model.metadata_["n_unique"]}

    return call, results


def _lifetimes(spec, summary):
    import lifetimes

    fitter = getattr(lifetimes, CLASSES[spec["model"]][1])()
    if spec["model"] != "gg":
        f, r, T = summary["frequency"], summary["recency"], summary["T"]

        def call():
            return fitter.fit(f, r, T)
    else:
        rep = summary[summary["frequency"] > 0]
        f, m = rep["frequency"], rep["monetary_value"]

        def call():
            return fitter.fit(f, m)

    def results(_):
        params = {("gamma" if k == "v" else k): float(v) for k, v in fitter.params_.items()}
        return {"params": params}

    return call, results


def _pymc_marketing(spec, summary):
    from pymc_marketing import clv

    frame = summary.rename_axis("customer_id").reset_index()
    model = getattr(clv, CLASSES[spec["model"]][2])()
    if spec["model"] != "gg":
        names = PARAMS.get(spec["model"], ("r", "alpha", "a", "b"))
        data = frame[["customer_id", "frequency", "recency", "T"]]
    else:
        names = ("p", "q", "v")
        data = frame.loc[frame["frequency"] > 0,
                         ["customer_id", "frequency", "monetary_value"]].reset_index(drop=True)
    if spec["case"] == "pymc-marketing-map":
        kwargs = {"method": "map", "progressbar": False}
    else:
        # the parent resolves the settings (lifevalue's defaults unless given); a spec
        # without them is resolved here, at the cost of importing lifevalue (untimed,
        # but resident: it would count in the peak RSS)
        mcmc = {k: spec.get(k) for k in ("draws", "tune", "chains")}
        if any(v is None for v in mcmc.values()):
            mcmc = mcmc_settings(spec["model"], **mcmc)
        kwargs = {"method": "mcmc", "draws": mcmc["draws"], "tune": mcmc["tune"],
                  "chains": mcmc["chains"], "random_seed": MCMC_SEED, "progressbar": False,
                  # always named: PyMC 6 picks nutpie by itself when it is installed
                  "nuts_sampler": "nutpie" if spec["case"].endswith("nutpie") else "pymc",
                  # as lifevalue does; PyMC's default, cpu_count() // 2, samples
                  # sequentially on a two-CPU machine
                  "cores": min(mcmc["chains"], os.cpu_count() or 1)}

    def call():
        # pymc-marketing 1.x: data go to fit(), which builds the model; a DataTree back
        return model.fit(data, **kwargs)

    def results(idata):
        post = idata["posterior"]
        params = {("gamma" if n == "v" else n): float(post[n].mean()) for n in names}
        out = {"params": params}
        if kwargs["method"] == "mcmc":
            out.update(_mcmc_diagnostics(idata, names))
        return out

    return call, results


def _lifevalue_digest() -> str:
    """A short hash of the imported lifevalue package's Python files."""
    import hashlib

    import lifevalue

    digest = hashlib.sha256()
    for path in sorted(Path(lifevalue.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def worker(spec: dict) -> dict:
    """Run one case in this (fresh) process and return its measurements."""
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    digest = _lifevalue_digest() if spec["case"].startswith("lifevalue") else None
    summary = pd.read_parquet(spec["data"])
    summary.attrs["time_unit"] = "D"
    if spec["case"].startswith("lifevalue"):
        call, results = _lifevalue(spec, summary)
    elif spec["case"] == "lifetimes":
        call, results = _lifetimes(spec, summary)
    else:
        call, results = _pymc_marketing(spec, summary)
    fitted, measured = measure(call, track_children=True)
    return {**measured, **results(fitted), "lifevalue_digest": digest}


def run_case(spec: dict, cap: float) -> dict:
    """Run one case in a fresh interpreter with a wall-clock cap."""
    return run_worker(__file__, spec, cap)


def fit_spec(case: str, given: dict, settings: dict, warmup: bool) -> dict:
    """The MCMC part of a case's spec.

    lifevalue's cases get only the settings given on the command line (``None`` for the
    others: its ``fit`` then uses its own defaults); the peers get the resolved
    ``settings`` (the same numbers). The untimed warm-up runs 100 tune + 100 draws with
    the chains of the timed run.
    """
    if warmup:
        return {"draws": 100, "tune": 100, "chains": settings["chains"]}
    if case.startswith("lifevalue"):
        return dict(given)
    return {k: settings[k] for k in ("draws", "tune", "chains")}


def describe_mcmc(settings: dict) -> str:
    """``"4 chains x (500 tune + 500 draws)"``."""
    return (f"{settings['chains']} chains x ({settings['tune']} tune + "
            f"{settings['draws']} draws)")


# --------------------------------------------------------------------------- report


def _fmt(value, spec: str, none: str = "-") -> str:
    return none if value is None or (isinstance(value, float) and np.isnan(value)) \
        else format(value, spec)


def _totals(rows: list[dict]) -> list[dict]:
    """Add, per size and case with both BG/NBD and Gamma-Gamma, a 'total' row of the
    two: seconds summed (the other models' rows have none: the targets are on that
    pair).

    A total over the cap reports as its cap the least it can have taken: the seconds of
    its finished cases plus the caps of the others.
    """
    out = []
    for size in dict.fromkeys(r["size"] for r in rows):
        for case in dict.fromkeys(r["case"] for r in rows if r["size"] == size):
            out += [r for r in rows if r["size"] == size and r["case"] == case]
            group = [r for r in rows if r["size"] == size and r["case"] == case
                     and r["model"] in DEFAULT_MODELS]
            if len(group) < len(DEFAULT_MODELS):
                continue
            total = {"size": size, "case": case, "model": "total", "cap": group[0]["cap"]}
            # the MCMC settings the models were run with, where they agree
            for key in ("chains", "mcmc_chains", "default_chains"):
                values = {r.get(key) for r in group}
                if len(values) == 1:
                    total[key] = values.pop()
            statuses = [r["status"] for r in group]
            if all(s == "ok" for s in statuses):
                total.update(
                    status="ok", seconds=sum(r["seconds"] for r in group),
                    cpu_seconds=(sum(r["cpu_seconds"] for r in group)
                                 if all("cpu_seconds" in r for r in group) else None),
                    load1=max(r.get("load1", 0.0) for r in group),
                    peak_mb=max(r["peak_mb"] for r in group),
                    rhat_max=max((r["rhat_max"] for r in group if r.get("rhat_max")),
                                 default=None),
                    ess_bulk_min=min((r["ess_bulk_min"] for r in group
                                      if r.get("ess_bulk_min") is not None), default=None),
                    ess_tail_min=min((r["ess_tail_min"] for r in group
                                      if r.get("ess_tail_min") is not None), default=None),
                    divergences=(sum(r["divergences"] for r in group)
                                 if all(r.get("divergences") is not None for r in group)
                                 else None),
                    pareto_k=max((r["pareto_k"] for r in group
                                  if r.get("pareto_k") is not None), default=None),
                    importance_ess=min((r["importance_ess"] for r in group
                                        if r.get("importance_ess") is not None), default=None))
            elif "failed" in statuses:
                total.update(status="failed", reason="see above")
            else:
                # over the cap: at least the finished cases plus the cap of the others
                total.update(status="over cap", cap=sum(
                    r["seconds"] if r["status"] == "ok" else r["cap"] for r in group))
            out.append(total)
    return out


def _draws(r: dict) -> str:
    """``"4 x 500"``: the chains and draws per chain of a fit's posterior, if it has one."""
    if r.get("chains") is None or r.get("draws") is None:
        return ""
    return f"{r['chains']} x {r['draws']}"


def _vs(ref: dict | None) -> str:
    return f" (vs {CASES[ref['case']]})" if ref else ""


def table(rows: list[dict]) -> str:
    head = ("| size | case | model | seconds | CPU s | load | peak RSS MB | r-hat max "
            "| ESS bulk min | ESS tail min | divergences | k-hat | chains x draws "
            "| peer / lifevalue time |\n"
            "|---:|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|:---|")
    out = [head]
    rows = _totals(rows)
    for r in rows:
        if r["status"] == "ok":
            seconds, peak = f"{r['seconds']:.2f}", f"{r['peak_mb']:.0f}"
        elif r["status"] == "over cap":
            seconds, peak = f"over cap (> {r['cap']:.0f} s)", "-"
        else:
            seconds, peak = f"failed: {r['reason']}", "-"
        refs = [x for case in REFERENCE.get(r["case"], ()) for x in rows
                if x["size"] == r["size"] and x["model"] == r["model"] and x["case"] == case]
        ratios = "; ".join(ratio(r, ref, label=_vs(ref)) for ref in refs)
        # Laplace+PSIS: the ESS of its importance weights, and k-hat
        ess = r.get("ess_bulk_min") if r.get("ess_bulk_min") is not None \
            else r.get("importance_ess")
        out.append(
            f"| {r['size']:,} | {CASES[r['case']]} | {MODELS.get(r['model'], r['model'])} "
            f"| {seconds} | {_fmt(r.get('cpu_seconds'), '.1f')} | {_fmt(r.get('load1'), '.1f')} "
            f"| {peak} | {_fmt(r.get('rhat_max'), '.3f')} "
            f"| {_fmt(ess, '.0f')} | {_fmt(r.get('ess_tail_min'), '.0f')} "
            f"| {_fmt(r.get('divergences'), 'd')} "
            f"| {_fmt(r.get('pareto_k'), '.2f')} | {_draws(r)} | {ratios} |")
    return "\n".join(out)


def estimates_table(rows: list[dict]) -> str:
    out = ["| size | case | model | estimates (true values in the header) | unique rows |",
           "|---:|:---|:---|:---|---:|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        truth = TRUE.get(model, dict.fromkeys(PARAMS.get(model, ())))
        true = (", ".join(f"{k}={v:.4g}" for k, v in truth.items()) if model in TRUE
                else "none: fitted to the simulated BG/NBD customers")
        out.append(f"| | **truth** | {MODELS[model]} | {true} | |")
        for r in rows:
            if r["model"] != model or r["status"] != "ok":
                continue
            est = ", ".join(f"{k}={r['params'][k]:.4g}" for k in truth)
            out.append(f"| {r['size']:,} | {CASES[r['case']]} | {MODELS[model]} | {est} "
                       f"| {_fmt(r.get('n_unique'), ',')} |")
    return "\n".join(out)


def _versions() -> str:
    names = ["lifevalue", "pymc", "pytensor", "nutpie", "pymc-marketing", "lifetimes",
             "numpy", "scipy", "arviz", "arviz-stats"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="numbers of customers (default: 100000 1000000)")
    parser.add_argument("--cap-seconds", type=float, default=900.0,
                        help="wall-clock cap per case (default: 900)")
    parser.add_argument("--peer-cap-seconds", type=float, default=None,
                        help="cap per lifetimes or pymc-marketing case (default: --cap-seconds)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--models", nargs="+", choices=list(MODELS),
                        default=list(DEFAULT_MODELS))
    add_mcmc_options(parser)
    parser.add_argument("--seed", type=int, default=2005, help="simulation seed")
    parser.add_argument("--warmup-customers", type=int, default=2000,
                        help="customers in the untimed warm-up run (0: no warm-up)")
    parser.add_argument("--tmpdir", default=None, help="folder for the Parquet inputs")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--render", nargs="+", default=None, metavar="JSON",
                        help="print the tables of rows saved with --json, and run nothing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    if args.render:
        rows = [row for path in args.render for row in json.loads(Path(path).read_text())]
        _report(rows)
        return 0

    peer_cap = args.peer_cap_seconds or args.cap_seconds
    print(f"{platform.platform()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs\n{_versions()}\n{git_state()}", flush=True)
    given = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    settings = {m: mcmc_settings(m, **given) for m in args.models}
    print("MCMC: " + "; ".join(f"{MODELS[m]} {describe_mcmc(s)}" for m, s in settings.items())
          + (" (lifevalue's defaults)" if all(v is None for v in given.values()) else ""),
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lifevalue-bench-", dir=args.tmpdir) as tmp:
        runs = [(n, False) for n in args.sizes]
        if args.warmup_customers > 0:
            runs.insert(0, (args.warmup_customers, True))
        for size, warmup in runs:
            t0 = time.perf_counter()
            summary = simulate(size, args.seed)
            data = Path(tmp) / f"summary-{size}.parquet"
            summary.to_parquet(data)
            n_rep = int((summary["frequency"] > 0).sum())
            what = "warm-up (untimed)" if warmup else "timed"
            print(f"\n{size:,} customers ({n_rep:,} repeat), {what}: simulated in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            del summary
            for case in args.cases:
                cap = args.cap_seconds if case.startswith("lifevalue") else peer_cap
                for model in args.models:
                    spec = {"case": case, "model": model, "data": str(data),
                            **(fit_spec(case, given, settings[model], warmup))}
                    result = {"size": size, "case": case, "model": model, "cap": cap,
                              "mcmc_chains": settings[model]["chains"],
                              "default_chains": settings[model]["default_chains"],
                              **run_case(spec, cap)}
                    if result["status"] == "ok":
                        shown = (f"{result['seconds']:.2f} s, peak {result['peak_mb']:.0f} MB"
                                 + (f", r-hat {result['rhat_max']:.3f}, ESS bulk "
                                    f"{_fmt(result.get('ess_bulk_min'), '.0f')}, tail "
                                    f"{_fmt(result.get('ess_tail_min'), '.0f')}"
                                    if result.get("rhat_max") is not None else ""))
                    else:
                        shown = result["status"]
                    print(f"  {CASES[case]:<30} {MODELS[model]:<12} {shown}", flush=True)
                    if result["status"] == "failed":
                        print(f"    {result['reason']}", flush=True)
                    if not warmup:
                        rows.append(result)
                        if args.json:
                            Path(args.json).write_text(json.dumps(rows, indent=1))
    _report(rows)
    return 0


def _report(rows: list[dict]) -> None:
    print("\n" + table(rows))
    print("\n" + estimates_table(rows))
    if any(r["status"] == "ok" and not r["peak_reset"] for r in rows):
        print("\nNote: peak RSS is the whole-process ru_maxrss where VmHWM could not be reset")
    digests = {}
    for r in rows:
        if r.get("lifevalue_digest"):
            digests.setdefault(r["lifevalue_digest"], []).append(
                f"{r['size']:,} {r['case']} {r['model']}")
    if len(digests) > 1:
        print("\nNote: lifevalue's source changed during the run; its cases ran on different "
              "code:\n" + "\n".join(f"  {d}: {', '.join(c)}" for d, c in digests.items()))
    if any(r.get("load1", 0.0) > (os.cpu_count() or 1) + 0.5 for r in rows):
        print("\nNote: the load average exceeded the CPU count during some cases (column "
              "'load'): other processes competed for the CPUs, and wall-clock times there are "
              "inflated; 'CPU s' (process tree user + system time) is less affected.")


if __name__ == "__main__":
    sys.exit(main())
