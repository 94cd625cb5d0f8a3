"""The start-of-run signature check: equal runs pass, any difference raises
the same clear error on every rank (no hang)."""

import numpy as np
import pytest

from hookfit.distribute import SignatureMismatchError, check_same_run, run_replicas, sample_checksum


def _signature(rank, batch_size=32, flip=False):
    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    if flip and rank == 1:
        x = x[::-1].copy()
    return {
        "x": [list(x.shape), str(x.dtype)],
        "batch_size": batch_size,
        "epochs": 3,
        "metrics": ["loss", "mae"],
        "data": sample_checksum(x, None),
    }


def test_equal_signatures_pass():
    run_replicas(3, lambda comm: check_same_run(comm, "fit", _signature(comm.rank)))


@pytest.mark.parametrize(
    "change, key",
    [({"batch_size": 64}, "batch_size"), ({"flip": True}, "data")],
)
def test_a_difference_raises_the_same_error_on_every_rank(change, key):
    messages = []

    def replica(comm):
        kwargs = {"batch_size": 64} if comm.rank == 1 and "batch_size" in change else {}
        if "flip" in change:
            kwargs["flip"] = True
        try:
            check_same_run(comm, "fit", _signature(comm.rank, **kwargs))
        except SignatureMismatchError as e:
            messages.append(str(e))
            raise

    with pytest.raises(SignatureMismatchError, match=key):
        run_replicas(2, replica, timeout=60)
    assert len(messages) == 2 and messages[0] == messages[1]
    assert "rank 0" in messages[0] and "rank 1" in messages[0]


def test_checksum_sees_values_order_shape_and_dtype():
    x = np.random.default_rng(0).normal(size=(1000, 3)).astype(np.float32)
    base = sample_checksum(x)
    assert sample_checksum(x.copy()) == base
    assert sample_checksum(x[::-1]) != base
    assert sample_checksum(x.astype(np.float64)) != base
    assert sample_checksum(x[:999]) != base
    y = x.copy()
    y[-1, 0] += 1  # the last row is always in the sample
    assert sample_checksum(y) != base


def test_objects_are_compared_by_class_and_config_not_by_address():
    class Schedule:
        def __init__(self, rate):
            self.rate = rate

        def get_config(self):
            return {"rate": self.rate}

    run_replicas(2, lambda comm: check_same_run(comm, "fit", {"lr": Schedule(0.1), "n": np.int64(3)}))
    with pytest.raises(SignatureMismatchError, match="lr"):
        run_replicas(2, lambda comm: check_same_run(comm, "fit", {"lr": Schedule(0.1 * (1 + comm.rank))}),
                     timeout=60)
