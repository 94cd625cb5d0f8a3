"""The weights of one model saved again and again while it trains.

A ``ModelCheckpoint(save_freq=N)`` writes the same file layout every N
batches, and the general ``save_weights`` describes that layout from the
model each time (~220 Python calls for a ``.weights.h5`` file, which after
a pass over the data run cold). During a fit the model's layers cannot
change, so the layout is worked out once: after the general path has
written two files (and the HDF5 layout cache knows their layout,
``h5_plan``), a save is the weights put into the stored bytes and the
atomic write. The layer names and the weights' shapes are compared at every
save (so what a saver learned can serve the same model's next fits too,
``learned``); anything else
(``.npz``, Keras 2 ``.h5``, a layout that cannot be reused) takes the
general path.
"""

from __future__ import annotations

import numpy as np

from hookfit.saving import h5_io, h5_plan, keras3_weights
from hookfit.saving.layer_weights import weights_by_layer
from hookfit.saving.paths import weights_format
from hookfit.saving.weights import save_weights
from hookfit.utils.atomic import atomic_write_bytes


class WeightsSaver:
    """``save(path, weights=None)``: as ``save_weights(model, path)``
    (``weights``: a list as ``model.get_weights()`` gives, taken earlier)."""

    def __init__(self, model, learned=None):
        self.model = model
        self._names: list | None = None  # the layer names the layout was found for
        self._shapes: list | None = None  # and the weights' shapes (float32 all)
        self._layout: h5_plan.Layout | None = None
        if learned is not None:  # (another saver's, of the same model)
            self._names, self._shapes, self._layout = learned

    @property
    def learned(self):
        """What a saver of the same model may start from (None: nothing yet)."""
        return None if self._layout is None else (self._names, self._shapes, self._layout)

    def save(self, path, weights=None) -> None:
        model = self.model
        if weights_format(path) != "keras3_h5":
            save_weights(model, path, overwrite=True, weights=weights)
            return
        names = [layer.name for layer in model.layers]
        if self._layout is not None and names == self._names:
            arrays = [np.asarray(w, dtype=np.float32) for w in (model.get_weights() if weights is None else weights)]
            if [a.shape for a in arrays] == self._shapes:
                atomic_write_bytes(path, self._layout.fill(arrays))
                return
        save_weights(model, path, overwrite=True, weights=weights)
        self._learn(names, weights)

    def _learn(self, names, weights) -> None:
        """After a general save: the layout, if the cache has it and the
        file's datasets are the weights in ``get_weights()`` order."""
        arrays = self.model.get_weights() if weights is None else weights
        plan = h5_plan.Plan()
        keras3_weights.write(plan.root, self.model, weights_of=weights_by_layer(self.model, arrays))
        layout = h5_io.layout_of(plan)
        stored = plan.arrays
        self._layout = None
        if layout is not None and len(stored) == len(arrays) and all(
                np.array_equal(a, b) for a, b in zip(stored, arrays)):
            self._layout, self._names = layout, names
            self._shapes = [np.shape(a) for a in arrays]
