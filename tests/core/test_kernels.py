"""Single kernels (dense, loss, metric) against float64 NumPy formulas and
finite differences, over many shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core

ACTS = [core.ACT_LINEAR, core.ACT_RELU, core.ACT_SIGMOID, core.ACT_TANH, core.ACT_SOFTMAX]
LOSSES = [core.LOSS_MSE, core.LOSS_MAE, core.LOSS_BCE, core.LOSS_CCE, core.LOSS_SCCE]
METRICS = list(range(8))
RTOL, ATOL = 2e-5, 2e-6  # float32 kernels vs float64 formulas


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def probs(rng, n, k):
    p = rng.uniform(0.05, 1.0, (n, k))
    return f32(p / p.sum(axis=1, keepdims=True)) if k > 1 else f32(rng.uniform(0.05, 0.95, (n, k)))


# ---------------------------------------------------------------- dense


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("bias", [True, False])
def test_dense_forward_matches_numpy(rng, ref, activation, bias):
    x, w = f32(rng.standard_normal((37, 13))), f32(rng.standard_normal((13, 9)) * 0.3)
    b = f32(rng.standard_normal(9)) if bias else None
    out = np.empty((37, 9), np.float32)
    assert core.dense_forward(x, w, b, activation, out) is out
    expect = ref.act(activation, x @ w.astype(np.float64) + (0 if b is None else b))
    np.testing.assert_allclose(out, expect, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("activation", ACTS)
def test_dense_backward_matches_numpy(rng, ref, activation):
    n, din, dout = 29, 11, 7
    x, w, b = f32(rng.standard_normal((n, din))), f32(rng.standard_normal((din, dout)) * 0.4), f32(rng.standard_normal(dout))
    a = ref.act(activation, x @ w.astype(np.float64) + b)
    da = f32(rng.standard_normal((n, dout)))
    dw, db, dx = (np.empty((din, dout), np.float32), np.empty(dout, np.float32), np.empty((n, din), np.float32))
    core.dense_backward(x, w, f32(a), da, activation, dw, db, dx)
    dz = ref.act_backward(activation, f32(a).astype(np.float64), da.astype(np.float64))
    np.testing.assert_allclose(dw, x.T.astype(np.float64) @ dz, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(db, dz.sum(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx, dz @ w.T.astype(np.float64), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("activation", ACTS)
def test_dense_backward_finite_differences(rng, ref, activation):
    """dL/dW, dL/db, dL/dx of L = sum(da * act(x W + b)) vs central differences in float64."""
    n, din, dout = 6, 5, 4
    x = rng.standard_normal((n, din))
    w = rng.standard_normal((din, dout)) * 0.5
    b = rng.standard_normal(dout) * 0.1
    if activation == core.ACT_RELU:  # keep pre-activations away from the kink
        z = x @ w + b
        b = b + np.where(np.abs(z).min(0) < 0.05, 0.2, 0.0)
    da = rng.standard_normal((n, dout))

    def L(x_, w_, b_):
        return float((da * ref.act(activation, x_ @ w_ + b_)).sum())

    def fd(fn, arr):
        g, h = np.zeros_like(arr), 1e-6
        for idx in np.ndindex(arr.shape):
            up, dn = arr.copy(), arr.copy()
            up[idx] += h
            dn[idx] -= h
            g[idx] = (fn(up) - fn(dn)) / (2 * h)
        return g

    a = ref.act(activation, x @ w + b)
    dw, db, dx = np.empty((din, dout), np.float32), np.empty(dout, np.float32), np.empty((n, din), np.float32)
    core.dense_backward(x, w, a, da, activation, dw, db, dx)
    np.testing.assert_allclose(dw, fd(lambda w_: L(x, w_, b), w), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(db, fd(lambda b_: L(x, w, b_), b), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dx, fd(lambda x_: L(x_, w, b), x), rtol=1e-3, atol=1e-4)


def test_dense_backward_optional_outputs(rng):
    x, w = f32(rng.standard_normal((4, 3))), f32(rng.standard_normal((3, 2)))
    a = f32(x @ w)
    dw = np.empty((3, 2), np.float32)
    core.dense_backward(x, w, a, np.ones((4, 2), np.float32), core.ACT_LINEAR, dw, None, None)
    np.testing.assert_allclose(dw, x.T @ np.ones((4, 2)), rtol=1e-5)


def test_relu_and_sigmoid_keep_nan(rng):
    """NaN must propagate (TerminateOnNaN relies on it), never turn into 0."""
    x = np.array([[np.nan, 1.0]], np.float32)
    for a in (core.ACT_RELU, core.ACT_SIGMOID, core.ACT_TANH, core.ACT_LINEAR):
        out = np.empty((1, 1), np.float32)
        core.dense_forward(x, np.ones((2, 1), np.float32), None, a, out)
        assert np.isnan(out[0, 0])


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1000.0, 0.0], [-1000.0, 1000.0]], np.float32)
    out = np.empty((2, 2), np.float32)
    core.dense_forward(x, np.eye(2, dtype=np.float32), None, core.ACT_SOFTMAX, out)
    np.testing.assert_allclose(out, [[1, 0], [0, 1]], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), din=st.integers(1, 40), dout=st.integers(1, 19),
       activation=st.sampled_from(ACTS), seed=st.integers(0, 2**16))
def test_dense_shapes_hypothesis(ref, n, din, dout, activation, seed):
    """Batch 1, width 1 and widths that are not multiples of the vector length."""
    rng = np.random.default_rng(seed)
    x, w, b = f32(rng.standard_normal((n, din))), f32(rng.standard_normal((din, dout)) * 0.3), f32(rng.standard_normal(dout))
    out = np.empty((n, dout), np.float32)
    core.dense_forward(x, w, b, activation, out)
    np.testing.assert_allclose(out, ref.act(activation, x @ w.astype(np.float64) + b), rtol=1e-4, atol=1e-5)
    da = f32(rng.standard_normal((n, dout)))
    dw, db, dx = np.empty((din, dout), np.float32), np.empty(dout, np.float32), np.empty((n, din), np.float32)
    core.dense_backward(x, w, out, da, activation, dw, db, dx)
    dz = ref.act_backward(activation, out.astype(np.float64), da.astype(np.float64))
    np.testing.assert_allclose(dw, x.T.astype(np.float64) @ dz, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, dz @ w.T.astype(np.float64), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- losses


# CCE over a single class is the constant -log(1 - eps): not worth a case.
LOSS_WIDTHS = [(loss, k) for loss in LOSSES for k in (1, 5) if (loss, k) != (core.LOSS_CCE, 1)]


@pytest.mark.parametrize("loss,k", LOSS_WIDTHS)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_value_and_grad_match_formulas(rng, ref, loss, weighted, k):
    n = 23
    p = probs(rng, n, k)
    t = ref.targets(rng, loss, n, k)
    sw = f32(rng.uniform(0, 2, n)) if weighted else None
    g = np.empty((n, k), np.float32)
    value = core.loss_value_and_grad(loss, t, p, sw, g)
    assert isinstance(value, float)
    np.testing.assert_allclose(value, ref.batch_loss(loss, t, p, sw), rtol=1e-5)
    np.testing.assert_allclose(g, ref.loss_grad(loss, t, p, sw), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_grad_finite_differences(rng, ref, loss):
    n, k = 5, 4
    p = rng.uniform(0.1, 0.9, (n, k))
    p = p / p.sum(1, keepdims=True) if loss in (core.LOSS_CCE, core.LOSS_SCCE) else p
    t = ref.targets(rng, loss, n, k).astype(np.float64)
    if loss == core.LOSS_MAE:
        t = p + rng.choice([-0.3, 0.3], p.shape)  # away from the kink
    sw = rng.uniform(0.5, 1.5, n)
    g = np.empty((n, k), np.float32)
    core.loss_value_and_grad(loss, t, p, sw, g)
    fd, h = np.zeros_like(p), 1e-6
    for idx in np.ndindex(p.shape):
        up, dn = p.copy(), p.copy()
        up[idx] += h
        dn[idx] -= h
        fd[idx] = (ref.batch_loss(loss, t, up, sw) - ref.batch_loss(loss, t, dn, sw)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=2e-3, atol=1e-5)


def test_loss_reduction_divides_by_batch_size_not_weight_sum(rng):
    """Keras's sum_over_batch_size: sum(w * l) / N."""
    p = np.array([[0.0], [0.0]], np.float32)
    t = np.array([[1.0], [3.0]], np.float32)
    v = core.loss_value_and_grad(core.LOSS_MSE, t, p, np.array([1.0, 0.0], np.float32), None)
    assert v == pytest.approx(0.5)


def test_bce_clips_probabilities_like_tf_keras():
    p = np.array([[0.0, 1.0]], np.float32)
    t = np.array([[1.0, 0.0]], np.float32)
    g = np.empty((1, 2), np.float32)
    v = core.loss_value_and_grad(core.LOSS_BCE, t, p, None, g)
    hi = np.float32(1) - np.float32(1e-7)  # 1 - eps in float32, as Keras computes it
    expect = -(np.log(1e-7 + 1e-7) + np.log(1 - float(hi) + 1e-7)) / 2
    assert v == pytest.approx(expect, rel=1e-4)
    assert np.all(g == 0.0)  # clip_by_value passes no gradient outside [eps, 1-eps]


def test_scce_label_out_of_range_is_an_error(rng):
    p = probs(rng, 3, 4)
    with pytest.raises(core.CoreError) as e:
        core.loss_value_and_grad(core.LOSS_SCCE, np.array([[0], [4], [1]], np.float32), p, None, None)
    assert isinstance(e.value, ValueError) and "[0, 4)" in str(e.value)
    with pytest.raises(ValueError):
        core.loss_value_and_grad(core.LOSS_SCCE, np.array([[0], [-1], [1]], np.float32), p, None, None)


# ---------------------------------------------------------------- metrics


@pytest.mark.parametrize("metric,k", [(m, k) for m in METRICS for k in (1, 6) if (m, k) != (core.METRIC_CCE, 1)])
def test_metric_update_accumulates(rng, ref, metric, k):
    loss_like = {core.METRIC_SCCE: core.LOSS_SCCE, core.METRIC_SPARSE_CATEGORICAL_ACCURACY: core.LOSS_SCCE,
                 core.METRIC_CATEGORICAL_ACCURACY: core.LOSS_CCE, core.METRIC_CCE: core.LOSS_CCE,
                 core.METRIC_BCE: core.LOSS_BCE, core.METRIC_BINARY_ACCURACY: core.LOSS_BCE}.get(metric, core.LOSS_MSE)
    state = np.zeros(2, np.float32)
    total, count = 0.0, 0
    for n in (17, 5, 1):
        p = probs(rng, n, k)
        t = ref.targets(rng, loss_like, n, k)
        core.metric_update(metric, t, p, state)
        total += ref.per_sample_metric(metric, t, p).sum()
        count += n
    assert state[1] == count
    np.testing.assert_allclose(state[0], total, rtol=1e-5, atol=1e-6)


def test_accuracy_ties_pick_the_first_index():
    p = np.array([[0.5, 0.5, 0.0]], np.float32)
    state = np.zeros(2, np.float32)
    core.metric_update(core.METRIC_SPARSE_CATEGORICAL_ACCURACY, np.array([[0.0]], np.float32), p, state)
    core.metric_update(core.METRIC_CATEGORICAL_ACCURACY, np.array([[1, 0, 0]], np.float32), p, state)
    assert list(state) == [2.0, 2.0]


def test_binary_accuracy_threshold_is_strictly_above_half():
    state = np.zeros(2, np.float32)
    core.metric_update(core.METRIC_BINARY_ACCURACY, np.array([[0.0], [1.0]], np.float32),
                       np.array([[0.5], [0.5001]], np.float32), state)
    assert list(state) == [2.0, 2.0]
