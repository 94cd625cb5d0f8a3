"""``Dropout``: zeroes a random fraction of its inputs while training.

Inverted dropout (kept values are scaled by ``1 / (1 - rate)``) in training
only; at inference the layer passes its input through. Inside a model the
mask is made in C from (seed, step, node, row, column), so a resumed run
draws the same masks.
"""

from __future__ import annotations

import numbers

import numpy as np

from hookfit.layers.layer import node_kind, Layer, flat_width
from hookfit.unsupported import unsupported
from hookfit.utils import rng


class Dropout(Layer):
    """``Dropout(rate, noise_shape=None, seed=None)``.

    ``noise_shape``: None (a mask value per element) or ``(1, features)``
    (one mask row shared by the whole batch).
    """

    _has_modes = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(
                f"Invalid value received for argument `rate`. Expected a float value in "
                f"[0, 1) (hookfit refuses 1: it would drop everything). Received: rate={rate!r}"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"Dropout: seed must be a non-negative integer or None; got {seed!r}")
        if noise_shape is not None:
            shape = tuple(noise_shape)
            if len(shape) != 2 or shape[0] != 1:
                if not (len(shape) == 2 and shape[0] is None and shape[1] is None):
                    raise unsupported(
                        f"Dropout(noise_shape={noise_shape!r})", "noise shapes",
                        ["None (per element)", "(1, features) (one mask row per batch)"],
                    )
            noise_shape = shape
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = None if seed is None else int(seed)
        # Without a seed the stream comes from hookfit's generator, so that
        # set_random_seed makes the masks reproducible.
        self._seed = self.seed if seed is not None else int(rng.generator().integers(0, 2**31))

    @property
    def _rows_shared(self) -> bool:
        return self.noise_shape is not None and self.noise_shape[0] == 1

    def _output_shape(self, shapes):
        width = flat_width(shapes[0], f"Dropout layer {self.name!r}")
        if self._rows_shared and self.noise_shape[1] not in (None, width):
            raise ValueError(
                f"Dropout layer {self.name!r}: noise_shape {self.noise_shape} does not match "
                f"the input width {width}"
            )
        return (None, width)

    def _graph_node(self, inputs):
        return {"kind": node_kind("DROPOUT"), "inputs": list(inputs), "rate": self.rate,
                "seed": self._seed, "noise_shape_rows": self._rows_shared}

    def _eager(self, arrays, training):
        x = arrays[0]
        if not training or self.rate == 0:
            return x.copy()
        shape = (1, x.shape[1]) if self._rows_shared else x.shape
        keep = rng.generator().random(shape) >= self.rate
        return (x * keep / np.float32(1 - self.rate)).astype(np.float32)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return config
