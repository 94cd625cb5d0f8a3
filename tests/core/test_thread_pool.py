"""The core's thread pool (csrc/hf_pool.h) and the products it splits:
every task runs once, the cut depends on the shape only, and results are
bitwise the same for any thread count, also across fork()."""

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest

from hookfit import _core as core


@pytest.fixture
def threads():
    """Restore the pool size after a test changes it."""
    before = core.get_threads()
    yield
    core.set_threads(before)


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_every_task_runs_exactly_once_per_job(threads, n):
    core.set_threads(n)
    assert core.get_threads() == n
    for n_tasks in (1, 2, 7, 64):
        counts = core._pool_check(n_tasks, 500)
        assert counts.min() == counts.max() == 500


@pytest.mark.parametrize("bad", [0, -1, 65, 1.5, True, "2", None])
def test_bad_thread_counts_are_refused_and_change_nothing(threads, bad):
    before = core.get_threads()
    with pytest.raises(ValueError, match=r"threads must be an integer in \[1, 64\]"):
        core.set_threads(bad)
    assert core.get_threads() == before


def test_the_cut_of_a_product_depends_on_its_shape_only(threads):
    shapes = [(128, 256, 784), (784, 256, 128), (128, 784, 256), (128, 1, 784), (2, 3, 4),
              (1024, 512, 512), (4096, 16, 4096)]
    cuts = {}
    for n in (1, 2, 4):
        core.set_threads(n)
        cuts[n] = [core._gemm_blocks(*s) for s in shapes]
    assert cuts[1] == cuts[2] == cuts[4]
    blocks, block = core._gemm_blocks(128, 256, 784)
    assert blocks > 1 and block % 16 == 0 and blocks * block >= 256
    assert core._gemm_blocks(128, 1, 784) == (1, 128)  # small products stay one call


@pytest.mark.parametrize("n,din,dout", [(128, 256, 128), (256, 1024, 512), (64, 40, 30)])
def test_a_layers_dw_and_dx_run_as_one_job_with_the_same_results(threads, ref, n, din, dout):
    """dW and dx of a Dense layer are one pool job (hf_gemm_pair): both
    unsplit (128x256x128: each product alone is one call), both split, and
    too small to wake a thread. Bitwise the same for 1-3 threads, and the
    products NumPy gives."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, din)).astype(np.float32)
    w = (rng.standard_normal((din, dout)) * 0.1).astype(np.float32)
    a = np.maximum(x @ w, 0).astype(np.float32)
    da = rng.standard_normal((n, dout)).astype(np.float32)
    got = []
    for threads_n in (1, 2, 3):
        core.set_threads(threads_n)
        dw, db, dx = np.empty((din, dout), np.float32), np.empty(dout, np.float32), np.empty((n, din), np.float32)
        core.dense_backward(x, w, a, da, core.ACT_RELU, dw, db, dx)
        got.append((dw, db, dx))
    for dw, db, dx in got[1:]:
        np.testing.assert_array_equal(dw, got[0][0])
        np.testing.assert_array_equal(db, got[0][1])
        np.testing.assert_array_equal(dx, got[0][2])
    dz = ref.act_backward(core.ACT_RELU, a.astype(np.float64), da.astype(np.float64))
    np.testing.assert_allclose(got[0][0], x.T.astype(np.float64) @ dz, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got[0][2], dz @ w.T.astype(np.float64), rtol=1e-4, atol=1e-3)


def _train(dims, batch, seed=0):
    rng = np.random.default_rng(seed)
    acts = [core.ACT_RELU] * (len(dims) - 2) + [core.ACT_SOFTMAX]
    net = core.Network(dims[0], list(dims[1:]), acts, [True] * (len(dims) - 1))
    net.params[:] = rng.uniform(-0.05, 0.05, net.n_params)
    net.configure(core.LOSS_SCCE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_ADAM)
    data = core.Dataset(rng.random((batch * 3, dims[0])), rng.integers(0, dims[-1], (batch * 3, 1)))
    net.train_batches(data, 0, batch * 3, batch, 1e-3)
    out = np.empty((batch * 3, dims[-1]), np.float32)
    net.predict_batches(data, 0, batch * 3, batch, out)
    return net.params.copy(), out, net.metric_results()


@pytest.mark.parametrize("dims,batch", [((784, 256, 128, 10), 128), ((300, 512, 512, 12), 200)])
def test_training_is_bitwise_the_same_for_any_thread_count(threads, dims, batch):
    results = []
    for n in (1, 2, 3):
        core.set_threads(n)
        results.append(_train(dims, batch))
    for params, out, metrics in results[1:]:
        np.testing.assert_array_equal(params, results[0][0])
        np.testing.assert_array_equal(out, results[0][1])
        assert metrics == results[0][2]


def test_two_python_threads_share_the_pool_with_the_same_results(threads):
    core.set_threads(2)
    expected = _train((300, 512, 512, 12), 200, seed=1)
    got = [None, None]

    def run(i):
        got[i] = _train((300, 512, 512, 12), 200, seed=1)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for params, out, _ in got:
        np.testing.assert_array_equal(params, expected[0])
        np.testing.assert_array_equal(out, expected[1])


def _child(queue):
    queue.put(_train((784, 256, 128, 10), 128)[0])


def test_a_forked_child_trains_with_a_fresh_pool(threads):
    core.set_threads(2)
    expected = _train((784, 256, 128, 10), 128)[0]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    params = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(params, expected)


# ------------------------------------------- the rest of the step on the pool


@pytest.fixture
def dense1_kernel():
    """Restore the Dense(1) kernel after a test forces one."""
    before = core.dense1_kernel()
    yield
    core.set_dense1_kernel(before)


def _dense1_data(n_rows, weighted, shuffled, seed=0):
    """Made once per test: the kernel's loads depend on where the rows sit
    inside a cache line (csrc/hf_dense1.c's plan), so every thread count
    must read the same arrays."""
    rng = np.random.default_rng(seed)
    x = rng.random((n_rows, 784), dtype=np.float32)
    y = (rng.random((n_rows, 1)) > 0.5).astype(np.float32)
    sw = rng.uniform(0.5, 2.0, n_rows).astype(np.float32) if weighted else None
    order = rng.permutation(n_rows) if shuffled else None
    return x, y, sw, order


def _dense1_run(data_arrays, batch, act, loss):
    """Two epochs of a Dense(1) model (train, evaluate, predict): everything
    a thread count could change."""
    x, y, sw, order = data_arrays
    n_rows = len(x)
    net = core.Network(x.shape[1], [1], [act], [True])
    net.params[:] = np.random.default_rng(1).uniform(-0.05, 0.05, net.n_params)
    net.configure(loss, [core.METRIC_MAE], core.OPT_ADAM)
    data = core.Dataset(x, y, sw)
    if order is not None:
        data.set_order(order)
    for _ in range(2):
        net.train_batches(data, 0, n_rows, batch, 1e-3)
    train_metrics = net.metric_results()
    net.reset_metrics()
    net.test_batches(data, 0, n_rows, batch)
    out = np.empty((n_rows, 1), np.float32)
    net.predict_batches(data, 0, n_rows, batch, out)
    return net.params.copy(), out, train_metrics, net.metric_results()


def test_a_large_dense1_batch_is_cut_by_its_row_count_only(threads):
    assert core._dense1_blocks(511) == (1, 511)  # small batches: one pass, no pool job
    cuts = {}
    for n in (1, 2, 3):
        core.set_threads(n)
        cuts[n] = [core._dense1_blocks(rows) for rows in (512, 1000, 1024, 4096, 10**6)]
    assert cuts[1] == cuts[2] == cuts[3]
    for (blocks, rows), n in zip(cuts[1], (512, 1000, 1024, 4096, 10**6)):
        assert 2 <= blocks <= 8 and rows % 2 == 0 and (blocks - 1) * rows < n <= blocks * rows


@pytest.mark.parametrize("kernel", ["fused", "pipelined"])
@pytest.mark.parametrize("n_rows,batch,act,loss,weighted,shuffled", [
    (2048, 1024, core.ACT_LINEAR, core.LOSS_MSE, False, False),
    (2000, 1000, core.ACT_SIGMOID, core.LOSS_BCE, True, True),  # uneven blocks, rows by order
    (1536, 512, core.ACT_TANH, core.LOSS_MAE, False, True),
])
def test_dense1_is_bitwise_the_same_for_any_thread_count(threads, dense1_kernel, kernel, n_rows,
                                                         batch, act, loss, weighted, shuffled):
    core.set_dense1_kernel(kernel)
    arrays = _dense1_data(n_rows, weighted, shuffled)
    results = []
    for n in (1, 2, 3):
        core.set_threads(n)
        results.append(_dense1_run(arrays, batch, act, loss))
    for params, out, train_m, test_m in results[1:]:
        np.testing.assert_array_equal(params, results[0][0])
        np.testing.assert_array_equal(out, results[0][1])
        assert train_m == results[0][2] and test_m == results[0][3]


@pytest.mark.parametrize("kernel", ["fused", "pipelined"])
@pytest.mark.parametrize("d", [40, 784])
@pytest.mark.parametrize("offset", [0, 4, 8, 12])
def test_the_plain_dense1_rows_have_the_general_paths_bits(ref, dense1_kernel, kernel, d, offset):
    """The pipelined kernel decides a linear, unweighted MSE layer's per-row
    choices at compile time (hf_dense1.c, finish_row's plain case): weights
    of 1.0 take the general path through the same operations, so the two
    trainings agree bit for bit, at every offset of the rows in a line."""
    core.set_dense1_kernel(kernel)
    rng = np.random.default_rng(5)
    n = 37
    x = ref.rows_at_offset(rng, n, d, offset)
    y = rng.standard_normal((n, 1)).astype(np.float32)
    order = rng.permutation(n)
    net = ref.make_net(rng, [d, 1], [core.ACT_LINEAR], scale=0.1)
    start = net.params.copy()
    got = []
    for sw in (None, np.ones(n, np.float32)):
        net.params[:] = start
        net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP)
        data = core.Dataset(x, y, sw)
        data.set_order(order)
        net.train_batches(data, 0, n, 16, 0.01)
        got.append((net.params.copy(), net.metric_results()))
    np.testing.assert_array_equal(got[0][0], got[1][0])
    assert got[0][1] == got[1][1]


@pytest.mark.parametrize("n", [44, 45, 46, 47, 1024])
def test_both_dense1_kernels_match_the_reference_step(ref, dense1_kernel, n):
    """fused (by blocks of four rows, then a pair and a row left over) and
    pipelined (by pairs) walk the rows differently (and a 1024-row batch
    adds its blocks' partial sums): both stay within the twin's tolerance of
    a float64 step, and so agree with each other."""
    rng = np.random.default_rng(3)
    net = ref.make_net(rng, [784, 1], [core.ACT_SIGMOID], scale=0.05)
    x = rng.standard_normal((n, 784)).astype(np.float32)
    y = (rng.random((n, 1)) > 0.5).astype(np.float32)
    sw = rng.uniform(0.2, 2.0, n).astype(np.float32)
    layers = [(w.astype(np.float64), b.astype(np.float64)) for w, b in ref.layers_of(net)]
    value, g = ref.grads(layers, [core.ACT_SIGMOID], x, y, core.LOSS_BCE, sw)
    expect = net.params.astype(np.float64) - 0.1 * g
    start = net.params.copy()
    got = {}
    for kernel in ("fused", "pipelined"):
        core.set_dense1_kernel(kernel)
        assert core.dense1_kernel() == kernel
        net.params[:] = start
        net.configure(core.LOSS_BCE, [], core.OPT_SGD)
        net.train_batch(core.Dataset(x, y, sw), 0, n, 0.1)
        np.testing.assert_allclose(net.params, expect, rtol=1e-5, atol=1e-6)
        assert net.metric_results()[0] == pytest.approx(value, rel=1e-5)
        got[kernel] = net.params.copy()
    np.testing.assert_allclose(got["fused"], got["pipelined"], rtol=1e-5, atol=1e-6)


def test_the_dense1_kernel_can_be_forced_and_unknown_names_are_refused(dense1_kernel):
    core.set_dense1_kernel("auto")  # times both, keeps one
    assert core.dense1_kernel() in ("fused", "pipelined")
    before = core.dense1_kernel()
    with pytest.raises(ValueError, match="'auto', 'fused' or 'pipelined'"):
        core.set_dense1_kernel("fastest")
    assert core.dense1_kernel() == before


@pytest.mark.parametrize("kernel", ["fused", "pipelined"])
def test_the_environment_picks_the_dense1_kernel_at_import(kernel):
    import subprocess
    import sys

    env = {**__import__("os").environ, "HOOKFIT_DENSE1_KERNEL": kernel}
    out = subprocess.run([sys.executable, "-c", "from hookfit._native import core; print(core.dense1_kernel())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == kernel
    bad = subprocess.run([sys.executable, "-c", "import hookfit._native"],
                         env={**env, "HOOKFIT_DENSE1_KERNEL": "quick"}, capture_output=True, text=True)
    assert bad.returncode != 0 and "HOOKFIT_DENSE1_KERNEL='quick'" in bad.stderr


@pytest.mark.parametrize("kind,hyper", [
    (core.OPT_ADAM, {"amsgrad": True, "weight_decay": 0.004, "use_ema": True}),
    (core.OPT_NADAM, {}),
    (core.OPT_SGD, {"momentum": 0.9, "nesterov": True}),
    (core.OPT_RMSPROP, {"centered": True, "momentum": 0.5}),
    (core.OPT_FTRL, {}),
])
def test_a_large_optimizer_update_is_bitwise_the_same_for_any_thread_count(threads, kind, hyper):
    """Above the split size the update runs in fixed ranges on the pool."""
    rng = np.random.default_rng(5)
    n_params = 300_000  # past HF_OPT_SPLIT, several ranges and a short last one
    params0 = rng.standard_normal(n_params).astype(np.float32)
    grads = [rng.standard_normal(n_params).astype(np.float32) for _ in range(3)]
    spec = {"kind": kind, **hyper}
    variables = [(0, 100_000), (100_000, 7), (100_007, 150_000), (260_000, 40_000)]  # a gap: frozen
    results = []
    for n in (1, 2, 3):
        core.set_threads(n)
        params = params0.copy()
        slots = [np.zeros(n_params, np.float32) for _ in range(core.opt_n_slots(spec))]
        for it, g in enumerate(grads):
            core.opt_apply(spec, params, g.copy(), slots, 1e-2, it, variables)
        results.append((params, slots))
    for params, slots in results[1:]:
        np.testing.assert_array_equal(params, results[0][0])
        for s, s0 in zip(slots, results[0][1]):
            np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(results[0][0][250_007:260_000], params0[250_007:260_000])


@pytest.mark.parametrize("acts", [[core.ACT_TANH, core.ACT_GELU, core.ACT_SOFTMAX],
                                  [core.ACT_SIGMOID, core.ACT_RELU, core.ACT_SOFTMAX]])
def test_large_activation_and_bias_passes_are_bitwise_the_same_for_any_thread_count(threads, acts):
    rng = np.random.default_rng(2)
    dims, batch = (100, 512, 512, 10), 1024

    def run():
        net = core.Network(dims[0], list(dims[1:]), acts, [True] * 3)
        net.params[:] = np.random.default_rng(2).uniform(-0.1, 0.1, net.n_params)
        net.configure(core.LOSS_CCE, [core.METRIC_CATEGORICAL_ACCURACY], core.OPT_ADAM)
        data = core.Dataset(x, y)
        net.train_batches(data, 0, 2 * batch, batch, 1e-3)
        out = np.empty((2 * batch, dims[-1]), np.float32)
        net.predict_batches(data, 0, 2 * batch, batch, out)
        return net.params.copy(), out

    x = rng.standard_normal((2 * batch, dims[0])).astype(np.float32)
    y = np.eye(dims[-1], dtype=np.float32)[rng.integers(0, dims[-1], 2 * batch)]
    results = []
    for n in (1, 2, 3):
        core.set_threads(n)
        results.append(run())
    for params, out in results[1:]:
        np.testing.assert_array_equal(params, results[0][0])
        np.testing.assert_array_equal(out, results[0][1])


def test_pool_threads_flush_denormals_as_the_caller_does(threads):
    """The core flushes denormals to zero (csrc/hf_fpenv.h); a pool worker
    runs its tasks in the caller's mode, or a task's bits would depend on
    which thread ran it."""
    n_params = 4_000_000  # many tasks: the workers take some of them
    spec = {"kind": core.OPT_RMSPROP}
    grads = np.full(n_params, 1e-21, np.float32)  # g^2 = 1e-42: denormal
    results = []
    for n in (1, 2):
        core.set_threads(n)
        params = np.ones(n_params, np.float32)
        slots = [np.zeros(n_params, np.float32) for _ in range(core.opt_n_slots(spec))]
        for it in range(3):
            core.opt_apply(spec, params, grads.copy(), slots, 1e-3, it)
        results.append((params, slots[0]))
    assert np.all(results[0][1] == 0.0)  # flushed by the caller's thread
    for params, v in results[1:]:
        np.testing.assert_array_equal(v, results[0][1])
        np.testing.assert_array_equal(params, results[0][0])


# ------------------------------------------- sharing the CPUs (the default)


@pytest.fixture
def sharing():
    """Restore the pool's size and sharing mode after a test."""
    before = core.get_threads(), core.get_pool_share()
    yield
    core.set_threads(before[0])
    core.set_pool_share(before[1])


@pytest.mark.parametrize("others,waiting,n_cpus,threads,current,expected", [
    (0.0, 0.0, 2, 2, 2, 2), (0.4, 0.0, 2, 2, 2, 2), (0.6, 0.0, 2, 2, 2, 1), (1.0, 0.0, 2, 2, 1, 1),
    (2.5, 0.9, 2, 2, 2, 1), (3.0, 0.0, 8, 8, 8, 5), (0.0, 0.0, 8, 4, 4, 4), (9.0, 0.0, 8, 8, 8, 1),
    (0.0, 0.0, 1, 1, 1, 1), (-1.0, -1.0, 2, 2, 2, 2),
    # A neighbour sharing the second CPU with our worker shows as half a CPU
    # busy; the tasks' waiting says the CPUs are short: one thread fewer.
    (0.5, 0.6, 2, 2, 2, 1), (0.5, 0.1, 2, 2, 2, 2), (0.5, -1.0, 2, 2, 2, 2),
    (1.0, 0.5, 8, 8, 8, 7), (1.0, 0.5, 8, 8, 5, 4),
    # Running alone again once the others' use drops.
    (0.1, 0.0, 2, 2, 1, 2),
])
def test_a_job_uses_the_cpus_other_processes_leave_free(others, waiting, n_cpus, threads,
                                                         current, expected):
    """The free CPUs rounded to the nearest, within [1, the pool's threads],
    and one fewer than now while tasks queue for the CPUs."""
    assert core._cpu_threads_worth(others, waiting, n_cpus, threads, current) == expected


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_cpu_readings_count_this_process_apart():
    first = core._cpu_reading()
    if first is None:
        pytest.skip("no kernel CPU counters here (not Linux)")
    _spin(0.3)
    second = core._cpu_reading()
    wall_ns, own_ns, busy_s, n_cpus, _ = (b - a for a, b in zip(first, second))
    assert second[3] == len(os.sched_getaffinity(0))
    assert wall_ns > 0.29e9 and own_ns > 0.2e9 and busy_s >= 0.0
    assert core._cpu_others(first, second) >= 0.0
    assert core._cpu_others(second, first) == 0.0  # not later: nothing to say
    waiting = core._cpu_waiting(first, second)
    if first[4] < 0:  # no pressure counter in this kernel
        assert waiting == -1.0
    else:
        assert 0.0 <= waiting <= len(os.sched_getaffinity(0)) + 1
        assert core._cpu_waiting(second, first) == -1.0


def _hog(stop, cpu):
    os.sched_setaffinity(0, {cpu})
    while not stop.is_set():
        pass


def test_with_every_cpu_busy_elsewhere_the_default_pool_runs_jobs_alone(sharing):
    """Processes busy on every CPU of the mask: within a few readings (0.1 s
    apart) the default pool runs its jobs on the calling thread alone, and a
    step trains bitwise as with one thread."""
    if core._cpu_reading() is None:
        pytest.skip("no kernel CPU counters here (not Linux)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs 2 CPUs")
    core.set_threads(2)
    expected = _train((300, 512, 512, 12), 200, seed=2)
    core.set_pool_share(True)
    assert core.get_pool_share() and core.pool_active_threads() == 2
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    hogs = [ctx.Process(target=_hog, args=(stop, cpu)) for cpu in cpus]
    for h in hogs:
        h.start()
    try:
        deadline = time.monotonic() + 20
        while core.pool_active_threads() > 1 and time.monotonic() < deadline:
            core._pool_check(8, 20)
            _spin(0.02)
        assert core.pool_active_threads() == 1
        got = _train((300, 512, 512, 12), 200, seed=2)
    finally:
        stop.set()
        for h in hogs:
            h.join(timeout=30)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    core.set_pool_share(False)
    assert core.pool_active_threads() == 2  # a set count is used as it is
