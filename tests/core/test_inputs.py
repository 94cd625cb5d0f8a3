"""Input handling: accepted conversions (float64, read-only, non-contiguous)
and every error path, each a CoreError that is also a ValueError/TypeError
naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core
from hookfit import errors


@pytest.fixture
def tutorial(rng):
    net = core.Network(6, [1], [core.ACT_LINEAR], [True])
    net.params[:] = rng.uniform(-0.5, 0.5, net.n_params)
    net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP)
    x = rng.standard_normal((20, 6)).astype(np.float32)
    y = rng.standard_normal((20, 1)).astype(np.float32)
    return net, x, y


def clone(net):
    other = core.Network(net.input_dim, [1], [core.ACT_LINEAR], [True])
    other.params[:] = net.params
    other.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP)
    return other


def test_core_error_is_exported():
    assert core.CoreError is errors.CoreError
    for cls in (errors.ShapeError, errors.NonFiniteError, errors.LabelError, errors.PositionError, errors.KindError):
        assert issubclass(cls, errors.CoreError) and issubclass(cls, ValueError)
    assert issubclass(errors.DtypeError, TypeError)
    assert issubclass(errors.WorkspaceError, MemoryError)
    assert issubclass(errors.BusyError, RuntimeError)


def test_float64_readonly_and_strided_inputs_give_the_same_step(tutorial):
    net, x, y = tutorial
    reference = clone(net)
    reference.train_batch(core.Dataset(x, y), 0, 20, 0.01)

    big = np.zeros((20, 12))
    big[:, ::2] = x  # non-contiguous float64 view
    x_view = big[:, ::2]
    assert not x_view.flags.c_contiguous
    y_ro = y.astype(np.float64)
    y_ro.flags.writeable = False
    sw = np.ones(20)[::1]
    data = core.Dataset(x_view, y_ro, sw)
    assert data.x.dtype == np.float32 and data.x.flags.c_contiguous and not data.x.flags.writeable
    net.train_batch(data, 0, 20, 0.01)
    np.testing.assert_array_equal(net.params, reference.params)


def test_integer_and_bool_inputs_are_converted(rng):
    data = core.Dataset(np.arange(12).reshape(4, 3), np.array([[True], [False], [True], [True]]))
    assert data.x.dtype == np.float32 and data.y.dtype == np.float32
    assert data.n_rows == data.n_positions == 4


def test_dataset_does_not_copy_float32_contiguous_input(rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    assert np.shares_memory(core.Dataset(x).x, x)


@pytest.mark.parametrize("bad,where", [(np.nan, "x"), (np.inf, "x"), (-np.inf, "y"), (np.nan, "sample_weight")])
def test_non_finite_values_name_argument_and_row(rng, bad, where):
    x = rng.standard_normal((10, 4))
    y = rng.standard_normal((10, 2))
    sw = np.ones(10)
    {"x": x, "y": y, "sample_weight": sw[:, None]}[where][7, 0] = bad
    with pytest.raises(errors.NonFiniteError, match=rf"{where} must be finite; row 7"):
        core.Dataset(x, y, sw)
    data = core.Dataset(x, y, sw, check_finite=False)  # evaluate/predict: no scan
    assert data.n_rows == 10


@pytest.mark.parametrize("width", [1, 3, 31, 784, 4096, 5000])
def test_the_first_non_finite_row_is_found_across_the_checks_blocks(rng, width):
    # The check reads runs of ~4096 values and looks for the row only in a
    # run holding a bad value: every row (first, last, a run's edges), every
    # column, several bad rows, and the values that are finite after all.
    rows = max(3, 20000 // width)
    x = rng.standard_normal((rows, width)).astype(np.float32)
    x[rows // 2, width // 2] = np.finfo(np.float32).max
    x[rows // 3] = -0.0
    core.Dataset(x)  # finite
    block = max(1, 4096 // width)
    for row in sorted({0, 1, block - 1, block, block + 1, rows // 2, rows - 1} - {r for r in range(rows, 2 * rows)}):
        for col in {0, width - 1, width // 2}:
            bad = x.copy()
            bad[row, col] = [np.nan, np.inf, -np.inf][(row + col) % 3]
            bad[min(rows - 1, row + block + 2), 0] = np.nan  # a later bad row does not hide it
            with pytest.raises(errors.NonFiniteError, match=rf"x must be finite; row {row} "):
                core.Dataset(bad)


def test_dataset_shape_errors(rng):
    x = rng.standard_normal((5, 3))
    with pytest.raises(errors.ShapeError, match="x must be a 2-D"):
        core.Dataset(x[:, 0])
    with pytest.raises(errors.ShapeError, match="x must have at least one row"):
        core.Dataset(np.zeros((0, 3)))
    with pytest.raises(errors.ShapeError, match="y must have as many rows as x"):
        core.Dataset(x, np.zeros((4, 1)))
    with pytest.raises(errors.ShapeError, match="y must be a 2-D"):
        core.Dataset(x, np.zeros(5))
    with pytest.raises(errors.ShapeError, match="sample_weight must have one value per row"):
        core.Dataset(x, np.zeros((5, 1)), np.ones(4))
    with pytest.raises(errors.DtypeError, match="x must hold real numbers"):
        core.Dataset(x.astype(np.complex64))
    with pytest.raises(errors.DtypeError):
        core.Dataset(np.array([["a", "b"]]))


def test_order_errors(rng):
    data = core.Dataset(rng.standard_normal((5, 3)), np.zeros((5, 1)))
    with pytest.raises(errors.PositionError, match=r"order values must be row indices in \[0, 5\); got 5"):
        data.set_order(np.array([0, 1, 5]))
    with pytest.raises(errors.PositionError, match="got -1"):
        data.set_order(np.array([0, -1]))
    with pytest.raises(errors.DtypeError, match="order must be an array of integers"):
        data.set_order(np.array([0.0, 1.0]))
    with pytest.raises(errors.ShapeError, match="order must be a non-empty 1-D"):
        data.set_order(np.zeros((2, 2), np.int64))
    with pytest.raises(errors.ShapeError):
        data.set_order(np.array([], np.int64))
    order = np.array([4, 4, 0], np.int32)
    data.set_order(order)
    order[0] = 99  # the Dataset keeps its own copy
    assert list(data.order) == [4, 4, 0] and data.n_positions == 3
    data.set_order(None)
    assert data.n_positions == 5 and data.order is None


def test_network_construction_errors():
    with pytest.raises(errors.ShapeError, match="units must name at least one layer"):
        core.Network(3, [], [], [])
    with pytest.raises(errors.ShapeError, match="same length"):
        core.Network(3, [2], [0, 0], [True])
    with pytest.raises(errors.ShapeError, match=r"units\[1\] must be an integer in \[1, "):
        core.Network(3, [2, 0], [0, 0], [True, True])
    with pytest.raises(errors.ShapeError, match="input_dim"):
        core.Network(0, [2], [0], [True])
    with pytest.raises(errors.KindError, match=r"activations\[0\]"):
        core.Network(3, [2], [99], [True])
    net = core.Network(3, [2], [0], [True])
    with pytest.raises(errors.PositionError, match="layer index"):
        net.layer_weights(1)


def test_configure_errors():
    net = core.Network(3, [2], [0], [True])
    with pytest.raises(errors.KindError, match="loss"):
        net.configure(99, [], core.OPT_SGD)
    with pytest.raises(errors.KindError, match=r"metrics\[1\]"):
        net.configure(core.LOSS_MSE, [0, 42], core.OPT_SGD)
    with pytest.raises(errors.KindError, match="optimizer"):
        net.configure(core.LOSS_MSE, [], -1)
    with pytest.raises(errors.NonFiniteError, match="epsilon"):
        net.configure(core.LOSS_MSE, [], core.OPT_ADAM, epsilon=float("inf"))
    with pytest.raises(errors.KindError, match="momentum"):
        net.configure(core.LOSS_MSE, [], core.OPT_SGD, momentum=-0.1)
    with pytest.raises(TypeError):
        net.configure(core.LOSS_MSE, [], core.OPT_SGD, learning_rate=0.1)
    with pytest.raises(errors.ShapeError, match="agree on the width of y"):
        net.configure(core.LOSS_MSE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_SGD)


def test_step_errors(tutorial, rng):
    net, x, y = tutorial
    data = core.Dataset(x, y)
    with pytest.raises(errors.PositionError, match="start=15, count=6"):
        net.train_batch(data, 15, 6, 0.1)
    with pytest.raises(errors.PositionError):
        net.train_batch(data, -1, 2, 0.1)
    with pytest.raises(errors.PositionError):
        net.test_batch(data, 0, 0)
    with pytest.raises(errors.PositionError, match="batch_size"):
        net.train_batches(data, 0, 20, 0, 0.1)
    for bad in (float("nan"), float("inf"), 1e40):
        with pytest.raises(errors.NonFiniteError, match="lr"):
            net.train_batch(data, 0, 4, bad)
    with pytest.raises(TypeError):
        net.train_batch(x, 0, 4, 0.1)  # not a Dataset
    with pytest.raises(errors.ShapeError, match="data.x must have 6 columns"):
        net.train_batch(core.Dataset(x[:, :5], y), 0, 4, 0.1)
    with pytest.raises(errors.ShapeError, match="data has no y"):
        net.test_batch(core.Dataset(x), 0, 4)
    with pytest.raises(errors.ShapeError, match="y must have 1 column"):
        net.train_batch(core.Dataset(x, np.zeros((20, 2))), 0, 4, 0.1)
    assert net.iterations == 0 and np.all(net.metric_state() == 0)
    fresh = core.Network(6, [1], [0], [True])
    with pytest.raises(errors.KindError, match="configure"):
        fresh.train_batch(data, 0, 4, 0.1)


def test_predict_out_errors(tutorial):
    net, x, _ = tutorial
    data = core.Dataset(x)
    net.predict_batch(data, 0, 20, np.empty((20, 1), np.float32))
    with pytest.raises(errors.DtypeError, match="out must have dtype float32"):
        net.predict_batch(data, 0, 20, np.empty((20, 1)))
    with pytest.raises(errors.ShapeError, match=r"out must have shape \(20, 1\)"):
        net.predict_batch(data, 0, 20, np.empty((19, 1), np.float32))
    with pytest.raises(errors.ShapeError, match="C-contiguous"):
        net.predict_batch(data, 0, 20, np.empty((20, 2), np.float32)[:, :1])
    ro = np.empty((20, 1), np.float32)
    ro.flags.writeable = False
    with pytest.raises(errors.ShapeError, match="writable"):
        net.predict_batch(data, 0, 20, ro)
    with pytest.raises(errors.DtypeError, match="numpy.ndarray"):
        net.predict_batch(data, 0, 20, [[0.0]] * 20)


def test_sparse_labels_out_of_range_are_rejected_before_c(rng):
    net = core.Network(4, [3], [core.ACT_SOFTMAX], [True])
    net.configure(core.LOSS_SCCE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_SGD)
    x = rng.standard_normal((6, 4))
    for labels, bad in (([0, 1, 2, 3, 0, 1], "3"), ([0, -1, 2, 0, 0, 1], "-1")):
        data = core.Dataset(x, np.array(labels, np.float32)[:, None])
        with pytest.raises(errors.LabelError, match=rf"\[0, 3\) for 3 outputs; got {bad}"):
            net.train_batch(data, 0, 6, 0.1)
        with pytest.raises(errors.LabelError):
            net.test_batches(data, 0, 6, 2)
    assert net.iterations == 0
    ok = core.Dataset(x, np.array([0, 1, 2, 2, 0, 1], np.float32)[:, None])
    net.train_batch(ok, 0, 6, 0.1)
    assert net.iterations == 1


def test_single_kernel_errors(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    with pytest.raises(errors.ShapeError, match="kernel must have shape"):
        core.dense_forward(x, w.T, None, 0, np.empty((4, 2), np.float32))
    with pytest.raises(errors.ShapeError, match="bias"):
        core.dense_forward(x, w, np.zeros(3), 0, np.empty((4, 2), np.float32))
    with pytest.raises(errors.KindError, match="activation"):
        core.dense_forward(x, w, None, 99, np.empty((4, 2), np.float32))
    with pytest.raises(errors.ShapeError, match="out must have shape"):
        core.dense_forward(x, w, None, 0, np.empty((4, 3), np.float32))
    with pytest.raises(errors.ShapeError, match="da must have shape"):
        core.dense_backward(x, w, np.zeros((4, 2)), np.zeros((4, 3)), 0, np.empty((3, 2), np.float32), None, None)
    with pytest.raises(errors.ShapeError, match="y_true must have shape"):
        core.loss_value_and_grad(core.LOSS_MSE, np.zeros((4, 1)), np.zeros((4, 2)), None, None)
    with pytest.raises(errors.KindError):
        core.loss_value_and_grad(17, np.zeros((4, 1)), np.zeros((4, 1)), None, None)
    with pytest.raises(errors.ShapeError, match="state must have shape"):
        core.metric_update(core.METRIC_MAE, np.zeros((4, 1)), np.zeros((4, 1)), np.zeros(3, np.float32))
    with pytest.raises(errors.DtypeError, match="state must have dtype float32"):
        core.metric_update(core.METRIC_MAE, np.zeros((4, 1)), np.zeros((4, 1)), np.zeros(2))


@pytest.mark.slow
def test_native_switch_selects_implementation(monkeypatch):
    import importlib
    import os
    import subprocess
    import sys

    code = "from hookfit._native import core, Network, Dataset; print(core.__name__, Network.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "hookfit._core"
    env = {**os.environ, "HOOKFIT_IMPLEMENTATION": "reference"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split()[0] == "hookfit._reference"
    env["HOOKFIT_IMPLEMENTATION"] = "bogus"
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "HOOKFIT_IMPLEMENTATION" in bad.stderr
    if os.environ.get("HOOKFIT_IMPLEMENTATION", "compiled") == "compiled":
        assert importlib.import_module("hookfit._native").core is core


_ARRAYS = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6),
    st.tuples(st.sampled_from([np.float32, np.float64, np.int8, np.bool_, np.complex64, object]),
              st.lists(st.integers(0, 4), min_size=0, max_size=3)).map(
        lambda t: np.ones(t[1], dtype=t[0]) if t[0] is not object else np.empty(t[1], dtype=object)),
)


@settings(max_examples=150, deadline=None)
@given(x=_ARRAYS, y=_ARRAYS, sw=_ARRAYS, order=_ARRAYS, start=st.integers(-2, 6), count=st.integers(-1, 6),
       batch=st.integers(-1, 4), lr=st.sampled_from([0.1, float("nan"), -1.0, 1e300]), out=_ARRAYS)
def test_no_input_crashes_the_process(x, y, sw, order, start, count, batch, lr, out):
    """Arbitrary arguments end in a result or a ValueError/TypeError, never a crash."""
    net = core.Network(4, [1], [core.ACT_SIGMOID], [True])
    net.configure(core.LOSS_BCE, [core.METRIC_BINARY_ACCURACY], core.OPT_ADAM)
    wide = core.Network(4, [3, 2], [core.ACT_RELU, core.ACT_SOFTMAX], [True, False])
    wide.configure(core.LOSS_SCCE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_SGD)
    try:
        data = core.Dataset(x, y, sw)
    except (ValueError, TypeError):
        data = core.Dataset(np.ones((4, 4)), np.ones((4, 1)))
    for call in (
        lambda: data.set_order(order),
        lambda: net.train_batches(data, start, count, batch, lr),
        lambda: wide.train_batch(data, start, count, lr),
        lambda: net.test_batches(data, start, count, batch),
        lambda: wide.predict_batches(data, start, count, batch, out),
        lambda: net.predict_batch(data, start, count, out),
        lambda: net.set_metric_state(out),
        lambda: core.loss_value_and_grad(core.LOSS_SCCE, y, x, sw, out),
        lambda: core.metric_update(core.METRIC_CCE, y, x, out),
        lambda: core.dense_forward(x, y, sw, core.ACT_SOFTMAX, out),
    ):
        try:
            call()
        except (ValueError, TypeError):
            pass
