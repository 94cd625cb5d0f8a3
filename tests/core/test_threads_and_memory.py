"""The GIL is released for whole runs of batches; networks share no hidden
state; concurrent use of one Network is refused; no memory or object leak."""

from __future__ import annotations

import gc
import os
import threading
import time

import numpy as np
import pytest

from hookfit import _core as core
from hookfit import errors

# Under AddressSanitizer freed memory sits in a quarantine, so resident memory
# grows without a leak; object counts are still checked there.
_SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")


def mlp(seed=0, dims=(64, 128, 64, 4)):
    rng = np.random.default_rng(seed)
    net = core.Network(dims[0], list(dims[1:]), [core.ACT_RELU] * (len(dims) - 2) + [core.ACT_LINEAR],
                       [True] * (len(dims) - 1))
    net.params[:] = rng.uniform(-0.1, 0.1, net.n_params)
    net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP)
    return net


def long_data(seed=0, n=512, d=64, k=4, repeats=40):
    rng = np.random.default_rng(seed)
    data = core.Dataset(rng.standard_normal((n, d)), rng.standard_normal((n, k)))
    # Positions may repeat rows: one call then runs `repeats` epochs.
    data.set_order(np.concatenate([rng.permutation(n) for _ in range(repeats)]))
    return data


def run_in_thread(fn):
    errors_seen = []

    def target():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported to the main thread
            errors_seen.append(e)

    t = threading.Thread(target=target)
    t.start()
    return t, errors_seen


def test_main_thread_keeps_running_during_a_long_train_call():
    net, data = mlp(), long_data(repeats=200)
    started = time.perf_counter()
    t, errs = run_in_thread(lambda: net.train_batches(data, 0, data.n_positions, 32, 0.001))
    longest, last, ticks = 0.0, time.perf_counter(), 0
    while t.is_alive():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
        ticks += 1
    duration = time.perf_counter() - started
    t.join()
    assert not errs
    assert net.iterations == data.n_positions // 32
    assert duration > 0.1, "the call must be long enough to measure"
    # Holding the GIL would stall this loop for the whole call.
    assert longest < duration / 4, (longest, duration)
    assert ticks > 100


def test_two_networks_in_two_threads_match_sequential_runs_bitwise():
    def fresh():
        return [mlp(seed=1), mlp(seed=2)], [long_data(seed=3, repeats=5), long_data(seed=4, repeats=5)]

    nets, datas = fresh()
    for net, data in zip(nets, datas):
        net.train_batches(data, 0, data.n_positions, 16, 0.001)
        out = np.empty((data.n_positions, 4), np.float32)
        net.predict_batches(data, 0, data.n_positions, 64, out)
    sequential = [n.params.copy() for n in nets]

    nets2, datas2 = fresh()
    threads = [run_in_thread(lambda n=n, d=d: n.train_batches(d, 0, d.n_positions, 16, 0.001))
               for n, d in zip(nets2, datas2)]
    for t, errs in threads:
        t.join()
        assert not errs
    for a, b in zip(sequential, nets2):
        assert np.array_equal(a, b.params)


def test_concurrent_use_of_one_network_is_refused():
    net, data = mlp(), long_data(repeats=80)
    t, errs = run_in_thread(lambda: net.train_batches(data, 0, data.n_positions, 32, 0.001))
    refused = set()
    deadline = time.perf_counter() + 10
    while t.is_alive() and time.perf_counter() < deadline and len(refused) < 3:
        for name, call in (("train", lambda: net.train_batch(data, 0, 8, 0.1)),
                           ("configure", lambda: net.configure(core.LOSS_MSE, [], core.OPT_SGD)),
                           ("order", lambda: data.set_order(None))):
            try:
                call()
            except errors.BusyError as e:
                assert isinstance(e, RuntimeError)
                refused.add(name)
        time.sleep(0.001)
    t.join()
    assert not errs
    assert refused == {"train", "configure", "order"}
    net.train_batch(data, 0, 8, 0.1)  # usable again afterwards


def rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_no_leak_over_1200_step_calls():
    rng = np.random.default_rng(0)
    net = core.Network(784, [1], [core.ACT_LINEAR], [True])
    net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP)
    big = mlp()
    x = rng.standard_normal((300, 784)).astype(np.float32)
    data = core.Dataset(x, rng.standard_normal((300, 1)))
    data2 = long_data(repeats=1)
    out = np.empty((300, 1), np.float32)
    out2 = np.empty((512, 4), np.float32)

    def calls():
        net.train_batch(data, 0, 128, 0.001)
        net.train_batches(data, 0, 300, 128, 0.001)
        net.test_batch(data, 0, 64)
        net.predict_batches(data, 0, 300, 128, out)
        big.train_batch(data2, 0, 32, 0.001)
        big.predict_batch(data2, 0, 64, out2)
        net.metric_results()
        try:
            net.train_batch(data, 0, 128, float("nan"))
        except errors.NonFiniteError:
            pass
        core.Dataset(x[:10], None).set_order(np.arange(10))

    for _ in range(100):
        calls()
    # A leak grows in every window; allocator noise from other tests run in
    # the same process (arena growth, BLAS buffers) does not repeat.
    rss_growth, obj_growth = [], []
    for _ in range(3):
        gc.collect()
        rss0, objs0 = rss_bytes(), len(gc.get_objects())
        for _ in range(400):
            calls()
        gc.collect()
        rss_growth.append(rss_bytes() - rss0)
        obj_growth.append(len(gc.get_objects()) - objs0)
    assert min(obj_growth) <= 0 and max(obj_growth) < 50, obj_growth
    if not _SANITIZED:
        assert min(rss_growth) < 64 * 2**10 and rss_growth[-1] < 2**20, rss_growth
