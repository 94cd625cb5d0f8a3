"""The core's thread pool (csrc/hf_pool.h) and the products it splits:
every task runs once, the cut depends on the shape only, and results are
bitwise the same for any thread count, also across fork()."""

import multiprocessing
import threading

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
