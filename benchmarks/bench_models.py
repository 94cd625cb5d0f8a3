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
Every figure is the median over rounds with the range. PyTorch is not a peer
here (not installed in the test environment: its rows say "skipped").

    python benchmarks/bench_models.py                  # 7 rounds, Keras 3 peer
    python benchmarks/bench_models.py --rounds 3 --no-peer
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


def fmt(s, unit=" ms"):
    return f"{s['median']:.3f}{unit} ({s['min']:.3f}-{s['max']:.3f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=40, help="steps per timed fit")
    ap.add_argument("--no-peer", action="store_true", help="hookfit only")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(int(args.child[0]), int(args.child[1]))
        return
    import hookfit

    hf = run_rounds(hookfit, MODELS, args.rounds, args.steps)
    result = {"hookfit": {n: summary(v) for n, v in hf.items()},
              "shares": {"dropout": ratio_rows(hf, "mnist_mlp", "mnist_mlp_nodrop"),
                         "batchnorm": ratio_rows(hf, "mnist_mlp_bn", "mnist_mlp_nodrop"),
                         "functional_vs_sequential": summary(
                             [f / s - 1 for f, s in zip(hf["linear_functional"], hf["linear_sequential"])])},
              "torch": {"skipped": "PyTorch is not installed in this environment"}}
    if not args.no_peer:
        k = peer(args.rounds, args.steps)
        result["keras3-jax"] = k if "skipped" in k else {n: summary(v) for n, v in k.items()}
    print(f"ms per training step, batch {BATCH}, median (min-max) over {args.rounds} interleaved rounds")
    for n in MODELS:
        line = f"  {n:20s} hookfit {fmt(result['hookfit'][n])}"
        k3 = result.get("keras3-jax", {})
        if n in k3:
            line += f"   keras3-jax {fmt(k3[n])}   ratio {k3[n]['median'] / result['hookfit'][n]['median']:.1f}x"
        print(line)
    if "skipped" in result.get("keras3-jax", {}):
        print(f"  keras3-jax skipped: {result['keras3-jax']['skipped']}")
    print("  torch: skipped (not installed)")
    sh = result["shares"]
    print(f"  Dropout share of mnist_mlp's step:        {fmt(sh['dropout'], '')}")
    print(f"  BatchNormalization share of mnist_mlp_bn: {fmt(sh['batchnorm'], '')}")
    print(f"  linear functional / Sequential - 1:       {fmt(sh['functional_vs_sequential'], '')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
