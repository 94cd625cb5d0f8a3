"""Losses, metrics and optimizers (csrc/hf_loss, hf_metric, hf_optimizer)."""

from __future__ import annotations

import math

import numpy as np

from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401


# --------------------------------------------------------------------------
# Losses: per-sample values and their gradient with respect to y_pred.


def _clip_mask(p):
    """Clip to [eps, 1 - eps]; the mask is where the gradient passes (as TF's clip)."""
    pc = np.clip(p, EPSILON, 1.0 - EPSILON)
    return pc, (p >= EPSILON) & (p <= 1.0 - EPSILON)


def _loss_spec(spec) -> dict:
    """The complete, checked loss spec: the core's reading of it (its
    defaults and checks are the one source), with the reduction by name."""
    spec = {"kind": spec} if not isinstance(spec, dict) else spec
    full = _spec_reader().loss_spec_full(spec)
    full["reduction"] = {0: "sum_over_batch_size", 1: "sum"}[full["reduction"]]
    return full


def _spec_reader():
    # The compiled module itself (also when the twin stands in for it).
    from hookfit import _core

    return _core


def loss_spec_full(spec: dict) -> dict:
    return _spec_reader().loss_spec_full(spec)


def metric_spec_full(spec: dict) -> dict:
    return _spec_reader().metric_spec_full(spec)


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def per_sample_loss(spec, y_true, y_pred, need_grad: bool = True):
    """Return (l, dl/dy_pred): l has shape (N,), the gradient (N, k). spec:
    a loss spec dict or a bare kind (Keras's defaults)."""
    s = _loss_spec(spec)
    kind, ls, logits = s["kind"], float(s["label_smoothing"]), bool(s["from_logits"])
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
        t = t * (1.0 - ls) + 0.5 * ls
        if logits:
            # tf.nn.sigmoid_cross_entropy_with_logits
            value = (np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))).mean(axis=-1)
            return value, (1.0 / (1.0 + np.exp(-p)) - t) / k
        # tf-keras backend.binary_crossentropy on probabilities.
        pc, mask = _clip_mask(p)
        lpos, lneg = np.log(pc + EPSILON), np.log(1.0 - pc + EPSILON)
        value = -(t * lpos + (1.0 - t) * lneg).mean(axis=-1)
        grad = -(t / (pc + EPSILON) - (1.0 - t) / (1.0 - pc + EPSILON)) / k * mask
        return value, grad
    if kind == LOSS_CCE:
        t = t * (1.0 - ls) + ls / k
        if logits:
            # tf.nn.softmax_cross_entropy_with_logits
            lsm = _log_softmax(p)
            value = -(t * lsm).sum(axis=-1)
            return value, np.exp(lsm) * t.sum(axis=-1, keepdims=True) - t
        # Normalise each row to sum 1, then clip, then -sum(t log q).
        ssum = p.sum(axis=-1, keepdims=True)
        q = p / ssum
        qc, mask = _clip_mask(q)
        value = -(t * np.log(qc)).sum(axis=-1)
        dq = -t / qc * mask
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / ssum
        return value, grad
    if kind == LOSS_SCCE:
        labels = t.reshape(-1).astype(np.int64)
        rows = np.arange(p.shape[0])
        if logits:
            # tf.nn.sparse_softmax_cross_entropy_with_logits
            lsm = _log_softmax(p)
            grad = np.exp(lsm)
            grad[rows, labels] -= 1.0
            return -lsm[rows, labels], grad
        # Clip, then -log_softmax(log p)[label] = -log p_label + log sum(p).
        pc, mask = _clip_mask(p)
        ssum = pc.sum(axis=-1)
        value = -np.log(pc[rows, labels]) + np.log(ssum)
        grad = np.broadcast_to(1.0 / ssum[:, None], p.shape).copy()
        grad[rows, labels] -= 1.0 / pc[rows, labels]
        return value, grad * mask
    if kind == LOSS_CATEGORICAL_HINGE:
        pos = (t * p).sum(axis=-1)
        other = (1.0 - t) * p
        at = other.argmax(axis=-1)
        m = other.max(axis=-1) - pos + 1.0
        active = (m > 0)[:, None]
        grad = -t * active
        grad[np.arange(len(p)), at] += (1.0 - t[np.arange(len(p)), at]) * active[:, 0]
        return np.maximum(m, 0.0), grad
    if kind == LOSS_KLD:
        tc, pc = np.clip(t, EPSILON, 1.0), np.clip(p, EPSILON, 1.0)
        return (tc * np.log(tc / pc)).sum(axis=-1), -tc / pc * ((p >= EPSILON) & (p <= 1.0))
    if kind == LOSS_COSINE:
        tn = t / np.sqrt(np.maximum((t * t).sum(-1, keepdims=True), 1e-12))
        sq = (p * p).sum(-1, keepdims=True)
        ip = 1.0 / np.sqrt(np.maximum(sq, 1e-12))
        c = (tn * p * ip).sum(-1, keepdims=True)
        return -c[:, 0], -(tn - np.where(sq > 1e-12, c, 0.0) * p * ip) * ip
    values, grads = _elementwise(kind, float(s["delta"]), t, p)
    return values.mean(axis=-1), grads / k


def _elementwise(kind, delta, t, p):
    """The element-wise losses (tf-keras formulas) and their derivatives."""
    if kind == LOSS_HUBER:
        e = p - t
        small = np.abs(e) <= delta
        return np.where(small, 0.5 * e * e, delta * np.abs(e) - 0.5 * delta * delta), np.where(small, e, delta * np.sign(e))
    if kind == LOSS_LOG_COSH:
        x = p - t
        return x + np.logaddexp(0.0, -2.0 * x) - np.log(2.0), np.tanh(x)
    if kind in (LOSS_HINGE, LOSS_SQUARED_HINGE):
        y = np.where(t == 0.0, -1.0, t)  # {0, 1} labels read as {-1, 1}
        m = np.maximum(1.0 - y * p, 0.0)
        if kind == LOSS_HINGE:
            return m, np.where(m > 0, -y, 0.0)
        return m * m, -2.0 * y * m
    if kind == LOSS_POISSON:
        return p - t * np.log(p + EPSILON), 1.0 - t / (p + EPSILON)
    if kind == LOSS_MAPE:
        den = np.maximum(np.abs(t), EPSILON)
        return 100.0 * np.abs(t - p) / den, 100.0 * np.sign(p - t) / den
    if kind == LOSS_MSLE:
        pc, tc = np.maximum(p, EPSILON), np.maximum(t, EPSILON)
        e = np.log(pc + 1.0) - np.log(tc + 1.0)
        return e * e, np.where(p > EPSILON, 2.0 * e / (pc + 1.0), 0.0)
    raise KindError(f"unknown loss code {kind}")


def _loss_y_width(kind, k):
    """Columns of y_true for a loss on outputs of width k (hf_loss_y_width)."""
    return 1 if kind == LOSS_SCCE else k


def _metric_y_width(kind, k):
    """Columns of y_true for a metric on outputs of width k (hf_metric_y_width)."""
    return 1 if kind in (METRIC_SCCE, METRIC_SPARSE_CATEGORICAL_ACCURACY, METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY) else k


def _check_pair(y_true, y_pred, y_width, what):
    """The core's checks of a (y_true, y_pred) pair (``_pair`` in
    _core_numerics.pxi), without its float32 copy: real numbers, 2-D,
    y_true (n, y_width)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    for name, a in (("y_pred", p), ("y_true", t)):
        if a.dtype.kind not in "biuf":
            raise DtypeError(f"{name} must hold real numbers; got an array of dtype {a.dtype}")
        if a.ndim != 2:
            raise ShapeError(f"{name} must be a 2-D array; got shape {a.shape}")
    n, k = p.shape
    if n == 0 or k == 0:
        raise ShapeError(f"y_pred must have at least one row and column; got {p.shape}")
    if t.shape != (n, y_width):
        raise ShapeError(f"y_true must have shape {(n, y_width)} for this {what}; got {t.shape}")


def _check_loss_arrays(s, y_true, y_pred):
    """loss_eval's and loss_per_sample's checks of y (as the core's)."""
    k0 = np.shape(y_pred)[1] if np.ndim(y_pred) == 2 else 0
    _check_pair(y_true, y_pred, _loss_y_width(s["kind"], k0), "loss")
    if s["kind"] == LOSS_SCCE:
        _check_labels(y_true, k0)


def _check_labels(y_true, k):
    t = np.asarray(y_true)
    if t.size and not (float(t.min()) >= 0.0 and float(t.max()) < k):
        bad = float(t.min()) if float(t.min()) < 0.0 else float(t.max())
        raise LabelError(f"y_true holds sparse class labels, which must lie in [0, {k}); got {bad:g}")


def _check_weights(sample_weight, n):
    if sample_weight is None:
        return
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise DtypeError(f"sample_weight must hold real numbers; got an array of dtype {w.dtype}")
    if w.shape != (n,):
        raise ShapeError(f"sample_weight must have shape ({n},); got {w.shape}")


def loss_eval(spec, y_true, y_pred, sample_weight, grad_out):
    """Batch loss with the spec's reduction: sum_i w_i l_i / N, or the plain sum."""
    s = _loss_spec(spec)
    _check_loss_arrays(s, y_true, y_pred)
    _check_weights(sample_weight, np.shape(y_pred)[0])
    values, grad = per_sample_loss(s, y_true, y_pred)
    n = values.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
    scale = 1.0 if s["reduction"] == "sum" else 1.0 / n
    if grad_out is not None:
        grad_out[...] = grad * (w * scale)[:, None]
    return float(f32((w * values).sum() * scale))


def loss_per_sample(spec, y_true, y_pred):
    s = _loss_spec(spec)
    _check_loss_arrays(s, y_true, y_pred)
    return per_sample_loss(s, y_true, y_pred)[0].astype(np.float32)


def loss_value_and_grad(loss, y_true, y_pred, sample_weight, grad_out):
    """Batch loss with Keras's sum_over_batch_size reduction: sum_i w_i l_i / N."""
    return loss_eval({"kind": loss}, y_true, y_pred, sample_weight, grad_out)


# --------------------------------------------------------------------------
# Metrics: per-sample values, accumulated as float32 (total, count).


def _metric_spec(spec) -> dict:
    """The complete, checked metric spec: the core's reading of it."""
    spec = {"kind": spec} if not isinstance(spec, dict) else spec
    return _spec_reader().metric_spec_full(spec)


def _is_confusion(kind):
    return METRIC_TRUE_POSITIVES <= kind <= METRIC_RECALL_AT_PRECISION


def _in_top_k(p, target, k):
    ok = (target >= 0) & (target < p.shape[1])
    safe = np.where(ok, target, 0).astype(np.int64)
    value = p[np.arange(len(p)), safe]
    return ((p > value[:, None]).sum(axis=1) < k) & ok


def per_sample_metric(spec, y_true, y_pred) -> np.ndarray:
    m = _metric_spec(spec)
    kind = m["kind"]
    if kind <= METRIC_SCCE or kind == METRIC_LOSS:  # the loss-named metrics
        loss = {"kind": m["loss_kind"] if kind == METRIC_LOSS else kind, "from_logits": m["from_logits"],
                "label_smoothing": m["label_smoothing"], "delta": m["delta"]}
        return per_sample_loss(loss, y_true, y_pred, need_grad=False)[0]
    t = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    if kind == METRIC_BINARY_ACCURACY:
        return ((p > f32(m["threshold"])) == t).mean(axis=-1)
    if kind == METRIC_CATEGORICAL_ACCURACY:
        return (t.argmax(axis=-1) == p.argmax(axis=-1)).astype(np.float64)
    if kind == METRIC_SPARSE_CATEGORICAL_ACCURACY:
        return (t.reshape(-1) == p.argmax(axis=-1)).astype(np.float64)
    top_k = m["top_k"] or 5
    if kind == METRIC_TOP_K_CATEGORICAL_ACCURACY:
        return _in_top_k(p, t.argmax(axis=-1), top_k).astype(np.float64)
    if kind == METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY:
        return _in_top_k(p, np.trunc(t.reshape(-1)), top_k).astype(np.float64)
    if kind == METRIC_ROOT_MEAN_SQUARED_ERROR:
        return ((p - t) ** 2).mean(axis=-1)
    if kind == METRIC_COSINE_SIMILARITY:
        return -per_sample_loss({"kind": LOSS_COSINE}, t, p)[0]
    raise KindError(f"unknown metric code {kind}")


def metric_state_floats(spec, k):
    m = _metric_spec(spec)
    if _is_confusion(m["kind"]):
        return 4 * len(np.reshape(m["thresholds"], -1))
    if m["kind"] == METRIC_R2_SCORE:
        return 4 * k + 1
    return 2


def _confusion(m, t, p, w, state):
    thr = np.asarray(m["thresholds"], np.float32).reshape(-1)
    T = len(thr)
    p = np.asarray(p, np.float32)
    if m["from_logits"]:
        p = f32(1.0) / (f32(1.0) + np.exp(-p))
    if m["top_k"]:
        order = np.argsort(-p, axis=1, kind="stable")[:, : m["top_k"]]
        keep = np.zeros(p.shape, bool)
        np.put_along_axis(keep, order, True, axis=1)
        p = np.where(keep, p, f32(-1e10))
    if m["class_id"] is not None:
        t, p = t[:, [m["class_id"]]], p[:, [m["class_id"]]]
    w = np.broadcast_to(w[:, None], t.shape).reshape(-1)
    pos = (t != 0).reshape(-1)
    above = p.reshape(-1)[:, None] > thr[None, :]
    for i, sel in enumerate([pos[:, None] & above, ~pos[:, None] & above, ~pos[:, None] & ~above,
                             pos[:, None] & ~above]):
        state[i * T : (i + 1) * T] += (w[:, None] * sel).sum(axis=0).astype(np.float32)


def metric_accumulate(spec, y_true, y_pred, sample_weight, state):
    m = _metric_spec(spec)
    k = np.shape(y_pred)[1] if np.ndim(y_pred) == 2 else 0
    _check_pair(y_true, y_pred, _metric_y_width(m["kind"], k), "metric")
    _spec_reader().metric_state_floats(m, k)  # (the core's check of the spec for this width: KindError)
    if m["kind"] == METRIC_SCCE:
        _check_labels(y_true, k)
    _check_weights(sample_weight, np.shape(y_pred)[0])
    t = np.asarray(y_true, np.float64)
    n = t.shape[0]
    w = np.ones(n) if not (m["weighted"] and sample_weight is not None) else np.asarray(sample_weight, np.float64).reshape(-1)
    if _is_confusion(m["kind"]):
        _confusion(m, t, y_pred, w, state)
        return
    if m["kind"] == METRIC_R2_SCORE:
        p = np.asarray(y_pred, np.float64)
        k = p.shape[1]
        state[0:k] += f32((t * w[:, None]).sum(0))
        state[k : 2 * k] += f32((t * t * w[:, None]).sum(0))
        state[2 * k : 3 * k] += f32((((t - p) ** 2) * w[:, None]).sum(0))
        state[3 * k : 4 * k] += f32(w.sum())
        state[4 * k] += f32(t.size)
        return
    values = per_sample_metric(m, y_true, y_pred)
    state[0] = f32(state[0]) + f32((w * values).sum())
    state[1] = f32(state[1]) + f32(w.sum())


def _div(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)


def metric_result(spec, state, k):
    m = _metric_spec(spec)
    kind, s = m["kind"], np.asarray(state, np.float32)
    if _is_confusion(kind):
        T = len(s) // 4
        tp, fp, tn, fn = (s[i * T : (i + 1) * T].astype(np.float64) for i in range(4))
        if kind <= METRIC_FALSE_NEGATIVES:
            return float((tp, fp, tn, fn)[kind - METRIC_TRUE_POSITIVES][0])
        recall, precision = _div(tp, tp + fn), _div(tp, tp + fp)
        if kind == METRIC_PRECISION:
            return float(precision[0])
        if kind == METRIC_RECALL:
            return float(recall[0])
        if kind in (METRIC_PRECISION_AT_RECALL, METRIC_RECALL_AT_PRECISION):
            c, d = (recall, precision) if kind == METRIC_PRECISION_AT_RECALL else (precision, recall)
            ok = c >= f32(m["target"])
            return float(d[ok].max()) if ok.any() else 0.0
        if m["curve"] == 1 and m["summation"] == 0:
            p = tp + fp
            dtp, dp = tp[:-1] - tp[1:], p[:-1] - p[1:]
            slope = _div(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], np.maximum(p[1:], 0)), 1.0)
            return float(_div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)).sum())
        x, y = (_div(fp, fp + tn), recall) if m["curve"] == 0 else (recall, precision)
        h = {0: (y[:-1] + y[1:]) / 2, 1: np.minimum(y[:-1], y[1:]), 2: np.maximum(y[:-1], y[1:])}[m["summation"]]
        return float(((x[:-1] - x[1:]) * h).sum())
    if kind == METRIC_R2_SCORE:
        sm, sq, mse, cnt = (s[i * k : (i + 1) * k].astype(np.float64) for i in range(4))
        total = sq - sm * (sm / cnt)
        raw = 1.0 - mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        r2 = (total * raw).sum() / total.sum() if m["aggregation"] == 1 else raw.mean()
        n, p = float(s[4 * k]), m["num_regressors"]
        if p and p < n - 1:
            r2 = 1 - (1 - r2) * (n - 1) / (n - p - 1)
        return float(r2)
    t, c = f32(s[0]), f32(s[1])
    value = float(t / c) if c else 0.0
    return math.sqrt(value) if kind == METRIC_ROOT_MEAN_SQUARED_ERROR else value


def metric_update(metric, y_true, y_pred, state):
    metric_accumulate({"kind": metric}, y_true, y_pred, None, state)


def _accumulate_loss(state, batch_loss: float, n: int):
    # Keras's loss tracker: Mean(values=loss, sample_weight=batch size).
    state[0] = f32(state[0]) + f32(f32(batch_loss) * f32(n))
    state[1] = f32(state[1]) + f32(n)


# --------------------------------------------------------------------------
# Optimizers (Keras 2 formulas; slot orders as in csrc/hf_optimizer.h).

_OPT_DEFAULTS = dict(
    rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, nesterov=False, beta_1=0.9,
    beta_2=0.999, amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None,
    weight_decay=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
    initial_accumulator_value=0.1, learning_rate_power=-0.5, l1_regularization_strength=0.0,
    l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0, beta=0.0,
)


def _opt_spec(spec) -> dict:
    full = dict(_OPT_DEFAULTS)
    unknown = set(spec) - set(full) - {"kind", "name"}
    if unknown:
        raise DtypeError(f"unknown optimizer settings {sorted(unknown)}")
    if spec.get("kind") == OPT_ADADELTA:
        full["rho"] = 0.95
    if spec.get("kind") == OPT_LION:
        full["beta_2"] = 0.99
    full.update({k: v for k, v in spec.items() if v is not None})
    if full["kind"] not in _N_SLOTS:
        raise KindError(f"unknown optimizer code {full['kind']}")
    return full


def opt_n_slots(spec):
    o = _opt_spec(spec)
    return _N_SLOTS[o["kind"]] + (1 if o["use_ema"] else 0)


def _on(v):
    return v is not None and v > 0


def _clip(o, grads, ranges):
    """tf-keras's _clip_gradients: the first of clipnorm, global_clipnorm, clipvalue set."""
    if _on(o["clipnorm"]):
        c = f32(o["clipnorm"])
        for a, n in ranges:
            g = grads[a : a + n]
            norm = f32(np.sqrt((g.astype(np.float64) ** 2).sum()))
            g[...] = g * c / max(norm, c)
    elif _on(o["global_clipnorm"]):
        total = sum((grads[a : a + n].astype(np.float64) ** 2).sum() for a, n in ranges)
        c = f32(o["global_clipnorm"])
        scale = c * min(f32(1) / f32(np.sqrt(total)), f32(1) / c)
        for a, n in ranges:
            grads[a : a + n] *= f32(scale)
    elif _on(o["clipvalue"]):
        c = f32(o["clipvalue"])
        for a, n in ranges:
            np.clip(grads[a : a + n], -c, c, out=grads[a : a + n])


def _rule(o, p, g, slots, lr, iteration):
    """The kind's update on one variable's views."""
    kind = o["kind"]
    if kind == OPT_SGD:
        momentum = o["momentum"]
        if momentum > 0:
            m = slots[0]
            m[...] = f32(momentum) * m - lr * g
            if o["nesterov"]:
                p += f32(momentum) * m - lr * g
            else:
                p += m
        else:
            p -= lr * g
    elif kind == OPT_RMSPROP:
        v, m, a = slots[:3]
        rho = o["rho"]
        v[...] = f32(rho) * v + f32(1 - rho) * g * g
        if o["centered"]:
            a[...] = f32(rho) * a + f32(1 - rho) * g
            denom = v - a * a + f32(o["epsilon"])
        else:
            denom = v + f32(o["epsilon"])
        inc = lr * g / np.sqrt(denom)  # epsilon inside the square root
        if o["momentum"] > 0:
            m[...] = f32(o["momentum"]) * m + inc
            p -= m
        else:
            p -= inc
    elif kind == OPT_ADAM:
        m, v, vhat = slots[:3]
        b1, b2 = o["beta_1"], o["beta_2"]
        t = iteration + 1
        m += (g - m) * f32(1 - b1)
        v += (g * g - v) * f32(1 - b2)
        alpha = f32(lr * math.sqrt(1 - f32(b2) ** t) / (1 - f32(b1) ** t))
        if o["amsgrad"]:
            np.maximum(vhat, v, out=vhat)
            p -= alpha * m / (np.sqrt(vhat) + f32(o["epsilon"]))
        else:
            p -= alpha * m / (np.sqrt(v) + f32(o["epsilon"]))
    elif kind == OPT_ADAGRAD:
        (acc,) = slots[:1]
        acc += g * g
        p -= lr * g / np.sqrt(acc + f32(o["epsilon"]))
    elif kind == OPT_ADAMAX:
        m, u = slots[:2]
        b1p = f32(o["beta_1"]) ** f32(iteration + 1)
        m += (g - m) * f32(1 - o["beta_1"])
        np.maximum(f32(o["beta_2"]) * u, np.abs(g), out=u)
        p -= (lr * m) / ((f32(1) - b1p) * (u + f32(o["epsilon"])))
    elif kind == OPT_ADADELTA:
        ag, adv = slots[:2]
        rho, eps = f32(o["rho"]), f32(o["epsilon"])
        ag[...] = rho * ag + (f32(1) - rho) * g * g
        d = -np.sqrt(adv + eps) * g / np.sqrt(ag + eps)
        adv[...] = rho * adv + (f32(1) - rho) * d * d
        p += lr * d
    elif kind == OPT_NADAM:
        m, v = slots[:2]
        u_t, u_t1, u_prod = o["_nadam"]
        u_prod1 = u_prod * u_t1
        b2p = f32(o["beta_2"]) ** f32(iteration + 1)
        m += (g - m) * f32(1 - o["beta_1"])
        v += (g * g - v) * f32(1 - o["beta_2"])
        m_hat = u_t1 * m / (f32(1) - u_prod1) + (f32(1) - u_t) * g / (f32(1) - u_prod)
        p -= (m_hat * lr) / (np.sqrt(v / (f32(1) - b2p)) + f32(o["epsilon"]))
    elif kind == OPT_FTRL:
        acc, lin = slots[:2]
        power = f32(o["learning_rate_power"])
        l1 = f32(o["l1_regularization_strength"])
        l2 = f32(o["l2_regularization_strength"]) + f32(o["beta"]) / (f32(2) * lr)
        gi = g + f32(2) * f32(o["l2_shrinkage_regularization_strength"]) * p
        na = acc + g * g
        lin += gi - (na ** -power - acc ** -power) / lr * p
        quad = na ** -power / lr + f32(2) * l2
        p[...] = (np.clip(lin, -l1, l1) - lin) / quad
        acc[...] = na
    elif kind == OPT_LION:
        (m,) = slots[:1]
        b1, b2 = f32(o["beta_1"]), f32(o["beta_2"])
        p -= lr * np.sign(m * b1 + g * (f32(1) - b1))
        m[...] = m * b2 + g * (f32(1) - b2)
    else:
        raise KindError(f"unknown optimizer code {kind}")


def opt_apply(spec, params, grads, slots, lr, iteration, vars=None):
    o = _opt_spec(spec)
    if not math.isfinite(lr):
        raise NonFiniteError(f"learning rate must be finite; got {lr}")
    ranges = [(0, params.shape[0])] if vars is None else [(int(a), int(b)) for a, b in vars]
    lr = f32(lr)
    n_kind = _N_SLOTS[o["kind"]]
    if o["use_ema"] and iteration == 0:  # all of params: frozen ones keep their value
        slots[n_kind][...] = params
    if iteration == 0 and o["kind"] in (OPT_ADAGRAD, OPT_FTRL):
        for a, n in ranges:
            slots[0][a : a + n] = f32(o["initial_accumulator_value"])
    if o["kind"] == OPT_NADAM:
        t = f32(iteration + 1)
        u_t = f32(o["beta_1"]) * (f32(1) - f32(0.5) * f32(0.96) ** t)
        u_t1 = f32(o["beta_1"]) * (f32(1) - f32(0.5) * f32(0.96) ** (t + f32(1)))
        u_prod = (f32(1) if iteration == 0 else slots[2][0]) * u_t
        slots[2][0] = u_prod
        o["_nadam"] = (u_t, u_t1, f32(u_prod))
    _clip(o, grads, ranges)
    if _on(o["weight_decay"]):
        wd = f32(o["weight_decay"])
        for a, n in ranges:
            params[a : a + n] -= params[a : a + n] * wd * lr
    for a, n in ranges:
        g = np.asarray(grads[a : a + n], np.float32)
        _rule(o, params[a : a + n], g, [s[a : a + n] for s in slots], lr, iteration)
    if o["use_ema"]:
        mom = f32(o["ema_momentum"])
        freq = o["ema_overwrite_frequency"] or 0
        for a, n in ranges:
            avg = slots[n_kind][a : a + n]
            avg[...] = mom * avg + (f32(1) - mom) * params[a : a + n]
            if freq and (iteration + 1) % freq == 0:
                params[a : a + n] = avg


def optimizer_update(optimizer, params, grads, slots, lr, iteration, **hyper):
    if optimizer not in _N_SLOTS:
        raise KindError(f"unknown optimizer code {optimizer}")
    opt_apply({"kind": optimizer, **hyper}, params, np.array(grads, np.float32), slots, lr, iteration)
