"""Peer: a hand-written PyTorch training loop (what a PyTorch user writes).

Same model, data and formulas as ``hand_numpy.py``: ``nn.Linear`` layers,
autograd for the gradients, Keras's RMSprop written out (epsilon inside the
square root; ``torch.optim.RMSprop`` puts it outside), running means of loss
and MAE as Python floats per batch, a fresh shuffle each epoch. One thread.
Callbacks are declined (a hand loop has none).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peer_protocol import ONE_THREAD_ENV, Declined, serve


def setup():
    for key, value in ONE_THREAD_ENV.items():
        os.environ.setdefault(key, value)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    import data
    from keras_shaped import workload

    class TorchModel:
        def __init__(self, input_dim, units, relu, lr, track_mae):
            torch.manual_seed(0)
            layers, fan_in = [], input_dim
            for i, u in enumerate(units):
                layers.append(torch.nn.Linear(fan_in, u))
                if relu[i]:
                    layers.append(torch.nn.ReLU())
                fan_in = u
            self.net = torch.nn.Sequential(*layers)
            self.params = list(self.net.parameters())
            self.slots = [torch.zeros_like(p) for p in self.params]
            self.lr, self.rho, self.eps = lr, 0.9, 1e-7
            self.track_mae = track_mae
            self.gen = torch.Generator().manual_seed(1)

        def _train_step(self, xb, yb):
            diff = self.net(xb) - yb
            loss = (diff * diff).mean()
            for p in self.params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p, v in zip(self.params, self.slots):
                    v.mul_(self.rho).addcmul_(p.grad, p.grad, value=1 - self.rho)
                    p.addcdiv_(p.grad, (v + self.eps).sqrt_(), value=-self.lr)
                mae = diff.abs().mean().item() if self.track_mae else 0.0
            return loss.item(), mae

        def fit(self, x, y, batch_size=32, epochs=1, validation_split=0.0):
            n_val = int(len(x) * validation_split)
            if n_val:
                x, y, xv, yv = x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
            history = []
            for _ in range(epochs):
                order = torch.randperm(len(x), generator=self.gen)
                totals, count, logs = [0.0, 0.0], 0, {}
                for start in range(0, len(x), batch_size):
                    idx = order[start : start + batch_size]
                    loss, mae = self._train_step(x[idx], y[idx])
                    totals[0] += loss * len(idx)
                    totals[1] += mae * len(idx)
                    count += len(idx)
                    logs = {"loss": totals[0] / count, "mean_absolute_error": totals[1] / count}
                if n_val:
                    val = self.evaluate(xv, yv, batch_size=batch_size)
                    logs.update({"val_" + k: v for k, v in val.items()})
                history.append(logs)
            return history

        @torch.no_grad()
        def evaluate(self, x, y, batch_size=32):
            totals, count = [0.0, 0.0], 0
            for start in range(0, len(x), batch_size):
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
                diff = self.net(xb) - yb
                totals[0] += (diff * diff).mean().item() * len(xb)
                if self.track_mae:
                    totals[1] += diff.abs().mean().item() * len(xb)
                count += len(xb)
            return {"loss": totals[0] / count, "mean_absolute_error": totals[1] / count}

        @torch.no_grad()
        def predict(self, x, batch_size=32):
            outs = [self.net(x[s : s + batch_size]) for s in range(0, len(x), batch_size)]
            return torch.cat(outs).numpy()

    def make(case):
        if case.keras_only:
            raise Declined("a hand-written loop has no callbacks or schedule objects")
        x, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in data.for_case(case))
        if case.model == "mlp":
            model = TorchModel(784, [256, 128, 10], [True, True, False], 0.001, False)
        else:
            model = TorchModel(case.input_dim, [1], [False], 0.1, True)
        return workload(case, model, x, y, keras_kwargs=False)

    return {"torch": torch.__version__, "numpy": np.__version__}, make


if __name__ == "__main__":
    serve("torch", setup)
