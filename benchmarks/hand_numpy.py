"""The hand-written NumPy peer: what a user would write instead of a library.

Same formulas as Keras 2 and hookfit: Dense layers, MSE (per-sample mean over
the last axis, then mean over the batch), RMSprop with epsilon inside the
square root (``w -= lr * g / sqrt(v + eps)``), running means of the loss and
metric weighted by batch size (a ``logs`` dict per batch), a fresh shuffle
every epoch, validation on the last fraction of the rows. Idiomatic float32
NumPy, no tricks: the cost of the obvious loop is the point.
"""

from __future__ import annotations

import numpy as np


def _glorot(rng, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)


class HandModel:
    """A stack of Dense layers trained with MSE and Keras's RMSprop."""

    def __init__(self, input_dim, units, activations, lr, track_mae, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = []
        fan_in = input_dim
        for u in units:
            self.weights.append([_glorot(rng, fan_in, u), np.zeros(u, np.float32)])
            fan_in = u
        self.activations = list(activations)  # "linear" | "relu"
        self.slots = [[np.zeros_like(w), np.zeros_like(b)] for w, b in self.weights]
        self.lr, self.rho, self.eps = np.float32(lr), np.float32(0.9), np.float32(1e-7)
        self.track_mae = track_mae
        self.rng = np.random.default_rng(seed + 1)

    # -- one batch -------------------------------------------------------

    def _forward(self, x):
        outs = [x]
        for (w, b), act in zip(self.weights, self.activations):
            z = outs[-1] @ w + b
            outs.append(np.maximum(z, 0.0) if act == "relu" else z)
        return outs

    def _train_step(self, x, y):
        outs = self._forward(x)
        p = outs[-1]
        diff = p - y
        n, k = p.shape
        loss = float(np.mean(diff * diff))
        mae = float(np.mean(np.abs(diff))) if self.track_mae else 0.0
        grad = diff * np.float32(2.0 / (n * k))
        for i in range(len(self.weights) - 1, -1, -1):
            if self.activations[i] == "relu":
                grad = grad * (outs[i + 1] > 0)
            w, b = self.weights[i]
            dw = outs[i].T @ grad
            db = grad.sum(axis=0)
            if i:
                grad = grad @ w.T
            for param, g, v in ((w, dw, self.slots[i][0]), (b, db, self.slots[i][1])):
                v *= self.rho
                v += (1 - self.rho) * g * g
                param -= self.lr * g / np.sqrt(v + self.eps)
        return loss, mae

    def _test_step(self, x, y):
        diff = self._forward(x)[-1] - y
        mae = float(np.mean(np.abs(diff))) if self.track_mae else 0.0
        return float(np.mean(diff * diff)), mae

    def _logs(self, totals, count):
        logs = {"loss": totals[0] / count}
        if self.track_mae:
            logs["mean_absolute_error"] = totals[1] / count
        return logs

    # -- Keras-shaped calls ----------------------------------------------

    def fit(self, x, y, batch_size=32, epochs=1, validation_split=0.0, shuffle=True):
        n_val = int(len(x) * validation_split)
        if n_val:
            x, y, xv, yv = x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
        history = []
        for _ in range(epochs):
            order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))
            totals, count, logs = [0.0, 0.0], 0, {}
            for start in range(0, len(x), batch_size):
                idx = order[start : start + batch_size]
                loss, mae = self._train_step(x[idx], y[idx])
                totals[0] += loss * len(idx)
                totals[1] += mae * len(idx)
                count += len(idx)
                logs = self._logs(totals, count)
            if n_val:
                val = self.evaluate(xv, yv, batch_size=batch_size)
                logs.update({"val_" + k: v for k, v in val.items()})
            history.append(logs)
        return history

    def evaluate(self, x, y, batch_size=32):
        totals, count = [0.0, 0.0], 0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            loss, mae = self._test_step(xb, yb)
            totals[0] += loss * len(xb)
            totals[1] += mae * len(xb)
            count += len(xb)
        return self._logs(totals, count)

    def predict(self, x, batch_size=32):
        outs = [self._forward(x[s : s + batch_size])[-1] for s in range(0, len(x), batch_size)]
        return np.concatenate(outs)


def build(model: str, input_dim: int) -> HandModel:
    if model == "mlp":
        return HandModel(784, [256, 128, 10], ["relu", "relu", "linear"], 0.001, False)
    return HandModel(input_dim, [1], ["linear"], 0.1, True)
