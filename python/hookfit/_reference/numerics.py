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
    raise KindError(f"unknown loss code {kind}")


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
    raise KindError(f"unknown metric code {kind}")


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
        raise KindError(f"unknown optimizer code {optimizer}")
