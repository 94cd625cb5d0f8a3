"""The data-parallel step split in two native calls (grad_batch, then
update_batch around the Allreduce of reduce_buffer):

- on one rank it is bitwise today's one-call step (train_batch), in the
  compiled core and in the NumPy twin;
- on 2 or 3 replicas (threads, summing reduce_buffer in place) every replica
  holds bitwise the same weights, equal to one process at the same global
  batch (to float32 rounding), uneven and tiny last batches included.
"""

from __future__ import annotations

import numpy as np
import pytest

from hookfit import _core as core
from hookfit import _reference as twin
from hookfit.distribute import run_replicas, shard_bounds
from hookfit.errors import KindError, NonFiniteError, PositionError
from problem_targets import targets

IMPLS = pytest.mark.parametrize("impl", [core, twin], ids=["compiled", "twin"])

# dims, activations, loss, metrics, optimizer and its settings: the fused
# single-unit path, the sgemm path, every optimizer and sparse labels.
CONFIGS = {
    "dense1-rmsprop": ([12, 1], [0], core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP,
                       {"centered": True, "momentum": 0.5}),
    "dense1-bce-adam": ([9, 1], [2], core.LOSS_BCE, [core.METRIC_BINARY_ACCURACY], core.OPT_ADAM, {}),
    "mlp-cce-adam": ([20, 12, 5], [1, 4], core.LOSS_CCE,
                     [core.METRIC_CATEGORICAL_ACCURACY, core.METRIC_MSE], core.OPT_ADAM, {"amsgrad": True}),
    "mlp-scce-sgd": ([20, 16, 8, 4], [1, 3, 4], core.LOSS_SCCE,
                     [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_SGD,
                     {"momentum": 0.9, "nesterov": True}),
}


def _problem(name, n=103, seed=0):
    dims, acts, loss, metrics, opt, hyper = CONFIGS[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dims[0])).astype(np.float32)
    y = targets(rng, loss, n, dims[-1])
    sw = rng.uniform(0.2, 2.0, n).astype(np.float32)  # sample (or class) weights
    return dims, acts, loss, metrics, opt, hyper, x, y, sw


def _network(impl, problem, init_seed=1):
    dims, acts, loss, metrics, opt, hyper, *_ = problem
    net = impl.Network(dims[0], dims[1:], acts, [True] * len(acts))
    net.params[:] = np.random.default_rng(init_seed).uniform(-0.3, 0.3, net.n_params).astype(np.float32)
    net.configure(loss, metrics, opt, **hyper)
    return net


def _state(net):
    return [net.params.copy(), *[s.copy() for s in net.optimizer_slots()],
            net.metric_state(), np.int64(net.iterations)]


def _assert_bitwise(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert np.asarray(u).tobytes() == np.asarray(v).tobytes()


def _batches(n, batch_size):
    return [(s, min(batch_size, n - s)) for s in range(0, n, batch_size)]


@IMPLS
@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("shuffled", [False, True])
def test_grad_then_update_is_bitwise_the_one_call_step(impl, name, shuffled):
    problem = _problem(name)
    x, y, sw = problem[-3:]
    one, split = _network(impl, problem), _network(impl, problem)
    data = impl.Dataset(x, y, sw)
    if shuffled:
        data.set_order(np.random.default_rng(5).permutation(x.shape[0]))
    for step, (start, rows) in enumerate(_batches(x.shape[0], 16)):  # 6 x 16 + 7
        lr = 0.01 / (1 + step)
        one.train_batch(data, start, rows, lr)
        split.grad_batch(data, start, rows, rows)
        split.update_batch(lr)
        _assert_bitwise(_state(one), _state(split))
    assert split.iterations == 7


@IMPLS
def test_grad_batch_changes_nothing_but_the_reduce_buffer(impl):
    problem = _problem("mlp-cce-adam")
    net = _network(impl, problem)
    data = impl.Dataset(*problem[-3:])
    net.train_batch(data, 0, 10, 0.01)
    before = _state(net)
    buf = net.reduce_buffer
    assert buf.dtype == np.float32 and buf.flags.c_contiguous
    assert buf.shape == (net.n_params + net.metric_state().size + 1,)
    buf[-1] = 7.0  # the caller's float
    net.grad_batch(data, 10, 20, 40)
    assert buf[-1] == 7.0
    _assert_bitwise(before, _state(net))
    assert np.abs(buf[: net.n_params]).sum() > 0
    # The deltas: the loss tracker's (total, rows) first, then each metric's block.
    assert buf[net.n_params + 1] == 20
    assert buf[net.n_params : -1].any()


@IMPLS
@pytest.mark.parametrize("name", ["dense1-bce-adam", "mlp-cce-adam"])
def test_a_lent_reduce_buffer_steps_bitwise_as_the_own_one(impl, name):
    """Memory lent by a communicator (a shared window) holds the step: its
    old contents are never read, the step is bitwise the same, and the
    network's own buffer comes back."""
    problem = _problem(name)
    data = impl.Dataset(*problem[-3:])
    own, lent_net = _network(impl, problem), _network(impl, problem)
    lent = np.full(lent_net.reduce_buffer.shape[0], np.nan, np.float32)
    mine = lent_net.reduce_buffer
    assert lent_net.use_reduce_buffer(lent) is mine and lent_net.reduce_buffer is lent
    for start, rows in _batches(103, 32):  # 3 x 32 + 7
        own.grad_batch(data, start, rows, rows)
        lent_net.grad_batch(data, start, rows, rows)
        assert lent[:-1].tobytes() == own.reduce_buffer[:-1].tobytes()
        own.update_batch(0.01)
        lent_net.update_batch(0.01)
        own.train_batch(data, start, rows, 0.02)  # the one-call step uses the same gradients
        lent_net.train_batch(data, start, rows, 0.02)
        _assert_bitwise(_state(own), _state(lent_net))
    assert lent_net.use_reduce_buffer(mine) is lent
    assert lent_net.reduce_buffer is mine


@IMPLS
def test_use_reduce_buffer_refuses_a_wrong_buffer_and_configure_drops_it(impl):
    problem = _problem("mlp-cce-adam")
    data = impl.Dataset(*problem[-3:])
    net = _network(impl, problem)
    with pytest.raises(ValueError, match="use_reduce_buffer"):  # before any reduce buffer exists
        net.use_reduce_buffer(np.zeros(3, np.float32))
    mine = net.reduce_buffer
    n = mine.shape[0]
    for bad, error in ((np.zeros(n, np.float64), TypeError), (np.zeros(n + 1, np.float32), ValueError),
                       (np.zeros(2 * n, np.float32)[::2], TypeError), ([0.0] * n, TypeError),
                       (np.zeros((1, n), np.float32), TypeError)):
        with pytest.raises(error, match="use_reduce_buffer"):
            net.use_reduce_buffer(bad)
        assert net.reduce_buffer is mine  # a refused call changes nothing
    frozen = np.zeros(n, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        net.use_reduce_buffer(frozen)
    lent = np.zeros(n, np.float32)
    net.use_reduce_buffer(lent)
    net.configure(*problem[2:5], **problem[5])
    assert net.reduce_buffer is not lent
    lent[:] = 0
    net.train_batch(data, 0, 32, 0.01)  # the gradients no longer live in the lent memory
    assert not lent.any()


@IMPLS
def test_an_empty_share_contributes_zeros(impl):
    problem = _problem("mlp-scce-sgd")
    net = _network(impl, problem)
    data = impl.Dataset(*problem[-3:])
    net.grad_batch(data, 0, 30, 30)
    assert net.grad_batch(data, 103, 0, 1) == 0  # at the very end: allowed
    assert not net.reduce_buffer.any()


@IMPLS
def test_bad_split_calls_are_refused_and_change_nothing(impl):
    problem = _problem("dense1-rmsprop")
    data = impl.Dataset(*problem[-3:])
    raw = impl.Network(12, [1], [0], [True])
    with pytest.raises((KindError, ValueError), match="configure"):
        raw.grad_batch(data, 0, 4, 4)
    net = _network(impl, problem)
    before = _state(net)
    with pytest.raises((PositionError, ValueError), match="global_rows"):
        net.grad_batch(data, 0, 8, 4)
    with pytest.raises((PositionError, ValueError)):
        net.grad_batch(data, 100, 8, 16)
    with pytest.raises((NonFiniteError, ValueError), match="finite"):
        net.update_batch(float("nan"))
    _assert_bitwise(before, _state(net))


def test_compiled_and_twin_agree_on_a_scaled_share():
    problem = _problem("mlp-cce-adam")
    bufs = []
    for impl in (core, twin):
        net = _network(impl, problem)
        net.grad_batch(impl.Dataset(*problem[-3:]), 3, 17, 64)
        bufs.append(net.reduce_buffer.copy())
    np.testing.assert_allclose(bufs[0], bufs[1], rtol=1e-4, atol=1e-6)


def _data_parallel_run(comm, impl, problem, batch_size, lrs):
    """One replica: each global batch's contiguous share, the in-place sum,
    the update."""
    x, y, sw = problem[-3:]
    net = _network(impl, problem)
    data = impl.Dataset(x, y, sw)
    buf = net.reduce_buffer
    for (start, rows), lr in zip(_batches(x.shape[0], batch_size), lrs):
        lo, hi = shard_bounds(rows, comm.rank, comm.size)
        net.grad_batch(data, start + lo, hi - lo, rows)
        comm.allreduce_sum_(buf)
        net.update_batch(lr)
    return _state(net), net.metric_results()


@IMPLS
@pytest.mark.parametrize("name", ["dense1-rmsprop", "mlp-cce-adam", "mlp-scce-sgd"])
@pytest.mark.parametrize(
    "replicas, n, batch_size",
    [(2, 96, 32), (2, 103, 32), (3, 103, 50), (2, 101, 25)],  # even, uneven, 3-row and 1-row last batch
)
def test_replicas_match_one_process_at_the_same_global_batch(impl, name, replicas, n, batch_size):
    problem = _problem(name, n=n)
    x, y, sw = problem[-3:]
    lrs = [0.02 / (1 + i) for i in range(len(_batches(n, batch_size)))]
    one = _network(impl, problem)
    data = impl.Dataset(x, y, sw)
    for (start, rows), lr in zip(_batches(n, batch_size), lrs):
        one.train_batch(data, start, rows, lr)
    results = run_replicas(replicas, _data_parallel_run, impl, problem, batch_size, lrs, timeout=120)
    for state, _ in results[1:]:
        _assert_bitwise(results[0][0], state)  # every replica holds the same bits
    state, logs = results[0]
    expected = _state(one)
    for got, want in zip(state[:-1], expected[:-1]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert state[-1] == expected[-1]
    np.testing.assert_allclose(logs, one.metric_results(), rtol=1e-5, atol=1e-7)


# -- graph networks (Network.from_graph) ------------------------------------------

def _dense_node(i, units, act, **regs):
    spec = {"kind": core.NODE_DENSE, "inputs": [i], "units": units, "activation": act,
            "use_bias": True, "trainable": True}
    for key in ("kernel_l1", "kernel_l2", "bias_l1", "bias_l2", "activity_l1", "activity_l2"):
        spec[key] = regs.get(key, 0.0)
    return spec


def _graph_network(impl, extra_nodes=()):
    """Input -> Dense(12, relu, L2 kernel and L1 activity penalties) ->
    [extra] -> Dense(4, softmax, frozen-free); a penalty every rank adds in
    full must count once in the sum."""
    nodes = [{"kind": core.NODE_INPUT, "offset": 0, "width": 20},
             _dense_node(0, 12, core.ACT_RELU, kernel_l2=0.01, activity_l1=0.001)]
    for node in extra_nodes:
        nodes.append(dict(node, inputs=[len(nodes) - 1]))
    nodes.append(_dense_node(len(nodes) - 1, 4, core.ACT_SOFTMAX, bias_l1=0.02))
    net = impl.Network.from_graph(20, nodes, len(nodes) - 1)
    net.params[:] = np.random.default_rng(1).uniform(-0.3, 0.3, net.n_params).astype(np.float32)
    net.configure(core.LOSS_CCE, [core.METRIC_CATEGORICAL_ACCURACY], core.OPT_ADAM)
    return net


@IMPLS
def test_graph_with_penalties_split_is_bitwise_and_replicas_match_one_process(impl):
    n, batch_size = 101, 25
    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = targets(rng, core.LOSS_CCE, n, 4)
    one, split = _graph_network(impl), _graph_network(impl)
    data = impl.Dataset(x, y)
    for start, rows in _batches(n, batch_size):
        one.train_batch(data, start, rows, 0.01)
        split.grad_batch(data, start, rows, rows)
        split.update_batch(0.01)
    _assert_bitwise(_state(one), _state(split))

    def replica(comm):
        net = _graph_network(impl)
        d = impl.Dataset(x, y)
        buf = net.reduce_buffer
        for start, rows in _batches(n, batch_size):
            lo, hi = shard_bounds(rows, comm.rank, comm.size)
            net.grad_batch(d, start + lo, hi - lo, rows)
            comm.allreduce_sum_(buf)
            net.update_batch(0.01)
        return _state(net), net.metric_results()

    results = run_replicas(2, replica, timeout=120)
    _assert_bitwise(results[0][0], results[1][0])
    for got, want in zip(results[0][0][:-1], _state(one)[:-1]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0][1], one.metric_results(), rtol=1e-5)


_DROPOUT = {"kind": core.NODE_DROPOUT, "rate": 0.3, "seed": 7, "noise_shape_rows": False}


def _graph_replicas(impl, make, x, y, batch_size, replicas=2, offsets=True):
    """Every replica's (state, metric results) after a data-parallel pass."""

    def replica(comm):
        net = make(impl)
        d = impl.Dataset(x, y)
        buf = net.reduce_buffer
        for start, rows in _batches(x.shape[0], batch_size):
            lo, hi = shard_bounds(rows, comm.rank, comm.size)
            net.grad_batch(d, start + lo, hi - lo, rows, lo if offsets else 0)
            comm.allreduce_sum_(buf)
            net.update_batch(0.01)
        return _state(net), net.metric_results()

    return run_replicas(replicas, replica, timeout=120)


def _one_process(impl, make, x, y, batch_size):
    net = make(impl)
    data = impl.Dataset(x, y)
    for start, rows in _batches(x.shape[0], batch_size):
        net.train_batch(data, start, rows, 0.01)
    return net


def _close_states(got, want, rtol=1e-5):
    for g, w in zip(got[:-1], want[:-1]):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6)
    assert got[-1] == want[-1]


@IMPLS
@pytest.mark.parametrize("shared_row", [False, True], ids=["per-row", "noise-shape-rows"])
def test_dropout_shares_draw_the_one_process_masks(impl, shared_row):
    """Each share skips the draws of the rows before it: 2 and 3 replicas
    apply the one-process masks, so they train as one process does (to
    rounding: the gradient is a sum over ranks)."""
    node = dict(_DROPOUT, noise_shape_rows=shared_row)
    make = lambda i: _graph_network(i, [node])  # noqa: E731
    n, batch_size = 101, 25
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = targets(rng, core.LOSS_CCE, n, 4)
    one = _one_process(impl, make, x, y, batch_size)
    for replicas in (2, 3):
        results = _graph_replicas(impl, make, x, y, batch_size, replicas)
        for state, _ in results[1:]:
            _assert_bitwise(results[0][0], state)
        _close_states(results[0][0], _state(one))
        np.testing.assert_allclose(results[0][1], one.metric_results(), rtol=1e-5)


@IMPLS
def test_dropout_without_the_row_offset_would_draw_other_masks(impl):
    """The check above is sensitive: shares that all start at row 0 of the
    stream (row_offset=0) train differently."""
    make = lambda i: _graph_network(i, [_DROPOUT])  # noqa: E731
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = targets(rng, core.LOSS_CCE, 64, 4)
    one = _one_process(impl, make, x, y, 32)
    wrong = _graph_replicas(impl, make, x, y, 32, offsets=False)[0][0]
    assert not np.allclose(wrong[0], _state(one)[0], rtol=1e-3)


def test_compiled_and_twin_draw_the_same_share_masks():
    mask = core.dropout_mask(7, 3, 2, 10, 6, 0.4)
    np.testing.assert_array_equal(twin.dropout_mask(7, 3, 2, 4, 6, 0.4, row0=6), mask[6:])


def _summed_network(impl, penalties=False):
    nodes = [{"kind": core.NODE_INPUT, "offset": 0, "width": 20},
             _dense_node(0, 12, core.ACT_RELU, kernel_l2=0.01 if penalties else 0.0),
             _dense_node(1, 4, core.ACT_SOFTMAX)]
    net = impl.Network.from_graph(20, nodes, 2)
    net.params[:] = np.random.default_rng(1).uniform(-0.3, 0.3, net.n_params).astype(np.float32)
    net.configure({"kind": core.LOSS_CCE, "reduction": "sum"}, [{"kind": core.METRIC_CATEGORICAL_ACCURACY}],
                  {"kind": core.OPT_SGD})
    return net


@IMPLS
def test_summed_loss_shares_add_up_to_the_global_sum(impl):
    """reduction='sum': each share's gradient is its part of the global
    sum as it is (no scaling); the logged loss is the one-process loss."""
    n, batch_size = 101, 25
    rng = np.random.default_rng(6)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = targets(rng, core.LOSS_CCE, n, 4)
    one = _one_process(impl, _summed_network, x, y, batch_size)
    split = _summed_network(impl)
    data = impl.Dataset(x, y)
    for start, rows in _batches(n, batch_size):
        split.grad_batch(data, start, rows, rows)
        split.update_batch(0.01)
    _assert_bitwise(_state(one), _state(split))
    results = _graph_replicas(impl, _summed_network, x, y, batch_size, 3)
    _assert_bitwise(results[0][0], results[2][0])
    _close_states(results[0][0], _state(one))
    np.testing.assert_allclose(results[0][1], one.metric_results(), rtol=1e-5)


@IMPLS
def test_summed_loss_with_a_penalty_is_refused_clearly(impl):
    net = _summed_network(impl, penalties=True)
    rng = np.random.default_rng(0)
    data = impl.Dataset(rng.standard_normal((8, 20)).astype(np.float32), targets(rng, core.LOSS_CCE, 8, 4))
    before = _state(net)
    with pytest.raises(KindError, match="reduction='sum'.*regularizers"):
        net.grad_batch(data, 0, 4, 8)
    _assert_bitwise(before, _state(net))


@IMPLS
def test_a_bad_row_offset_is_refused(impl):
    net = _graph_network(impl, [_DROPOUT])
    rng = np.random.default_rng(0)
    data = impl.Dataset(rng.standard_normal((8, 20)).astype(np.float32), targets(rng, core.LOSS_CCE, 8, 4))
    before = _state(net)
    for offset in (-1, 5):
        with pytest.raises(PositionError, match="row_offset"):
            net.grad_batch(data, 0, 4, 8, offset)
    _assert_bitwise(before, _state(net))
