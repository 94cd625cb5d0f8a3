"""Pure-NumPy twin of ``hookfit._core``: the same names, signatures and formulas.

It is the test oracle for the C kernels and, with the environment variable
``HOOKFIT_IMPLEMENTATION=reference``, a slow but simple fallback for
debugging. It computes in float64 where that makes it the better oracle and
stores results in float32, as the core does. Formulas follow Keras 2
(tf-keras 2.21); see the comments at each one.
"""

from __future__ import annotations

import math

import numpy as np

# The same base as the compiled core's errors, so callers catch either alike.
from hookfit.errors import CoreError

ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_SOFTMAX = range(5)
LOSS_MSE, LOSS_MAE, LOSS_BCE, LOSS_CCE, LOSS_SCCE = range(5)
(
    METRIC_MSE,
    METRIC_MAE,
    METRIC_BCE,
    METRIC_CCE,
    METRIC_SCCE,
    METRIC_BINARY_ACCURACY,
    METRIC_CATEGORICAL_ACCURACY,
    METRIC_SPARSE_CATEGORICAL_ACCURACY,
) = range(8)
OPT_SGD, OPT_RMSPROP, OPT_ADAM = range(3)

N_ACTIVATIONS, N_LOSSES, N_METRICS, N_OPTIMIZERS = 5, 5, 8, 3
_N_SLOTS = {OPT_SGD: 1, OPT_RMSPROP: 3, OPT_ADAM: 3}

# Keras's backend epsilon, used for clipping probabilities.
EPSILON = 1e-7

f32 = np.float32


class CoreValueError(CoreError, ValueError):
    pass


class CoreTypeError(CoreError, TypeError):
    pass


class CoreBusyError(CoreError, RuntimeError):
    pass


def cpu_features() -> str:
    return "numpy-reference"


# --------------------------------------------------------------------------
# Activations


def activation_forward(z: np.ndarray, activation: int) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if activation == ACT_LINEAR:
        return z
    if activation == ACT_RELU:
        return np.maximum(z, 0.0)
    if activation == ACT_SIGMOID:
        return 1.0 / (1.0 + np.exp(-z))
    if activation == ACT_TANH:
        return np.tanh(z)
    if activation == ACT_SOFTMAX:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise CoreValueError(f"unknown activation code {activation}")


def activation_backward(a: np.ndarray, da: np.ndarray, activation: int) -> np.ndarray:
    """dL/dz from the layer output a = act(z) and dL/da."""
    a = np.asarray(a, dtype=np.float64)
    da = np.asarray(da, dtype=np.float64)
    if activation == ACT_LINEAR:
        return da
    if activation == ACT_RELU:
        return da * (a > 0)
    if activation == ACT_SIGMOID:
        return da * a * (1.0 - a)
    if activation == ACT_TANH:
        return da * (1.0 - a * a)
    if activation == ACT_SOFTMAX:
        return a * (da - (da * a).sum(axis=-1, keepdims=True))
    raise CoreValueError(f"unknown activation code {activation}")


# --------------------------------------------------------------------------
# Dense layer


def dense_forward(x, kernel, bias, activation, out):
    z = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    out[...] = activation_forward(z, activation)
    return out


def dense_backward(x, kernel, a, da, activation, dkernel, dbias, dx):
    dz = activation_backward(a, da, activation)
    dkernel[...] = np.asarray(x, np.float64).T @ dz
    if dbias is not None:
        dbias[...] = dz.sum(axis=0)
    if dx is not None:
        dx[...] = dz @ np.asarray(kernel, np.float64).T


# --------------------------------------------------------------------------
# Losses: per-sample values and their gradient with respect to y_pred.


def _clip_mask(p):
    """Clip to [eps, 1 - eps]; the mask is where the gradient passes (as TF's clip)."""
    pc = np.clip(p, EPSILON, 1.0 - EPSILON)
    return pc, (p >= EPSILON) & (p <= 1.0 - EPSILON)


def per_sample_loss(kind: int, y_true, y_pred, need_grad: bool = True):
    """Return (l, dl/dy_pred): l has shape (N,), the gradient (N, k)."""
    t = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    k = p.shape[-1]
    if kind == LOSS_MSE:
        d = p - t
        return (d * d).mean(axis=-1), 2.0 * d / k
    if kind == LOSS_MAE:
        d = p - t
        return np.abs(d).mean(axis=-1), np.sign(d) / k
    if kind == LOSS_BCE:
        # tf-keras backend.binary_crossentropy on probabilities.
        pc, mask = _clip_mask(p)
        lpos, lneg = np.log(pc + EPSILON), np.log(1.0 - pc + EPSILON)
        value = -(t * lpos + (1.0 - t) * lneg).mean(axis=-1)
        grad = -(t / (pc + EPSILON) - (1.0 - t) / (1.0 - pc + EPSILON)) / k * mask
        return value, grad
    if kind == LOSS_CCE:
        # Normalise each row to sum 1, then clip, then -sum(t log q).
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        qc, mask = _clip_mask(q)
        value = -(t * np.log(qc)).sum(axis=-1)
        dq = -t / qc * mask
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / s
        return value, grad
    if kind == LOSS_SCCE:
        # Clip, then -log_softmax(log p)[label] = -log p_label + log sum(p).
        labels = t.reshape(-1).astype(np.int64)
        pc, mask = _clip_mask(p)
        s = pc.sum(axis=-1)
        rows = np.arange(p.shape[0])
        value = -np.log(pc[rows, labels]) + np.log(s)
        grad = np.broadcast_to(1.0 / s[:, None], p.shape).copy()
        grad[rows, labels] -= 1.0 / pc[rows, labels]
        return value, grad * mask
    raise CoreValueError(f"unknown loss code {kind}")


def loss_value_and_grad(loss, y_true, y_pred, sample_weight, grad_out):
    """Batch loss with Keras's sum_over_batch_size reduction: sum_i w_i l_i / N."""
    values, grad = per_sample_loss(loss, y_true, y_pred)
    n = values.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if grad_out is not None:
        grad_out[...] = grad * (w / n)[:, None]
    return float(f32((w * values).sum() / n))


# --------------------------------------------------------------------------
# Metrics: per-sample values, accumulated as float32 (total, count).


def per_sample_metric(kind: int, y_true, y_pred) -> np.ndarray:
    if kind <= METRIC_SCCE:  # the losses double as metrics, with the same codes
        return per_sample_loss(kind, y_true, y_pred, need_grad=False)[0]
    t = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    if kind == METRIC_BINARY_ACCURACY:
        return ((p > 0.5) == t).mean(axis=-1)
    if kind == METRIC_CATEGORICAL_ACCURACY:
        return (t.argmax(axis=-1) == p.argmax(axis=-1)).astype(np.float64)
    if kind == METRIC_SPARSE_CATEGORICAL_ACCURACY:
        return (t.reshape(-1) == p.argmax(axis=-1)).astype(np.float64)
    raise CoreValueError(f"unknown metric code {kind}")


def metric_update(metric, y_true, y_pred, state):
    values = per_sample_metric(metric, y_true, y_pred)
    state[0] = f32(state[0]) + f32(values.sum())
    state[1] = f32(state[1]) + f32(values.shape[0])


def _accumulate_loss(state, batch_loss: float, n: int):
    # Keras's loss tracker: Mean(values=loss, sample_weight=batch size).
    state[0] = f32(state[0]) + f32(f32(batch_loss) * f32(n))
    state[1] = f32(state[1]) + f32(n)


# --------------------------------------------------------------------------
# Optimizers (Keras 2 formulas; slot orders as in _core.pyi).


def optimizer_update(
    optimizer,
    params,
    grads,
    slots,
    lr,
    iteration,
    *,
    rho=0.9,
    momentum=0.0,
    epsilon=1e-7,
    centered=False,
    nesterov=False,
    beta_1=0.9,
    beta_2=0.999,
    amsgrad=False,
):
    g = np.asarray(grads, np.float32)
    lr = f32(lr)
    if optimizer == OPT_SGD:
        if momentum > 0:
            (m,) = slots
            m[...] = f32(momentum) * m - lr * g
            if nesterov:
                params += f32(momentum) * m - lr * g
            else:
                params += m
        else:
            params -= lr * g
    elif optimizer == OPT_RMSPROP:
        v, m, a = slots
        v[...] = f32(rho) * v + f32(1 - rho) * g * g
        if centered:
            a[...] = f32(rho) * a + f32(1 - rho) * g
            denom = v - a * a + f32(epsilon)
        else:
            denom = v + f32(epsilon)
        inc = lr * g / np.sqrt(denom)  # epsilon inside the square root
        if momentum > 0:
            m[...] = f32(momentum) * m + inc
            params -= m
        else:
            params -= inc
    elif optimizer == OPT_ADAM:
        m, v, vhat = slots
        t = iteration + 1
        m += (g - m) * f32(1 - beta_1)
        v += (g * g - v) * f32(1 - beta_2)
        alpha = f32(lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t))
        if amsgrad:
            np.maximum(vhat, v, out=vhat)
            params -= alpha * m / (np.sqrt(vhat) + f32(epsilon))
        else:
            params -= alpha * m / (np.sqrt(v) + f32(epsilon))
    else:
        raise CoreValueError(f"unknown optimizer code {optimizer}")


# --------------------------------------------------------------------------
# Shuffling: the C code's permutation, step by step (csrc/hf_shuffle.c).

_M64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & _M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return state, z ^ (z >> 31)


def _bounded(state, bound):
    """Uniform in [0, bound): Lemire's multiply-shift (bound < 2**32) or rejection + modulo."""
    if bound <= 0xFFFFFFFF:
        state, r = _splitmix64(state)
        m = (r >> 32) * bound
        if (m & 0xFFFFFFFF) < bound:
            threshold = ((1 << 32) - bound) % bound
            while (m & 0xFFFFFFFF) < threshold:
                state, r = _splitmix64(state)
                m = (r >> 32) * bound
        return state, m >> 32
    threshold = ((1 << 64) - bound) % bound
    while True:
        state, r = _splitmix64(state)
        if r >= threshold:
            return state, r % bound


def permutation(n, seed):
    """Fisher-Yates over 0..n-1 with SplitMix64 draws from ``seed``."""
    out = np.arange(n, dtype=np.int64)
    state = seed
    for i in range(n, 1, -1):
        state, j = _bounded(state, i)
        out[i - 1], out[j] = out[j], out[i - 1]
    return out


# --------------------------------------------------------------------------
# Dataset and Network


def _as_float32_2d(name, a):
    a = np.asarray(a)
    if a.ndim != 2:
        raise CoreValueError(f"{name} must be 2-D (rows, columns); got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _check_finite(name, a):
    bad = ~np.isfinite(a)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise CoreValueError(
            f"{name} contains NaN or infinity (first at row {row}); "
            "remove or impute those values before training"
        )


class Dataset:
    def __init__(self, x, y=None, sample_weight=None, *, check_finite=True):
        x = _as_float32_2d("x", x)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise CoreValueError(f"x is empty (shape {x.shape}); pass at least one row")
        if check_finite:
            _check_finite("x", x)
        n = x.shape[0]
        if y is not None:
            y = _as_float32_2d("y", y)
            if y.shape[0] != n:
                raise CoreValueError(f"x has {n} rows but y has {y.shape[0]}; they must match")
            if check_finite:
                _check_finite("y", y)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float32)
            if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
                raise CoreValueError(
                    f"sample_weight must have shape ({n},); got {sample_weight.shape}"
                )
            if check_finite:
                _check_finite("sample_weight", sample_weight)
        self._x, self._y, self._sw = x, y, sample_weight
        self._order = None

    n_rows = property(lambda self: self._x.shape[0])
    x = property(lambda self: self._x)
    y = property(lambda self: self._y)
    sample_weight = property(lambda self: self._sw)

    @property
    def n_positions(self):
        return self.n_rows if self._order is None else self._order.shape[0]

    @property
    def order(self):
        return self._order

    def shuffle(self, seed):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise CoreTypeError(f"seed must be an integer in [0, 2**64); got {seed!r}")
        self._order = permutation(self.n_rows, int(seed))

    def set_order(self, order):
        if order is None:
            self._order = None
            return
        order = np.asarray(order)
        if order.ndim != 1 or not np.issubdtype(order.dtype, np.integer):
            raise CoreTypeError(f"order must be a 1-D integer array; got {order.dtype} {order.shape}")
        if order.size and (order.min() < 0 or order.max() >= self.n_rows):
            raise CoreValueError(f"order values must lie in [0, {self.n_rows})")
        self._order = np.ascontiguousarray(order, dtype=np.int64)

    def _rows(self, start, count):
        if self._order is None:
            return slice(start, start + count)
        return self._order[start : start + count]


class Network:
    def __init__(self, input_dim, units, activations, use_bias):
        units, activations, use_bias = list(units), list(activations), list(use_bias)
        if not (len(units) == len(activations) == len(use_bias)) or not units:
            raise CoreValueError("units, activations and use_bias need one entry per layer")
        if int(input_dim) < 1 or any(int(u) < 1 for u in units):
            raise CoreValueError("input_dim and every layer's units must be positive")
        if any(not 0 <= a < N_ACTIVATIONS for a in activations):
            raise CoreValueError(f"activation codes must lie in [0, {N_ACTIVATIONS})")
        self._layers = []  # (in, out, act, kernel_offset, bias_offset or None)
        offset, fan_in = 0, int(input_dim)
        for u, act, ub in zip(units, activations, use_bias):
            u = int(u)
            k_off = offset
            offset += fan_in * u
            b_off = offset if ub else None
            offset += u if ub else 0
            self._layers.append((fan_in, u, int(act), k_off, b_off))
            fan_in = u
        self._params = np.zeros(offset, np.float32)
        self._grads = np.zeros(offset, np.float32)
        self._input_dim = int(input_dim)
        self._configured = False
        self.iterations = 0

    n_layers = property(lambda self: len(self._layers))
    n_params = property(lambda self: self._params.shape[0])
    input_dim = property(lambda self: self._input_dim)
    output_dim = property(lambda self: self._layers[-1][1])
    params = property(lambda self: self._params)

    def layer_weights(self, i):
        fin, fout, _, k_off, b_off = self._layers[i]
        kernel = self._params[k_off : k_off + fin * fout].reshape(fin, fout)
        bias = None if b_off is None else self._params[b_off : b_off + fout]
        return kernel, bias

    def configure(self, loss, metrics, optimizer, **hparams):
        if not 0 <= loss < N_LOSSES:
            raise CoreValueError(f"loss code must lie in [0, {N_LOSSES})")
        if any(not 0 <= m < N_METRICS for m in metrics):
            raise CoreValueError(f"metric codes must lie in [0, {N_METRICS})")
        if optimizer not in _N_SLOTS:
            raise CoreValueError(f"optimizer code must lie in [0, {N_OPTIMIZERS})")
        self._loss, self._metrics, self._opt = int(loss), [int(m) for m in metrics], int(optimizer)
        defaults = dict(
            rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
            nesterov=False, beta_1=0.9, beta_2=0.999, amsgrad=False,
        )
        unknown = set(hparams) - set(defaults)
        if unknown:
            raise CoreTypeError(f"unknown optimizer settings {sorted(unknown)}")
        defaults.update(hparams)
        self._hparams = defaults
        self._slots = [np.zeros_like(self._params) for _ in range(_N_SLOTS[self._opt])]
        self._acc = np.zeros((1 + len(self._metrics), 2), np.float32)
        self.iterations = 0
        self._configured = True

    def optimizer_slots(self):
        return list(self._slots)

    def reset_metrics(self):
        self._acc[...] = 0

    def metric_results(self):
        return [float(f32(t) / f32(c)) if c else 0.0 for t, c in self._acc]

    def metric_state(self):
        return self._acc.copy()

    def set_metric_state(self, state):
        state = np.asarray(state, np.float32)
        if state.shape != self._acc.shape:
            raise CoreValueError(f"metric state must have shape {self._acc.shape}; got {state.shape}")
        self._acc[...] = state

    # -- steps ---------------------------------------------------------------

    def _check_rows(self, data, start, count):
        """The features match and [start, start + count) lies in data's positions."""
        if data.x.shape[1] != self._input_dim:
            raise CoreValueError(
                f"x has {data.x.shape[1]} features but the network expects {self._input_dim}"
            )
        if count < 1 or start < 0 or start + count > data.n_positions:
            raise CoreValueError(
                f"batch [{start}, {start + count}) is outside the {data.n_positions} positions"
            )

    def _check(self, data, start, count, need_y):
        if not self._configured:
            raise CoreValueError("the network has no loss/optimizer yet; call configure() first")
        self._check_rows(data, start, count)
        if need_y:
            if data.y is None:
                raise CoreValueError("this step needs targets y; the dataset has none")
            width = 1 if self._loss == LOSS_SCCE else self.output_dim
            if data.y.shape[1] != width:
                raise CoreValueError(f"y has {data.y.shape[1]} columns; expected {width}")
            if self._loss == LOSS_SCCE:
                labels = data.y[data._rows(start, count)]
                if (labels < 0).any() or (labels >= self.output_dim).any():
                    raise CoreValueError(
                        f"sparse labels must lie in [0, {self.output_dim})"
                    )

    def _forward(self, x):
        acts = [np.asarray(x, np.float64)]
        for i, (_, _, act, _, _) in enumerate(self._layers):
            kernel, bias = self.layer_weights(i)
            out = np.empty((x.shape[0], kernel.shape[1]), np.float32)
            dense_forward(acts[-1], kernel, bias, act, out)
            acts.append(out)
        return acts

    def _accumulate(self, y, y_pred, batch_loss):
        _accumulate_loss(self._acc[0], batch_loss, y.shape[0])
        for j, m in enumerate(self._metrics):
            metric_update(m, y, y_pred, self._acc[1 + j])

    def train_batch(self, data, start, count, lr):
        if not math.isfinite(lr):
            raise CoreValueError(f"learning rate must be finite; got {lr}")
        self._check(data, start, count, need_y=True)
        rows = data._rows(start, count)
        x, y = data.x[rows], data.y[rows]
        sw = None if data.sample_weight is None else data.sample_weight[rows]
        acts = self._forward(x)
        da = np.empty_like(acts[-1])
        batch_loss = loss_value_and_grad(self._loss, y, acts[-1], sw, da)
        self._accumulate(y, acts[-1], batch_loss)
        for i in reversed(range(len(self._layers))):
            fin, fout, act, k_off, b_off = self._layers[i]
            kernel, _ = self.layer_weights(i)
            dk = self._grads[k_off : k_off + fin * fout].reshape(fin, fout)
            db = None if b_off is None else self._grads[b_off : b_off + fout]
            dx = np.empty((count, fin), np.float32) if i > 0 else None
            dense_backward(acts[i], kernel, acts[i + 1], da, act, dk, db, dx)
            da = dx
        optimizer_update(
            self._opt, self._params, self._grads, self._slots, lr, self.iterations,
            **self._hparams,
        )
        self.iterations += 1

    def train_batches(self, data, start, count, batch_size, lr):
        for s in range(start, start + count, batch_size):
            self.train_batch(data, s, min(batch_size, start + count - s), lr)

    def test_batch(self, data, start, count):
        self._check(data, start, count, need_y=True)
        rows = data._rows(start, count)
        x, y = data.x[rows], data.y[rows]
        sw = None if data.sample_weight is None else data.sample_weight[rows]
        y_pred = self._forward(x)[-1]
        self._accumulate(y, y_pred, loss_value_and_grad(self._loss, y, y_pred, sw, None))

    def test_batches(self, data, start, count, batch_size):
        for s in range(start, start + count, batch_size):
            self.test_batch(data, s, min(batch_size, start + count - s))

    def predict_batch(self, data, start, count, out):
        self._check_rows(data, start, count)
        if (
            out.dtype != np.float32
            or out.shape != (data.n_positions, self.output_dim)
            or not out.flags.c_contiguous
            or not out.flags.writeable
        ):
            raise CoreValueError(
                f"out must be a writable C-contiguous float32 array of shape "
                f"{(data.n_positions, self.output_dim)}"
            )
        out[start : start + count] = self._forward(data.x[data._rows(start, count)])[-1]

    def predict_batches(self, data, start, count, batch_size, out):
        for s in range(start, start + count, batch_size):
            self.predict_batch(data, s, min(batch_size, start + count - s), out)
