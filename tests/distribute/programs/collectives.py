"""Run on 2 MPI ranks by test_mpi.py: every collective of MPICommunicator,
rank()/size()/is_chief(), and the signature check; prints one OK line."""

import sys

import numpy as np

import hookfit.distribute as hd
from hookfit.distribute.mpi_communicator import MPICommunicator

comm = hd.world()
assert isinstance(comm, MPICommunicator), type(comm)
r, p = hd.rank(), hd.size()
assert p == 2 and hd.is_chief() == (r == 0)

buf = np.full(235_146, r + 1, np.float32)
assert comm.allreduce_sum_(buf) is buf and (buf == 3).all()
arr = np.arange(4, dtype=np.float64) * (r + 1)
comm.bcast_(arr, root=1)
assert (arr == np.arange(4) * 2).all()
assert comm.bcast_bytes(b"generator state" if r == 0 else None) == b"generator state"
assert comm.allgather_bytes(bytes([r])) == [b"\x00", b"\x01"]
assert comm.any_(r == 1) is True and comm.any_(False) is False
rows = comm.allgather_rows(np.full((r + 1, 3), r, np.float32))
assert rows.shape == (3, 3) and (rows[1:] == 1).all()

# The reduce buffer lent from a node shared window (both ranks on this
# machine): summed in place, bitwise the same on both ranks and bitwise MPI's
# own Allreduce of the same values; a buffer outside it goes through MPI.
rng = np.random.default_rng(r)
values = rng.standard_normal(235_151).astype(np.float32)
values[:3] = [np.inf, -np.inf, np.nan] if r == 0 else [1.0, 2.0, 3.0]  # passed through silently
lent = comm.lend_reduce_buffer(values.size)
assert lent is not None and lent.dtype == np.float32 and lent.size == values.size
assert comm.lend_reduce_buffer(values.size) is None  # already lent: a nested run uses MPI
lent[:] = values
private = values.copy()
assert comm.allreduce_sum_(lent) is lent
comm.allreduce_sum_(private)  # MPI's Allreduce
assert lent.tobytes() == private.tobytes()
assert comm.allgather_bytes(lent.tobytes())[1 - r] == lent.tobytes()
head = lent[:100]  # the start of the window, shorter: the first 100 floats summed
head[:] = r + 1
comm.allreduce_sum_(head)
assert (lent[:100] == 3).all() and lent[100:].tobytes() == private[100:].tobytes()
comm.return_reduce_buffer(lent)
again = comm.lend_reduce_buffer(100)
assert again is not None and again.ctypes.data == lent.ctypes.data  # the same window, reused
comm.return_reduce_buffer(again)
bigger = comm.lend_reduce_buffer(300_000)  # outgrown: a new window (the old one stays mapped)
assert bigger is not None and bigger.size == 300_000
bigger[:] = r
assert (comm.allreduce_sum_(bigger) == 1).all() and (lent[:100] == 3).all()
comm.return_reduce_buffer(bigger)
plain = MPICommunicator(shared_memory=False)
assert plain.lend_reduce_buffer(10) is None
# One wrapper per mpi4py communicator (its window is made once, not per fit).
from mpi4py import MPI  # noqa: E402

assert hd.DataParallel(MPI.COMM_WORLD).comm is hd.DataParallel(None).comm is comm
dup = MPI.COMM_WORLD.Dup()
wrapped = hd.DataParallel(dup).comm
assert wrapped is hd.DataParallel(dup).comm and wrapped is not comm
dup.Free()
again = MPI.COMM_WORLD.Dup()
assert hd.DataParallel(again).comm is not wrapped  # a freed communicator's wrapper is not reused
again.Free()

mode = sys.argv[1] if len(sys.argv) > 1 else ""
signature = {"batch_size": 32 * (1 + (mode == "mismatch" and r == 1))}
try:
    hd.check_same_run(comm, "fit", signature)
    report = f"rank {r} of {p} OK"
except hd.SignatureMismatchError as e:
    report = f"rank {r} MISMATCH {str(e).splitlines()[1].strip()}"
# Rank 0 prints every rank's report (lines printed by two ranks at once may
# be interleaved by mpiexec).
reports = comm.allgather_bytes(report.encode())
if r == 0:
    print("\n".join(x.decode() for x in reports), flush=True)
