"""The Network twin."""

from __future__ import annotations

import math

import numpy as np

from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401
from hookfit._reference.dense import dense_backward, dense_forward
from hookfit._reference.numerics import _accumulate_loss, loss_value_and_grad, metric_update, optimizer_update


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
        self._reduce = None  # data-parallel: [grads | metric deltas], made on first use
        self._input_dim = int(input_dim)
        self._configured = False
        self.iterations = 0
        self.last_run_batches = 0

    @property
    def iterations(self):
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        value = int(value)
        if not 0 <= value <= 2**63 - 1:
            raise CoreValueError(f"iterations must be an integer in [0, 2**63 - 1]; got {value}")
        self._iterations = value

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
        self._reduce = None
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

    def _accumulate(self, y, y_pred, batch_loss, acc=None):
        acc = self._acc if acc is None else acc
        _accumulate_loss(acc[0], batch_loss, y.shape[0])
        for j, m in enumerate(self._metrics):
            metric_update(m, y, y_pred, acc[1 + j])

    def _gradients(self, data, start, count, acc):
        """Forward, loss, backward into _grads; the loss and metrics are added
        to acc. The first half of a step."""
        rows = data._rows(start, count)
        x, y = data.x[rows], data.y[rows]
        sw = None if data.sample_weight is None else data.sample_weight[rows]
        acts = self._forward(x)
        da = np.empty_like(acts[-1])
        batch_loss = loss_value_and_grad(self._loss, y, acts[-1], sw, da)
        self._accumulate(y, acts[-1], batch_loss, acc)
        for i in reversed(range(len(self._layers))):
            fin, fout, act, k_off, b_off = self._layers[i]
            kernel, _ = self.layer_weights(i)
            dk = self._grads[k_off : k_off + fin * fout].reshape(fin, fout)
            db = None if b_off is None else self._grads[b_off : b_off + fout]
            dx = np.empty((count, fin), np.float32) if i > 0 else None
            dense_backward(acts[i], kernel, acts[i + 1], da, act, dk, db, dx)
            da = dx

    def _update(self, lr):
        optimizer_update(
            self._opt, self._params, self._grads, self._slots, lr, self.iterations,
            **self._hparams,
        )
        self.iterations += 1

    def train_batch(self, data, start, count, lr):
        if not math.isfinite(lr):
            raise CoreValueError(f"learning rate must be finite; got {lr}")
        self._check(data, start, count, need_y=True)
        self._gradients(data, start, count, self._acc)
        self._update(lr)
        return 1

    # -- the data-parallel step: train_batch in two calls around one in-place
    # sum over ranks of reduce_buffer (see _core.pyi).

    @property
    def reduce_buffer(self):
        if not self._configured:
            raise CoreValueError("the network has no loss/optimizer yet; call configure() first")
        if self._reduce is None:
            # [grads | metric deltas | one float for the caller (the loop's stop flag)]
            self._reduce = np.zeros(self.n_params + 2 * (1 + len(self._metrics)) + 1, np.float32)
            self._grads = self._reduce[: self.n_params]
        return self._reduce

    def grad_batch(self, data, start, count, global_rows):
        buf = self.reduce_buffer
        if count == 0:
            if not 0 <= start <= data.n_positions:
                raise CoreValueError(f"start={start} must lie in [0, {data.n_positions}]")
            self._check(data, 0, 1, need_y=True)
        else:
            self._check(data, start, count, need_y=True)
        if not 1 <= global_rows or count > global_rows:
            raise CoreValueError(f"global_rows must be >= 1 and >= count ({count}); got {global_rows}")
        buf[:-1] = 0
        if count:
            scale = 1.0 if count == global_rows else float(np.float32(count) / np.float32(global_rows))
            self._gradients(data, start, count, buf[self.n_params : -1].reshape(-1, 2))
            if scale != 1.0:
                self._grads *= np.float32(scale)  # float32, as the core
        return count

    def update_batch(self, lr):
        buf = self.reduce_buffer
        if not math.isfinite(np.float32(lr)):
            raise CoreValueError(f"learning rate must be finite; got {lr}")
        self._acc += buf[self.n_params : -1].reshape(-1, 2)
        self._update(lr)

    def train_batches(self, data, start, count, batch_size, lr, *, stop_on_nonfinite=False):
        """Returns the batches run; lr is a float or one float32 rate per batch."""
        starts = range(start, start + count, batch_size)
        if isinstance(lr, np.ndarray):
            if lr.dtype != np.float32 or lr.ndim != 1 or lr.shape[0] < len(starts):
                raise CoreTypeError(f"lr must be a float or a float32 array of {len(starts)} rates")
        if self.iterations + len(starts) > 2**63 - 1:
            raise CoreValueError("iterations + steps would overflow int64")
        self.last_run_batches = 0
        for b, s in enumerate(starts):
            rate = float(lr[b]) if isinstance(lr, np.ndarray) else lr
            self.train_batch(data, s, min(batch_size, start + count - s), rate)
            self.last_run_batches = b + 1
            if stop_on_nonfinite and not math.isfinite(self.metric_results()[0]):
                break
        return self.last_run_batches

    def test_batch(self, data, start, count):
        self._check(data, start, count, need_y=True)
        rows = data._rows(start, count)
        x, y = data.x[rows], data.y[rows]
        sw = None if data.sample_weight is None else data.sample_weight[rows]
        y_pred = self._forward(x)[-1]
        self._accumulate(y, y_pred, loss_value_and_grad(self._loss, y, y_pred, sw, None))
        return 1

    def test_batches(self, data, start, count, batch_size):
        self.last_run_batches = 0
        for s in range(start, start + count, batch_size):
            self.test_batch(data, s, min(batch_size, start + count - s))
            self.last_run_batches += 1
        return self.last_run_batches

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
        return 1

    def predict_batches(self, data, start, count, batch_size, out):
        self.last_run_batches = 0
        for s in range(start, start + count, batch_size):
            self.predict_batch(data, s, min(batch_size, start + count - s), out)
            self.last_run_batches += 1
        return self.last_run_batches
