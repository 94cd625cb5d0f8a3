#!/usr/bin/env python3
"""hookfit's benchmark suite: where every microsecond of a batch goes, against
what users would otherwise use. One command:

    python benchmarks/run.py                        # full run, a few minutes
    python benchmarks/run.py --smoke                # seconds; CI
    python benchmarks/run.py --json out.json --plot out.png
    python benchmarks/run.py --only callbacks,fit_mlp --repeats 11
    python benchmarks/run.py --peer-python keras3=/venv/bin/python --peer-python keras2=/tf/bin/python

The model rows of issue 10 (the keras-io MNIST MLP, a residual functional
MLP, the Dropout and BatchNormalization costs, functional vs Sequential) are
in their own script, bench_models.py, with the same method.

Method (README.md): one thread, pinned to one core, warm-up, calibrated
samples, several interleaved rounds, median (min–max); every ratio comes from
this one run. hookfit, its bare compiled core and the hand NumPy loop run in
this process in the same rounds; each other peer runs in its own interpreter.
"""

from __future__ import annotations

import os
import shutil
import sys


def _pin_and_limit_threads() -> None:
    """Before numpy is imported: one BLAS/OpenMP thread, and this process
    pinned to one core (re-executed under ``taskset`` when available)."""
    from peer_protocol import ONE_THREAD_ENV

    for key, value in ONE_THREAD_ENV.items():
        os.environ[key] = value
    if os.environ.get("HOOKFIT_BENCH_PINNED") is not None or "--no-pin" in sys.argv:
        return
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no pinning
        os.environ["HOOKFIT_BENCH_PINNED"] = ""
        return
    core = str(cpus[1] if len(cpus) > 1 else cpus[0])
    if "--core" in sys.argv:
        core = sys.argv[sys.argv.index("--core") + 1]
    try:  # may be refused (containers, cgroups): then run unpinned, and say so
        os.sched_setaffinity(0, {int(core)})
    except (OSError, ValueError) as exc:
        os.environ["HOOKFIT_BENCH_PINNED"] = ""
        os.environ["HOOKFIT_BENCH_PIN_ERROR"] = f"not pinned to core {core}: {exc}"
        return
    os.environ["HOOKFIT_BENCH_PINNED"] = core
    if shutil.which("taskset"):  # a fresh process, pinned before anything loads
        os.execvp("taskset", ["taskset", "-c", core, sys.executable, *sys.argv])


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":
    _pin_and_limit_threads()

import argparse
import datetime
import json
import time

import agreement as agreement_mod
import cases as case_table
import data
import machine
import peer_protocol
import report
import timing

# Peers run the cases of the comparison table, not the sweeps or the
# extra callback variants (Keras 2 spends 40-100 ms in every evaluate/predict
# call, so each of those costs it seconds), and at most PEER_REPEATS rounds.
PEER_CASES = {
    "fit_b32", "fit_b128", "fit_b1024", "evaluate_b128", "predict_b128",
    "fit_mlp", "evaluate_mlp", "predict_mlp", "fit_cb1_all", "fit_cb10_all", "fit_cb1_none",
    "fixed_fit", "fixed_evaluate", "fixed_predict", "fit_val",
}
PEER_REPEATS = 5
# Keras 2 spends ~100 ms (±10) in each evaluate/predict call; a sample of
# 4 calls keeps that noise below its per-step cost.
PEER_MIN_CALLS = 4
SMOKE_PEER_CASES = "fit_b128,fixed_fit"


def _args(argv=None):
    ap = argparse.ArgumentParser(
        description="hookfit per-batch overhead benchmarks (see benchmarks/README.md)"
    )
    ap.add_argument("--json", metavar="PATH", help="write all results and samples as JSON")
    ap.add_argument("--plot", metavar="PATH.png", help="write the scaling curves (needs matplotlib)")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds-long run of every case (CI); exits non-zero if a hookfit case fails")
    ap.add_argument("--only", metavar="CASES",
                    help=f"comma list of cases or groups ({', '.join(case_table.GROUPS)})")
    ap.add_argument("--repeats", type=int, help="rounds of samples (default 7; smoke 2)")
    ap.add_argument("--target-ms", type=float, help="length of one sample (default 50; smoke 2)")
    ap.add_argument("--peers", default=",".join(peer_protocol.PEERS),
                    help="subprocess peers to run (default: all; 'none' for none)")
    ap.add_argument("--peer-python", action="append", default=[], metavar="NAME=PYTHON",
                    help="interpreter for a peer: keras2, keras3 (both backends), torch, or one "
                         "peer's name (keras3-jax); default: this interpreter")
    ap.add_argument("--peer-timeout", type=float, default=900.0, metavar="SECONDS")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time samples by wall clock (default) or by this thread's CPU time "
                         "(in-process rows only; steadier on a loaded machine)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    ap.add_argument("--core", help="the core to pin to (default: the second one)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ap.add_argument("--row-offset", type=int, choices=data.ROW_OFFSETS, metavar="BYTES",
                    help="put the rows of x this many bytes into a 64-byte cache line (0, 16, 32 "
                         "or 48; default: where NumPy puts them), for this process and its peers")
    args = ap.parse_args(argv)
    if args.row_offset is not None:
        os.environ[data.ROW_OFFSET_ENV] = str(args.row_offset)
    if args.repeats is None:
        args.repeats = 2 if args.smoke else 7
    if args.target_ms is None:
        args.target_ms = 2.0 if args.smoke else 50.0
    if args.repeats < 1 or args.target_ms <= 0:
        ap.error("--repeats must be ≥ 1 and --target-ms > 0")
    args.pythons = {}
    for item in args.peer_python:
        name, sep, path = item.partition("=")
        if not sep or not path:
            ap.error(f"--peer-python wants NAME=PYTHON, got {item!r}")
        args.pythons[name.strip()] = path.strip()
    args.peer_list = [] if args.peers.strip() == "none" else [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in args.peer_list if p not in peer_protocol.PEERS]
    if unknown:
        ap.error(f"unknown peer(s) {unknown}; choose from {', '.join(peer_protocol.PEERS)}")
    if args.smoke and "--peers" not in " ".join(sys.argv) and not args.pythons:
        args.peer_list = []  # smoke: subprocess peers only when asked for
    try:
        args.cases = case_table.select(args.only)
    except ValueError as exc:
        ap.error(str(exc))
    return args


def _in_process(selected, args, log) -> dict:
    """hookfit, its core and the hand NumPy loop, sampled in shared rounds."""
    import impl_floor
    import impl_hookfit
    import impl_native
    import impl_numpy

    impls = [
        ("hookfit", impl_hookfit.setup),
        ("core:batches", lambda: impl_native.setup(per_batch=False)),
        ("core:batch", lambda: impl_native.setup(per_batch=True)),
        ("numpy", impl_numpy.setup),
        ("floor", impl_floor.setup),
    ]
    results, makers = {}, {}
    for name, setup in impls:
        results[name] = {"impl": name, "versions": {}, "skipped": None, "cases": {}}
        try:
            versions, makers[name] = setup()
            results[name]["versions"] = versions
        except ImportError as exc:
            results[name]["skipped"] = f"not importable: {type(exc).__name__}: {exc}"
            log(f"{name}: skipped ({results[name]['skipped']})")

    workloads = []
    for case in selected:  # case-major order: the workloads compared sit side by side
        for name, make in makers.items():
            try:
                w = make(case)
            except peer_protocol.Declined as exc:
                results[name]["cases"][case.name] = {"declined": str(exc)}
                continue
            except Exception as exc:  # noqa: BLE001 - reported; the other cases go on
                results[name]["cases"][case.name] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"{name}/{case.name}: {results[name]['cases'][case.name]['error']}")
                continue
            w.name = f"{name}/{case.name}"
            workloads.append(w)
    log(f"in-process: {len(workloads)} workloads, {args.repeats} rounds")
    min_scale = 1 if args.smoke else 8
    failed = timing.run_round_robin(workloads, args.repeats, args.target_ms / 1000, min_scale,
                                    log if not args.quiet else (lambda s: None))
    for w in workloads:
        impl, case = w.name.split("/", 1)
        if w.name in failed:
            results[impl]["cases"][case] = {"error": failed[w.name]}
        else:
            results[impl]["cases"][case] = {"samples": w.samples, "scale": w.scale,
                                            "units": w.units, "unit": w.unit, "amortizes": w.amortizes}
    return results


def _peers(selected, args, log) -> dict:
    out = {}
    if args.smoke:
        names = case_table.select(SMOKE_PEER_CASES)
    else:
        names = [c for c in selected if c.name in PEER_CASES]
        names = case_table.select(",".join(c.name for c in names)) if names else []
    if not names:
        return out
    min_scale = 1 if args.smoke else 8
    for peer in args.peer_list:
        _, _, _, key = peer_protocol.PEERS[peer]
        python = args.pythons.get(peer) or args.pythons.get(key) or sys.executable
        log(f"{peer}: running {len(names)} cases in {python}")
        out[peer] = peer_protocol.run_peer(
            peer, python, [c.name for c in names], min(args.repeats, PEER_REPEATS),
            args.target_ms / 1000,
            min_scale, 1 if args.smoke else PEER_MIN_CALLS, args.peer_timeout, log,
        )
        if out[peer].get("skipped"):
            log(f"{peer}: skipped ({out[peer]['skipped']})")
    return out


def _agreement(results, log) -> list[dict]:
    """The NumPy peer computes what hookfit computes (see agreement.py)."""
    if results["hookfit"].get("skipped"):
        return []
    try:
        rows = agreement_mod.check_all()
    except Exception as exc:  # noqa: BLE001 - reported, and fails the run below
        rows = [{"model": "?", "agree": False, "error": f"{type(exc).__name__}: {exc}"}]
    for row in rows:
        log(f"agreement {row}")
    return rows


def _load(triple) -> str:
    return "?" if not triple else "/".join(f"{v:.2f}" for v in triple)


def main(argv=None) -> int:
    args = _args(argv)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    info = machine.describe()
    pinned = os.environ.get("HOOKFIT_BENCH_PINNED")
    info["pinned_core"] = (f"core {pinned}" if pinned
                           else os.environ.get("HOOKFIT_BENCH_PIN_ERROR") or "none (--no-pin)")
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
        info["threadpoolctl"] = "limits set to 1"
    except ImportError:
        info["threadpoolctl"] = "not installed (thread environment variables used)"
    versions = machine.numpy_versions()

    if args.clock == "cpu":
        timing.CLOCK = time.thread_time
    results = _in_process(args.cases, args, log)
    agreement = _agreement(results, log)
    results.update(_peers(args.cases, args, log))
    derived = report.derive(results)
    target_rows = report.targets(results, derived)
    if args.smoke:  # 2 ms samples check that everything runs, not how fast
        for row in target_rows:
            row["met"], row["note"] = None, "smoke run: not a measurement"
    elapsed = time.perf_counter() - t0
    info["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    for name in report.IN_PROCESS:
        for k, v in results[name].get("versions", {}).items():
            versions.setdefault(k, v)
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"## hookfit benchmarks — {started:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s\n")
    print(f"Command: `{command.strip()}` at commit {machine.source_revision(os.path.dirname(__file__))}  ")
    print(f"Machine: {info['cpu']} ({info['cpu_family_model_stepping']}), "
          f"{info['logical_cpus']} logical CPUs, pinning: {info['pinned_core']}, "
          f"SIMD {'/'.join(info['simd_flags'])}, "
          + ", ".join(f"{k} {v}" for k, v in info["lscpu"].items() if "cache" in k)
          + f"; load average {_load(info['load_average_at_start'])} at start, "
          f"{_load(info['load_average_at_end'])} at end  ")
    print(f"Settings: {args.repeats} rounds, samples of ≥ {args.target_ms:g} ms "
          f"({'CPU time of the thread' if args.clock == 'cpu' else 'wall time'}), 1 thread "
          f"({info['threadpoolctl']}), {info['python']}  ")
    offsets = data.row_offsets(args.cases)
    print("Rows of x: " + ", ".join(f"{k} at {v} bytes into a cache line" for k, v in offsets.items())
          + (" (--row-offset)" if args.row_offset is not None else " (where NumPy put them)") + "  ")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "  ")
    for name, rep in results.items():
        if name not in report.IN_PROCESS and rep.get("versions"):
            print(f"Peer {name}: " + ", ".join(f"{k} {v}" for k, v in rep["versions"].items())
                  + f" ({rep.get('python')})  ")
    for row in agreement:
        if "error" in row:
            print(f"Same formulas? the hookfit/NumPy check failed: {row['error']}  ")
        else:
            print(f"Same formulas? {row['model']}: after {agreement_mod.EPOCHS} epochs from the "
                  f"same weights, hookfit and the NumPy loop differ by "
                  f"{row['max_rel_weight_diff']:.1e} (weights, relative to the largest) and "
                  f"{row['rel_loss_diff']:.1e} (loss): "
                  f"{'agree' if row['agree'] else 'DISAGREE'}  ")
    print()
    print(report.render(results, derived, target_rows))

    if args.json:
        payload = {
            "started": started.isoformat(), "seconds": elapsed, "command": command.strip(),
            "source": machine.source_revision(os.path.dirname(__file__)),
            "settings": {"repeats": args.repeats, "target_ms": args.target_ms, "smoke": args.smoke,
                         "row_offset": args.row_offset, "row_offsets": offsets},
            "machine": info, "versions": versions, "results": results, "derived": derived,
            "targets": target_rows, "agreement": agreement,
            "cases": {c.name: {"about": c.about, "group": c.group, "kind": c.kind, "batch": c.batch,
                               "steps": c.steps, "per": c.per, "fixed": c.fixed}
                      for c in case_table.CASES},
        }
        tmp = f"{args.json}.tmp"
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=1, default=str)
        os.replace(tmp, args.json)
        log(f"wrote {args.json}")
    if args.plot:
        why = report.plot(results, derived, args.plot)
        log(f"plot not written: {why}" if why else f"wrote {args.plot}")

    # The exit status guards against rot, not against a noisy machine: it
    # fails when hookfit (or its core, or the NumPy loop) could not run a case.
    broken = [f"{impl}/{case}" for impl in report.IN_PROCESS if impl in results
              for case, e in results[impl]["cases"].items() if "error" in e]
    if results["hookfit"].get("skipped"):
        broken.append("hookfit: " + results["hookfit"]["skipped"])
    broken += [f"hookfit and the NumPy loop disagree ({row['model']})" for row in agreement
               if not row["agree"]]
    if broken:
        print(f"\nFAILED: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
