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
    """A loss spec dict with Keras's defaults filled in."""
    spec = {"kind": spec} if not isinstance(spec, dict) else spec
    full = {"from_logits": False, "label_smoothing": 0.0, "delta": 1.0,
            "reduction": "sum_over_batch_size"}
    full.update({k: v for k, v in spec.items() if v is not None})
    if not 0 <= full["kind"] < N_LOSSES:
        raise CoreValueError(f"unknown loss code {full['kind']}")
    red = full["reduction"]
    full["reduction"] = {0: "sum_over_batch_size", 1: "sum", "auto": "sum_over_batch_size"}.get(red, red)
    if full["reduction"] not in ("sum_over_batch_size", "sum"):
        raise CoreValueError(f"loss reduction must be 'sum_over_batch_size' or 'sum'; got {red!r}")
    return full


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
    raise CoreValueError(f"unknown loss code {kind}")


def loss_eval(spec, y_true, y_pred, sample_weight, grad_out):
    """Batch loss with the spec's reduction: sum_i w_i l_i / N, or the plain sum."""
    s = _loss_spec(spec)
    values, grad = per_sample_loss(s, y_true, y_pred)
    n = values.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
    scale = 1.0 if s["reduction"] == "sum" else 1.0 / n
    if grad_out is not None:
        grad_out[...] = grad * (w * scale)[:, None]
    return float(f32((w * values).sum() * scale))


def loss_per_sample(spec, y_true, y_pred):
    return per_sample_loss(spec, y_true, y_pred)[0].astype(np.float32)


def loss_value_and_grad(loss, y_true, y_pred, sample_weight, grad_out):
    """Batch loss with Keras's sum_over_batch_size reduction: sum_i w_i l_i / N."""
    return loss_eval({"kind": loss}, y_true, y_pred, sample_weight, grad_out)


# --------------------------------------------------------------------------
# Metrics: per-sample values, accumulated as float32 (total, count).


def _metric_spec(spec) -> dict:
    spec = {"kind": spec} if not isinstance(spec, dict) else spec
    full = {"weighted": False, "from_logits": False, "label_smoothing": 0.0, "threshold": 0.5}
    full.update({k: v for k, v in spec.items() if v is not None})
    if not 0 <= full["kind"] < N_METRICS:
        raise CoreValueError(f"unknown metric code {full['kind']}")
    return full


def per_sample_metric(spec, y_true, y_pred) -> np.ndarray:
    m = _metric_spec(spec)
    kind = m["kind"]
    if kind <= METRIC_SCCE:  # the losses double as metrics, with the same codes
        loss = {"kind": kind, "from_logits": m["from_logits"], "label_smoothing": m["label_smoothing"]}
        return per_sample_loss(loss, y_true, y_pred, need_grad=False)[0]
    t = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    if kind == METRIC_BINARY_ACCURACY:
        return ((p > f32(m["threshold"])) == t).mean(axis=-1)
    if kind == METRIC_CATEGORICAL_ACCURACY:
        return (t.argmax(axis=-1) == p.argmax(axis=-1)).astype(np.float64)
    if kind == METRIC_SPARSE_CATEGORICAL_ACCURACY:
        return (t.reshape(-1) == p.argmax(axis=-1)).astype(np.float64)
    raise CoreValueError(f"unknown metric code {kind}")


def metric_state_floats(spec, k):
    _metric_spec(spec)
    return 2


def metric_accumulate(spec, y_true, y_pred, sample_weight, state):
    m = _metric_spec(spec)
    values = per_sample_metric(m, y_true, y_pred)
    if m["weighted"] and sample_weight is not None:
        w = np.asarray(sample_weight, np.float64).reshape(-1)
        state[0] = f32(state[0]) + f32((w * values).sum())
        state[1] = f32(state[1]) + f32(w.sum())
    else:
        state[0] = f32(state[0]) + f32(values.sum())
        state[1] = f32(state[1]) + f32(values.shape[0])


def metric_result(spec, state, k):
    _metric_spec(spec)
    t, c = f32(state[0]), f32(state[1])
    return float(t / c) if c else 0.0


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
)


def _opt_spec(spec) -> dict:
    full = dict(_OPT_DEFAULTS)
    unknown = set(spec) - set(full) - {"kind", "name"}
    if unknown:
        raise CoreTypeError(f"unknown optimizer settings {sorted(unknown)}")
    full.update({k: v for k, v in spec.items() if v is not None})
    if full["kind"] not in _N_SLOTS:
        raise CoreValueError(f"unknown optimizer code {full['kind']}")
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
    else:
        raise CoreValueError(f"unknown optimizer code {kind}")


def opt_apply(spec, params, grads, slots, lr, iteration, vars=None):
    o = _opt_spec(spec)
    if not math.isfinite(lr):
        raise CoreValueError(f"learning rate must be finite; got {lr}")
    ranges = [(0, params.shape[0])] if vars is None else [(int(a), int(b)) for a, b in vars]
    lr = f32(lr)
    n_kind = _N_SLOTS[o["kind"]]
    if o["use_ema"] and iteration == 0:
        for a, n in ranges:
            slots[n_kind][a : a + n] = params[a : a + n]
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
        raise CoreValueError(f"unknown optimizer code {optimizer}")
    opt_apply({"kind": optimizer, **hyper}, params, np.array(grads, np.float32), slots, lr, iteration)
