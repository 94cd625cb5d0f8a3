"""The Network twin: the graph of csrc/hf_network.c in NumPy (float64
arithmetic, float32 storage between nodes, as the C buffers are)."""

from __future__ import annotations

import math
import time

import numpy as np

from hookfit import _graph
from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401
from hookfit._reference import logits as _logits
from hookfit._reference.dense import activation_backward, activation_forward, dropout_mask
from hookfit._reference.numerics import (
    _accumulate_loss, _loss_spec, _loss_y_width, _metric_spec, _metric_y_width, loss_eval, metric_accumulate,
    metric_result, metric_state_floats, opt_apply, opt_n_slots,
)


def _penalty(w, l1, l2):
    w = np.asarray(w, np.float64)
    return l1 * np.abs(w).sum() + l2 * (w * w).sum()


def _penalty_grad(w, l1, l2):
    w = np.asarray(w, np.float64)
    return l1 * np.sign(w) + 2.0 * l2 * w


class Network:
    def __init__(self, input_dim, units, activations, use_bias):
        self._build(*_graph.chain(input_dim, units, activations, use_bias))

    @classmethod
    def from_graph(cls, x_width, nodes, output):
        self = cls.__new__(cls)
        self._build(x_width, nodes, output)
        return self

    def _build(self, x_width, nodes, output):
        graph = _graph.Graph(x_width, nodes, output)
        params = graph.initial_params()  # before any change: a refused graph changes nothing
        self._g = graph
        self._dense_nodes = [i for i, nd in enumerate(graph.nodes) if nd["kind"] == NODE_DENSE]
        self._params = params
        self._grads = np.zeros(graph.n_params, np.float32)
        self._reduce = None  # data-parallel: [grads | metric deltas], made on first use
        self._row0 = 0  # data-parallel: the share's first row in the global batch (dropout)
        self._configured = False
        self._eager_calls = 0
        self._iterations = 0
        self.last_run_batches = 0
        self.last_run_nonfinite = False

    def _graph(self):
        graph = self.__dict__.get("_g")
        if graph is None:
            raise StateError(
                "this Network is not initialised; make it with Network(...) or Network.from_graph(...)"
            )
        return graph

    @property
    def iterations(self):
        self._graph()
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._graph()
        value = int(value)
        if not 0 <= value <= 2**63 - 1:
            raise PositionError(f"iterations must be an integer in [0, 2**63 - 1]; got {value}")
        self._iterations = value

    n_layers = property(lambda self: (self._graph(), len(self._dense_nodes))[1])
    n_nodes = property(lambda self: len(self._graph().nodes))
    n_params = property(lambda self: self._graph().n_params)
    input_dim = property(lambda self: self._graph().x_width)
    output_dim = property(lambda self: self._graph().nodes[self._graph().output]["width"])
    params = property(lambda self: (self._graph(), self._params)[1])

    def layer_weights(self, i):
        self._graph()
        i = int(i)
        if not 0 <= i < len(self._dense_nodes):
            raise PositionError(f"layer index must be in [0, {len(self._dense_nodes)}); got {i}")
        views = self._g.node_weights(self._params, self._dense_nodes[i])
        return views[0], (views[1] if len(views) > 1 else None)

    def node_weights(self, i):
        graph = self._graph()
        i = int(i)
        if not 0 <= i < len(graph.nodes):
            raise PositionError(f"node index must be in [0, {len(graph.nodes)}); got {i}")
        return graph.node_weights(self._params, i)

    def variables(self):
        return self._graph().variables()

    def trainable_mask(self):
        return self._graph().trainable_mask()

    def configure(self, loss, metrics, optimizer, **hparams):
        """configure(loss_spec, metric_specs, opt_spec) with spec dicts, or the
        older configure(loss_code, metric_codes, opt_code, **hyper)."""
        self._graph()
        if isinstance(loss, dict):
            if hparams:
                raise DtypeError(f"configure() with spec dicts takes no keyword settings; got {sorted(hparams)}")
            loss_spec, metric_specs, opt_spec = dict(loss), [dict(m) for m in metrics], dict(optimizer)
        else:
            if not 0 <= loss < N_LOSSES:
                raise KindError(f"loss must be one of LOSS_* (0-{N_LOSSES - 1}); got {loss}")
            if any(not 0 <= m < N_METRICS for m in metrics):
                raise KindError(f"metric codes must lie in [0, {N_METRICS})")
            if optimizer not in _N_SLOTS:
                raise KindError(f"optimizer must be one of OPT_* (0-{N_OPTIMIZERS - 1}); got {optimizer}")
            loss_spec, metric_specs = {"kind": int(loss)}, [{"kind": int(m)} for m in metrics]
            opt_spec = {"kind": int(optimizer), **hparams}
        _loss_spec(loss_spec)
        for m in metric_specs:
            _metric_spec(m)
        k = self.output_dim
        # As the core: sparse losses and metrics take one label column, the others k.
        widths = {_loss_y_width(loss_spec["kind"], k)} | {_metric_y_width(m["kind"], k) for m in metric_specs}
        if len(widths) > 1:
            raise ShapeError(
                "loss and metrics must agree on the width of y: sparse losses/metrics take one "
                f"label column, the others {k} columns"
            )
        blocks = [metric_state_floats(m, k) for m in metric_specs]
        slots = [np.zeros_like(self._params) for _ in range(opt_n_slots(opt_spec))]
        self._loss_spec, self._metric_specs, self._opt_spec = loss_spec, metric_specs, opt_spec
        self._loss = loss_spec["kind"]
        self._metrics = [m["kind"] for m in metric_specs]
        self._slots, self._blocks = slots, blocks
        self._acc = np.zeros(2 + sum(blocks), np.float32)
        if self._reduce is not None:  # the gradients leave it (it may be lent memory)
            self._grads = np.zeros_like(self._params)
        self._reduce = None  # its metric part has the new metrics' size
        self.iterations = 0
        self._configured = True

    def _metric_views(self, acc=None):
        acc = self._acc if acc is None else acc
        off = 2
        for m, size in zip(self._metric_specs, self._blocks):
            yield m, acc[off : off + size]
            off += size

    def optimizer_slots(self):
        self._graph()
        return list(self._slots)

    def reset_metrics(self):
        self._graph()
        self._acc[...] = 0

    def metric_results(self):
        self._graph()
        t, c = self._acc[0], self._acc[1]
        loss = float(f32(t) / f32(c)) if c else 0.0
        return [loss] + [metric_result(m, st, self.output_dim) for m, st in self._metric_views()]

    def metric_state(self):
        self._graph()
        return self._acc.copy()

    def set_metric_state(self, state):
        self._graph()
        state = np.asarray(state)
        if state.dtype.kind not in "biuf":
            raise DtypeError(f"state must hold real numbers; got dtype {state.dtype}")
        if state.shape != self._acc.shape:
            raise ShapeError(f"state must have shape {self._acc.shape}; got {state.shape}")
        self._acc[...] = state

    # -- the graph -----------------------------------------------------------

    def _forward(self, x, training, key, update_stats):
        """Node values (float32), the saved buffers (z, masks, BN stats) and
        the activity penalty."""
        g, p = self._g, self._params
        x = np.asarray(x, np.float32)
        n = x.shape[0]
        vals, saved, penalty = [None] * len(g.nodes), {}, 0.0
        for i, nd in enumerate(g.nodes):
            if not nd["live"]:
                continue
            kind, k = nd["kind"], nd["width"]
            src = vals[nd["inputs"][0]].astype(np.float64) if nd["inputs"] else None
            if kind == NODE_INPUT:
                out = x[:, nd["offset"]:nd["offset"] + k]
            elif kind == NODE_DENSE:
                kernel, *bias = g.node_weights(p, i)
                z = src @ kernel.astype(np.float64)
                if bias:
                    z = z + bias[0]
                z = f32(z)
                saved[i] = z
                out = f32(activation_forward(z, nd["act"], nd["alpha"]))
                # tf-keras divides the activity penalty by the batch size.
                penalty += _penalty(out, nd["activity_l1"], nd["activity_l2"]) / n
            elif kind == NODE_ACTIVATION:
                saved[i] = f32(src)
                out = f32(activation_forward(src, nd["act"], nd["alpha"]))
            elif kind == NODE_DROPOUT:
                if training and nd["drop_threshold"] > 0:
                    mask = dropout_mask(nd["seed"], key, i, n, k, nd["rate"], nd["shared_row"],
                                        self._row0)
                    saved[i] = mask
                    out = f32(vals[nd["inputs"][0]] * mask)
                else:
                    out = vals[nd["inputs"][0]]
            elif kind == NODE_BATCHNORM:
                w = dict(zip([name for node, name, *_ in g.weights if node == i], g.node_weights(p, i)))
                mm, mv = w["moving_mean"], w["moving_variance"]
                if training and nd["trainable"]:
                    mean, var = src.mean(axis=0), src.var(axis=0)
                    saved[i] = (f32(mean), f32(1.0 / np.sqrt(f32(var) + f32(nd["epsilon"]))))
                    if update_stats:
                        decay = f32(1.0) - f32(nd["momentum"])
                        mm -= (mm - f32(mean)) * decay
                        mv -= (mv - f32(var)) * decay
                else:
                    mean, var = mm.astype(np.float64), mv.astype(np.float64)
                inv = 1.0 / np.sqrt(var + nd["epsilon"])
                if "gamma" in w:
                    inv = inv * w["gamma"]
                shift = (w["beta"] if "beta" in w else 0.0) - mean * inv
                out = f32(src * inv + shift)
            elif kind == NODE_NORMALIZATION:
                mean, var = g.node_weights(p, i)
                out = f32((src - mean) / np.maximum(np.sqrt(var.astype(np.float64)), nd["epsilon"]))
            elif kind == NODE_ADD:
                out = f32(sum(vals[j].astype(np.float64) for j in nd["inputs"]))
            else:  # NODE_CONCATENATE
                out = np.hstack([vals[j] for j in nd["inputs"]]).astype(np.float32)
            vals[i] = out
        return vals, saved, penalty

    def _weight_penalty(self):
        g, total = self._g, 0.0
        for i, nd in enumerate(g.nodes):
            if nd["kind"] == NODE_DENSE and nd["live"]:
                kernel, *bias = g.node_weights(self._params, i)
                total += _penalty(kernel, nd["kernel_l1"], nd["kernel_l2"])
                if bias:
                    total += _penalty(bias[0], nd["bias_l1"], nd["bias_l2"])
        return total

    def _backward(self, vals, saved, grad_out, training, logits_grad=False):
        """logits_grad: grad_out is dL/dz of the output (its activation's
        derivative is not applied; _logits)."""
        g, p = self._g, self._params
        grads = {g.output: np.asarray(grad_out, np.float64)}
        n = grad_out.shape[0]

        def send(j, d):
            if g.nodes[j]["backward"]:
                grads[j] = grads[j] + d if j in grads else d

        for i in range(len(g.nodes) - 1, -1, -1):
            nd = g.nodes[i]
            if not nd["backward"]:
                continue
            d, kind = grads[i], nd["kind"]
            a = vals[i].astype(np.float64)
            src = vals[nd["inputs"][0]].astype(np.float64) if nd["inputs"] else None
            on_logits = logits_grad and i == g.output
            if kind == NODE_DENSE:
                pa = _penalty_grad(a, nd["activity_l1"], nd["activity_l2"]) / n
                if on_logits:
                    dz = d + activation_backward(saved[i], a, pa, nd["act"], nd["alpha"])
                else:
                    dz = activation_backward(saved[i], a, d + pa, nd["act"], nd["alpha"])
                kernel, *bias = g.node_weights(p, i)
                if nd["trainable"]:
                    off = nd["w_off"]
                    gk = src.T @ dz + _penalty_grad(kernel, nd["kernel_l1"], nd["kernel_l2"])
                    self._grads[off:off + kernel.size] = gk.ravel()
                    if bias:
                        gb = dz.sum(axis=0) + _penalty_grad(bias[0], nd["bias_l1"], nd["bias_l2"])
                        self._grads[nd["b_off"]:nd["b_off"] + bias[0].size] = gb
                send(nd["inputs"][0], dz @ kernel.astype(np.float64).T)
            elif kind == NODE_ACTIVATION:
                send(nd["inputs"][0], d if on_logits else
                     activation_backward(saved[i], a, d, nd["act"], nd["alpha"]))
            elif kind == NODE_DROPOUT:
                send(nd["inputs"][0], d * saved[i] if i in saved else d)
            elif kind == NODE_BATCHNORM:
                w = dict(zip([name for node, name, *_ in g.weights if node == i], g.node_weights(p, i)))
                gamma = w["gamma"].astype(np.float64) if "gamma" in w else 1.0
                if training and nd["trainable"]:
                    mean, istd = (s.astype(np.float64) for s in saved[i])
                else:
                    mean = w["moving_mean"].astype(np.float64)
                    istd = 1.0 / np.sqrt(w["moving_variance"] + nd["epsilon"])
                xhat = (src - mean) * istd
                if nd["trainable"]:
                    if "gamma" in w:
                        self._grads[nd["w_off"]:nd["w_off"] + nd["width"]] = (d * xhat).sum(axis=0)
                    if "beta" in w:
                        self._grads[nd["b_off"]:nd["b_off"] + nd["width"]] = d.sum(axis=0)
                if training and nd["trainable"]:
                    dx = gamma * istd * (d - d.mean(axis=0) - xhat * (d * xhat).mean(axis=0))
                else:
                    dx = gamma * istd * d
                send(nd["inputs"][0], dx)
            elif kind == NODE_NORMALIZATION:
                _, var = g.node_weights(p, i)
                send(nd["inputs"][0], d / np.maximum(np.sqrt(var.astype(np.float64)), nd["epsilon"]))
            elif kind == NODE_ADD:
                for j in nd["inputs"]:
                    send(j, d)
            elif kind == NODE_CONCATENATE:
                col = 0
                for j in nd["inputs"]:
                    w = g.nodes[j]["width"]
                    send(j, d[:, col:col + w])
                    col += w

    # -- steps ---------------------------------------------------------------

    def _check_rows(self, data, start, count):
        """The features match and [start, start + count) lies in data's positions."""
        g = self._graph()
        if not isinstance(data, _dataset_class()):
            raise DtypeError(f"data must be a Dataset; got {type(data).__name__}")
        if data.x.shape[1] != g.x_width:
            raise ShapeError(
                f"data.x must have {g.x_width} columns (the input_dim); got {data.x.shape[1]}"
            )
        if count < 1 or start < 0 or start + count > data.n_positions:
            raise PositionError(
                f"start={start}, count={count} must select positions inside [0, {data.n_positions}) "
                "with count >= 1"
            )

    def _check(self, data, start, count, need_y):
        self._check_rows(data, start, count)
        if not self._configured:
            raise KindError("call configure(loss, metrics, optimizer) before training or testing")
        if need_y:
            if data.y is None:
                raise ShapeError("data has no y; build the Dataset with y to train or evaluate")
            width = 1 if self._loss == LOSS_SCCE else self.output_dim
            if data.y.shape[1] != width:
                raise ShapeError(f"y must have {width} column(s) for this loss; got {data.y.shape[1]}")
            if self._loss == LOSS_SCCE or any(m in (METRIC_SCCE, METRIC_SPARSE_CATEGORICAL_ACCURACY)
                                             for m in self._metrics):
                labels = data.y[data._rows(start, count)]
                if (labels < 0).any() or (labels >= self.output_dim).any():
                    raise LabelError(f"sparse labels must lie in [0, {self.output_dim})")

    def last_batch_output(self):
        """A copy of the output of the last train/test batch (as the core's)."""
        out = getattr(self, "_last_output", None)
        if out is None:
            raise PositionError("last_batch_output: no train or test batch has run since the last run")
        return out.copy()

    def _accumulate(self, y, y_pred, batch_loss, sw, acc=None, logits=None):
        self._last_output = np.array(y_pred, dtype=np.float32)
        acc = self._acc if acc is None else acc
        _accumulate_loss(acc[0:2], batch_loss, y.shape[0])
        act = _logits.output_act(self._g.nodes[self._g.output])
        for m, st in self._metric_views(acc):
            if logits is not None and _logits.substitutes(_logits.metric_crossentropy(_metric_spec(m)), act):
                metric_accumulate({**m, "from_logits": True}, y, logits, sw, st)
            else:
                metric_accumulate(m, y, y_pred, sw, st)

    def _batch_loss(self, y, pred, saved, sw, grad_out):
        """The batch loss (and dL/d output into grad_out when not None), from
        the output's logits when tf-keras takes them. Returns (loss, the
        logits or None, whether grad_out is dL/dz)."""
        g = self._g
        act = _logits.output_act(g.nodes[g.output])
        logits = saved.get(g.output) if act >= 0 else None
        if logits is not None and _logits.substitutes(self._loss_spec["kind"], act):
            spec = {**self._loss_spec, "from_logits": True}
            return loss_eval(spec, y, logits, sw, grad_out), logits, True
        return loss_eval(self._loss_spec, y, pred, sw, grad_out), logits, False

    def train_batch(self, data, start, count, lr):
        if not math.isfinite(lr):
            raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
        self._check(data, start, count, need_y=True)
        self._gradients(data, start, count, self._acc)
        self._update(lr)
        return 1

    def _gradients(self, data, start, count, acc, loss_factor=1.0):
        """Forward, loss and backward into _grads; the loss and metrics are
        added to acc. The first half of a step."""
        g = self._g
        rows = data._rows(start, count)
        x, y = data.x[rows], data.y[rows]
        sw = None if data.sample_weight is None else data.sample_weight[rows]
        penalty = self._weight_penalty()
        vals, saved, activity = self._forward(x, True, self.iterations, True)
        pred = vals[g.output]
        da = np.empty_like(pred)
        batch_loss, logits, on_logits = self._batch_loss(y, pred, saved, sw, da)
        # Keras adds sum(model.losses) to the loss it minimises and logs.
        batch_loss = float(f32(batch_loss + penalty + activity))
        if loss_factor != 1.0:
            batch_loss = batch_loss * loss_factor
        self._accumulate(y, pred, batch_loss, sw, acc, logits)
        if g.nodes[g.output]["backward"]:
            self._backward(vals, saved, da, True, on_logits)

    def _update(self, lr):
        opt_apply(self._opt_spec, self._params, self._grads, self._slots, lr, self.iterations, self._g.vars)
        self.iterations += 1

    # -- the data-parallel step: train_batch in two calls around one in-place
    # sum over ranks of reduce_buffer (see _core.pyi).

    @property
    def reduce_buffer(self):
        if not self._configured:
            raise KindError("call configure(loss, metrics, optimizer) before a data-parallel step")
        if self._reduce is None:
            self._reduce = np.zeros(self._reduce_length(), np.float32)
            self._grads = self._reduce[: self.n_params]
        return self._reduce

    def _reduce_length(self):
        # [grads | metric deltas | one float for the caller (the loop's stop flag)]
        return self.n_params + self._acc.shape[0] + 1

    def use_reduce_buffer(self, buf):
        if not self._configured:
            raise KindError("call configure(loss, metrics, optimizer) before a data-parallel step")
        if (not isinstance(buf, np.ndarray) or buf.dtype != np.float32 or buf.ndim != 1
                or not buf.flags.c_contiguous or not buf.flags.writeable):
            raise TypeError("use_reduce_buffer: buf must be a writable C-contiguous 1-D float32 array")
        need = self._reduce_length()
        if buf.shape[0] != need:
            raise ValueError(
                f"use_reduce_buffer: buf must hold {need} floats (reduce_buffer's length); "
                f"got {buf.shape[0]}"
            )
        old = self.reduce_buffer  # made now if it did not exist: the gradients move with it
        self._reduce = buf
        self._grads = buf[: self.n_params]
        return old

    def _summed(self):
        return self._loss_spec.get("reduction", 0) in (1, "sum")

    def _data_parallel_ok(self):
        """A summed loss's share is not scaled: refuse a penalty every rank
        would add in full."""
        if not self._summed():
            return True
        keys = ("kernel_l1", "kernel_l2", "bias_l1", "bias_l2", "activity_l1", "activity_l2")
        return not any(
            nd.get("live", True) and nd["kind"] == NODE_DENSE and any(nd.get(k, 0.0) for k in keys)
            for nd in self._g.nodes
        )

    def grad_batch(self, data, start, count, global_rows, row_offset=0):
        self._last_output = None  # as the core: its workspace holds another batch
        buf = self.reduce_buffer
        if not self._data_parallel_ok():
            raise KindError(
                "grad_batch: a summed loss (reduction='sum') with weight or activity "
                "regularizers does not train data-parallel"
            )
        if count == 0:
            if not 0 <= start <= data.n_positions:
                raise PositionError(f"start={start} must lie in [0, {data.n_positions}]")
            self._check(data, 0, 1, need_y=True)
        else:
            self._check(data, start, count, need_y=True)
        if not 1 <= global_rows or count > global_rows:
            raise PositionError(f"global_rows must be >= 1 and >= count ({count}); got {global_rows}")
        if not 0 <= row_offset <= global_rows - count:
            raise PositionError(f"row_offset must lie in [0, {global_rows - count}]; got {row_offset}")
        buf[:-1] = 0
        if count:
            summed = self._summed()
            self._row0 = row_offset
            try:
                # A summed share counts as S_r * global_rows / count in the
                # loss tracker (which weighs a batch by its rows).
                factor = global_rows / count if summed and count != global_rows else 1.0
                self._gradients(data, start, count, buf[self.n_params : -1], factor)
            finally:
                self._row0 = 0
            if count != global_rows and not summed:
                self._grads *= np.float32(count) / np.float32(global_rows)  # float32, as the core
        return count

    def update_batch(self, lr):
        buf = self.reduce_buffer
        if not math.isfinite(np.float32(lr)):
            raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
        self._acc += buf[self.n_params : -1]
        self._update(lr)

    def train_batches(self, data, start, count, batch_size, lr, *, stop_on_nonfinite=False, bar=None):
        """Returns the batches run; lr is a float or one float32 rate per batch;
        bar: a NativeProgbar updated after each batch."""
        self._check_rows(data, start, count)
        if bar is not None:
            bar._check_run(len(self.metric_results()))
        starts = range(start, start + count, batch_size)
        if isinstance(lr, np.ndarray):
            if lr.dtype != np.float32 or lr.ndim != 1 or lr.shape[0] < len(starts):
                raise DtypeError(f"lr must be a float or a float32 array of {len(starts)} rates")
            if not np.isfinite(lr[:len(starts)]).all():
                raise NonFiniteError("lr must hold finite float32 rates; got NaN or infinity")
        if self.iterations + len(starts) > 2**63 - 1:
            raise PositionError("iterations + steps would overflow int64")
        self.last_run_batches = 0
        self.last_run_nonfinite = False
        if bar is not None:
            bar._run_begin()
        for b, s in enumerate(starts):
            rate = float(lr[b]) if isinstance(lr, np.ndarray) else lr
            self.train_batch(data, s, min(batch_size, start + count - s), rate)
            self.last_run_batches = b + 1
            if stop_on_nonfinite and not math.isfinite(self.metric_results()[0]):
                self.last_run_nonfinite = True
                break
            if bar is not None and not bar._after_batch(start // batch_size + b + 1, self.metric_results):
                break
        if bar is not None:
            bar._run_done()
        return self.last_run_batches

    def train_batches_hooked(self, data, start, count, batch_size, optimizer, first_hook, sample_phase,
                             sample_mask, begin, end, names, position, model):
        """The compiled core's per-batch loop, as plain Python (see _core.pyi)."""
        if optimizer is None or position is None or model is None:
            raise TypeError("train_batches_hooked: optimizer, position and model are needed")
        self._check_rows(data, start, count)
        starts = range(start, start + count, batch_size)
        if self.iterations + len(starts) > 2**63 - 1:
            raise PositionError("iterations + steps would overflow int64")
        if len(names) != len(self.metric_results()):
            raise ValueError("train_batches_hooked: names must hold the loss's and the metrics' names")

        def step(s, rows):
            lr = optimizer._learning_rate
            if type(lr) is not float:
                lr = optimizer._rate_at(self.iterations)
            rate = float(np.float32(lr))
            if not math.isfinite(rate):
                raise NonFiniteError(f"the learning rate must be a finite float32 number; got {rate!r}")
            t0 = time.perf_counter_ns()
            self.train_batch(data, s, rows, rate)
            ns = time.perf_counter_ns() - t0
            position.step += 1
            return ns

        return self._hooked(starts, start + count, first_hook, sample_phase, sample_mask, begin, end, step,
                            lambda s, rows: dict(zip(names, self.metric_results())),
                            lambda: model.stop_training)

    def test_batches_hooked(self, data, start, count, batch_size, first_hook, sample_phase, sample_mask,
                            begin, end, names):
        self._check(data, start, count, need_y=True)
        if len(names) != len(self.metric_results()):
            raise ValueError("test_batches_hooked: names must hold the loss's and the metrics' names")

        def step(s, rows):
            t0 = time.perf_counter_ns()
            self.test_batch(data, s, rows)
            return time.perf_counter_ns() - t0

        return self._hooked(range(start, start + count, batch_size), start + count, first_hook, sample_phase,
                            sample_mask, begin, end, step, lambda s, rows: dict(zip(names, self.metric_results())))

    def predict_batches_hooked(self, data, start, count, batch_size, out, first_hook, sample_phase, sample_mask,
                               begin, end):
        self._check_rows(data, start, count)

        def step(s, rows):
            t0 = time.perf_counter_ns()
            self.predict_batch(data, s, rows, out)
            return time.perf_counter_ns() - t0

        return self._hooked(range(start, start + count, batch_size), start + count, first_hook, sample_phase,
                            sample_mask, begin, end, step, lambda s, rows: {"outputs": out[s : s + rows]})

    def _hooked(self, starts, end_at, first_hook, sample_phase, sample_mask, begin, end, step, logs, stop=None):
        """The loop of the *_batches_hooked: ``step(s, rows)`` runs a batch
        (after its begin hooks) and returns its time in ns; ``logs(s, rows)``:
        its end hooks' logs; ``stop()``: whether to stop after them."""
        begin_fns, end_fns = (() if t is None else tuple(t.fns) for t in (begin, end))
        begin_slow, end_slow = ([False] if t is None else t.slow for t in (begin, end))
        begin_times, end_times = (None if t is None else t.pending for t in (begin, end))
        self.last_run_batches = 0
        untimed = native_ns = 0
        try:
            for i, s in enumerate(starts):
                batch = first_hook + i
                lean = (batch - sample_phase) & sample_mask != 0 and not (begin_slow[0] or end_slow[0])
                if begin_fns:
                    _call_hooks(begin_fns, batch, {}, lean, begin, begin_times)
                rows = min(starts.step, end_at - s)
                native_ns += step(s, rows)
                self.last_run_batches = i + 1
                if end_fns:
                    _call_hooks(end_fns, batch, logs(s, rows), lean, end, end_times)
                if lean:
                    untimed += 1
                if stop is not None and stop():
                    break
        finally:
            if untimed:
                for table in (begin, end):
                    if table is not None:
                        table.counts[1] += untimed
        return native_ns

    def test_batch(self, data, start, count):
        self._check(data, start, count, need_y=True)
        rows = data._rows(start, count)
        x, y = data.x[rows], data.y[rows]
        sw = None if data.sample_weight is None else data.sample_weight[rows]
        penalty = self._weight_penalty()
        vals, saved, activity = self._forward(x, False, 0, False)
        pred = vals[self._g.output]
        batch_loss, logits, _ = self._batch_loss(y, pred, saved, sw, None)
        self._accumulate(y, pred, float(f32(batch_loss + penalty + activity)), sw, logits=logits)
        return 1

    def test_batches(self, data, start, count, batch_size, *, bar=None):
        if bar is not None:
            self._check_rows(data, start, count)
            bar._check_run(len(self.metric_results()))
        return self._batches(self.test_batch, data, start, count, batch_size, bar,
                             self.metric_results)

    def predict_batch(self, data, start, count, out):
        self._last_output = None  # as the core: its workspace holds another batch
        self._check_rows(data, start, count)
        if (
            not isinstance(out, np.ndarray)
            or out.dtype != np.float32
            or out.shape != (data.n_positions, self.output_dim)
            or not out.flags.c_contiguous
            or not out.flags.writeable
        ):
            raise ShapeError(
                f"out must be a writable C-contiguous float32 array of shape "
                f"{(data.n_positions, self.output_dim)}"
            )
        vals, _, _ = self._forward(data.x[data._rows(start, count)], False, 0, False)
        out[start : start + count] = vals[self._g.output]
        return 1

    def predict_batches(self, data, start, count, batch_size, out, *, bar=None):
        if bar is not None:
            self._check_rows(data, start, count)
            bar._check_run(0)
        return self._batches(lambda d, s, c: self.predict_batch(d, s, c, out), data, start, count,
                             batch_size, bar, list)

    def _batches(self, one, data, start, count, batch_size, bar, values):
        """``one(data, start, rows)`` per batch; ``bar`` updated after each
        with ``values()`` (the core's run with a bar)."""
        self.last_run_batches = 0
        if bar is not None:
            bar._run_begin()
        for s in range(start, start + count, batch_size):
            one(data, s, min(batch_size, start + count - s))
            self.last_run_batches += 1
            if bar is not None and not bar._after_batch(start // batch_size + self.last_run_batches,
                                                        values):
                break
        if bar is not None:
            bar._run_done()
        return self.last_run_batches

    def forward(self, x, training=False):
        """The whole graph on x; training=True: dropout with a fresh mask per
        call, batch statistics (which move BN's moving statistics)."""
        self._last_output = None
        g = self._graph()
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise DtypeError(f"x must hold real numbers; got an array of dtype {x.dtype}")
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != g.x_width:
            raise ShapeError(f"x must have shape (n >= 1, {g.x_width}); got {x.shape}")
        key = 0
        if training:
            self._eager_calls += 1
            key = -self._eager_calls
        vals, _, _ = self._forward(x.astype(np.float32), bool(training), key, bool(training))
        return np.array(vals[g.output], np.float32)


def _dataset_class():
    from hookfit._reference.dataset import Dataset

    return Dataset


_HAND_OVER_EVERY = 8  # as the compiled core's: timed dispatches kept before a record()


def _call_hooks(fns, batch, logs, lean, table, times):
    """As the compiled core's: each hook with (batch, logs); unless ``lean``,
    timed, the durations kept in ``times`` (the table's ``pending``) and
    recorded every ``_HAND_OVER_EVERY`` timed dispatches."""
    if lean:
        for fn in fns:
            fn(batch, logs)
        return
    taken = []
    t = time.perf_counter_ns()
    for fn in fns:
        fn(batch, logs)
        now = time.perf_counter_ns()
        taken.append(now - t)
        t = now
    times.extend(taken)
    if len(times) >= _HAND_OVER_EVERY * len(fns):
        table.record(times, 0)
        del times[:]
