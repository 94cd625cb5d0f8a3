"""A few fits against a NumPy re-implementation of the same formulas.

The NumPy side is written from the Keras 2 formulas (keras-callbacks-spec
§5): forward, per-sample loss, ``sum_over_batch_size`` reduction, backward,
optimizer update, and the running means of the logs. Data are visited in
order (shuffle=False) so both sides see the same batches.
"""

import numpy as np
import pytest

import hookfit as keras

ACT = {
    None: (lambda z: z, lambda a: np.ones_like(a)),
    "tanh": (np.tanh, lambda a: 1 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(float)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
}


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def loss_and_grad(kind, t, p, w):
    n, k = p.shape
    if kind == "mse":
        per, grad = ((p - t) ** 2).mean(1), 2 * (p - t) / k
    elif kind == "mae":
        per, grad = np.abs(p - t).mean(1), np.sign(p - t) / k
    elif kind == "scce":
        rows, labels = np.arange(n), t[:, 0].astype(int)
        per = -np.log(p[rows, labels]) + np.log(p.sum(1))
        grad = np.repeat(1 / p.sum(1, keepdims=True), k, 1)
        grad[rows, labels] -= 1 / p[rows, labels]
    scale = (w / n)[:, None]
    return (w * per).sum() / n, grad * scale


class NumpyOptimizer:
    def __init__(self, kind, lr, **h):
        self.kind, self.lr, self.h, self.t, self.slots = kind, lr, h, 0, {}

    def update(self, i, w, g):
        s = self.slots.setdefault(i, [np.zeros_like(w) for _ in range(3)])
        lr, h = self.lr, self.h
        if self.kind == "rmsprop":
            s[0][...] = h["rho"] * s[0] + (1 - h["rho"]) * g * g
            w -= lr * g / np.sqrt(s[0] + 1e-7)
        elif self.kind == "sgd":
            m = h["momentum"]
            s[0][...] = m * s[0] - lr * g
            w += (m * s[0] - lr * g) if h["nesterov"] else s[0]
        elif self.kind == "adam":
            b1, b2, t = 0.9, 0.999, self.t + 1
            s[0][...] = s[0] + (g - s[0]) * (1 - b1)
            s[1][...] = s[1] + (g * g - s[1]) * (1 - b2)
            alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            w -= alpha * s[0] / (np.sqrt(s[1]) + 1e-7)


def numpy_fit(weights, acts, loss, opt, x, y, sw, batch_size, epochs):
    """Returns the final weights and each epoch's (loss, metric) running means."""
    weights = [w.astype(np.float64).copy() for w in weights]
    n = len(x)
    history = []
    for _ in range(epochs):
        total = count = 0.0
        for s in range(0, n, batch_size):
            xb, yb, wb = x[s:s + batch_size], y[s:s + batch_size], sw[s:s + batch_size]
            layer_in = [xb.astype(np.float64)]
            for li, act in enumerate(acts):
                z = layer_in[-1] @ weights[2 * li] + weights[2 * li + 1]
                layer_in.append(softmax(z) if act == "softmax" else ACT[act][0](z))
            batch_loss, da = loss_and_grad(loss, yb, layer_in[-1], wb)
            total += batch_loss * len(xb)
            count += len(xb)
            grads = [None] * len(weights)
            for li in reversed(range(len(acts))):
                a = layer_in[li + 1]
                if acts[li] == "softmax":
                    dz = a * (da - (da * a).sum(1, keepdims=True))
                else:
                    dz = da * ACT[acts[li]][1](a)
                grads[2 * li] = layer_in[li].T @ dz
                grads[2 * li + 1] = dz.sum(0)
                da = dz @ weights[2 * li].T
            for i, (w, g) in enumerate(zip(weights, grads)):
                opt.update(i, w, g)
            opt.t += 1
        history.append(total / count)
    return weights, history


CASES = [
    # (units, activations, loss, optimizer (hookfit, numpy), batch, epochs, weighted)
    ((1,), [None], "mse", (keras.optimizers.RMSprop(0.1), NumpyOptimizer("rmsprop", np.float32(0.1), rho=0.9)), 16, 3, False),
    ((5, 1), ["tanh", None], "mae", (keras.optimizers.Adam(0.01), NumpyOptimizer("adam", np.float32(0.01))), 7, 2, True),
    ((6, 3), ["relu", "softmax"], "scce",
     (keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
      NumpyOptimizer("sgd", np.float32(0.05), momentum=0.9, nesterov=True)), 10, 3, False),
    ((4, 2), ["sigmoid", None], "mse",
     (keras.optimizers.SGD(0.02, momentum=0.5), NumpyOptimizer("sgd", np.float32(0.02), momentum=0.5, nesterov=False)), 9, 2, True),
]
LOSS_NAME = {"mse": "mean_squared_error", "mae": "mae", "scce": "sparse_categorical_crossentropy"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[2]}-{type(c[3][0]).__name__}-{len(c[0])}layer")
def test_fit_matches_numpy(case):
    units, acts, loss, (opt, np_opt), batch_size, epochs, weighted = case
    rng = np.random.default_rng(42)
    x = rng.normal(size=(45, 8)).astype(np.float32)
    if loss == "scce":
        y = rng.integers(0, units[-1], size=45).astype(np.float32)
    else:
        y = (x @ rng.normal(size=(8, units[-1])) * 0.5).astype(np.float32)
    sw = rng.uniform(0.2, 2.0, size=45).astype(np.float32) if weighted else np.ones(45, np.float32)

    keras.utils.set_random_seed(0)
    model = keras.Sequential()
    for i, (u, a) in enumerate(zip(units, acts)):
        model.add(keras.layers.Dense(u, activation=a, **({"input_dim": 8} if i == 0 else {})))
    model.compile(optimizer=opt, loss=LOSS_NAME[loss])
    w0 = model.get_weights()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                        sample_weight=sw if weighted else None)

    y2 = y.reshape(45, -1) if loss != "scce" else y.reshape(45, 1)
    expected, losses = numpy_fit(w0, acts, loss, np_opt, x, y2, sw.astype(np.float64), batch_size, epochs)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-4)
    assert model.optimizer.iterations == epochs * -(-45 // batch_size)
