"""Running a peer in its own interpreter, and what it reports back.

Peers (tf-keras, Keras 3, PyTorch) usually live in other virtual
environments, so ``run.py`` starts each one as a subprocess with the Python
the user names (``--peer-python keras3=/path/to/python``), pinned to the same
core (the affinity is inherited) with the same one-thread settings. The child
runs the same cases through the same ``timing.py`` and writes a JSON file:

    {"impl": ..., "versions": {...}, "skipped": null | "why",
     "cases": {case: {"samples": [...], "scale": s, "units": u, "unit": "µs/step"}
                     | {"declined": "why"} | {"error": "..."}}}

Standard library only on the child side (plus whatever the peer imports).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Thread settings every process of the suite gets (numpy/BLAS, OpenMP, MKL,
# TensorFlow, XLA/jax, torch read these at import).
ONE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


class Declined(Exception):
    """Raised by a peer's ``make(case)`` for a case it cannot express."""


# ---------------------------------------------------------------- child side


def serve(impl: str, setup) -> None:
    """Main of a peer script. ``setup()`` imports the peer and returns
    ``(versions, make)``, where ``make(case)`` returns a ``timing.Workload``
    or raises ``Declined``. An import failure in ``setup`` is reported as
    "skipped", with the reason."""
    sys.path.insert(0, str(HERE))
    import cases as case_table
    import timing

    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    ap.add_argument("--repeats", type=int, required=True)
    ap.add_argument("--target", type=float, required=True)
    ap.add_argument("--min-scale", type=int, default=1)
    ap.add_argument("--min-calls", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    report = {"impl": impl, "python": sys.executable, "versions": {}, "skipped": None, "cases": {}}
    report["versions"]["python"] = platform.python_version()
    try:
        versions, make = setup()
    except ImportError as exc:
        report["skipped"] = f"not importable by {sys.executable}: {type(exc).__name__}: {exc}"
        _write(args.out, report)
        return
    report["versions"].update(versions)

    workloads = []
    for name in args.cases.split(","):
        case = case_table.BY_NAME[name]
        try:
            w = make(case)
        except Declined as exc:
            report["cases"][name] = {"declined": str(exc)}
            continue
        except Exception as exc:  # noqa: BLE001 - reported; the other cases go on
            report["cases"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        w.name = name
        workloads.append(w)

    def log(msg):
        print(f"[{impl}] {msg}", file=sys.stderr, flush=True)

    failed = timing.run_round_robin(
        workloads, args.repeats, args.target, args.min_scale, log, args.min_calls
    )
    for w in workloads:
        if w.name in failed:
            report["cases"][w.name] = {"error": failed[w.name]}
        else:
            report["cases"][w.name] = {
                "samples": w.samples, "scale": w.scale, "units": w.units, "unit": w.unit, "amortizes": w.amortizes,
            }
    _write(args.out, report)


def _write(path: str, report: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f)
    os.replace(tmp, path)


# --------------------------------------------------------------- parent side

# name -> (script, extra arguments, environment, key of --peer-python)
PEERS = {
    "keras2": (
        "peers/keras_peer.py", ["keras2"],
        {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
        "keras2",
    ),
    "keras3-jax": (
        "peers/keras_peer.py", ["keras3-jax"],
        {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"},
        "keras3",
    ),
    "keras3-torch": (
        "peers/keras_peer.py", ["keras3-torch"],
        {"KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"},
        "keras3",
    ),
    "torch": ("peers/torch_peer.py", [], {"CUDA_VISIBLE_DEVICES": ""}, "torch"),
}


def run_peer(
    name: str, python: str, case_names: list[str], repeats: int, target: float,
    min_scale: int, min_calls: int, timeout: float, log,
) -> dict:
    """Run one peer in a subprocess; always returns a report (a failure or a
    timeout becomes "skipped" with the reason and the tail of stderr)."""
    script, extra, env_extra, _ = PEERS[name]
    env = dict(os.environ)
    env.update(ONE_THREAD_ENV)
    env.update(env_extra)
    with tempfile.TemporaryDirectory(prefix="hookfit-bench-") as tmp:
        out = os.path.join(tmp, "report.json")
        cmd = [
            python, str(HERE / script), *extra, "--cases", ",".join(case_names),
            "--repeats", str(repeats), "--target", str(target),
            "--min-scale", str(min_scale), "--min-calls", str(min_calls), "--out", out,
        ]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
            )
        except FileNotFoundError:
            return _skipped(name, python, f"interpreter {python} not found")
        except subprocess.TimeoutExpired:
            return _skipped(name, python, f"timed out after {timeout:.0f} s")
        log(f"{name}: {time.perf_counter() - t0:.1f} s in {python}")
        if proc.returncode != 0 or not os.path.exists(out):
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            return _skipped(name, python, f"exit status {proc.returncode}: {tail}")
        with open(out) as f:
            return json.load(f)


def _skipped(name: str, python: str, reason: str) -> dict:
    return {"impl": name, "python": python, "versions": {}, "skipped": reason, "cases": {}}
