"""Data-parallel step timings: one process vs 2 MPI ranks (a script, never a test).

The MLP 784-256(relu)-128(relu)-10(softmax), categorical crossentropy, Adam,
at global batch 256, on resident data, as in bench_core.py. In one run it
measures:

- one-process step: ``Network.train_batch`` on 256 rows, the process pinned
  to one core with one OpenBLAS thread (the baseline), on each of the two
  cores the ranks use (the cores of a shared VM are not equally fast);
- on 2 ranks (``mpiexec -n 2``, each rank pinned to its own core, one thread):
  per-rank compute (``grad_batch`` on the rank's 128 rows + ``update_batch``,
  no communication), the in-place sum of the reduce buffer (235,146
  gradients + the metric deltas) as ``fit`` makes it (in a node shared-memory
  window when the ranks share a machine) and through MPI's own Allreduce,
  and the whole 2-rank step (grad + sum + update), which is what ``fit``
  runs per batch;
- each rank's own figures (its compute alone, and inside the 2-rank step its
  compute and its time in the Allreduce): the faster rank waits in the
  Allreduce for the slower one, so the slower rank's compute plus its
  (shorter) Allreduce time is what limits the step, and the report says
  which rank that is;
- the speed-up (one-process step / 2-rank step), the same rounds' ceiling
  (both ranks computing in step with no gradient sum: what two busy cores
  of this machine allow), and a projection for 2 hosts
  on 10 GbE from the allreduce model t = 2 * latency + bytes / bandwidth
  (ring allreduce on 2 ranks sends each rank's whole buffer once), with the
  per-rank compute measured here.

    python benchmarks/bench_distributed.py             # needs mpi4py + mpiexec ('mpi' extra)
    python benchmarks/bench_distributed.py --quick

Each figure is the median over rounds (min-max in brackets) of the wall time
per step. Numbers taken while other jobs load the machine are marked so by
the load average printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HOOKFIT_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from hookfit import _core as core  # noqa: E402

DIMS = [784, 256, 128, 10]
BATCH = 256
ROWS = BATCH * 16
TEN_GBE_BYTES_PER_S = 10e9 / 8
TCP_LATENCY_S = 30e-6  # one small message over 10 GbE with TCP (typical, assumed)


# The CPUs this process may use at start: pinning picks among these, and the
# mpiexec job is started with all of them again (a child inherits affinity).
ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin(cpu: int) -> None:
    if ALL_CPUS:
        os.sched_setaffinity(0, {ALL_CPUS[cpu % len(ALL_CPUS)]})


def unpin() -> None:
    if ALL_CPUS:
        os.sched_setaffinity(0, set(ALL_CPUS))


def make_network():
    rng = np.random.default_rng(0)
    net = core.Network(DIMS[0], DIMS[1:], [core.ACT_RELU, core.ACT_RELU, core.ACT_SOFTMAX], [True] * 3)
    net.params[:] = rng.uniform(-0.05, 0.05, net.n_params).astype(np.float32)
    net.configure(core.LOSS_CCE, [core.METRIC_CATEGORICAL_ACCURACY], core.OPT_ADAM)
    x = rng.standard_normal((ROWS, DIMS[0])).astype(np.float32)
    y = np.eye(DIMS[-1], dtype=np.float32)[rng.integers(0, DIMS[-1], ROWS)]
    return net, core.Dataset(x, y)


def timed(body, steps: int, rounds: int) -> tuple:
    """Median, min and max seconds per step over rounds of `steps` calls."""
    body(steps)  # warm-up
    per_step = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        body(steps)
        per_step.append((time.perf_counter() - t0) / steps)
    return statistics.median(per_step), min(per_step), max(per_step)


def one_process(steps: int, rounds: int, cpu: int = 0) -> dict:
    pin(cpu)
    net, data = make_network()
    n_batches = ROWS // BATCH

    def body(k):
        for i in range(k):
            net.train_batch(data, (i % n_batches) * BATCH, BATCH, 1e-4)

    return {"one_process_step": timed(body, steps, rounds)}


def ranks_part(steps: int, rounds: int) -> None:
    """Run on each of 2 ranks; rank 0 prints the results as JSON."""
    from hookfit.distribute import shard_bounds, world

    comm = world()
    pin(comm.rank)
    net, data = make_network()
    # As fit does: the gradients in the communicator's shared window (ranks
    # on one machine), else in the network's own buffer.
    lent = comm.lend_reduce_buffer(net.reduce_buffer.shape[0])
    private = net.reduce_buffer if lent is None else net.use_reduce_buffer(lent)
    buf = net.reduce_buffer
    n_batches = ROWS // BATCH
    lo, hi = shard_bounds(BATCH, comm.rank, comm.size)

    def compute(k):
        for i in range(k):
            net.grad_batch(data, (i % n_batches) * BATCH + lo, hi - lo, BATCH)
            net.update_batch(1e-4)

    def allreduce(k):
        for _ in range(k):
            comm.allreduce_sum_(buf)

    def allreduce_mpi(k):  # MPI's own Allreduce, on a buffer outside the window
        for _ in range(k):
            comm.allreduce_sum_(private)

    tiny = np.zeros(1, np.float32)

    def latency(k):
        for _ in range(k):
            comm.allreduce_sum_(tiny)

    def step(k):
        for i in range(k):
            net.grad_batch(data, (i % n_batches) * BATCH + lo, hi - lo, BATCH)
            comm.allreduce_sum_(buf)
            net.update_batch(1e-4)

    def lockstep(k):
        """The ceiling of any gradient sum: the ranks compute as in the step,
        kept in step by a 1-float allreduce instead of the sum."""
        for i in range(k):
            net.grad_batch(data, (i % n_batches) * BATCH + lo, hi - lo, BATCH)
            comm.allreduce_sum_(tiny)
            net.update_batch(1e-4)

    def step_mpi(k):  # the same step with the gradients outside the window: MPI's Allreduce
        if lent is not None:
            net.use_reduce_buffer(private)
        try:
            for i in range(k):
                net.grad_batch(data, (i % n_batches) * BATCH + lo, hi - lo, BATCH)
                comm.allreduce_sum_(private)
                net.update_batch(1e-4)
        finally:
            if lent is not None:
                net.use_reduce_buffer(lent)

    clock = time.perf_counter
    parts = {"compute": [], "allreduce": []}  # per round: seconds per step inside the real step

    def step_parts(k):
        compute = reduce = 0.0
        for i in range(k):
            t0 = clock()
            net.grad_batch(data, (i % n_batches) * BATCH + lo, hi - lo, BATCH)
            t1 = clock()
            comm.allreduce_sum_(buf)
            t2 = clock()
            net.update_batch(1e-4)
            compute += (t1 - t0) + (clock() - t2)
            reduce += t2 - t1
        parts["compute"].append(compute / k)
        parts["allreduce"].append(reduce / k)

    # The speed-up as ratios within rounds: each round times the one-process
    # step on rank 0's core (rank 1 waits in MPI, spinning on its own core),
    # then on rank 1's, then the 2-rank step with fit's sum, with MPI's own
    # Allreduce, and with no sum at all (what two busy cores give). The host
    # of a shared VM changes speed from minute to minute; a ratio of
    # neighbouring timings does not.
    one_net, one_data = make_network()

    def one_process_step(k):
        for i in range(k):
            one_net.train_batch(one_data, (i % n_batches) * BATCH, BATCH, 1e-4)

    def alone(rank, body, k):
        """body on `rank` only. The other ranks spin in MPI's wait: an idle
        vCPU of a shared VM came back slower (measured), a spinning one does
        not load the core the body runs on."""
        comm.any_(False)
        seconds = 0.0
        if comm.rank == rank:
            t0 = time.perf_counter()
            body(k)
            seconds = (time.perf_counter() - t0) / k
        comm.any_(False)
        return seconds

    def together(body, k):
        comm.any_(False)
        t0 = time.perf_counter()
        body(k)
        return (time.perf_counter() - t0) / k

    one_process_step(steps)  # warm-up
    interleaved: dict = {"one_process_core0": [], "one_process_core1": [], "two_rank_step": [],
                         "two_rank_step_mpi": [], "two_rank_no_sum": []}
    for _ in range(rounds):
        interleaved["one_process_core0"].append(alone(0, one_process_step, steps))
        interleaved["one_process_core1"].append(alone(1, one_process_step, steps))
        interleaved["two_rank_step"].append(together(step, steps))
        interleaved["two_rank_step_mpi"].append(together(step_mpi, steps))
        interleaved["two_rank_no_sum"].append(together(lockstep, steps))
    core1 = [float(b) for b in json.loads(comm.bcast_bytes(
        json.dumps(interleaved["one_process_core1"]).encode() if comm.rank == 1 else None, root=1))]
    interleaved["one_process_core1"] = core1

    results: dict = {"interleaved": interleaved}
    for name, body in (("per_rank_compute", compute), ("allreduce", allreduce),
                       ("allreduce_mpi", allreduce_mpi), ("allreduce_1_float", latency),
                       ("two_rank_step", step), ("two_rank_step_mpi", step_mpi)):
        comm.any_(False)  # both ranks start each case together
        results[name] = timed(body, steps, rounds)
    comm.any_(False)
    timed(step_parts, steps, rounds)
    mine = {
        "cpu": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [],
        "compute": results["per_rank_compute"],
        "in_step_compute": _spread(parts["compute"][1:]),  # the first is the warm-up
        "in_step_allreduce": _spread(parts["allreduce"][1:]),
    }
    results["per_rank"] = [json.loads(b) for b in comm.allgather_bytes(json.dumps(mine).encode())]
    results["reduce_floats"] = int(buf.shape[0])
    results["n_params"] = int(net.n_params)
    results["mpi"] = _mpi_name()
    results["shared_window"] = lent is not None
    if comm.rank == 0:
        print("RESULTS " + json.dumps(results), flush=True)


def _spread(values) -> tuple:
    return statistics.median(values), min(values), max(values)


def _mpi_name() -> str:
    from mpi4py import MPI

    return MPI.Get_library_version().splitlines()[0].split(",")[0].strip()


def mpiexec() -> list:
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    exe = here if os.path.exists(here) else shutil.which("mpiexec")
    if exe is None:
        raise SystemExit("no mpiexec: pip install 'hookfit[mpi]' (mpi4py and MPICH's wheel)")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    extra = ["--oversubscribe", "--allow-run-as-root"] if "Open MPI" in version else []
    return [exe, *extra]


def ms(t) -> str:
    return f"{t[0] * 1e3:7.3f} ms ({t[1] * 1e3:.3f}-{t[2] * 1e3:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 short rounds")
    parser.add_argument("--ranks-part", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps, rounds = (20, 3) if args.quick else (100, 9)
    if args.ranks_part:
        ranks_part(steps, rounds)
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    base = one_process(steps, rounds, 0)
    core1 = one_process(steps, rounds, 1)["one_process_step"]
    unpin()  # the ranks pin themselves to their own cores
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI_", "PMIX_"))}
    proc = subprocess.run(
        [*mpiexec(), "-n", "2", sys.executable, os.path.abspath(__file__), "--ranks-part",
         *(["--quick"] if args.quick else [])],
        capture_output=True, text=True, timeout=600, env=env,
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULTS ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"the 2-rank run failed:\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(lines[0][len("RESULTS "):])
    one, two = base["one_process_step"], r["two_rank_step"]
    nbytes = 4 * r["reduce_floats"]
    projected_allreduce = 2 * TCP_LATENCY_S + nbytes / TEN_GBE_BYTES_PER_S
    # The slower rank's compute limits a step (see the per-rank lines).
    projected_step = max(p["compute"][0] for p in r["per_rank"]) + projected_allreduce
    print(f"MLP {'-'.join(map(str, DIMS))}, global batch {BATCH}, Adam; {r['mpi']}")
    print(f"load average at start: {load:.2f} on {os.cpu_count()} CPUs"
          + ("  (a loaded machine: figures are pessimistic)" if load > 1.5 else ""))
    print(f"one-process step (core 0)      {ms(one)}")
    print(f"one-process step (core 1)      {ms(core1)}")
    print(f"per-rank compute (128 rows)    {ms(r['per_rank_compute'])}  (rank 0's)")
    for rank, p in enumerate(r["per_rank"]):
        print(f"  rank {rank} (cpu {p['cpu']}): compute alone {ms(p['compute'])}; in the 2-rank step: "
              f"compute {ms(p['in_step_compute'])}, allreduce {ms(p['in_step_allreduce'])}")
    slow = max(range(len(r["per_rank"])), key=lambda k: r["per_rank"][k]["in_step_compute"][0])
    fast = 1 - slow
    sp, fp = r["per_rank"][slow], r["per_rank"][fast]
    print(f"limit: rank {slow}'s compute ({sp['in_step_compute'][0] * 1e3:.3f} ms) + its allreduce "
          f"({sp['in_step_allreduce'][0] * 1e3:.3f} ms); rank {fast} waits "
          f"{(fp['in_step_allreduce'][0] - sp['in_step_allreduce'][0]) * 1e3:.3f} ms of its "
          f"{fp['in_step_allreduce'][0] * 1e3:.3f} ms allreduce for it")
    how = "node shared window" if r["shared_window"] else "MPI Allreduce"
    print(f"allreduce {r['reduce_floats']} floats     {ms(r['allreduce'])}  ({how}: fit's path)")
    print(f"  MPI's own Allreduce          {ms(r['allreduce_mpi'])}")
    print(f"allreduce 1 float (latency)    {ms(r['allreduce_1_float'])}")
    print(f"2-rank step                    {ms(two)}")
    print(f"  with MPI's own Allreduce     {ms(r['two_rank_step_mpi'])}")
    best = min(one[0], core1[0])
    print(f"speed-up, 2 ranks vs 1 process: {one[0] / two[0]:.2f}x (core 0), "
          f"{best / two[0]:.2f}x (the faster core); with MPI's own Allreduce "
          f"{best / r['two_rank_step_mpi'][0]:.2f}x")
    rounds = r["interleaved"]
    faster = [min(a, b) for a, b in zip(rounds["one_process_core0"], rounds["one_process_core1"])]
    for key, what in (("two_rank_step", "fit's sum"), ("two_rank_step_mpi", "MPI's own Allreduce"),
                      ("two_rank_no_sum", "no sum at all (the ceiling)")):
        ratios = [f / t for f, t in zip(faster, rounds[key])]
        print(f"interleaved rounds, {what}: 1-process {ms(_spread(faster))}, 2-rank "
              f"{ms(_spread(rounds[key]))}, speed-up per round {statistics.median(ratios):.2f}x "
              f"({min(ratios):.2f}-{max(ratios):.2f})")
    print(f"projected 2 hosts on 10 GbE: allreduce {projected_allreduce * 1e3:.2f} ms "
          f"(2 x {TCP_LATENCY_S * 1e6:.0f} us + {nbytes / 1e6:.2f} MB at 1.25 GB/s), step "
          f"{projected_step * 1e3:.2f} ms (the slower rank's compute + it), speed-up "
          f"{best / projected_step:.2f}x vs the faster core")


if __name__ == "__main__":
    main()
