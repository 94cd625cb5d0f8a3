#!/usr/bin/env python3
"""The model rows of issue 10 (a script, not a test): what a training step of
the networks Keras users start from costs in hookfit, and in Keras 3.

Models (batch 128, RMSprop, categorical crossentropy on one-hot labels, 784
random inputs, 10 classes):

- ``mnist_mlp``: keras-io's MNIST MLP, 784-512(relu)-Dropout(0.2)-512(relu)-
  Dropout(0.2)-10(softmax);
- ``mnist_mlp_nodrop``: the same without the two Dropouts (the base of the
  Dropout and BatchNormalization costs);
- ``mnist_mlp_bn``: the base with a BatchNormalization after each hidden Dense;
- ``residual``: a functional MLP, 784-256(relu) then two residual blocks
  h + Dense(256, relu)(h) merged by Add, then 10(softmax);
- ``linear_sequential`` / ``linear_functional``: the base MLP built as a
  Sequential and as the same chain with keras.Input/keras.Model.

A step is timed as (fit of 1 + S steps - fit of 1 step) / S, so the fixed
cost of a fit call is left out. Rounds are interleaved (every model once per
round, hookfit in this process); the Keras 3 peer (jax backend) runs the
same rounds in its own interpreter afterwards, pinned to the same core.
Every figure is the median over rounds with the range. PyTorch is a peer
only when an interpreter with torch is given (``--torch-python``; torch is
not in the test environment): a hand loop as a PyTorch user writes it
(``nn.Linear``/``nn.Dropout``/residual adds, ``torch.optim.RMSprop``, the
crossentropy of log-softmax, slices of resident tensors as batches), the
same rounds after the others. Every library runs with its default threads
on the machine's CPUs (hookfit's pool, XLA's, torch's intra-op threads).

    python benchmarks/bench_models.py                  # 7 rounds, Keras 3 peer
    python benchmarks/bench_models.py --rounds 3 --no-peer
    python benchmarks/bench_models.py --torch-python ~/venvs/torch/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MODELS = ("mnist_mlp", "mnist_mlp_nodrop", "mnist_mlp_bn", "residual",
          "linear_sequential", "linear_functional")
PEER_MODELS = ("mnist_mlp", "residual")
BATCH = 128


def build(keras, name):
    """The model `name` with keras (hookfit or Keras 3): the same code for both."""
    layers = keras.layers
    if name == "residual":
        inp = keras.Input(shape=(784,))
        h = layers.Dense(256, activation="relu")(inp)
        for _ in range(2):
            h = layers.Add()([h, layers.Dense(256, activation="relu")(h)])
        model = keras.Model(inp, layers.Dense(10, activation="softmax")(h))
    elif name == "linear_functional":
        inp = keras.Input(shape=(784,))
        h = layers.Dense(512, activation="relu")(inp)
        h = layers.Dense(512, activation="relu")(h)
        model = keras.Model(inp, layers.Dense(10, activation="softmax")(h))
    else:
        body = [keras.Input(shape=(784,))]
        for _ in range(2):
            body.append(layers.Dense(512, activation="relu"))
            if name == "mnist_mlp":
                body.append(layers.Dropout(0.2))
            elif name == "mnist_mlp_bn":
                body.append(layers.BatchNormalization())
        body.append(layers.Dense(10, activation="softmax"))
        model = keras.Sequential(body)
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="categorical_crossentropy")
    return model


def data(steps):
    import numpy as np

    rng = np.random.default_rng(0)
    n = BATCH * steps
    x = rng.random((n, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return x, y


def step_ms(model, big, small, steps):
    """One sample: ms per step with the fit call's fixed cost taken out."""
    t0 = time.perf_counter()
    model.fit(*small, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    t1 = time.perf_counter()
    model.fit(*big, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    t2 = time.perf_counter()
    return ((t2 - t1) - (t1 - t0)) / steps * 1e3


def run_rounds(keras, names, rounds, steps):
    big, small = data(1 + steps), data(1)
    models = {n: build(keras, n) for n in names}
    for m in models.values():  # warm-up (compilation, caches)
        m.fit(*big, batch_size=BATCH, epochs=1, verbose=0)
    samples = {n: [] for n in names}
    for _ in range(rounds):
        for n in names:
            samples[n].append(step_ms(models[n], big, small, steps))
    return samples


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def ratio_rows(samples, with_layer, base):
    """Round-by-round (with - base) / with: the layer's share of the step."""
    shares = [(a - b) / a for a, b in zip(samples[with_layer], samples[base])]
    return summary(shares)


def peer(rounds, steps):
    env = dict(os.environ, KERAS_BACKEND="jax")
    out = subprocess.run([sys.executable, __file__, "--child", str(rounds), str(steps)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"skipped": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(rounds, steps):
    import keras

    print(json.dumps(run_rounds(keras, PEER_MODELS, rounds, steps)))


def torch_child(rounds, steps):
    """The PyTorch loop of PEER_MODELS (default threads); prints the samples as JSON."""
    import numpy as np
    import torch

    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(784, 256)
            self.blocks = nn.ModuleList(nn.Linear(256, 256) for _ in range(2))
            self.out = nn.Linear(256, 10)

        def forward(self, x):
            h = torch.relu(self.inp(x))
            for block in self.blocks:
                h = h + torch.relu(block(h))
            return self.out(h)

    def make(name):
        if name == "residual":
            return Residual()
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))

    x_np, y_np = data(steps)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np.argmax(1))
    models = {n: make(n) for n in PEER_MODELS}
    opts = {n: torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7) for n, m in models.items()}

    def epoch(n):
        model, opt = models[n], opts[n]
        model.train()
        for i in range(steps):
            xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()  # the running loss a loop logs

    for n in PEER_MODELS:
        epoch(n)  # warm-up
    samples = {n: [] for n in PEER_MODELS}
    for _ in range(rounds):
        for n in PEER_MODELS:
            t0 = time.perf_counter()
            epoch(n)
            samples[n].append((time.perf_counter() - t0) / steps * 1e3)
    print(json.dumps(samples))


def torch_peer(python, rounds, steps):
    out = subprocess.run([python, __file__, "--torch-child", str(rounds), str(steps)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"skipped": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return {n: summary(v) for n, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def fmt(s, unit=" ms"):
    return f"{s['median']:.3f}{unit} ({s['min']:.3f}-{s['max']:.3f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=40, help="steps per timed fit")
    ap.add_argument("--no-peer", action="store_true", help="hookfit only")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--torch-python", metavar="PYTHON",
                    help="an interpreter with torch: adds the PyTorch loop as a peer")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--torch-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(int(args.child[0]), int(args.child[1]))
        return
    if args.torch_child:
        torch_child(int(args.torch_child[0]), int(args.torch_child[1]))
        return
    import hookfit

    hf = run_rounds(hookfit, MODELS, args.rounds, args.steps)
    result = {"hookfit": {n: summary(v) for n, v in hf.items()},
              "shares": {"dropout": ratio_rows(hf, "mnist_mlp", "mnist_mlp_nodrop"),
                         "batchnorm": ratio_rows(hf, "mnist_mlp_bn", "mnist_mlp_nodrop"),
                         "functional_vs_sequential": summary(
                             [f / s - 1 for f, s in zip(hf["linear_functional"], hf["linear_sequential"])])},
              "torch": {"skipped": "no --torch-python given (torch is not in the test environment)"}}
    if not args.no_peer:
        k = peer(args.rounds, args.steps)
        result["keras3-jax"] = k if "skipped" in k else {n: summary(v) for n, v in k.items()}
    if args.torch_python:
        result["torch"] = torch_peer(args.torch_python, args.rounds, args.steps)
    print(f"ms per training step, batch {BATCH}, median (min-max) over {args.rounds} interleaved rounds")
    for n in MODELS:
        line = f"  {n:20s} hookfit {fmt(result['hookfit'][n])}"
        k3 = result.get("keras3-jax", {})
        if n in k3:
            line += f"   keras3-jax {fmt(k3[n])}   ratio {k3[n]['median'] / result['hookfit'][n]['median']:.1f}x"
        if n in result["torch"]:
            t = result["torch"][n]
            line += f"   torch {fmt(t)}   ratio {t['median'] / result['hookfit'][n]['median']:.1f}x"
        print(line)
    if "skipped" in result.get("keras3-jax", {}):
        print(f"  keras3-jax skipped: {result['keras3-jax']['skipped']}")
    if "skipped" in result["torch"]:
        print(f"  torch skipped: {result['torch']['skipped']}")
    sh = result["shares"]
    print(f"  Dropout share of mnist_mlp's step:        {fmt(sh['dropout'], '')}")
    print(f"  BatchNormalization share of mnist_mlp_bn: {fmt(sh['batchnorm'], '')}")
    print(f"  linear functional / Sequential - 1:       {fmt(sh['functional_vs_sequential'], '')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
