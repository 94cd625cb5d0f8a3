"""The data side of the training loop: input checks, batching, shuffling."""

from hookfit.trainers.epoch_iterator import EpochIterator

__all__ = ["EpochIterator"]
