"""Helpers shared by the benchmark scripts: one case per fresh process, timed, with its
peak memory.

A benchmark script calls :func:`run_worker` with a JSON-able spec; that starts the
script again as ``python SCRIPT --worker SPEC`` under a wall-clock cap, and the worker
prints its measurements as JSON on its last line of stdout. Inside the worker,
:func:`measure` times one call with :func:`time.perf_counter` and reports its peak
resident memory:

* ``VmHWM`` of the worker from ``/proc/self/status``, after the high-water mark was reset
  (``/proc/self/clear_refs``) just before the call, so that it includes what was already
  resident (the input, the imported libraries: ``start_mb``) plus everything the call
  allocates; where the kernel does not allow the reset, the whole-process ``ru_maxrss``;
* with ``track_children=True``, also the largest sum of the resident sets of the worker
  and all its descendants seen by a sampler thread (every ``interval`` seconds), for
  libraries that run work in child processes (PyMC's multiprocess chains). A sum of
  resident sets counts pages that parent and children share once per process, so it
  is an upper bound; the peak reported is the larger of the two measures.

Scripts import this module as ``from _common import ...``: run them as
``python bench/SCRIPT.py``, which puts ``bench/`` on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path


def status_kb(field: str, pid: int | str = "self") -> int | None:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) of ``/proc/PID/status``, or None."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def reset_peak() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _descendants(root: int) -> list[int]:
    """Process ids of every descendant of ``root`` (from ``/proc/*/stat``)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        # the command name (field 2) is in parentheses and may hold spaces
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class _TreeSampler(threading.Thread):
    """Records the largest RSS sum over this process and its descendants."""

    def __init__(self, interval: float):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = 0
        self._done = threading.Event()

    def sample(self) -> None:
        pids = [os.getpid(), *_descendants(os.getpid())]
        total = sum(status_kb("VmRSS", pid) or 0 for pid in pids)
        self.peak_kb = max(self.peak_kb, total)

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


def measure(call, *, track_children: bool = False, interval: float = 0.1):
    """Call ``call()`` once; return ``(its result, measurements)``.

    The measurements: ``seconds`` (wall clock), ``cpu_seconds`` (user + system CPU time
    of this process and of the child processes it waited for during the call),
    ``peak_mb``, ``start_mb`` (RSS just before the call), ``peak_reset`` (whether
    ``VmHWM`` could be reset, see the module docstring), ``load1`` (the one-minute load
    average at the end: above the CPU count, other work was competing) and, with
    ``track_children``, ``tree_peak_mb`` (the sampled peak of the process tree).
    """
    rss_start = status_kb("VmRSS") or 0
    cpu0 = os.times()
    reset = reset_peak()
    sampler = _TreeSampler(interval) if track_children else None
    if sampler is not None:
        sampler.start()
    t0 = time.perf_counter()
    try:
        result = call()
    finally:
        seconds = time.perf_counter() - t0
        cpu1 = os.times()
        if sampler is not None:
            sampler.stop()
    if reset:
        peak = status_kb("VmHWM") or 0
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = sum(getattr(cpu1, f) - getattr(cpu0, f)
              for f in ("user", "system", "children_user", "children_system"))
    out = {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak / 1024,
           "start_mb": rss_start / 1024, "peak_reset": reset, "load1": os.getloadavg()[0]}
    if sampler is not None:
        out["tree_peak_mb"] = sampler.peak_kb / 1024
        out["peak_mb"] = max(out["peak_mb"], out["tree_peak_mb"])
    return result, out


def run_worker(script, spec: dict, cap: float, *, python: str | None = None) -> dict:
    """Run ``python SCRIPT --worker JSON(spec)`` in a fresh interpreter, capped at ``cap`` s.

    Returns ``{"status": "ok", **the worker's JSON}``, ``{"status": "over cap"}`` or
    ``{"status": "failed", "reason": ...}`` (the last line of the worker's stderr, usually
    the exception). A worker over the cap is killed together with its child processes.
    """
    cmd = [python or sys.executable, str(Path(script).resolve()), "--worker", json.dumps(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        # the worker leads its own process group: end it and the samplers it started
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.communicate()
        return {"status": "over cap"}
    if proc.returncode != 0:
        lines = (stderr or "").strip().splitlines()
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        if proc.returncode < 0:
            reason = f"killed by signal {-proc.returncode} (out of memory?)"
        return {"status": "failed", "reason": reason}
    return {"status": "ok", **json.loads(stdout.strip().splitlines()[-1])}


def ratio(row: dict, ref: dict | None, key: str = "seconds", *, digits: int = 1,
          unit: str = "x", label: str = "", style: str = "f") -> str:
    """``row[key] / ref[key]`` as text, for a peer's row against its lifevalue reference.

    Both ran: ``"5.8x"`` (``digits`` decimals, or significant digits with ``style="g"``,
    then ``unit`` and ``label``). One went over
    its cap (only for ``key="seconds"``): a bound from the cap, ``"> 2.0x"`` when the
    peer did, ``"< 0.50x"`` when the reference did. No reference: ``""``; anything else
    (a failure, a missing value): ``"-"``.
    """
    if ref is None:
        return ""
    if row["status"] == "ok" and ref["status"] == "ok":
        if row.get(key) is None or ref.get(key) is None:
            return "-"
        return f"{row[key] / ref[key]:.{digits}{style}}{unit}{label}"
    if key != "seconds":
        return "-"
    if row["status"] == "over cap" and ref["status"] == "ok":
        return f"> {row['cap'] / ref['seconds']:.1f}{unit}{label}"
    if row["status"] == "ok" and ref["status"] == "over cap":
        return f"< {row['seconds'] / ref['cap']:.2f}{unit}{label}"
    return "-"


def git_state() -> str:
    """The commit the benchmark ran on, and whether src/ had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "src"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "git state unknown"
    return f"git {head}" + (" with uncommitted changes under src/" if dirty else "")


def add_mcmc_options(parser) -> None:
    """``--draws``, ``--tune`` and ``--chains`` for a benchmark's command line: None, the
    default, means lifevalue's own defaults (read from the model classes when the run
    starts)."""
    parser.add_argument("--draws", type=int, default=None,
                        help="MCMC draws per chain (default: lifevalue's, per model)")
    parser.add_argument("--tune", type=int, default=None,
                        help="MCMC tuning steps per chain (default: lifevalue's)")
    parser.add_argument("--chains", type=int, default=None,
                        help="MCMC chains (default: lifevalue's)")
