"""What a BackupAndRestore file holds, and the check of a whole backup.

A backup file is untrusted input: a tampered or foreign one must be refused
before anything (weights, optimizer, position, random state, callbacks) is
restored, with a message that names the file and the faulty part.

Contents (format ``hookfit.backup``, version 2):
    data          n_rows and batch_size of the fit that wrote it
    phase         where the run was: "train_begin" (nothing trained yet),
                  "batch" (after a train batch, before the epoch's end work) or
                  "epoch_end" (in the epoch's end work, after BackupAndRestore's
                  own on_epoch_end) or "interrupted" (a graceful stop between
                  two batches: every callback has seen every hook before it)
    position      the batch (phase "batch") or epoch (phase "epoch_end") index
    logs          that hook's logs (replayed to the callbacks after it)
    stop_training the model's flag at that moment
    weights, optimizer (class and state), iterator, metric_state
    callbacks     [{key, class, after, state}] for every callback with a state;
                  ``after``: it comes after BackupAndRestore, so its state is
                  from before the hook at ``position`` (that hook is replayed)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

FORMAT = "hookfit.backup"
VERSION = 2
PHASES = ("train_begin", "batch", "epoch_end", "interrupted")


class BackupError(ValueError):
    """A backup file that cannot be resumed from; nothing was restored."""


def _int(value, what, where, low=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise BackupError(f"{where}: {what} must be an integer >= {low}; got {value!r}.")
    return int(value)


def _real_array(value, what, where, shape=None, finite=False):
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
        raise BackupError(f"{where}: {what} must be an array of real numbers.")
    if shape is not None and value.shape != tuple(shape):
        raise BackupError(f"{where}: {what} has shape {value.shape}; this model needs {tuple(shape)}.")
    if finite and not np.all(np.isfinite(value)):
        raise BackupError(f"{where}: {what} holds NaN or infinite values.")
    return value


def _dict(value, keys, what, where):
    if not isinstance(value, dict) or not set(keys) <= set(value):
        have = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise BackupError(f"{where}: {what} must have the entries {sorted(keys)}; got {have}.")
    return value


def check_random_state(state, where) -> None:
    """The saved random state must fit hookfit's generator (tried on a copy)."""
    from hookfit.utils import rng

    current = rng.generator().bit_generator
    if not isinstance(state, dict) or state.get("bit_generator") != current.state["bit_generator"]:
        raise BackupError(
            f"{where}: the random state is not a {current.state['bit_generator']} state."
        )
    scratch = type(current)()
    try:
        scratch.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise BackupError(f"{where}: the random state is invalid ({e}).") from None


def check_iterator(state, iterator, where) -> None:
    from hookfit.trainers.epoch_iterator import EpochIterator

    if not isinstance(iterator, EpochIterator):
        _check_other_position(state, iterator, where)
        return
    _dict(state, ("epoch", "step", "epoch_start_step", "pass_index", "order", "rng"), "the position", where)
    epoch = _int(state["epoch"], "the epoch", where)
    step = _int(state["step"], "the step", where)
    start = _int(state["epoch_start_step"], "the epoch's first step", where)
    _int(state["pass_index"], "the pass index", where, low=-1)
    if not start <= step <= iterator.total_steps or epoch > iterator.epochs:
        raise BackupError(
            f"{where}: the position (epoch {epoch}, step {step}, epoch start {start}) is outside "
            f"this fit ({iterator.epochs} epochs, {iterator.total_steps} steps)."
        )
    order = state["order"]
    if order is not None:
        order = _real_array(order, "the shuffle order", where, (iterator.n_rows,), finite=True)
        if order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(iterator.n_rows)):
            raise BackupError(f"{where}: the shuffle order is not a permutation of the {iterator.n_rows} rows.")
    check_random_state(state["rng"], where)


def _check_other_position(state, iterator, where) -> None:
    """Another loop's position (a batch source's): the same entries as its
    own ``get_state()``, counters that are integers >= 0 (-1 for "unknown"),
    and a valid random state."""
    own = iterator.get_state()
    if not isinstance(state, dict) or set(state) != set(own):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise BackupError(f"{where}: the position must have the entries {sorted(own)}; got {have}.")
    for key, value in state.items():
        if isinstance(own[key], int) and not isinstance(own[key], bool):
            _int(value, f"the position's {key}", where, low=-1)
    if "rng" in state:
        check_random_state(state["rng"], where)


def check_optimizer(entry, optimizer, slots_needed, where) -> None:
    _dict(entry, ("class", "state"), "the optimizer entry", where)
    if entry["class"] != type(optimizer).__name__:
        raise BackupError(
            f"{where}: it was written with a {entry['class']} optimizer; this model has "
            f"{type(optimizer).__name__}. Resume with the same kind of optimizer."
        )
    state = _dict(entry["state"], ("iterations", "learning_rate", "slots"), "the optimizer state", where)
    _int(state["iterations"], "the optimizer's iteration count", where)
    if state["iterations"] >= 2**62:
        raise BackupError(f"{where}: the optimizer's iteration count {state['iterations']} is out of range.")
    lr = state["learning_rate"]
    if isinstance(lr, bool) or not isinstance(lr, (numbers.Real, np.floating)) or not math.isfinite(float(lr)) or lr < 0:
        raise BackupError(f"{where}: the learning rate must be a finite number >= 0; got {lr!r}.")
    slots = state["slots"]
    if not isinstance(slots, (list, tuple)) or len(slots) != len(slots_needed):
        raise BackupError(f"{where}: the optimizer has {len(slots_needed)} slot arrays on this model.")
    for i, (saved, own) in enumerate(zip(slots, slots_needed)):
        _real_array(saved, f"optimizer slot {i}", where, own.shape)


def check_backup(state, where, *, model, iterator, network, slots_needed) -> None:
    """Raise ``BackupError`` unless ``state`` can be restored into this fit whole."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BackupError(f"{where} is not a hookfit backup; remove it or use another backup_dir.")
    version = state.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise BackupError(
            f"{where} was written by {'a newer' if newer else 'an older'} hookfit (backup version "
            f"{version!r}, this one reads {VERSION}); "
            + ("upgrade to resume from it." if newer else "delete it to start afresh.")
        )
    keys = ("data", "phase", "position", "logs", "stop_training", "weights", "optimizer",
            "iterator", "metric_state", "callbacks")
    _dict(state, keys, "the backup", where)
    data = _dict(state["data"], ("n_rows", "batch_size"), "the data entry", where)
    if (data["n_rows"], data["batch_size"]) != (iterator.n_rows, iterator.batch_size):
        raise BackupError(
            f"The backup {where} was made by a fit over {data['n_rows']} training rows with "
            f"batch_size={data['batch_size']}; this fit has {iterator.n_rows} rows and "
            f"batch_size={iterator.batch_size}. Resume with the same data and arguments, or "
            "delete the backup directory to start afresh."
        )
    if state["phase"] not in PHASES:
        raise BackupError(f"{where}: unknown phase {state['phase']!r} (expected one of {PHASES}).")
    _int(state["position"], "the position", where)
    if not isinstance(state["logs"], dict) or not all(isinstance(k, str) for k in state["logs"]):
        raise BackupError(f"{where}: the logs must be a dict keyed by names.")
    if not isinstance(state["stop_training"], (bool, np.bool_)):
        raise BackupError(f"{where}: stop_training must be True or False.")
    own = model.get_weights()
    weights = state["weights"]
    if not isinstance(weights, (list, tuple)) or len(weights) != len(own):
        raise BackupError(f"{where}: it holds {len(weights) if isinstance(weights, (list, tuple)) else 'no'} "
                          f"weight arrays; this model has {len(own)}.")
    for i, (saved, mine) in enumerate(zip(weights, own)):
        _real_array(saved, f"weight array {i}", where, mine.shape)
    check_optimizer(state["optimizer"], model.optimizer, slots_needed, where)
    check_iterator(state["iterator"], iterator, where)
    _real_array(state["metric_state"], "the metric state", where, network.metric_state().shape)
    entries = state["callbacks"]
    if not isinstance(entries, list):
        raise BackupError(f"{where}: the callback states must be a list.")
    for entry in entries:
        _dict(entry, ("key", "class", "after", "state"), "a callback entry", where)
        if not isinstance(entry["key"], str) or not isinstance(entry["class"], str):
            raise BackupError(f"{where}: a callback entry has no key or class name.")


def same_shape(saved, current) -> bool:
    """True if a saved callback state has the structure of ``current``
    (same type; same keys for dicts; same length for lists)."""
    if current is None:
        return False
    if isinstance(current, dict):
        return isinstance(saved, dict) and set(saved) == set(current)
    if isinstance(current, (list, tuple)):
        return isinstance(saved, (list, tuple))
    return True
