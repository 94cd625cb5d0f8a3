"""Models: ``Sequential``, functional ``Model(inputs, outputs)`` and the training loop."""

from hookfit.models.functional import Functional
from hookfit.models.model import Model
from hookfit.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential", "load_model"]


def load_model(filepath, **kwargs):
    """Load a model written by ``model.save`` (architecture, weights, optimizer)."""
    from hookfit import saving

    return saving.load_model(filepath, **kwargs)
