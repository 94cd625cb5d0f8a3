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
