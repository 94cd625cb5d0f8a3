"""Models: ``Sequential``, functional ``Model(inputs, outputs)`` and the training loop."""

from hookfit.models.functional import Functional
from hookfit.models.model import Model
from hookfit.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential", "load_model"]


def _file_classes() -> dict:
    """The classes a model file may name, by class name: the only ones a
    file can make hookfit build (passed to ``hookfit.saving``)."""
    from hookfit import layers

    classes: dict[str, type] = {"Sequential": Sequential, "Functional": Functional}
    for name in getattr(layers, "__all__", dir(layers)):
        obj = getattr(layers, name, None)
        if isinstance(obj, type) and issubclass(obj, layers.Layer):
            classes[name] = obj
    return classes


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model written by ``model.save`` or by Keras: ``.keras`` (Keras 3),
    ``.h5`` (Keras 2) or ``.npz`` (hookfit), with its optimizer state.

    Nothing in the file can run code: ``custom_objects`` and
    ``safe_mode=False`` are refused rather than honoured.
    """
    from hookfit import saving

    if custom_objects:
        raise ValueError(
            "custom_objects is not supported: hookfit builds only its own layers from a file "
            "(custom classes carry code). Rebuild the model in code and use load_weights."
        )
    if safe_mode is not True:
        raise ValueError("safe_mode=False is not supported: hookfit never runs code from a model file.")
    return saving.load_model(filepath, _file_classes(), compile=compile)


def _hand_classes_to_saving() -> None:
    from hookfit.saving import model_file

    model_file.use_class_table(_file_classes)


_hand_classes_to_saving()
