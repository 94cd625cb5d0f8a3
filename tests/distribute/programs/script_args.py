"""Run by the launcher tests: reports how it was run, optionally trains a
tiny model, and exits with a chosen status."""

import sys

import numpy as np

import hookfit
import hookfit.distribute as hd

print(f"name={__name__} argv={sys.argv[1:]} rank={hd.rank()} size={hd.size()}", flush=True)
if "fit" in sys.argv:
    model = hookfit.Sequential([hookfit.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 3), np.float32)
    try:
        model.fit(x, x[:, :1], epochs=1, verbose=0)
        print("fit ran", flush=True)
    except NotImplementedError as e:
        print(f"fit refused: {e}", flush=True)
if "mpi4py" in sys.argv:
    print(f"mpi4py imported={'mpi4py' in sys.modules}", flush=True)
if "exit3" in sys.argv:
    sys.exit(3)
if "raise" in sys.argv:
    raise KeyError("raised by the script")
