"""The Network twin."""

from __future__ import annotations

import math

import numpy as np

from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401
from hookfit._reference.dense import dense_backward, dense_forward
from hookfit._reference.numerics import (
    _accumulate_loss, _loss_spec, _metric_spec, loss_eval, metric_accumulate, metric_result,
    metric_state_floats, opt_apply, opt_n_slots,
)


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

    def _vars(self):
        """The trainable weight arrays as (offset, size) ranges: every kernel and bias."""
        out = []
        for fin, fout, _, k_off, b_off in self._layers:
            out.append((k_off, fin * fout))
            if b_off is not None:
                out.append((b_off, fout))
        return out

    def layer_weights(self, i):
        fin, fout, _, k_off, b_off = self._layers[i]
        kernel = self._params[k_off : k_off + fin * fout].reshape(fin, fout)
        bias = None if b_off is None else self._params[b_off : b_off + fout]
        return kernel, bias

    def configure(self, loss, metrics, optimizer, **hparams):
        """configure(loss_spec, metric_specs, opt_spec) with spec dicts, or the
        older configure(loss_code, metric_codes, opt_code, **hyper)."""
        if isinstance(loss, dict):
            if hparams:
                raise CoreTypeError(f"configure() with spec dicts takes no keyword settings; got {sorted(hparams)}")
            loss_spec, metric_specs, opt_spec = dict(loss), [dict(m) for m in metrics], dict(optimizer)
        else:
            if not 0 <= loss < N_LOSSES:
                raise CoreValueError(f"loss code must lie in [0, {N_LOSSES})")
            if any(not 0 <= m < N_METRICS for m in metrics):
                raise CoreValueError(f"metric codes must lie in [0, {N_METRICS})")
            if optimizer not in _N_SLOTS:
                raise CoreValueError(f"optimizer code must lie in [0, {N_OPTIMIZERS})")
            loss_spec, metric_specs = {"kind": int(loss)}, [{"kind": int(m)} for m in metrics]
            opt_spec = {"kind": int(optimizer), **hparams}
        _loss_spec(loss_spec)
        for m in metric_specs:
            _metric_spec(m)
        self._loss_spec, self._metric_specs, self._opt_spec = loss_spec, metric_specs, opt_spec
        self._loss = loss_spec["kind"]
        self._slots = [np.zeros_like(self._params) for _ in range(opt_n_slots(opt_spec))]
        k = self.output_dim
        self._blocks = [metric_state_floats(m, k) for m in metric_specs]
        self._acc = np.zeros(2 + sum(self._blocks), np.float32)
        self.iterations = 0
        self._configured = True

    def _metric_views(self):
        off = 2
        for m, size in zip(self._metric_specs, self._blocks):
            yield m, self._acc[off : off + size]
            off += size

    def optimizer_slots(self):
        return list(self._slots)

    def reset_metrics(self):
        self._acc[...] = 0

    def metric_results(self):
        t, c = self._acc[0], self._acc[1]
        loss = float(f32(t) / f32(c)) if c else 0.0
        return [loss] + [metric_result(m, st, self.output_dim) for m, st in self._metric_views()]

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

    def _accumulate(self, y, y_pred, batch_loss, sw):
        _accumulate_loss(self._acc[0:2], batch_loss, y.shape[0])
        for m, st in self._metric_views():
            metric_accumulate(m, y, y_pred, sw, st)

    def train_batch(self, data, start, count, lr):
        if not math.isfinite(lr):
            raise CoreValueError(f"learning rate must be finite; got {lr}")
        self._check(data, start, count, need_y=True)
        rows = data._rows(start, count)
        x, y = data.x[rows], data.y[rows]
        sw = None if data.sample_weight is None else data.sample_weight[rows]
        acts = self._forward(x)
        da = np.empty_like(acts[-1])
        batch_loss = loss_eval(self._loss_spec, y, acts[-1], sw, da)
        self._accumulate(y, acts[-1], batch_loss, sw)
        for i in reversed(range(len(self._layers))):
            fin, fout, act, k_off, b_off = self._layers[i]
            kernel, _ = self.layer_weights(i)
            dk = self._grads[k_off : k_off + fin * fout].reshape(fin, fout)
            db = None if b_off is None else self._grads[b_off : b_off + fout]
            dx = np.empty((count, fin), np.float32) if i > 0 else None
            dense_backward(acts[i], kernel, acts[i + 1], da, act, dk, db, dx)
            da = dx
        opt_apply(self._opt_spec, self._params, self._grads, self._slots, lr, self.iterations,
                  self._vars())
        self.iterations += 1
        return 1

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
        self._accumulate(y, y_pred, loss_eval(self._loss_spec, y, y_pred, sw, None), sw)
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
