"""Shared pieces for the core tests: a float64 NumPy model of every formula.

These formulas are written from the spec (keras-callbacks-spec.md §5 and the
issue), independently of both ``_core`` and ``_reference``, so each kernel is
checked against an oracle that shares no code with it.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from hookfit import _core as core

# tests/problem_targets.py: valid targets per loss (shared with tests/distribute).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from problem_targets import targets  # noqa: E402

EPS = 1e-7


def act(kind, z):
    z = np.asarray(z, dtype=np.float64)
    if kind == core.ACT_RELU:
        return np.maximum(z, 0.0)
    if kind == core.ACT_SIGMOID:
        return 1.0 / (1.0 + np.exp(-z))
    if kind == core.ACT_TANH:
        return np.tanh(z)
    if kind == core.ACT_SOFTMAX:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z


def act_backward(kind, a, da):
    """dL/dz from the output a and dL/da."""
    if kind == core.ACT_RELU:
        return da * (a > 0)
    if kind == core.ACT_SIGMOID:
        return da * a * (1 - a)
    if kind == core.ACT_TANH:
        return da * (1 - a * a)
    if kind == core.ACT_SOFTMAX:
        return a * (da - (da * a).sum(axis=-1, keepdims=True))
    return da


def per_sample_loss(kind, t, p):
    """Per-sample loss (n,) in float64, tf-keras formulas on probabilities."""
    t = np.asarray(t, np.float64)
    p = np.asarray(p, np.float64)
    if kind == core.LOSS_MSE:
        return ((p - t) ** 2).mean(axis=-1)
    if kind == core.LOSS_MAE:
        return np.abs(p - t).mean(axis=-1)
    if kind == core.LOSS_BCE:
        c = np.clip(p, EPS, 1 - EPS)
        return -(t * np.log(c + EPS) + (1 - t) * np.log(1 - c + EPS)).mean(axis=-1)
    if kind == core.LOSS_CCE:
        q = p / p.sum(axis=-1, keepdims=True)
        return -(t * np.log(np.clip(q, EPS, 1 - EPS))).sum(axis=-1)
    if kind == core.LOSS_SCCE:
        c = np.clip(p, EPS, 1 - EPS)
        lab = t[:, 0].astype(np.int64)
        return -np.log(c[np.arange(len(c)), lab] / c.sum(axis=-1))
    raise ValueError(kind)


def batch_loss(kind, t, p, sw=None):
    ls = per_sample_loss(kind, t, p)
    w = np.ones(len(ls)) if sw is None else np.asarray(sw, np.float64)
    return float((w * ls).sum() / len(ls))


def loss_grad(kind, t, p, sw=None):
    """Analytic dL/dp in float64 (independent of the C derivation)."""
    t = np.asarray(t, np.float64)
    p = np.asarray(p, np.float64)
    n, k = p.shape
    w = (np.ones(n) if sw is None else np.asarray(sw, np.float64))[:, None] / n
    inside = (p >= EPS) & (p <= 1 - EPS)
    if kind == core.LOSS_MSE:
        return w * 2 * (p - t) / k
    if kind == core.LOSS_MAE:
        return w * np.sign(p - t) / k
    if kind == core.LOSS_BCE:
        c = np.clip(p, EPS, 1 - EPS)
        return w * inside * ((1 - t) / (1 - c + EPS) - t / (c + EPS)) / k
    if kind == core.LOSS_CCE:
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        qin = (q >= EPS) & (q <= 1 - EPS)
        u = qin * (-t / np.clip(q, EPS, 1 - EPS))
        return w * (u - (u * q).sum(axis=-1, keepdims=True)) / s
    if kind == core.LOSS_SCCE:
        c = np.clip(p, EPS, 1 - EPS)
        lab = t[:, 0].astype(np.int64)
        g = inside / c.sum(axis=-1, keepdims=True)
        g[np.arange(n), lab] -= inside[np.arange(n), lab] / c[np.arange(n), lab]
        return w * g
    raise ValueError(kind)


def per_sample_metric(kind, t, p):
    t = np.asarray(t, np.float64)
    p = np.asarray(p, np.float64)
    if kind <= core.METRIC_SCCE:
        return per_sample_loss(kind, t, p)
    if kind == core.METRIC_BINARY_ACCURACY:
        return ((p > 0.5).astype(np.float64) == t).mean(axis=-1)
    if kind == core.METRIC_CATEGORICAL_ACCURACY:
        return (t.argmax(-1) == p.argmax(-1)).astype(np.float64)
    if kind == core.METRIC_SPARSE_CATEGORICAL_ACCURACY:
        return (p.argmax(-1).astype(np.float64) == t[:, 0]).astype(np.float64)
    raise ValueError(kind)


class Opt:
    """Keras 2 optimizer formulas in float64 (spec §5.3-5.5)."""

    def __init__(self, kind, n, *, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 nesterov=False, beta_1=0.9, beta_2=0.999, amsgrad=False):
        self.kind, self.rho, self.momentum, self.eps = kind, rho, momentum, epsilon
        self.centered, self.nesterov = centered, nesterov
        self.b1, self.b2, self.amsgrad = beta_1, beta_2, amsgrad
        self.s = [np.zeros(n), np.zeros(n), np.zeros(n)]
        self.t = 0

    def step(self, p, g, lr):
        p = np.asarray(p, np.float64).copy()
        g = np.asarray(g, np.float64)
        s = self.s
        if self.kind == core.OPT_RMSPROP:
            s[0] = self.rho * s[0] + (1 - self.rho) * g * g
            if self.centered:
                s[2] = self.rho * s[2] + (1 - self.rho) * g
                den = s[0] - s[2] ** 2 + self.eps
            else:
                den = s[0] + self.eps
            inc = lr * g / np.sqrt(den)
            if self.momentum > 0:
                s[1] = self.momentum * s[1] + inc
                p -= s[1]
            else:
                p -= inc
        elif self.kind == core.OPT_SGD:
            if self.momentum > 0:
                s[0] = self.momentum * s[0] - lr * g
                p += self.momentum * s[0] - lr * g if self.nesterov else s[0]
            else:
                p -= lr * g
        else:
            t = self.t + 1
            s[0] = s[0] + (g - s[0]) * (1 - self.b1)
            s[1] = s[1] + (g * g - s[1]) * (1 - self.b2)
            alpha = lr * np.sqrt(1 - self.b2**t) / (1 - self.b1**t)
            v = s[1]
            if self.amsgrad:
                s[2] = np.maximum(s[2], s[1])
                v = s[2]
            p -= alpha * s[0] / (np.sqrt(v) + self.eps)
        self.t += 1
        return p


def layers_of(net):
    return [net.layer_weights(i) for i in range(net.n_layers)]


def forward(layers, acts, x):
    """All layer outputs, float64."""
    outs = [np.asarray(x, np.float64)]
    for (w, b), a in zip(layers, acts):
        z = outs[-1] @ np.asarray(w, np.float64)
        if b is not None:
            z = z + np.asarray(b, np.float64)
        outs.append(act(a, z))
    return outs


def grads(layers, acts, x, t, loss, sw=None):
    """(batch loss, flat gradient in the Network's layout), float64."""
    outs = forward(layers, acts, x)
    value = batch_loss(loss, t, outs[-1], sw)
    d = loss_grad(loss, t, outs[-1], sw)
    flat = []
    for i in reversed(range(len(layers))):
        dz = act_backward(acts[i], outs[i + 1], d)
        gw = outs[i].T @ dz
        gb = dz.sum(axis=0) if layers[i][1] is not None else None
        flat.append((gw, gb))
        d = dz @ np.asarray(layers[i][0], np.float64).T
    parts = []
    for gw, gb in reversed(flat):
        parts.append(gw.ravel())
        if gb is not None:
            parts.append(gb)
    return value, np.concatenate(parts)


def make_net(rng, dims, acts, bias=True, scale=0.3):
    net = core.Network(dims[0], dims[1:], acts, [bias] * len(acts))
    net.params[:] = rng.uniform(-scale, scale, net.n_params)
    return net


def rows_at_offset(rng, n, d, offset):
    """An (n, d) float32 array of random rows whose data starts ``offset``
    floats past a 64-byte line (the Dense(1) kernels align their loads to
    where the rows start)."""
    buf = np.zeros(n * d + 64, np.float32)
    start_at = (-(buf.ctypes.data // 4) % 16) + offset
    x = buf[start_at:start_at + n * d].reshape(n, d)
    x[...] = rng.standard_normal((n, d))
    return x


def output_act(loss, k):
    """An output activation whose range suits the loss."""
    if loss in (core.LOSS_CCE, core.LOSS_SCCE):
        return core.ACT_SOFTMAX if k > 1 else core.ACT_SIGMOID
    if loss == core.LOSS_BCE:
        return core.ACT_SIGMOID
    return core.ACT_LINEAR


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def ref():
    """The float64 oracle above, as a namespace."""
    return types.SimpleNamespace(
        act=act, act_backward=act_backward, per_sample_loss=per_sample_loss,
        batch_loss=batch_loss, loss_grad=loss_grad, per_sample_metric=per_sample_metric,
        Opt=Opt, layers_of=layers_of, forward=forward, grads=grads, make_net=make_net,
        targets=targets, output_act=output_act, rows_at_offset=rows_at_offset,
    )
