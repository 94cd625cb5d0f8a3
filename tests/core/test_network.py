"""Network steps (train/test/predict) against a float64 reference step, on
both code paths: the fused Dense(1) kernel and the general sgemm stack."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core

R, S, T, L, SM = core.ACT_RELU, core.ACT_SIGMOID, core.ACT_TANH, core.ACT_LINEAR, core.ACT_SOFTMAX

# (dims, activations, loss, metrics)
MODELS = {
    "dense1-mse": ([784, 1], [L], core.LOSS_MSE, [core.METRIC_MAE]),
    "dense1-bce": ([9, 1], [S], core.LOSS_BCE, [core.METRIC_BINARY_ACCURACY, core.METRIC_BCE]),
    "dense1-mae-relu": ([7, 1], [R], core.LOSS_MAE, [core.METRIC_MSE]),
    "dense1-tanh": ([5, 1], [T], core.LOSS_MSE, []),
    "mlp-mse": ([12, 8, 5, 3], [R, T, L], core.LOSS_MSE, [core.METRIC_MAE]),
    "mlp-cce": ([10, 6, 4], [S, SM], core.LOSS_CCE, [core.METRIC_CATEGORICAL_ACCURACY, core.METRIC_CCE]),
    "mlp-scce": ([10, 6, 4], [R, SM], core.LOSS_SCCE,
                 [core.METRIC_SPARSE_CATEGORICAL_ACCURACY, core.METRIC_SCCE]),
    "wide-1": ([3, 2], [L], core.LOSS_MSE, []),
}


def setup(ref, rng, name, n=45, bias=True, opt=core.OPT_SGD, **hyper):
    dims, acts, loss, metrics = MODELS[name]
    net = ref.make_net(rng, dims, acts, bias=bias)
    net.configure(loss, metrics, opt, **hyper)
    x = rng.standard_normal((n, dims[0])).astype(np.float32)
    y = ref.targets(rng, loss, n, dims[-1])
    return net, x, y, acts, loss, metrics


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_train_batch_matches_reference_step(ref, rng, name, shuffled, weighted):
    net, x, y, acts, loss, metrics = setup(ref, rng, name)
    sw = rng.uniform(0.2, 2.0, len(x)).astype(np.float32) if weighted else None
    data = core.Dataset(x, y, sw)
    order = rng.permutation(len(x)) if shuffled else np.arange(len(x))
    if shuffled:
        data.set_order(order)
    start, count, lr = 7, 19, 0.05
    rows = order[start:start + count]
    layers = [(w.astype(np.float64), None if b is None else b.astype(np.float64)) for w, b in ref.layers_of(net)]
    value, g = ref.grads(layers, acts, x[rows], y[rows], loss, None if sw is None else sw[rows])
    pred = ref.forward(layers, acts, x[rows])[-1]
    expect = net.params.astype(np.float64) - lr * g

    net.train_batch(data, start, count, lr)

    assert net.iterations == 1
    np.testing.assert_allclose(net.params, expect, rtol=1e-5, atol=1e-6)
    results = net.metric_results()
    assert results[0] == pytest.approx(value, rel=1e-5, abs=1e-6)
    for m, got in zip(metrics, results[1:]):
        assert got == pytest.approx(ref.per_sample_metric(m, y[rows], pred).mean(), rel=1e-5, abs=1e-6)
    state = net.metric_state()
    assert np.all(state[1::2] == count)  # (total, count) blocks, the loss first


@pytest.mark.parametrize("name", ["dense1-mse", "mlp-mse"])
@pytest.mark.parametrize("opt,hyper", [(core.OPT_RMSPROP, {}), (core.OPT_ADAM, {"amsgrad": True}),
                                       (core.OPT_RMSPROP, {"momentum": 0.9, "centered": True})])
def test_several_steps_match_reference_optimizer(ref, rng, name, opt, hyper):
    net, x, y, acts, loss, _ = setup(ref, rng, name, opt=opt, **hyper)
    data = core.Dataset(x, y)
    oracle = ref.Opt(opt, net.n_params, **hyper)
    p = net.params.astype(np.float64)
    for step, (start, count) in enumerate([(0, 16), (16, 16), (32, 13)]):
        lr = 0.01 / (step + 1)
        layers, off = [], 0
        for w, b in ref.layers_of(net):  # oracle weights = its own float64 copy
            wv = p[off:off + w.size].reshape(w.shape)
            off += w.size
            bv = None
            if b is not None:
                bv = p[off:off + b.size]
                off += b.size
            layers.append((wv, bv))
        _, g = ref.grads(layers, acts, x[start:start + count], y[start:start + count], loss)
        p = oracle.step(p, g, lr)
        net.train_batch(data, start, count, lr)
        # Where a gradient sum cancels to ~sqrt(epsilon), RMSprop turns its
        # float32 rounding (which depends on the summation order) into a
        # visible part of the step; 1e-4 is 1% of a typical step here.
        np.testing.assert_allclose(net.params, p, rtol=1e-4, atol=1e-4)
    assert net.iterations == 3


@pytest.mark.parametrize("name", ["dense1-mse", "mlp-scce", "wide-1"])
def test_train_batches_equals_repeated_train_batch_bitwise(ref, rng, name):
    net_a, x, y, *_ = setup(ref, rng, name, n=50, opt=core.OPT_RMSPROP)
    net_b = core.Network(net_a.input_dim, [net_a.layer_weights(i)[0].shape[1] for i in range(net_a.n_layers)],
                         MODELS[name][1], [True] * net_a.n_layers)
    net_b.params[:] = net_a.params
    net_b.configure(MODELS[name][2], MODELS[name][3], core.OPT_RMSPROP)
    data = core.Dataset(x, y)
    data.set_order(rng.permutation(50))
    net_a.train_batches(data, 3, 47, 16, 0.01)  # 16 + 16 + 15
    for s in (3, 19, 35):
        net_b.train_batch(data, s, min(16, 50 - s), 0.01)
    assert np.array_equal(net_a.params, net_b.params)
    assert np.array_equal(net_a.metric_state(), net_b.metric_state())
    assert np.array_equal(net_a.optimizer_slots()[0], net_b.optimizer_slots()[0])
    assert net_a.iterations == net_b.iterations == 3


@pytest.mark.parametrize("name", ["dense1-bce", "mlp-cce", "mlp-scce"])
def test_test_and_predict_match_reference(ref, rng, name):
    net, x, y, acts, loss, metrics = setup(ref, rng, name, n=33)
    data = core.Dataset(x, y)
    data.set_order(rng.permutation(33))
    order = data.order
    layers = ref.layers_of(net)
    pred = ref.forward(layers, acts, x[order])[-1]

    out = np.full((33, net.output_dim), -7.0, np.float32)
    net.predict_batches(data, 0, 33, 8, out)
    np.testing.assert_allclose(out, pred, rtol=1e-5, atol=1e-6)

    out2 = np.full_like(out, -7.0)
    net.predict_batch(data, 10, 5, out2)
    np.testing.assert_allclose(out2[10:15], pred[10:15], rtol=1e-5, atol=1e-6)
    assert np.all(out2[:10] == -7.0) and np.all(out2[15:] == -7.0)

    before = net.params.copy()
    net.test_batches(data, 0, 33, 10)  # batches of 10, 10, 10, 3
    assert np.array_equal(net.params, before) and net.iterations == 0
    batch_losses = [ref.batch_loss(loss, y[order][s:s + 10], pred[s:s + 10]) for s in range(0, 33, 10)]
    sizes = [10, 10, 10, 3]
    expect_loss = sum(l * n for l, n in zip(batch_losses, sizes)) / 33
    got = net.metric_results()
    assert got[0] == pytest.approx(expect_loss, rel=1e-5)
    for m, value in zip(metrics, got[1:]):
        assert value == pytest.approx(ref.per_sample_metric(m, y[order], pred).mean(), rel=1e-5, abs=1e-6)


def test_no_bias_layers(ref, rng):
    for name in ("dense1-mse", "mlp-mse"):
        net, x, y, acts, loss, _ = setup(ref, rng, name, n=20, bias=False)
        assert all(net.layer_weights(i)[1] is None for i in range(net.n_layers))
        data = core.Dataset(x, y)
        _, g = ref.grads(ref.layers_of(net), acts, x, y, loss)
        expect = net.params - 0.1 * g
        net.train_batch(data, 0, 20, 0.1)
        np.testing.assert_allclose(net.params, expect, rtol=1e-5, atol=1e-6)


def test_layer_views_share_the_flat_buffer(rng):
    net = core.Network(4, [3, 2], [R, L], [True, False])
    assert net.n_params == 4 * 3 + 3 + 3 * 2
    assert (net.n_layers, net.input_dim, net.output_dim) == (2, 4, 2)
    w0, b0 = net.layer_weights(0)
    w0[...] = 1.0
    b0[...] = 2.0
    assert np.all(net.params[:12] == 1.0) and np.all(net.params[12:15] == 2.0)
    assert np.shares_memory(net.layer_weights(1)[0], net.params)


def test_configure_resets_state(ref, rng):
    net, x, y, *_ = setup(ref, rng, "mlp-mse", opt=core.OPT_RMSPROP)
    data = core.Dataset(x, y)
    net.train_batch(data, 0, 10, 0.01)
    assert net.iterations == 1 and net.metric_state()[1] == 10
    assert np.any(net.optimizer_slots()[0] != 0)
    net.configure(core.LOSS_MAE, [core.METRIC_MSE, core.METRIC_MAE], core.OPT_ADAM)
    assert net.iterations == 0
    assert net.metric_state().shape == (6,) and np.all(net.metric_state() == 0)
    assert all(np.all(s == 0) for s in net.optimizer_slots())
    assert net.metric_results() == [0.0, 0.0, 0.0]


def test_metric_state_round_trip_and_reset(ref, rng):
    net, x, y, *_ = setup(ref, rng, "dense1-mse")
    data = core.Dataset(x, y)
    net.test_batch(data, 0, 20)
    state = net.metric_state()
    net.reset_metrics()
    assert np.all(net.metric_state() == 0)
    net.set_metric_state(state)
    assert np.array_equal(net.metric_state(), state)
    assert net.metric_results()[0] == pytest.approx(state[0] / state[1])
    net.iterations = 41
    assert net.iterations == 41


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), din=st.integers(1, 37), hidden=st.sampled_from([None, 1, 3, 17]),
       k=st.integers(1, 5), batch=st.integers(1, 16), seed=st.integers(0, 2**16))
def test_shapes_hypothesis(ref, n, din, hidden, k, batch, seed):
    """Batch 1, short last batches, width 1, odd widths; both code paths."""
    rng = np.random.default_rng(seed)
    dims = [din] + ([hidden] if hidden else []) + [k]
    acts = [R] * (len(dims) - 2) + [L]
    net = ref.make_net(rng, dims, acts)
    net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_SGD)
    x = rng.standard_normal((n, din)).astype(np.float32)
    y = rng.standard_normal((n, k)).astype(np.float32)
    data = core.Dataset(x, y)
    p = net.params.astype(np.float64)
    for s in range(0, n, batch):
        e = min(n, s + batch)
        layers, off = [], 0
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers.append((p[off:off + d_in * d_out].reshape(d_in, d_out), p[off + d_in * d_out:off + d_in * d_out + d_out]))
            off += d_in * d_out + d_out
        _, g = ref.grads(layers, acts, x[s:e], y[s:e], core.LOSS_MSE)
        p = p - 0.01 * g
    net.train_batches(data, 0, n, batch, 0.01)
    np.testing.assert_allclose(net.params, p, rtol=1e-4, atol=1e-5)
    assert net.iterations == -(-n // batch)
    out = np.empty((n, k), np.float32)
    net.predict_batches(data, 0, n, batch, out)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("shuffled", [False, True])
def test_a_dense1_prediction_has_the_same_bits_wherever_its_row_falls(ref, rng, shuffled):
    """Inference reads rows by fours; a batch's last one to three rows go
    through the same arithmetic (hf_dense1.c, forward_rows), so a row's
    output does not depend on the batch size, on where the row falls in its
    batch, nor on the cut of a large batch into blocks."""
    n, d = 1030, 48
    x = rng.standard_normal((n, d)).astype(np.float32)
    net = ref.make_net(rng, [d, 1], [core.ACT_SIGMOID], scale=0.1)
    net.configure(core.LOSS_MSE, [], core.OPT_SGD)
    data = core.Dataset(x, np.zeros((n, 1), np.float32))
    data.set_order(rng.permutation(n) if shuffled else None)
    outs = []
    for batch in (1, 3, 4, 6, 7, 517, n):  # 517 and n: blocks run on the pool
        out = np.empty((n, 1), np.float32)
        net.predict_batches(data, 0, n, batch, out)
        outs.append(out)
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])


@pytest.mark.parametrize("d", [16, 40, 48, 784])
@pytest.mark.parametrize("offset", [0, 1, 4, 8, 13])
@pytest.mark.parametrize("shuffled", [False, True])
def test_dense1_rows_at_any_alignment(ref, rng, d, offset, shuffled):
    """The fused path realigns its loads when rows start inside a 32-byte
    block (NumPy's arrays start 0, 16, 32 or 48 bytes into a cache line; 40
    inputs: rows of whole 32-byte blocks, not lines): same results."""
    n = 23
    x = ref.rows_at_offset(rng, n, d, offset)
    y = rng.standard_normal((n, 1)).astype(np.float32)
    net = ref.make_net(rng, [d, 1], [core.ACT_TANH], scale=0.1)
    net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_SGD)
    data = core.Dataset(x, y)
    assert np.shares_memory(data.x, x)  # no copy: the kernel handles alignment
    order = rng.permutation(n) if shuffled else np.arange(n)
    data.set_order(order)
    layers = ref.layers_of(net)
    value, g = ref.grads(layers, [core.ACT_TANH], x[order[:15]], y[order[:15]], core.LOSS_MSE)
    pred = ref.forward(layers, [core.ACT_TANH], x[order])[-1]
    out = np.empty((n, 1), np.float32)
    net.predict_batches(data, 0, n, 7, out)
    np.testing.assert_allclose(out, pred, rtol=1e-5, atol=1e-6)
    expect = net.params - 0.1 * g
    net.train_batch(data, 0, 15, 0.1)
    np.testing.assert_allclose(net.params, expect, rtol=1e-5, atol=1e-6)
    assert net.metric_results()[0] == pytest.approx(value, rel=1e-5)
