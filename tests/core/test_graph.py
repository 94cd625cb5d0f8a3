"""Graph networks (Network.from_graph): every node kind against the NumPy
twin and finite differences, Add/Concatenate graphs, frozen nodes,
BatchNormalization's moving statistics, dropout masks, regularizer
penalties, and the chain special case."""

from __future__ import annotations

import numpy as np
import pytest

from hookfit import _core, _reference
from hookfit.errors import DtypeError, KindError, ShapeError, StateError

IMPLEMENTATIONS = [_core, _reference]
C = _core


def inp(offset, width):
    return {"kind": C.NODE_INPUT, "offset": offset, "width": width}


def dense(i, units, act=C.ACT_LINEAR, use_bias=True, trainable=True, **regs):
    spec = {"kind": C.NODE_DENSE, "inputs": [i], "units": units, "activation": act,
            "use_bias": use_bias, "trainable": trainable}
    for key in ("kernel_l1", "kernel_l2", "bias_l1", "bias_l2", "activity_l1", "activity_l2"):
        spec[key] = regs.pop(key, 0.0)
    spec.update(regs)
    return spec


def activation(i, act, **extra):
    return {"kind": C.NODE_ACTIVATION, "inputs": [i], "activation": act, **extra}


def dropout(i, rate, seed=7, rows=False):
    return {"kind": C.NODE_DROPOUT, "inputs": [i], "rate": rate, "seed": seed, "noise_shape_rows": rows}


def batchnorm(i, momentum=0.99, epsilon=1e-3, center=True, scale=True, trainable=True):
    return {"kind": C.NODE_BATCHNORM, "inputs": [i], "momentum": momentum, "epsilon": epsilon,
            "center": center, "scale": scale, "trainable": trainable}


def normalization(i, epsilon=1e-7):
    return {"kind": C.NODE_NORMALIZATION, "inputs": [i], "epsilon": epsilon}


def add(*ins):
    return {"kind": C.NODE_ADD, "inputs": list(ins)}


def concat(*ins):
    return {"kind": C.NODE_CONCATENATE, "inputs": list(ins)}


# name: (x_width, nodes, output, loss, k)
GRAPHS = {
    "residual": (6, [inp(0, 6), dense(0, 8, C.ACT_RELU), dense(1, 8, C.ACT_TANH), add(1, 2),
                     dense(3, 3, C.ACT_SOFTMAX)], 4, C.LOSS_CCE, 3),
    "wide-and-deep": (7, [inp(0, 4), inp(4, 3), dense(0, 5, C.ACT_ELU), concat(2, 1),
                          dense(3, 1, C.ACT_SIGMOID)], 4, C.LOSS_BCE, 1),
    "shared-input": (5, [inp(0, 5), dense(0, 4, C.ACT_GELU), dense(0, 4, C.ACT_SWISH), add(1, 2, 1),
                         activation(3, C.ACT_SOFTPLUS), dense(4, 2)], 5, C.LOSS_MSE, 2),
    "batchnorm": (5, [inp(0, 5), dense(0, 6, use_bias=False), batchnorm(1), activation(2, C.ACT_SELU),
                      dense(3, 2)], 4, C.LOSS_MSE, 2),
    "batchnorm-plain": (4, [inp(0, 4), batchnorm(0, center=False, scale=False, momentum=0.9),
                            dense(1, 3, C.ACT_SOFTSIGN), dense(2, 1)], 3, C.LOSS_MSE, 1),
    "normalization": (4, [inp(0, 4), normalization(0), dense(1, 5, C.ACT_LEAKY_RELU, alpha=0.3),
                          dense(2, 2, C.ACT_HARD_SIGMOID)], 3, C.LOSS_MSE, 2),
    "regularized": (5, [inp(0, 5), dense(0, 6, C.ACT_TANH, kernel_l1=0.01, kernel_l2=0.02, bias_l1=0.03,
                                         bias_l2=0.04, activity_l1=0.005, activity_l2=0.006),
                        dense(1, 2, C.ACT_EXPONENTIAL, kernel_l2=0.1)], 2, C.LOSS_MSE, 2),
    "frozen": (5, [inp(0, 5), dense(0, 6, C.ACT_RELU, trainable=False, kernel_l2=0.05),
                   batchnorm(1, trainable=False), dense(2, 2)], 3, C.LOSS_MSE, 2),
    "dead-branch": (4, [inp(0, 4), dense(0, 3), dense(0, 2, C.ACT_SIGMOID), dense(1, 2)], 3, C.LOSS_MSE, 2),
}


def build(impl, name, rng, scale=0.4):
    x_width, nodes, output, loss, k = GRAPHS[name]
    net = impl.Network.from_graph(x_width, nodes, output)
    return net, loss, k


def init_params(net, rng, scale=0.4):
    p = rng.uniform(-scale, scale, net.n_params).astype(np.float32)
    for node, name, off, size, _ in net.variables():
        if name in ("moving_variance", "variance"):
            p[off:off + size] = rng.uniform(0.5, 2.0, size)
        elif name == "gamma":
            p[off:off + size] = rng.uniform(0.5, 1.5, size)
    return p


def data_for(rng, x_width, loss, k, n=24):
    x = rng.standard_normal((n, x_width)).astype(np.float32)
    if loss == C.LOSS_CCE:
        y = np.eye(k, dtype=np.float32)[rng.integers(0, k, n)]
    elif loss == C.LOSS_BCE:
        y = rng.integers(0, 2, (n, k)).astype(np.float32)
    else:
        y = rng.standard_normal((n, k)).astype(np.float32)
    return x, y


def pair(name, rng, opt=C.OPT_ADAM):
    nets = []
    for impl in IMPLEMENTATIONS:
        net, loss, k = build(impl, name, rng)
        nets.append(net)
    p = init_params(nets[0], rng)
    for net in nets:
        net.params[:] = p
        net.configure(loss, [C.METRIC_MSE], opt)
    x, y = data_for(rng, GRAPHS[name][0], loss, k)
    return nets, x, y


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


# ---------------------------------------------------------------- parity with the twin


@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_training_matches_twin(rng, name):
    (cnet, rnet), x, y = pair(name, rng)
    cdata, rdata = _core.Dataset(x, y), _reference.Dataset(x, y)
    order = rng.permutation(len(x))
    cdata.set_order(order)
    rdata.set_order(order)
    assert cnet.train_batches(cdata, 0, 24, 8, 0.01) == 3
    assert rnet.train_batches(rdata, 0, 24, 8, 0.01) == 3
    np.testing.assert_allclose(cnet.params, rnet.params, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(cnet.metric_results(), rnet.metric_results(), rtol=2e-4, atol=1e-6)
    cnet.reset_metrics()
    rnet.reset_metrics()
    cnet.test_batches(cdata, 0, 24, 10)
    rnet.test_batches(rdata, 0, 24, 10)
    np.testing.assert_allclose(cnet.metric_results(), rnet.metric_results(), rtol=2e-4, atol=1e-6)
    cout = np.zeros((24, cnet.output_dim), np.float32)
    rout = np.zeros_like(cout)
    cnet.predict_batches(cdata, 0, 24, 7, cout)
    rnet.predict_batches(rdata, 0, 24, 7, rout)
    np.testing.assert_allclose(cout, rout, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(cnet.forward(x[order]), cout, rtol=1e-6, atol=1e-7)


def test_dropout_graph_matches_twin_bit_for_bit_masks(rng):
    nodes = [inp(0, 6), dense(0, 16, C.ACT_RELU), dropout(1, 0.4, seed=99), dense(2, 8, C.ACT_RELU),
             dropout(3, 0.25, seed=5, rows=True), dense(4, 1)]
    nets = [impl.Network.from_graph(6, nodes, 5) for impl in IMPLEMENTATIONS]
    p = init_params(nets[0], rng)
    x, y = data_for(rng, 6, C.LOSS_MSE, 1, n=32)
    for net in nets:
        net.params[:] = p
        net.configure(C.LOSS_MSE, [], C.OPT_SGD)
    nets[0].train_batches(_core.Dataset(x, y), 0, 32, 8, 0.05)
    nets[1].train_batches(_reference.Dataset(x, y), 0, 32, 8, 0.05)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=2e-4, atol=2e-5)
    # Inference: dropout is the identity.
    np.testing.assert_allclose(nets[0].forward(x), nets[1].forward(x), rtol=2e-4, atol=2e-5)


# ---------------------------------------------------------------- finite differences


def train_loss(net, data, n, p, iteration=5):
    """The logged training loss (penalties included) at params p, no update."""
    net.params[:] = p
    net.iterations = iteration
    net.reset_metrics()
    net.train_batch(data, 0, n, 0.0)
    return net.metric_results()[0]


@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_gradient_matches_finite_differences(rng, name):
    net, loss, k = build(_core, name, rng)
    p = init_params(net, rng).astype(np.float64)
    net.configure(loss, [], C.OPT_SGD)
    x, y = data_for(rng, GRAPHS[name][0], loss, k, n=16)
    data = _core.Dataset(x, y)
    mask = net.trainable_mask()
    stats = [(off, size) for _, nm, off, size, _ in net.variables() if nm.startswith("moving")]
    # The gradient: one SGD step with lr = 1 moves the params by -grad.
    net.params[:] = p
    net.iterations = 5
    net.train_batch(data, 0, 16, 1.0)
    grad = p - net.params.astype(np.float64)
    for off, size in stats:  # moving statistics move by their own rule, not by a gradient
        grad[off:off + size] = 0.0
    assert np.all(grad[~mask] == 0.0)
    idx = rng.choice(np.flatnonzero(mask), size=min(25, int(mask.sum())), replace=False)
    h = 2e-3
    for j in idx:
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        fd = (train_loss(net, data, 16, up.astype(np.float32)) - train_loss(net, data, 16, down.astype(np.float32))) / (2 * h)
        assert grad[j] == pytest.approx(fd, rel=3e-2, abs=3e-3), (name, j)


ALL_ACTS = [C.ACT_LINEAR, C.ACT_RELU, C.ACT_SIGMOID, C.ACT_TANH, C.ACT_SOFTMAX, C.ACT_ELU, C.ACT_SELU,
            C.ACT_GELU, C.ACT_SOFTPLUS, C.ACT_SOFTSIGN, C.ACT_SWISH, C.ACT_LEAKY_RELU,
            C.ACT_EXPONENTIAL, C.ACT_HARD_SIGMOID]


@pytest.mark.parametrize("act", ALL_ACTS)
@pytest.mark.parametrize("alpha", [None, 0.3])
def test_activation_value_and_derivative(rng, act, alpha):
    z = rng.uniform(-3, 3, (6, 5)).astype(np.float32)
    z[0, :3] = [-40.0, 40.0, 0.5]  # far tails stay finite and exact
    a = C.activation_forward(z, act, alpha)
    np.testing.assert_allclose(a, _reference.activation_forward(z, act, alpha), rtol=2e-6, atol=1e-6)
    da = rng.standard_normal(z.shape).astype(np.float32)
    dz = C.activation_backward(z, a, da, act, alpha)
    np.testing.assert_allclose(dz, _reference.activation_backward(z, a, da, act, alpha), rtol=1e-4, atol=1e-5)
    # Central differences of sum(da * act(z)) in float64 through the twin's formula.
    h = 1e-5
    z64 = z.astype(np.float64)
    fd = (np.asarray(_reference.activation_forward(z64 + h, act, alpha)) * da).sum(-1) if act == C.ACT_SOFTMAX else None
    if act == C.ACT_SOFTMAX:
        num = np.zeros_like(z64)
        for j in range(z.shape[1]):
            e = np.zeros_like(z64)
            e[:, j] = h
            num[:, j] = ((_reference.activation_forward(z64 + e, act) - _reference.activation_forward(z64 - e, act)) * da).sum(-1) / (2 * h)
    else:
        num = (_reference.activation_forward(z64 + h, act, alpha) - _reference.activation_forward(z64 - h, act, alpha)) / (2 * h) * da
    del fd
    kink = np.abs(z64) < 1e-3
    if act == C.ACT_HARD_SIGMOID:
        kink |= np.abs(np.abs(z64) - 2.5) < 1e-3
    np.testing.assert_allclose(np.where(kink, 0, dz), np.where(kink, 0, num), rtol=1e-3, atol=1e-4)


def test_activation_formulas_follow_tf_keras():
    z = np.array([[-3.0, -1.0, 0.0, 1.0, 3.0]], np.float32)
    # hard_sigmoid: tf-keras 0.2 z + 0.5 (Keras 3 would give z / 6 + 0.5).
    np.testing.assert_allclose(C.activation_forward(z, C.ACT_HARD_SIGMOID), [[0.0, 0.3, 0.5, 0.7, 1.0]], atol=1e-7)
    np.testing.assert_allclose(C.activation_forward(z, C.ACT_LEAKY_RELU)[0, :2], [-0.6, -0.2], rtol=1e-6)
    np.testing.assert_allclose(C.activation_forward(z, C.ACT_ELU)[0, 1], np.expm1(-1.0), rtol=1e-6)
    np.testing.assert_allclose(C.activation_forward(z, C.ACT_SELU)[0, 3], 1.0507009873554805, rtol=1e-6)
    assert C.ACT_SILU == C.ACT_SWISH


# ---------------------------------------------------------------- semantics


def test_frozen_weights_never_change_and_keep_no_slots(rng):
    (cnet, rnet), x, y = pair("frozen", rng)
    before = cnet.params.copy()
    mask = cnet.trainable_mask()
    for net, ds in ((cnet, _core.Dataset(x, y)), (rnet, _reference.Dataset(x, y))):
        net.train_batches(ds, 0, 24, 6, 0.05)
        np.testing.assert_array_equal(net.params[~mask], before[~mask])
        assert not np.array_equal(net.params[mask], before[mask])
        for slot in net.optimizer_slots():
            assert np.all(slot[~mask] == 0.0)
    frozen = [v for v in cnet.variables() if not v[4]]
    assert [v[1] for v in frozen] == ["kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"]


def test_batchnorm_moving_statistics_follow_keras(rng):
    nodes = [inp(0, 3), batchnorm(0, momentum=0.9, epsilon=1e-3), dense(1, 1)]
    for impl in IMPLEMENTATIONS:
        net = impl.Network.from_graph(3, nodes, 2)
        gamma, beta, mm, mv = net.node_weights(1)
        np.testing.assert_array_equal(gamma, 1.0)
        np.testing.assert_array_equal(mv, 1.0)
        net.node_weights(2)[0][:] = 0.5
        net.configure(C.LOSS_MSE, [], C.OPT_SGD)
        x = (rng.standard_normal((10, 3)) * 3 + 2).astype(np.float32)
        y = rng.standard_normal((10, 1)).astype(np.float32)
        net.train_batch(impl.Dataset(x, y), 0, 10, 0.1)
        np.testing.assert_allclose(mm, 0.1 * x.mean(0), rtol=1e-5)
        np.testing.assert_allclose(mv, 0.9 + 0.1 * x.var(0), rtol=1e-5)  # biased batch variance
        # Inference uses the moving statistics: y = gamma (x - mm) / sqrt(mv + eps) + beta.
        xhat = (x - mm) / np.sqrt(mv + 1e-3) * gamma + beta
        kernel, bias = net.node_weights(2)
        np.testing.assert_allclose(net.forward(x), xhat @ kernel + bias, rtol=1e-5, atol=1e-6)
        # Evaluate leaves the moving statistics alone.
        saved = mm.copy()
        net.test_batch(impl.Dataset(x, y), 0, 10)
        np.testing.assert_array_equal(mm, saved)


def test_normalization_divides_by_max_of_std_and_epsilon():
    nodes = [inp(0, 3), normalization(0, epsilon=1e-7), activation(1, C.ACT_LINEAR)]
    for impl in IMPLEMENTATIONS:
        net = impl.Network.from_graph(3, nodes, 2)
        mean, var = net.node_weights(1)
        mean[:] = [1.0, 2.0, 3.0]
        var[:] = [4.0, 0.0, 0.25]
        x = np.array([[3.0, 2.0, 4.0]], np.float32)
        np.testing.assert_allclose(net.forward(x), [[1.0, 0.0, 2.0]], rtol=1e-6)
        assert [v[4] for v in net.variables()] == [False, False]


def test_dropout_mask_bits_rate_and_determinism():
    m1 = C.dropout_mask(123, 7, 2, 300, 50, 0.3)
    np.testing.assert_array_equal(m1, _reference.dropout_mask(123, 7, 2, 300, 50, 0.3))
    np.testing.assert_array_equal(m1, C.dropout_mask(123, 7, 2, 300, 50, 0.3))
    assert set(np.unique(m1)) == {0.0, np.float32(1.0) / np.float32(0.7)}
    assert abs((m1 == 0).mean() - 0.3) < 0.02
    assert not np.array_equal(m1, C.dropout_mask(123, 8, 2, 300, 50, 0.3))
    assert not np.array_equal(m1, C.dropout_mask(123, 7, 3, 300, 50, 0.3))
    assert not np.array_equal(m1, C.dropout_mask(124, 7, 2, 300, 50, 0.3))
    shared = C.dropout_mask(1, 0, 0, 40, 30, 0.5, shared_row=True)
    np.testing.assert_array_equal(shared, np.broadcast_to(shared[0], shared.shape))
    np.testing.assert_array_equal(shared, _reference.dropout_mask(1, 0, 0, 40, 30, 0.5, True))
    np.testing.assert_array_equal(C.dropout_mask(1, -4, 0, 5, 5, 0.0), 1.0)


def test_dropout_is_resume_exact(rng):
    """Two runs of 2 + 2 steps with a rebuilt network in between equal one
    run of 4: the masks depend only on the iteration counter."""
    nodes = [inp(0, 5), dense(0, 12, C.ACT_RELU), dropout(1, 0.5, seed=3), dense(2, 1)]
    x, y = data_for(rng, 5, C.LOSS_MSE, 1, n=16)
    p = rng.uniform(-0.5, 0.5, C.Network.from_graph(5, nodes, 3).n_params).astype(np.float32)
    one = C.Network.from_graph(5, nodes, 3)
    one.params[:] = p
    one.configure(C.LOSS_MSE, [], C.OPT_SGD)
    one.train_batches(C.Dataset(x, y), 0, 16, 4, 0.1)
    a = C.Network.from_graph(5, nodes, 3)
    a.params[:] = p
    a.configure(C.LOSS_MSE, [], C.OPT_SGD)
    a.train_batches(C.Dataset(x, y), 0, 8, 4, 0.1)
    b = C.Network.from_graph(5, nodes, 3)
    b.params[:] = a.params
    b.configure(C.LOSS_MSE, [], C.OPT_SGD)
    b.iterations = a.iterations
    b.train_batches(C.Dataset(x, y), 8, 8, 4, 0.1)
    np.testing.assert_array_equal(one.params, b.params)


def test_eager_forward_training_draws_fresh_masks(rng):
    nodes = [inp(0, 4), dropout(0, 0.5), activation(1, C.ACT_LINEAR)]
    x = np.ones((6, 4), np.float32)
    for impl in IMPLEMENTATIONS:
        net = impl.Network.from_graph(4, nodes, 2)
        np.testing.assert_array_equal(net.forward(x), x)
        first, second = net.forward(x, training=True), net.forward(x, training=True)
        assert set(np.unique(first)) <= {0.0, 2.0}
        assert not np.array_equal(first, second)


def test_regularizer_penalties_in_the_logged_loss(rng):
    k1, k2, b1, b2, a1, a2 = 0.01, 0.02, 0.03, 0.04, 0.05, 0.06
    nodes = [inp(0, 3), dense(0, 2, C.ACT_LINEAR, kernel_l1=k1, kernel_l2=k2, bias_l1=b1, bias_l2=b2,
                              activity_l1=a1, activity_l2=a2)]
    x, y = data_for(rng, 3, C.LOSS_MSE, 2, n=8)
    for impl in IMPLEMENTATIONS:
        net = impl.Network.from_graph(3, nodes, 1)
        net.params[:] = rng.uniform(-1, 1, net.n_params)
        kernel, bias = (w.astype(np.float64) for w in net.node_weights(1))
        out = x @ kernel + bias
        expect = ((out - y) ** 2).mean() + k1 * np.abs(kernel).sum() + k2 * (kernel**2).sum() \
            + b1 * np.abs(bias).sum() + b2 * (bias**2).sum() \
            + (a1 * np.abs(out).sum() + a2 * (out**2).sum()) / len(x)  # tf-keras: / batch size
        net.configure(C.LOSS_MSE, [C.METRIC_MSE], C.OPT_SGD)
        net.test_batch(impl.Dataset(x, y), 0, 8)
        loss, mse = net.metric_results()
        assert loss == pytest.approx(expect, rel=1e-5)
        assert mse == pytest.approx(((out - y) ** 2).mean(), rel=1e-5)  # metrics exclude penalties


# ---------------------------------------------------------------- the chain special case


@pytest.mark.parametrize("dims,acts", [([784, 1], [C.ACT_LINEAR]), ([20, 16, 8, 3], [C.ACT_RELU, C.ACT_TANH, C.ACT_SOFTMAX])])
def test_chain_and_its_graph_are_bit_identical(rng, dims, acts):
    chain = C.Network(dims[0], dims[1:], acts, [True] * len(acts))
    nodes = [inp(0, dims[0])] + [dense(i, u, a) for i, (u, a) in enumerate(zip(dims[1:], acts))]
    graph = C.Network.from_graph(dims[0], nodes, len(acts))
    p = rng.uniform(-0.2, 0.2, chain.n_params).astype(np.float32)
    x = rng.standard_normal((50, dims[0])).astype(np.float32)
    y = np.eye(dims[-1], dtype=np.float32)[rng.integers(0, dims[-1], 50)]
    for net in (chain, graph):
        net.params[:] = p
        net.configure(C.LOSS_MSE, [C.METRIC_MAE], C.OPT_ADAM)
        net.train_batches(C.Dataset(x, y), 0, 50, 16, 0.01)
    np.testing.assert_array_equal(chain.params, graph.params)
    assert chain.metric_results() == graph.metric_results()
    for i in range(chain.n_layers):
        np.testing.assert_array_equal(chain.layer_weights(i)[0], graph.node_weights(i + 1)[0])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("x_width,nodes,output,error,match", [
    (3, [], 0, ShapeError, "non-empty"),
    (3, [inp(0, 3), dense(2, 2)], 1, ShapeError, "earlier node"),
    (3, [inp(0, 3), dense(0, 2), dense(0, 3), add(1, 2)], 3, ShapeError, "one width"),
    (3, [inp(1, 3), dense(0, 2)], 1, ShapeError, "width"),
    (3, [inp(0, 3), {**dense(0, 2), "units": 0}], 1, ShapeError, "units"),
    (3, [inp(0, 3), {**dense(0, 2), "bogus": 1}], 1, KindError, "unknown keys"),
    (3, [inp(0, 3), {k: v for k, v in dense(0, 2).items() if k != "trainable"}], 1, KindError, "trainable"),
    (3, [inp(0, 3), dense(0, 2, 99)], 1, KindError, "ACT_"),
    (3, [inp(0, 3), dropout(0, 1.0)], 1, KindError, "rate"),
    (3, [inp(0, 3), dense(0, 2, kernel_l2=-1.0)], 1, KindError, "kernel_l2"),
    (3, [inp(0, 3), activation(0, C.ACT_LEAKY_RELU, alpha=-0.1)], 1, KindError, "alpha"),
    (3, [inp(0, 3), dense(0, 2)], 0, ShapeError, "input node"),
    (3, [inp(0, 3), {"kind": 42}], 1, KindError, "NODE_"),
    (3, [inp(0, 3), "dense"], 1, DtypeError, "dict"),
    (3, [inp(0, 3), {**dense(0, 2), "use_bias": 1}], 1, DtypeError, "use_bias"),
])
def test_bad_graphs_are_refused_with_the_same_error(impl, x_width, nodes, output, error, match):
    with pytest.raises(error, match=match):
        impl.Network.from_graph(x_width, nodes, output)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_uninitialised_objects_raise_instead_of_crashing(impl):
    net = impl.Network.__new__(impl.Network)
    for attr in ("output_dim", "input_dim", "n_params", "params", "iterations", "n_layers"):
        with pytest.raises(StateError):
            getattr(net, attr)
    with pytest.raises(StateError):
        net.metric_results()
    with pytest.raises(StateError):
        net.forward(np.zeros((1, 1), np.float32))
    data = impl.Dataset.__new__(impl.Dataset)
    for attr in ("n_rows", "x", "order"):
        with pytest.raises(StateError):
            getattr(data, attr)
    good = impl.Network(2, [1], [C.ACT_LINEAR], [True])
    good.configure(C.LOSS_MSE, [], C.OPT_SGD)
    with pytest.raises(StateError):
        good.train_batch(data, 0, 1, 0.1)


def test_a_refused_graph_leaves_the_network_as_it_was(rng):
    net = C.Network(3, [2], [C.ACT_LINEAR], [True])
    net.params[:] = 1.0
    with pytest.raises(ShapeError):
        net.__init__(3, [], [], [])
    assert net.n_params == 8 and np.all(net.params == 1.0)


# ---------------------------------------------------------------- the run API on graphs


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_run_api_on_a_graph_matches_single_steps(impl, rng):
    nodes = [inp(0, 5), dense(0, 8, C.ACT_RELU), dropout(1, 0.3), batchnorm(2), dense(3, 2)]
    x, y = data_for(rng, 5, C.LOSS_MSE, 2, n=30)
    p = init_params(impl.Network.from_graph(5, nodes, 4), rng)
    rates = np.array([0.05, 0.02, 0.01, 0.005], np.float32)
    nets = []
    for _ in range(2):
        net = impl.Network.from_graph(5, nodes, 4)
        net.params[:] = p
        net.configure(C.LOSS_MSE, [C.METRIC_MAE], C.OPT_RMSPROP)
        nets.append(net)
    data = impl.Dataset(x, y)
    assert nets[0].train_batches(data, 0, 30, 8, rates) == 4
    assert nets[0].last_run_batches == 4 and nets[0].iterations == 4
    for b, start in enumerate(range(0, 30, 8)):
        nets[1].train_batch(data, start, min(8, 30 - start), float(rates[b]))
    np.testing.assert_array_equal(nets[0].params, nets[1].params)
    assert nets[0].metric_results() == nets[1].metric_results()
    # A run that turns the loss non-finite stops after that batch.
    blown = impl.Network.from_graph(5, nodes, 4)
    blown.params[:] = p
    blown.node_weights(4)[0][:] = 1e30
    blown.configure(C.LOSS_MSE, [], C.OPT_SGD)
    with np.errstate(all="ignore"):  # the twin's float32 casts overflow on purpose here
        assert blown.train_batches(data, 0, 30, 8, 0.1, stop_on_nonfinite=True) == 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_forward_matches_predict_on_the_fused_path(impl, rng):
    net = impl.Network.from_graph(12, [inp(0, 12), dense(0, 1, C.ACT_SIGMOID)], 1)
    net.params[:] = rng.uniform(-1, 1, net.n_params)
    x = rng.standard_normal((9, 12)).astype(np.float32)
    out = np.zeros((9, 1), np.float32)
    net.predict_batches(impl.Dataset(x), 0, 9, 4, out)
    np.testing.assert_allclose(net.forward(x), out, rtol=1e-6)
    np.testing.assert_allclose(net.forward(x, training=True), out, rtol=1e-6)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_graph_too_large_to_allocate_is_refused_cleanly(impl):
    net = impl.Network(3, [2], [C.ACT_LINEAR], [True])
    net.params[:] = 1.0
    huge = 2**31 - 1
    with pytest.raises(impl.WorkspaceError, match="cannot allocate"):
        net.__init__(huge, [huge], [C.ACT_LINEAR], [True])
    assert net.n_params == 8 and np.all(net.params == 1.0)
