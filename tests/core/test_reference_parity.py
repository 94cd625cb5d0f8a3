"""The compiled core and its NumPy twin (``_reference``) agree at float32
tolerances on every kernel and on whole Network steps, on both code paths."""

from __future__ import annotations

import numpy as np
import pytest

from hookfit import _core as core

ref_core = pytest.importorskip("hookfit._reference")

RTOL, ATOL = 1e-4, 1e-5


@pytest.mark.parametrize("activation", range(5))
def test_dense_kernels(rng, activation):
    x = rng.standard_normal((19, 13)).astype(np.float32)
    w = (rng.standard_normal((13, 6)) * 0.3).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    outs = []
    for impl in (core, ref_core):
        a = impl.dense_forward(x, w, b, activation, np.empty((19, 6), np.float32))
        da = np.linspace(-1, 1, a.size, dtype=np.float32).reshape(a.shape)
        dw, db, dx = np.empty((13, 6), np.float32), np.empty(6, np.float32), np.empty((19, 13), np.float32)
        impl.dense_backward(x, w, a, da, activation, dw, db, dx)
        outs.append((a, dw, db, dx))
    for c, r in zip(*outs):
        np.testing.assert_allclose(c, r, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss", range(5))
def test_losses(rng, ref, loss):
    n, k = 21, 4
    p = rng.uniform(0.01, 1, (n, k)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    t = ref.targets(rng, loss, n, k)
    sw = rng.uniform(0, 2, n).astype(np.float32)
    results = []
    for impl in (core, ref_core):
        g = np.empty((n, k), np.float32)
        results.append((impl.loss_value_and_grad(loss, t, p, sw, g), g))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("metric", range(8))
def test_metrics(rng, ref, metric):
    n, k = 30, 3
    p = rng.uniform(0.01, 1, (n, k)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    sparse = metric in (core.METRIC_SCCE, core.METRIC_SPARSE_CATEGORICAL_ACCURACY)
    t = ref.targets(rng, core.LOSS_SCCE if sparse else core.LOSS_CCE, n, k)
    states = [np.zeros(2, np.float32), np.zeros(2, np.float32)]
    for impl, s in zip((core, ref_core), states):
        impl.metric_update(metric, t, p, s)
        impl.metric_update(metric, t[:7], p[:7], s)
    np.testing.assert_allclose(states[0], states[1], rtol=1e-5)


@pytest.mark.parametrize("opt,hyper", [(core.OPT_SGD, {"momentum": 0.9, "nesterov": True}),
                                       (core.OPT_RMSPROP, {"centered": True, "momentum": 0.5}),
                                       (core.OPT_ADAM, {"amsgrad": True})])
def test_optimizers(rng, opt, hyper):
    n = 50
    p0 = rng.standard_normal(n).astype(np.float32)
    finals = []
    for impl in (core, ref_core):
        p = p0.copy()
        slots = [np.zeros(n, np.float32) for _ in range(1 if opt == core.OPT_SGD else 3)]
        for i in range(5):
            g = np.random.default_rng(i).standard_normal(n).astype(np.float32)
            impl.optimizer_update(opt, p, g, slots, 0.01, i, **hyper)
        finals.append(p)
    np.testing.assert_allclose(finals[0], finals[1], rtol=1e-5, atol=1e-6)


CONFIGS = [
    ([784, 1], [0], core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP),  # the tutorial model
    ([16, 1], [2], core.LOSS_BCE, [core.METRIC_BINARY_ACCURACY], core.OPT_ADAM),
    ([32, 24, 10], [1, 0], core.LOSS_MSE, [core.METRIC_MAE, core.METRIC_MSE], core.OPT_RMSPROP),
    ([20, 12, 5], [3, 4], core.LOSS_SCCE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_SGD),
    ([20, 12, 5], [1, 4], core.LOSS_CCE, [core.METRIC_CATEGORICAL_ACCURACY], core.OPT_ADAM),
]


@pytest.mark.parametrize("dims,acts,loss,metrics,opt", CONFIGS)
@pytest.mark.parametrize("shuffled", [False, True])
def test_network_steps(rng, ref, dims, acts, loss, metrics, opt, shuffled):
    n = 150
    x = rng.standard_normal((n, dims[0])).astype(np.float32)
    y = ref.targets(rng, loss, n, dims[-1])
    sw = rng.uniform(0.5, 1.5, n).astype(np.float32)
    init = None
    finals = []
    for impl in (core, ref_core):
        net = impl.Network(dims[0], dims[1:], acts, [True] * len(acts))
        if init is None:
            init = rng.uniform(-0.1, 0.1, net.n_params).astype(np.float32)
        net.params[:] = init
        net.configure(loss, metrics, opt)
        data = impl.Dataset(x, y, sw)
        if shuffled:
            data.set_order(np.random.default_rng(7).permutation(n))
        net.train_batches(data, 0, n, 32, 0.01)  # 4 x 32 + 22
        net.train_batch(data, 5, 40, 0.005)
        train_state = net.metric_state()
        net.reset_metrics()
        net.test_batches(data, 0, n, 64)
        out = np.empty((n, dims[-1]), np.float32)
        net.predict_batches(data, 0, n, 50, out)
        finals.append((net.params.copy(), train_state, net.metric_state(), out, net.iterations,
                       net.metric_results()))
    c, r = finals
    np.testing.assert_allclose(c[0], r[0], rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(c[1], r[1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c[2], r[2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c[3], r[3], rtol=1e-4, atol=1e-5)
    assert c[4] == r[4] == 6
    np.testing.assert_allclose(c[5], r[5], rtol=1e-4, atol=1e-6)


def _refusals(impl):
    """Each bad (y_true, y_pred, weights) call: the error class it raised."""
    p = np.full((6, 3), 0.3, np.float32)
    onehot = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    labels = np.array([[0], [1], [2], [0], [1], [3]], np.float32)
    scce, mse = {"kind": impl.LOSS_SCCE}, {"kind": impl.LOSS_MSE}
    sparse_acc = {"kind": impl.METRIC_SPARSE_CATEGORICAL_ACCURACY}
    calls = [
        lambda: impl.loss_eval(scce, onehot, p, None, None),  # one-hot labels for a sparse loss
        lambda: impl.loss_eval(scce, labels, p, None, None),  # label 3 of 3 classes
        lambda: impl.loss_eval(mse, p[:, :2], p, None, None),  # y narrower than the output
        lambda: impl.loss_eval(mse, p, p, np.ones(4), None),  # a weight per row
        lambda: impl.loss_eval(mse, p.astype(np.complex64), p, None, None),  # not real numbers
        lambda: impl.loss_per_sample(scce, onehot, p),
        lambda: impl.metric_accumulate(sparse_acc, onehot, p, None, np.zeros(2, np.float32)),
        lambda: impl.metric_accumulate({"kind": impl.METRIC_MSE}, p[:4], p, None, np.zeros(2, np.float32)),
        lambda: impl.metric_accumulate({"kind": impl.METRIC_PRECISION, "thresholds": [0.5], "class_id": 3}, onehot,
                                       p, None, np.zeros(4, np.float32)),  # class 3 of 3
    ]
    raised = []
    for call in calls:
        with pytest.raises(core.CoreError) as e:
            call()
        raised.append(type(e.value).__name__)
    return raised


def test_the_twin_refuses_bad_labels_and_shapes_as_the_core_does():
    # Standalone losses and metrics reach these functions with user arrays.
    assert _refusals(ref_core) == _refusals(core) == [
        "ShapeError", "LabelError", "ShapeError", "ShapeError", "DtypeError", "ShapeError", "ShapeError",
        "ShapeError", "KindError"]
