"""The collectives of the in-process backend (replicas as threads), the
one-process backend, and the sharding arithmetic."""

import threading
import time

import numpy as np
import pytest

from hookfit.distribute import (
    CommunicatorError,
    DataParallel,
    SingleCommunicator,
    run_replicas,
    shard_bounds,
    thread_group,
)


def test_allreduce_sums_in_place_and_every_replica_gets_the_same_bits():
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=1001).astype(np.float32) for _ in range(3)]

    def replica(comm):
        buf = parts[comm.rank].copy()
        out = comm.allreduce_sum_(buf)
        assert out is buf
        return buf

    results = run_replicas(3, replica)
    expected = (parts[0] + parts[1]) + parts[2]  # rank order, float32
    for r in results:
        assert r.tobytes() == expected.tobytes()


def test_repeated_allreduces_do_not_mix_rounds():
    def replica(comm):
        seen = []
        for step in range(50):
            buf = np.full(7, comm.rank + step, np.float32)
            comm.allreduce_sum_(buf)
            seen.append(buf[0])
        return seen

    a, b = run_replicas(2, replica)
    assert a == b == [float(2 * step + 1) for step in range(50)]


def test_bcast_bytes_allgather_and_or():
    def replica(comm):
        arr = np.arange(5, dtype=np.float64) * (comm.rank + 1)
        comm.bcast_(arr, root=1)
        data = comm.bcast_bytes(b"state" if comm.rank == 0 else None, root=0)
        gathered = comm.allgather_bytes(bytes([comm.rank]))
        stop = comm.any_(comm.rank == 2)
        nobody = comm.any_(False)
        rows = comm.allgather_rows(np.full((comm.rank, 2), comm.rank, np.float32))
        return arr, data, gathered, stop, nobody, rows

    for arr, data, gathered, stop, nobody, rows in run_replicas(3, replica):
        np.testing.assert_array_equal(arr, np.arange(5) * 2.0)
        assert data == b"state"
        assert gathered == [b"\x00", b"\x01", b"\x02"]
        assert stop is True and nobody is False
        np.testing.assert_array_equal(rows, [[1, 1], [2, 2], [2, 2]])


def test_a_failing_replica_releases_the_others_and_its_error_is_raised():
    released = []

    def replica(comm):
        if comm.rank == 1:
            raise ValueError("bad data on replica 1")
        try:
            comm.allreduce_sum_(np.zeros(3, np.float32))
        except CommunicatorError:
            released.append(comm.rank)
            raise

    t0 = time.monotonic()
    with pytest.raises(ValueError, match="bad data on replica 1"):
        run_replicas(3, replica, timeout=60)
    assert time.monotonic() - t0 < 30
    assert sorted(released) == [0, 2]


def test_a_replica_that_never_arrives_times_out_instead_of_hanging():
    def replica(comm):
        if comm.rank == 0:
            comm.any_(True)

    with pytest.raises(CommunicatorError, match="failed or timed out"):
        run_replicas(2, replica, timeout=0.5)


def test_allreduce_refuses_a_buffer_it_cannot_reduce_in_place():
    comm = SingleCommunicator()
    for bad in (np.zeros(3), np.zeros((4, 4), np.float32)[:, 1], [1.0, 2.0]):
        with pytest.raises(TypeError, match="float32"):
            comm.allreduce_sum_(bad)


def test_replicas_with_different_buffer_shapes_all_raise():
    def replica(comm):
        comm.allreduce_sum_(np.zeros(3 + comm.rank, np.float32))

    with pytest.raises(CommunicatorError, match="different shapes"):
        run_replicas(2, replica, timeout=60)


def test_bad_root_and_group_size():
    with pytest.raises(ValueError, match="root"):
        SingleCommunicator().bcast_bytes(b"", root=1)
    with pytest.raises(ValueError, match="positive"):
        thread_group(0)


def test_only_mpi_lends_a_reduce_buffer_and_its_switch_is_checked(monkeypatch):
    from hookfit.distribute.mpi_communicator import shared_memory_default

    one, (thread, _) = SingleCommunicator(), thread_group(2)
    assert one.lend_reduce_buffer(10) is None and thread.lend_reduce_buffer(10) is None
    monkeypatch.delenv("HOOKFIT_MPI_SHARED_MEMORY", raising=False)
    assert shared_memory_default() is True
    monkeypatch.setenv("HOOKFIT_MPI_SHARED_MEMORY", "0")
    assert shared_memory_default() is False
    monkeypatch.setenv("HOOKFIT_MPI_SHARED_MEMORY", "yes")
    with pytest.raises(ValueError, match="HOOKFIT_MPI_SHARED_MEMORY must be 1 .* or 0 .*'yes'"):
        shared_memory_default()


def test_single_communicator_is_the_identity():
    comm = SingleCommunicator()
    buf = np.arange(4, dtype=np.float32)
    assert comm.allreduce_sum_(buf) is buf
    np.testing.assert_array_equal(buf, np.arange(4))
    assert comm.bcast_bytes(b"x") == b"x"
    assert comm.allgather_bytes(b"y") == [b"y"]
    assert comm.any_(1) is True and comm.is_chief


@pytest.mark.parametrize("rows", [0, 1, 2, 3, 7, 256, 257])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shards_are_contiguous_cover_the_batch_and_differ_by_at_most_one(rows, size):
    bounds = [shard_bounds(rows, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == rows
    for (_, stop), (start, _) in zip(bounds, bounds[1:]):
        assert stop == start
    lengths = [b - a for a, b in bounds]
    assert max(lengths) - min(lengths) <= (1 if rows else 0)


def test_data_parallel_over_threads_knows_its_rank():
    comms = thread_group(2)
    strategies = [DataParallel(c) for c in comms]
    assert [(s.rank, s.size, s.is_chief) for s in strategies] == [(0, 2, True), (1, 2, False)]
    assert strategies[1].shard(5) == (3, 5)
    with pytest.raises(TypeError, match="comm must be"):
        DataParallel(comm="world")


def test_replicas_run_concurrently():
    """Both replicas are inside the same rendezvous at once (threads, not a
    sequential emulation)."""
    inside = threading.Barrier(2, timeout=10)

    def replica(comm):
        inside.wait()
        return comm.any_(True)

    assert run_replicas(2, replica) == [True, True]
